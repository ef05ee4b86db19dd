// Activations and clamps. Constants are created in the input's dtype so f16 models stay
// f16; decompositions follow PyTorch's formulas exactly (gelu, elu with scales, softplus
// with beta, hardswish below opset 14).
#include <cmath>
#include <limits>

#include "converters.h"

namespace torchport::onnxplugin {
namespace {

// A scalar constant in `like`'s dtype (CastLike when that dtype is unknown).
Expected<Value*> constLike(Lowering& l, double value, Value* like) {
  if (DType dt = dtypeOf(like); dt != DType::Undefined) return l.scalar(value, dt);
  return l.castLike(l.staticFloatValue(value), like);
}

Type sameType(Value* x) { return tensorType(dtypeOf(x), shapeOf(x)); }

Expected<Value*> floatTensorInput(Lowering& l, size_t i) {
  TP_TRY(Value * x, l.asTensor(l.input(i)));
  const DType dt = dtypeOf(x);
  if (dt != DType::Undefined && !isFloatingPoint(dt)) return l.castTo(x, DType::F32);
  return x;
}

Status unaryOp(Lowering& l, const char* onnxOp) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, floatTensorInput(l, 0));
  l.setOutput(0, l.op(onnxOp, {x}).type(sameType(x)));
  return Status::ok();
}

Status lowerRelu(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  const DType dt = dtypeOf(x);
  if (dt != DType::Undefined && !isFloatingPoint(dt) && l.opset() < 14) {
    // Relu-13 is float-only; Max(x, 0) covers integers.
    l.setOutput(0, l.op("Max", {x, l.scalar(0, dt)}).type(sameType(x)));
    return Status::ok();
  }
  l.setOutput(0, l.op("Relu", {x}).type(sameType(x)));
  return Status::ok();
}
Status lowerSigmoid(Lowering& l) { return unaryOp(l, "Sigmoid"); }
Status lowerTanh(Lowering& l) { return unaryOp(l, "Tanh"); }
Status lowerSoftsign(Lowering& l) { return unaryOp(l, "Softsign"); }

// Clip with optional bounds given as static numbers or tensors (Max/Min for tensors
// with more than one element, which Clip does not accept).
Status clampValues(Lowering& l, Value* x, Value* minV, Value* maxV) {
  std::vector<Value*> operands{x};
  if (minV != nullptr) operands.push_back(minV);
  if (maxV != nullptr) operands.push_back(maxV);
  DType dt = DType::Undefined;
  TP_TRY(std::vector<Value*> promoted, l.promoteOperands(operands, dt));
  Value* input = promoted[0];
  Value* lo = minV != nullptr ? promoted[1] : nullptr;
  Value* hi = maxV != nullptr ? promoted.back() : nullptr;
  auto isScalarBound = [](Value* v) { return v == nullptr || rankOf(v) == 0; };
  if (isScalarBound(lo) && isScalarBound(hi) && dt != DType::Undefined) {
    // A missing bound becomes the dtype's extreme value (Clip takes both as inputs).
    if (isFloatingPoint(dt)) {
      if (lo == nullptr) lo = l.scalar(-std::numeric_limits<double>::infinity(), dt);
      if (hi == nullptr) hi = l.scalar(std::numeric_limits<double>::infinity(), dt);
    } else if (dt == DType::I64) {
      if (lo == nullptr) lo = l.i64(std::numeric_limits<int64_t>::min());
      if (hi == nullptr) hi = l.i64(std::numeric_limits<int64_t>::max());
    } else if (dt == DType::Bool) {
      return l.unsupported("clamp on boolean tensors");
    } else {
      const int bits = static_cast<int>(dtypeSize(dt) * 8);
      const bool isUnsignedType = dt == DType::U8 || dt == DType::U16 || dt == DType::U32 || dt == DType::U64;
      if (lo == nullptr) lo = l.scalar(isUnsignedType ? 0.0 : -std::ldexp(1.0, bits - 1), dt);
      if (hi == nullptr) hi = l.scalar(std::ldexp(1.0, isUnsignedType ? bits : bits - 1) - 1, dt);
    }
    l.setOutput(0, l.op("Clip", {input, lo, hi}).type(sameType(input)));
    return Status::ok();
  }
  Value* y = input;
  if (lo != nullptr) y = l.op("Max", {y, lo}).type(tensorType(dt, broadcastShapes(shapeOf(y), shapeOf(lo))));
  if (hi != nullptr) y = l.op("Min", {y, hi}).type(tensorType(dt, broadcastShapes(shapeOf(y), shapeOf(hi))));
  l.setOutput(0, y);
  return Status::ok();
}

