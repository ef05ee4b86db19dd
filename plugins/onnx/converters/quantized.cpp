// Quantized TorchScript (torch.quantization: quantize_dynamic, prepare/convert) in QDQ form.
//
// Representation: a quantized tensor is carried as the float tensor of its dequantized
// values, produced by DequantizeLinear(QuantizeLinear(x, scale, zero_point)) -- the "QDQ"
// form that ONNX Runtime (and TensorRT, OpenVINO) recognise and fuse into integer kernels.
// So aten::dequantize is a no-op and float ops (relu, max_pool2d, flatten...) applied to a
// quantized tensor stay float ops on the dequantized values.
//
// Weights arrive unpacked by the TorchScript importer (plugins/torchscript/src/packed_params.h)
// as a tuple (weight i8/u8, scale, zero_point, axis, bias[, conv hyper-parameters]); they
// become DequantizeLinear(weight, scale, zero_point, axis) feeding the float op.
//
//   quantize_per_tensor(x, s, zp, dtype)     -> DQ(Q(x, s, zp))                      (u8 / i8)
//   quantized::linear_dynamic(x, W, rr)      -> DQ(DynamicQuantizeLinear(x)) @ DQ(W)^T + b  (rr: 7-bit Q/DQ)
//   quantized::linear(qx, W, s, zp)          -> Q/DQ(s, zp) of  qx @ DQ(W)^T + b
//   quantized::conv2d(qx, W, [..], s, zp)    -> Q/DQ(s, zp) of Conv(qx, DQ(W), b)   (_relu: Relu before Q)
//   quantized::add / mul (qa, qb, s, zp)     -> Q/DQ(s, zp) of Add / Mul             (_relu: Relu before Q)
//   aten::_add_relu (float, from optimize_for_mobile) -> Relu(Add)
//
// Numerics: PyTorch's kernels accumulate int8 x int8 products in int32 (exact) and round the
// bias to int32 at scale x_scale * w_scale; the QDQ graph computes the same products in float,
// so results agree up to float rounding plus at most one output quantization step where a
// value sits at a rounding boundary. Dynamic quantization: the activation range
// [min(x, 0), max(x, 0)] over 256 levels (DynamicQuantizeLinear), or 128 levels with
// reduce_range=True as fbgemm / onednn do (see lowerLinearDynamicImpl).
#include "converters.h"

namespace torchport::onnxplugin {
namespace {

// c10::ScalarType codes of the quantized element types.
constexpr int64_t kQInt8 = 12;
constexpr int64_t kQUInt8 = 13;

struct PackedParams {
  Value* weight = nullptr;
  Value* scale = nullptr;
  Value* zeroPoint = nullptr;
  int64_t axis = 0;
  Value* bias = nullptr;  // nullptr = no bias
  // conv2d only
  std::vector<int64_t> stride, padding, dilation, outputPadding;
  int64_t groups = 1;
  bool transpose = false;
};

// The tuple the importer made of a packed-params object (lowered to SequenceConstruct).
Expected<PackedParams> packedParams(Lowering& l, size_t index, bool conv) {
  const Node* tuple = index < l.numInputs() ? l.input(index)->producer() : nullptr;
  const size_t expected = conv ? 11 : 5;
  if (tuple == nullptr || (tuple->kind() != "onnx::SequenceConstruct" && tuple->kind() != "prim::TupleConstruct") ||
      tuple->numInputs() != expected) {
    return Status(l.unsupported("packed weights that are not the unpacked tuple the TorchScript importer makes "
                                "(import the model with torchport's TorchScript importer)"));
  }
  PackedParams p;
  p.weight = tuple->input(0);
  p.scale = tuple->input(1);
  p.zeroPoint = tuple->input(2);
  auto axis = staticInt(tuple->input(3));
  if (!axis) return Status(l.invalid("packed weights with a non-constant quantization axis"));
  p.axis = *axis;
  if (!isNone(tuple->input(4))) p.bias = tuple->input(4);
  if (conv) {
    auto stride = staticInts(tuple->input(5));
    auto padding = staticInts(tuple->input(6));
    auto dilation = staticInts(tuple->input(7));
    auto groups = staticInt(tuple->input(8));
    auto outputPadding = staticInts(tuple->input(9));
    auto transpose = staticBool(tuple->input(10));
    if (!stride || !padding || !dilation || !groups || !outputPadding || !transpose)
      return Status(l.invalid("conv packed weights with non-constant hyper-parameters"));
    p.stride = *stride;
    p.padding = *padding;
    p.dilation = *dilation;
    p.groups = *groups;
    p.outputPadding = *outputPadding;
    p.transpose = *transpose;
  }
  return p;
}

// DequantizeLinear(weight, scale, zero_point[, axis]) -> f32 weight.
Value* dequantizeWeight(Lowering& l, const PackedParams& p) {
  OpBuilder dq = l.op("DequantizeLinear", {p.weight, p.scale, p.zeroPoint});
  if (rankOf(p.scale).value_or(0) == 1) dq.attr("axis", p.axis);
  dq.type(tensorType(DType::F32, shapeOf(p.weight)));
  return dq;
}

// The integer type a quantized activation uses: found at the DequantizeLinear that made it,
// looking through the float ops in between (Relu, MaxPool, Reshape...). u8 if not found.
DType activationQuantType(Value* x) {
  for (int depth = 0; depth < 64 && x != nullptr; ++depth) {
    const Node* p = x->producer();
    if (p == nullptr || p->numInputs() == 0) break;
    if (p->kind() == "onnx::DequantizeLinear" && p->numInputs() >= 3) {
      const DType dt = dtypeOf(p->input(2));
      return dt == DType::I8 ? DType::I8 : DType::U8;
    }
    x = p->input(0);
  }
  return DType::U8;
}

Expected<Value*> asFloat32(Lowering& l, Value* v) {
  TP_TRY(Value * x, l.asTensor(v));
  if (dtypeOf(x) != DType::F32) {
    TP_TRY(x, l.castTo(x, DType::F32));
  }
  return x;
}

// DQ(Q(x, scale, zero_point)) with static quantization parameters.
Expected<Value*> fakeQuantize(Lowering& l, Value* x, double scale, int64_t zeroPoint, DType quantType) {
  const int64_t lo = quantType == DType::I8 ? -128 : 0;
  if (zeroPoint < lo || zeroPoint > lo + 255)
    return Status(l.invalid("zero point " + std::to_string(zeroPoint) + " out of range for " +
                            std::string(dtypeName(quantType))));
  if (!(scale > 0.0)) return Status(l.invalid("quantization scale must be positive, got " + std::to_string(scale)));
  TP_TRY(x, asFloat32(l, x));
  Value* s = l.scalar(scale, DType::F32);
  Value* zp = l.scalar(static_cast<double>(zeroPoint), quantType);
  Value* q = l.op("QuantizeLinear", {x, s, zp}).type(tensorType(quantType, shapeOf(x)));
  return static_cast<Value*>(l.op("DequantizeLinear", {q, s, zp}).type(tensorType(DType::F32, shapeOf(x))));
}

// Output requantization of quantized::* ops: (out_scale, out_zero_point) at inputs i, i+1.
Expected<Value*> requantize(Lowering& l, Value* y, size_t scaleIndex, Value* like, bool relu) {
  TP_TRY(double scale, l.floatArg(scaleIndex, "output scale"));
  TP_TRY(int64_t zeroPoint, l.intArg(scaleIndex + 1, "output zero point"));
  if (relu) y = l.op("Relu", {y}).type(tensorType(DType::F32, shapeOf(y)));
  return fakeQuantize(l, y, scale, zeroPoint, activationQuantType(like));
}

// aten::quantize_per_tensor(Tensor self, float scale, int zero_point, ScalarType dtype)
Status lowerQuantizePerTensor(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(4));
  if (!isStaticScalar(l.input(1)) || !isStaticScalar(l.input(2)))
    return l.unsupported("quantize_per_tensor with tensor (computed) scale / zero point; only constants have a QDQ form here");
  TP_TRY(double scale, l.floatArg(1, "scale"));
  TP_TRY(int64_t zeroPoint, l.intArg(2, "zero_point"));
  TP_TRY(int64_t dtype, l.intArg(3, "dtype"));
  DType quantType;
  if (dtype == kQUInt8) quantType = DType::U8;
  else if (dtype == kQInt8) quantType = DType::I8;
  else return l.unsupported("quantize_per_tensor to ScalarType " + std::to_string(dtype) + " (only quint8 and qint8 have ONNX QDQ forms)");
  TP_TRY(Value * y, fakeQuantize(l, l.input(0), scale, zeroPoint, quantType));
  l.setOutput(0, y);
  return Status::ok();
}

// aten::dequantize(Tensor self): quantized tensors already hold their dequantized values.
Status lowerDequantize(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  if (!l.input(0)->type().isTensor()) return l.unsupported("dequantize of a list of tensors");
  TP_TRY(Value * x, asFloat32(l, l.input(0)));
  l.passThrough(0, x);
  return Status::ok();
}

// Dynamic quantization of activations to u8 over [0, qmax], range [min(x, 0), max(x, 0)], as
// PyTorch's ChooseQuantizationParams: scale = (max - min) / qmax (0.1 if that is 0),
// zero_point = round(-min / scale). qmax = 255 is exactly DynamicQuantizeLinear.
Value* dynamicFakeQuantize(Lowering& l, Value* x, int64_t qmax) {
  const Type scalarF32 = tensorType(DType::F32, std::vector<Dim>{});
  const Type scalarU8 = tensorType(DType::U8, std::vector<Dim>{});
  if (qmax == 255) {
    OpBuilder dq = l.op("DynamicQuantizeLinear", {x}, 3);
    dq.type(tensorType(DType::U8, shapeOf(x)), 0).type(scalarF32, 1).type(scalarU8, 2);
    return l.op("DequantizeLinear", {dq.out(0), dq.out(1), dq.out(2)}).type(tensorType(DType::F32, shapeOf(x)));
  }
  Value* zero = l.scalar(0.0, DType::F32);
  Value* lo = l.op("Min", {l.reduce("ReduceMin", x, std::nullopt, false), zero}).type(scalarF32);
  Value* hi = l.op("Max", {l.reduce("ReduceMax", x, std::nullopt, false), zero}).type(scalarF32);
  Value* range = l.op("Sub", {hi, lo}).type(scalarF32);
  Value* rawScale = l.op("Div", {range, l.scalar(static_cast<double>(qmax), DType::F32)}).type(scalarF32);
  Value* isZero = l.op("Equal", {rawScale, zero}).type(tensorType(DType::Bool, std::vector<Dim>{}));
  Value* scale = l.op("Where", {isZero, l.scalar(0.1, DType::F32), rawScale}).type(scalarF32);
  Value* negLo = l.op("Neg", {lo}).type(scalarF32);
  Value* rounded = l.op("Round", {l.op("Div", {negLo, scale}).type(scalarF32)}).type(scalarF32);
  Value* clipped = l.op("Clip", {rounded, zero, l.scalar(static_cast<double>(qmax), DType::F32)}).type(scalarF32);
  Value* zeroPoint = l.op("Cast", {clipped}).attr("to", onnxDataType(DType::U8)).type(scalarU8);
  Value* q = l.op("QuantizeLinear", {x, scale, zeroPoint}).type(tensorType(DType::U8, shapeOf(x)));
  return l.op("DequantizeLinear", {q, scale, zeroPoint}).type(tensorType(DType::F32, shapeOf(x)));
}

// quantized::linear_dynamic(Tensor X, LinearPackedParamsBase W_prepack, bool reduce_range=False)
// reduce_range=True (what quantize_dynamic asks for on x86) quantizes activations to 7 bits
// (qmax 127) as fbgemm and onednn do; qnnpack (ARM) ignores the flag and uses 8 bits, so a
// model run by LibTorch on ARM differs from this graph by up to one 7-bit activation step.
Status lowerLinearDynamicImpl(Lowering& l, bool relu) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(PackedParams p, packedParams(l, 1, false));
  TP_TRY(Value * x, asFloat32(l, l.input(0)));
  TP_TRY(bool reduceRange, l.boolArgOr(2, "reduce_range", false));
  Value* xf = dynamicFakeQuantize(l, x, reduceRange ? 127 : 255);
  TP_TRY(Value * y, emitLinear(l, xf, dequantizeWeight(l, p), p.bias));
  if (relu) y = l.op("Relu", {y}).type(y->type());
  l.setOutput(0, y);
  return Status::ok();
}
Status lowerLinearDynamic(Lowering& l) { return lowerLinearDynamicImpl(l, false); }
Status lowerLinearReluDynamic(Lowering& l) { return lowerLinearDynamicImpl(l, true); }