Status lowerClamp(Lowering& l) {  // clamp(self, min=None, max=None), Scalar or Tensor bounds
  TP_RETURN_IF_ERROR(l.needInputs(1));
  Value* minV = l.isNoneArg(1) ? nullptr : l.input(1);
  Value* maxV = l.isNoneArg(2) ? nullptr : l.input(2);
  if (minV == nullptr && maxV == nullptr) return l.invalid("clamp needs at least one of min or max");
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  return clampValues(l, x, minV, maxV);
}

Status lowerClampMin(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  return clampValues(l, x, l.input(1), nullptr);
}

Status lowerClampMax(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  return clampValues(l, x, nullptr, l.input(1));
}

Status lowerHardtanh(Lowering& l) {  // hardtanh(self, min_val=-1, max_val=1)
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(double lo, l.floatArgOr(1, "min_val", -1.0));
  TP_TRY(double hi, l.floatArgOr(2, "max_val", 1.0));
  TP_TRY(Value * loV, constLike(l, lo, x));
  TP_TRY(Value * hiV, constLike(l, hi, x));
  l.setOutput(0, l.op("Clip", {x, loV, hiV}).type(sameType(x)));
  return Status::ok();
}

Status lowerRelu6(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(Value * loV, constLike(l, 0.0, x));
  TP_TRY(Value * hiV, constLike(l, 6.0, x));
  l.setOutput(0, l.op("Clip", {x, loV, hiV}).type(sameType(x)));
  return Status::ok();
}

Status lowerThreshold(Lowering& l) {  // threshold(self, threshold, value): x > t ? x : value
  TP_RETURN_IF_ERROR(l.needInputs(3));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(Value * t, l.castLike(l.input(1), x));
  TP_TRY(Value * v, l.castLike(l.input(2), x));
  Value* keep = l.op("Greater", {x, t}).type(tensorType(DType::Bool, shapeOf(x)));
  l.setOutput(0, l.op("Where", {keep, x, v}).type(sameType(x)));
  return Status::ok();
}

Status lowerLeakyRelu(Lowering& l) {  // leaky_relu(self, negative_slope=0.01)
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, floatTensorInput(l, 0));
  TP_TRY(double slope, l.floatArgOr(1, "negative_slope", 0.01));
  l.setOutput(0, l.op("LeakyRelu", {x}).attr("alpha", slope).type(sameType(x)));
  return Status::ok();
}

Status lowerElu(Lowering& l) {  // elu(self, alpha=1, scale=1, input_scale=1)
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, floatTensorInput(l, 0));
  TP_TRY(double alpha, l.floatArgOr(1, "alpha", 1.0));
  TP_TRY(double scale, l.floatArgOr(2, "scale", 1.0));
  TP_TRY(double inputScale, l.floatArgOr(3, "input_scale", 1.0));
  Type t = sameType(x);
  if (scale == 1.0 && inputScale == 1.0) {
    l.setOutput(0, l.op("Elu", {x}).attr("alpha", alpha).type(t));
    return Status::ok();
  }
  // x > 0 ? scale * x : alpha * scale * (exp(input_scale * x) - 1)
  TP_TRY(Value * scaleV, constLike(l, scale, x));
  TP_TRY(Value * inputScaleV, constLike(l, inputScale, x));
  TP_TRY(Value * negScaleV, constLike(l, alpha * scale, x));
  TP_TRY(Value * one, constLike(l, 1.0, x));
  TP_TRY(Value * zero, constLike(l, 0.0, x));
  Value* positive = l.op("Mul", {x, scaleV}).type(t);
  Value* expm1 = l.op("Sub", {l.op("Exp", {l.op("Mul", {x, inputScaleV}).type(t)}).type(t), one}).type(t);
  Value* negative = l.op("Mul", {expm1, negScaleV}).type(t);
  Value* isPositive = l.op("Greater", {x, zero}).type(tensorType(DType::Bool, shapeOf(x)));
  l.setOutput(0, l.op("Where", {isPositive, positive, negative}).type(t));
  return Status::ok();
}

Status lowerSelu(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, floatTensorInput(l, 0));
  // PyTorch's constants (ONNX defaults are rounded to float).
  l.setOutput(0, l.op("Selu", {x})
                     .attr("alpha", 1.6732632423543772848170429916717)
                     .attr("gamma", 1.0507009873554804934193349852946)
                     .type(sameType(x)));
  return Status::ok();
}

Status lowerCelu(Lowering& l) {  // celu(self, alpha=1)
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, floatTensorInput(l, 0));
  TP_TRY(double alpha, l.floatArgOr(1, "alpha", 1.0));
  if (dtypeOf(x) != DType::F32) {
    // Celu-12 is defined for float32 only: x > 0 ? x : alpha * (exp(x / alpha) - 1)
    Type t = sameType(x);
    TP_TRY(Value * alphaV, constLike(l, alpha, x));
    TP_TRY(Value * one, constLike(l, 1.0, x));
    TP_TRY(Value * zero, constLike(l, 0.0, x));
    Value* e = l.op("Sub", {l.op("Exp", {l.op("Div", {x, alphaV}).type(t)}).type(t), one}).type(t);
    Value* negative = l.op("Mul", {e, alphaV}).type(t);
    Value* isPositive = l.op("Greater", {x, zero}).type(tensorType(DType::Bool, shapeOf(x)));
    l.setOutput(0, l.op("Where", {isPositive, x, negative}).type(t));
    return Status::ok();
  }
  l.setOutput(0, l.op("Celu", {x}).attr("alpha", alpha).type(sameType(x)));
  return Status::ok();
}

Status lowerGelu(Lowering& l) {  // gelu(self, approximate='none')
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, floatTensorInput(l, 0));
  TP_TRY(std::string approximate, l.stringArgOr(1, "approximate", "none"));
  Type t = sameType(x);
  TP_TRY(Value * half, constLike(l, 0.5, x));
  TP_TRY(Value * one, constLike(l, 1.0, x));
  Value* inner = nullptr;
  if (approximate == "none") {
    // 0.5 * x * (1 + erf(x / sqrt(2)))
    TP_TRY(Value * invSqrt2, constLike(l, 1.0 / std::sqrt(2.0), x));
    inner = l.op("Erf", {l.op("Mul", {x, invSqrt2}).type(t)}).type(t);
  } else if (approximate == "tanh") {
    // 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))
    TP_TRY(Value * k, constLike(l, std::sqrt(2.0 / M_PI), x));
    TP_TRY(Value * c, constLike(l, 0.044715, x));
    Value* cube = l.op("Mul", {l.op("Mul", {x, x}).type(t), x}).type(t);
    Value* sum = l.op("Add", {x, l.op("Mul", {cube, c}).type(t)}).type(t);
    inner = l.op("Tanh", {l.op("Mul", {sum, k}).type(t)}).type(t);
  } else {
    return l.invalid("unknown gelu approximation '" + approximate + "' (expected 'none' or 'tanh')");
  }
  Value* factor = l.op("Mul", {l.op("Add", {inner, one}).type(t), half}).type(t);
  l.setOutput(0, l.op("Mul", {x, factor}).type(t));
  return Status::ok();
}

Status lowerSilu(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, floatTensorInput(l, 0));
  Type t = sameType(x);
  l.setOutput(0, l.op("Mul", {x, l.op("Sigmoid", {x}).type(t)}).type(t));
  return Status::ok();
}

Status lowerMish(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, floatTensorInput(l, 0));
  Type t = sameType(x);
  l.setOutput(0, l.op("Mul", {x, l.op("Tanh", {l.op("Softplus", {x}).type(t)}).type(t)}).type(t));
  return Status::ok();
}

Status lowerHardsigmoid(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, floatTensorInput(l, 0));
  l.setOutput(0, l.op("HardSigmoid", {x}).attr("alpha", 1.0 / 6.0).attr("beta", 0.5).type(sameType(x)));
  return Status::ok();
}

Status lowerHardswish13(Lowering& l) {  // x * hardsigmoid(x) before HardSwish-14
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, floatTensorInput(l, 0));
  Type t = sameType(x);
  Value* gate = l.op("HardSigmoid", {x}).attr("alpha", 1.0 / 6.0).attr("beta", 0.5).type(t);
  l.setOutput(0, l.op("Mul", {x, gate}).type(t));
  return Status::ok();
}

Status lowerHardswish14(Lowering& l) { return unaryOp(l, "HardSwish"); }