// quantized::linear(Tensor X, LinearPackedParamsBase W_prepack, float Y_scale_i, int Y_zero_point_i)
Status lowerQuantizedLinearImpl(Lowering& l, bool relu) {
  TP_RETURN_IF_ERROR(l.needInputs(4));
  TP_TRY(PackedParams p, packedParams(l, 1, false));
  TP_TRY(Value * x, asFloat32(l, l.input(0)));
  TP_TRY(Value * y, emitLinear(l, x, dequantizeWeight(l, p), p.bias));
  TP_TRY(y, requantize(l, y, 2, x, relu));
  l.setOutput(0, y);
  return Status::ok();
}
Status lowerQuantizedLinear(Lowering& l) { return lowerQuantizedLinearImpl(l, false); }
Status lowerQuantizedLinearRelu(Lowering& l) { return lowerQuantizedLinearImpl(l, true); }

// quantized::conv2d.new(qx, packed_weight, output_scale, output_zero_point)
// quantized::conv2d(qx, weight, stride, padding, dilation, groups, output_scale, output_zero_point)
Status lowerQuantizedConvImpl(Lowering& l, bool relu) {
  TP_RETURN_IF_ERROR(l.needInputs(4));
  TP_TRY(PackedParams p, packedParams(l, 1, true));
  size_t scaleIndex = 2;
  if (l.numInputs() == 8) {  // legacy overload: hyper-parameters as arguments
    TP_TRY(p.stride, l.intsArg(2, "stride"));
    TP_TRY(p.padding, l.intsArg(3, "padding"));
    TP_TRY(p.dilation, l.intsArg(4, "dilation"));
    TP_TRY(p.groups, l.intArg(5, "groups"));
    scaleIndex = 6;
  }
  if (p.transpose) return l.unsupported("quantized transposed convolution (ConvTranspose2d) is not converted yet");
  if (p.stride.size() != 2 || p.padding.size() != 2 || p.dilation.size() != 2)
    return l.unsupported("quantized convolution that is not 2-D");
  TP_TRY(Value * x, asFloat32(l, l.input(0)));
  Value* w = dequantizeWeight(l, p);
  std::vector<Value*> inputs{x, w};
  if (p.bias != nullptr) inputs.push_back(p.bias);
  std::optional<std::vector<Dim>> outShape;
  auto xs = shapeOf(x);
  auto ws = shapeOf(p.weight);
  if (xs && ws && xs->size() == 4 && ws->size() == 4) {
    outShape = std::vector<Dim>{(*xs)[0], (*ws)[0]};
    for (size_t i = 0; i < 2; ++i) {
      const Dim in = (*xs)[2 + i], k = (*ws)[2 + i];
      if (in.isKnown() && k.isKnown()) {
        outShape->push_back(Dim::known((in.size() + 2 * p.padding[i] - p.dilation[i] * (k.size() - 1) - 1) / p.stride[i] + 1));
      } else {
        outShape->push_back(Dim::unknown());
      }
    }
  }
  OpBuilder conv = l.op("Conv", std::span<Value* const>(inputs));
  conv.attr("strides", p.stride)
      .attr("pads", std::vector<int64_t>{p.padding[0], p.padding[1], p.padding[0], p.padding[1]})
      .attr("dilations", p.dilation)
      .attr("group", p.groups)
      .type(outShape ? tensorType(DType::F32, outShape) : tensorTypeOfRank(DType::F32, 4));
  TP_TRY(Value * y, requantize(l, conv.out(), scaleIndex, x, relu));
  l.setOutput(0, y);
  return Status::ok();
}
Status lowerQuantizedConv(Lowering& l) { return lowerQuantizedConvImpl(l, false); }
Status lowerQuantizedConvRelu(Lowering& l) { return lowerQuantizedConvImpl(l, true); }