Status lowerSoftplus(Lowering& l) {  // softplus(self, beta=1, threshold=20)
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, floatTensorInput(l, 0));
  TP_TRY(double beta, l.floatArgOr(1, "beta", 1.0));
  TP_TRY(double threshold, l.floatArgOr(2, "threshold", 20.0));
  Type t = sameType(x);
  // PyTorch returns x where beta * x > threshold; Softplus(x) equals x there to within
  // exp(-threshold) relative, so the switch is kept explicit only for small thresholds.
  Value* scaled = x;
  Value* betaV = nullptr;
  if (beta != 1.0) {
    TP_TRY(betaV, constLike(l, beta, x));
    scaled = l.op("Mul", {x, betaV}).type(t);
  }
  Value* y = l.op("Softplus", {scaled}).type(t);
  if (betaV != nullptr) y = l.op("Div", {y, betaV}).type(t);
  if (threshold < 15.0) {
    TP_TRY(Value * thresholdV, constLike(l, threshold, x));
    Value* linear = l.op("Greater", {scaled, thresholdV}).type(tensorType(DType::Bool, shapeOf(x)));
    y = l.op("Where", {linear, x, y}).type(t);
  }
  l.setOutput(0, y);
  return Status::ok();
}

Status lowerLogSigmoid(Lowering& l) {  // -softplus(-x)
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, floatTensorInput(l, 0));
  Type t = sameType(x);
  Value* sp = l.op("Softplus", {l.op("Neg", {x}).type(t)}).type(t);
  l.setOutput(0, l.op("Neg", {sp}).type(t));
  return Status::ok();
}

Status lowerHardshrink(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, floatTensorInput(l, 0));
  TP_TRY(double lambd, l.floatArgOr(1, "lambd", 0.5));
  l.setOutput(0, l.op("Shrink", {x}).attr("lambd", lambd).attr("bias", 0.0).type(sameType(x)));
  return Status::ok();
}

Status lowerSoftshrink(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, floatTensorInput(l, 0));
  TP_TRY(double lambd, l.floatArgOr(1, "lambd", 0.5));
  l.setOutput(0, l.op("Shrink", {x}).attr("lambd", lambd).attr("bias", lambd).type(sameType(x)));
  return Status::ok();
}

Status lowerPrelu(Lowering& l) {  // prelu(self, weight[C]): the weight applies along dim 1
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * x, floatTensorInput(l, 0));
  TP_TRY(Value * w, l.castLike(l.input(1), x));
  auto wRank = rankOf(w);
  auto xRank = rankOf(x);
  const std::optional<int64_t> channels = wRank == 1 ? staticDimOf(w, 0) : std::nullopt;
  if (channels != 1 && xRank.value_or(0) != 2) {
    if (!xRank) return l.unsupported("prelu with a per-channel weight needs the input rank; declare input shapes");
    if (*xRank >= 3) {
      std::vector<int64_t> axes;
      for (int64_t i = 1; i <= *xRank - 2; ++i) axes.push_back(i);
      w = l.unsqueeze(w, axes);  // [C] -> [C, 1, ..., 1] so it broadcasts along dim 1
    }
  }
  l.setOutput(0, l.op("PRelu", {x, w}).type(sameType(x)));
  return Status::ok();
}

Status lowerGlu(Lowering& l) {  // glu(self, dim=-1): a * sigmoid(b) with a, b the two halves
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, floatTensorInput(l, 0));
  TP_TRY(int64_t dim, l.intArgOr(1, "dim", -1));
  Value* half = nullptr;
  std::optional<std::vector<Dim>> halfShape = shapeOf(x);
  if (auto size = staticDimOf(x, dim)) {
    if (*size % 2 != 0) return l.invalid("glu needs an even size along dim " + std::to_string(dim));
    half = l.i64s({*size / 2, *size / 2});
  } else {
    Value* h = l.op("Div", {l.dimSize(x, dim), l.i64(2)}).type(tensorType(DType::I64, std::vector<Dim>{}));
    Value* h1 = l.unsqueeze(h, {0});
    half = l.op("Concat", {h1, h1}).attr("axis", 0).type(tensorType(DType::I64, knownDims({2})));
  }
  if (halfShape) {
    TP_TRY(int64_t axis, l.normalizeAxis(dim, static_cast<int64_t>(halfShape->size()), "dim"));
    Dim& d = (*halfShape)[static_cast<size_t>(axis)];
    d = d.isKnown() ? Dim::known(d.size() / 2) : Dim::unknown();
  }
  Type t = tensorType(dtypeOf(x), halfShape);
  OpBuilder split = l.op("Split", {x, half}, 2).attr("axis", dim).type(t, 0).type(t, 1);
  l.setOutput(0, l.op("Mul", {split.out(0), l.op("Sigmoid", {split.out(1)}).type(t)}).type(t));
  return Status::ok();
}