// quantized::add / mul(Tensor qa, Tensor qb, float scale, int zero_point)
Status lowerQuantizedBinary(Lowering& l, const char* onnxOp, bool relu) {
  TP_RETURN_IF_ERROR(l.needInputs(4));
  if (!l.input(0)->type().isTensor() || !l.input(1)->type().isTensor())
    return l.unsupported("quantized binary op with a scalar operand (the .Scalar overloads)");
  TP_TRY(Value * a, asFloat32(l, l.input(0)));
  TP_TRY(Value * b, asFloat32(l, l.input(1)));
  Value* y = l.op(onnxOp, {a, b}).type(tensorType(DType::F32, broadcastShapes(shapeOf(a), shapeOf(b))));
  TP_TRY(y, requantize(l, y, 2, a, relu));
  l.setOutput(0, y);
  return Status::ok();
}
Status lowerQuantizedAdd(Lowering& l) { return lowerQuantizedBinary(l, "Add", false); }
Status lowerQuantizedAddRelu(Lowering& l) { return lowerQuantizedBinary(l, "Add", true); }
Status lowerQuantizedMul(Lowering& l) { return lowerQuantizedBinary(l, "Mul", false); }

// aten::_add_relu(self, other, *, alpha=1): the float fusion optimize_for_mobile makes of
// add + relu (the float twin of quantized::add_relu) -> Relu(self + alpha * other).
Status lowerAddRelu(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  std::vector<Value*> operands{l.input(0), l.input(1)};
  DType dtype = DType::Undefined;
  TP_TRY(operands, l.promoteOperands(operands, dtype));
  TP_TRY(double alpha, l.floatArgOr(2, "alpha", 1.0));
  const Type type = tensorType(dtype, broadcastShapes(shapeOf(operands[0]), shapeOf(operands[1])));
  Value* other = operands[1];
  if (alpha != 1.0) {
    TP_TRY(Value * alphaValue, l.castTo(l.staticFloatValue(alpha), dtype));
    other = l.op("Mul", {other, alphaValue}).type(tensorType(dtype, shapeOf(other)));
  }
  Value* sum = l.op("Add", {operands[0], other}).type(type);
  l.setOutput(0, l.op("Relu", {sum}).type(type));
  return Status::ok();
}