Status softmaxLike(Lowering& l, const char* onnxOp, bool halfToFloatForm) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(int64_t dim, l.intArg(1, "dim"));
  if (halfToFloatForm) {  // _softmax(self, dim, half_to_float)
    TP_TRY(bool halfToFloat, l.boolArgOr(2, "half_to_float", false));
    if (halfToFloat) {
      TP_TRY(x, l.castTo(x, DType::F32));
    }
  } else {
    TP_TRY(std::optional<DType> dtype, l.dtypeArg(2));
    if (dtype) {
      TP_TRY(x, l.castTo(x, *dtype));
    }
  }
  if (DType dt = dtypeOf(x); dt != DType::Undefined && !isFloatingPoint(dt))
    return l.invalid("softmax on a non-floating tensor (" + std::string(dtypeName(dt)) + "); pass dtype=torch.float32");
  if (auto r = rankOf(x); r && *r == 0) {
    // Softmax of a 0-d tensor is 1 (log_softmax: 0).
    TP_TRY(Value * c, constLike(l, std::string_view(onnxOp) == "Softmax" ? 1.0 : 0.0, x));
    l.setOutput(0, c);
    return Status::ok();
  }
  l.setOutput(0, l.op(onnxOp, {x}).attr("axis", dim).type(sameType(x)));
  return Status::ok();
}
Status lowerSoftmax(Lowering& l) { return softmaxLike(l, "Softmax", false); }
Status lowerLogSoftmax(Lowering& l) { return softmaxLike(l, "LogSoftmax", false); }
Status lowerSoftmaxInternal(Lowering& l) { return softmaxLike(l, "Softmax", true); }
Status lowerLogSoftmaxInternal(Lowering& l) { return softmaxLike(l, "LogSoftmax", true); }