constexpr ConverterSpec kTable[] = {
    {"aten::quantize_per_tensor", kMinOpset, kMaxOpset, "QuantizeLinear + DequantizeLinear (QDQ)", lowerQuantizePerTensor},
    {"aten::dequantize", kMinOpset, kMaxOpset, "no-op (quantized tensors hold dequantized values)", lowerDequantize},
    {"quantized::linear_dynamic", kMinOpset, kMaxOpset, "dynamic Q/DQ of x (7-bit if reduce_range), DQ(W), Gemm/MatMul",
     lowerLinearDynamic},
    {"quantized::linear_relu_dynamic", kMinOpset, kMaxOpset, "as linear_dynamic, then Relu", lowerLinearReluDynamic},
    {"quantized::linear", kMinOpset, kMaxOpset, "DQ(W), Gemm/MatMul, QDQ(out)", lowerQuantizedLinear},
    {"quantized::linear_relu", kMinOpset, kMaxOpset, "DQ(W), Gemm/MatMul, Relu, QDQ(out)", lowerQuantizedLinearRelu},
    {"quantized::conv2d", kMinOpset, kMaxOpset, "DQ(W), Conv, QDQ(out)", lowerQuantizedConv},
    {"quantized::conv2d_relu", kMinOpset, kMaxOpset, "DQ(W), Conv, Relu, QDQ(out)", lowerQuantizedConvRelu},
    {"quantized::add", kMinOpset, kMaxOpset, "Add, QDQ(out)", lowerQuantizedAdd},
    {"quantized::add_relu", kMinOpset, kMaxOpset, "Add, Relu, QDQ(out)", lowerQuantizedAddRelu},
    {"quantized::mul", kMinOpset, kMaxOpset, "Mul, QDQ(out)", lowerQuantizedMul},
    {"aten::_add_relu", kMinOpset, kMaxOpset, "Relu(Add) (optimize_for_mobile's add + relu fusion)", lowerAddRelu},
};

}  // namespace

std::span<const ConverterSpec> quantizedConverters() { return kTable; }

}  // namespace torchport::onnxplugin