constexpr ConverterSpec kTable[] = {
    {"aten::relu", kMinOpset, kMaxOpset, "Relu (Max(x, 0) for ints below opset 14)", lowerRelu},
    {"aten::relu_", kMinOpset, kMaxOpset, "in-place relu, lowered functionally", lowerRelu},
    {"aten::relu6", kMinOpset, kMaxOpset, "Clip(0, 6)", lowerRelu6},
    {"aten::relu6_", kMinOpset, kMaxOpset, "Clip(0, 6)", lowerRelu6},
    {"aten::hardtanh", kMinOpset, kMaxOpset, "Clip(min_val, max_val)", lowerHardtanh},
    {"aten::hardtanh_", kMinOpset, kMaxOpset, "Clip(min_val, max_val)", lowerHardtanh},
    {"aten::clamp", kMinOpset, kMaxOpset, "Clip for scalar bounds, Max/Min for tensor bounds", lowerClamp},
    {"aten::clamp_", kMinOpset, kMaxOpset, "in-place clamp, lowered functionally", lowerClamp},
    {"aten::clip", kMinOpset, kMaxOpset, "alias of clamp", lowerClamp},
    {"aten::clip_", kMinOpset, kMaxOpset, "alias of clamp", lowerClamp},
    {"aten::clamp_min", kMinOpset, kMaxOpset, "Clip with a lower bound", lowerClampMin},
    {"aten::clamp_min_", kMinOpset, kMaxOpset, "Clip with a lower bound", lowerClampMin},
    {"aten::clamp_max", kMinOpset, kMaxOpset, "Clip with an upper bound", lowerClampMax},
    {"aten::clamp_max_", kMinOpset, kMaxOpset, "Clip with an upper bound", lowerClampMax},
    {"aten::threshold", kMinOpset, kMaxOpset, "Where(x > threshold, x, value)", lowerThreshold},
    {"aten::threshold_", kMinOpset, kMaxOpset, "Where(x > threshold, x, value)", lowerThreshold},
    {"aten::sigmoid", kMinOpset, kMaxOpset, "Sigmoid", lowerSigmoid},
    {"aten::sigmoid_", kMinOpset, kMaxOpset, "Sigmoid", lowerSigmoid},
    {"aten::tanh", kMinOpset, kMaxOpset, "Tanh", lowerTanh},
    {"aten::tanh_", kMinOpset, kMaxOpset, "Tanh", lowerTanh},
    {"aten::leaky_relu", kMinOpset, kMaxOpset, "LeakyRelu(alpha=negative_slope)", lowerLeakyRelu},
    {"aten::leaky_relu_", kMinOpset, kMaxOpset, "LeakyRelu(alpha=negative_slope)", lowerLeakyRelu},
    {"aten::elu", kMinOpset, kMaxOpset, "Elu (decomposed when scale/input_scale != 1)", lowerElu},
    {"aten::elu_", kMinOpset, kMaxOpset, "Elu", lowerElu},
    {"aten::selu", kMinOpset, kMaxOpset, "Selu with PyTorch's constants", lowerSelu},
    {"aten::selu_", kMinOpset, kMaxOpset, "Selu", lowerSelu},
    {"aten::celu", kMinOpset, kMaxOpset, "Celu (decomposed for non-f32)", lowerCelu},
    {"aten::celu_", kMinOpset, kMaxOpset, "Celu", lowerCelu},
    {"aten::gelu", kMinOpset, kMaxOpset, "exact (erf) or tanh-approximated gelu, decomposed", lowerGelu},
    {"aten::gelu_", kMinOpset, kMaxOpset, "gelu", lowerGelu},
    {"aten::silu", kMinOpset, kMaxOpset, "x * Sigmoid(x)", lowerSilu},
    {"aten::silu_", kMinOpset, kMaxOpset, "x * Sigmoid(x)", lowerSilu},
    {"aten::mish", kMinOpset, kMaxOpset, "x * Tanh(Softplus(x))", lowerMish},
    {"aten::mish_", kMinOpset, kMaxOpset, "x * Tanh(Softplus(x))", lowerMish},
    {"aten::hardsigmoid", kMinOpset, kMaxOpset, "HardSigmoid(alpha=1/6, beta=0.5)", lowerHardsigmoid},
    {"aten::hardsigmoid_", kMinOpset, kMaxOpset, "HardSigmoid(alpha=1/6, beta=0.5)", lowerHardsigmoid},
    {"aten::hardswish", 13, 13, "x * HardSigmoid(x) (HardSwish needs opset 14)", lowerHardswish13},
    {"aten::hardswish", 14, kMaxOpset, "HardSwish", lowerHardswish14},
    {"aten::hardswish_", 13, 13, "x * HardSigmoid(x)", lowerHardswish13},
    {"aten::hardswish_", 14, kMaxOpset, "HardSwish", lowerHardswish14},
    {"aten::softplus", kMinOpset, kMaxOpset, "Softplus(beta * x) / beta", lowerSoftplus},
    {"aten::softsign", kMinOpset, kMaxOpset, "Softsign", lowerSoftsign},
    {"aten::log_sigmoid", kMinOpset, kMaxOpset, "-Softplus(-x)", lowerLogSigmoid},
    {"aten::hardshrink", kMinOpset, kMaxOpset, "Shrink(lambd, bias=0)", lowerHardshrink},
    {"aten::softshrink", kMinOpset, kMaxOpset, "Shrink(lambd, bias=lambd)", lowerSoftshrink},
    {"aten::prelu", kMinOpset, kMaxOpset, "PRelu with the weight reshaped to broadcast along dim 1", lowerPrelu},
    {"aten::glu", kMinOpset, kMaxOpset, "Split in halves, a * Sigmoid(b)", lowerGlu},
    {"aten::softmax", kMinOpset, kMaxOpset, "Softmax(axis=dim), optional dtype cast first", lowerSoftmax},
    {"aten::log_softmax", kMinOpset, kMaxOpset, "LogSoftmax(axis=dim), optional dtype cast first", lowerLogSoftmax},
    {"aten::_softmax", kMinOpset, kMaxOpset, "Softmax (half_to_float casts to f32)", lowerSoftmaxInternal},
    {"aten::_log_softmax", kMinOpset, kMaxOpset, "LogSoftmax (half_to_float casts to f32)", lowerLogSoftmaxInternal},
    {"aten::special_softmax", kMinOpset, kMaxOpset, "Softmax", lowerSoftmax},
};

}  // namespace

std::span<const ConverterSpec> activationConverters() { return kTable; }

}  // namespace torchport::onnxplugin
