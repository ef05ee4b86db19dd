// Normalizations: batch norm (eval statistics), layer norm (LayerNormalization from
// opset 17, decomposed below), group norm and instance norm (InstanceNormalization).
#include "converters.h"

namespace torchport::onnxplugin {
namespace {

Type sameType(Value* x) { return tensorType(dtypeOf(x), shapeOf(x)); }

// Number of channels (dim 1) from any of the per-channel parameters or the input.
std::optional<int64_t> channelCount(Value* x, std::initializer_list<Value*> params) {
  for (Value* p : params) {
    if (p == nullptr || isNone(p)) continue;
    if (auto d = staticDimOf(p, 0); d && rankOf(p) == 1) return d;
  }
  return staticDimOf(x, 1);
}

// A per-channel parameter, or `fill` of length C when the argument is None. Cast to
// `like`'s dtype when that is known and differs (BatchNormalization < 15 needs one type).
Expected<Value*> channelParam(Lowering& l, Value* param, double fill, std::optional<int64_t> channels, Value* like,
                              bool castToLike) {
  if (param != nullptr && !isNone(param)) {
    TP_TRY(Value * p, l.asTensor(param));
    if (castToLike && dtypeOf(like) != DType::Undefined && dtypeOf(p) != dtypeOf(like)) return l.castTo(p, dtypeOf(like));
    return p;
  }
  const DType dt = dtypeOf(like) == DType::Undefined ? DType::F32 : dtypeOf(like);
  if (channels) return l.filled(fill, dt, {*channels});
  // Dynamic channel count: ConstantOfShape(Shape(x)[1:2]).
  Value* c = l.slice(l.shape(like), 0, 1, 2);
  Value* filledV = l.op("ConstantOfShape", {c})
                       .attr("value", Tensor::fromVector(DType::F32, {1}, std::vector<float>{static_cast<float>(fill)}))
                       .type(tensorType(DType::F32, std::vector<Dim>{Dim::unknown()}));
  return l.castLike(filledV, like);
}

// BatchNormalization in inference mode; ranks other than >= 3 go through [N, C, 1].
Expected<Value*> batchNormInference(Lowering& l, Value* x, Value* weight, Value* bias, Value* mean, Value* var, double eps) {
  auto channels = channelCount(x, {mean, var, weight, bias});
  const bool perParamTypes = l.opset() >= 15;  // T1/T2 type constraints relaxed in BN-15
  TP_TRY(Value * scale, channelParam(l, weight, 1.0, channels, x, !perParamTypes));
  TP_TRY(Value * shift, channelParam(l, bias, 0.0, channels, x, !perParamTypes));
  TP_TRY(Value * m, channelParam(l, mean, 0.0, channels, x, !perParamTypes));
  TP_TRY(Value * v, channelParam(l, var, 1.0, channels, x, !perParamTypes));
  if (perParamTypes) {
    // BN-15: scale and bias share one type, mean and var another.
    if (dtypeOf(scale) != dtypeOf(shift) && dtypeOf(scale) != DType::Undefined) {
      TP_TRY(shift, l.castTo(shift, dtypeOf(scale)));
    }
    if (dtypeOf(m) != dtypeOf(v) && dtypeOf(m) != DType::Undefined) {
      TP_TRY(v, l.castTo(v, dtypeOf(m)));
    }
  }
  Value* input = x;
  const bool rank2 = rankOf(x) == 2;
  if (rank2) input = l.unsqueeze(x, {2});
  Value* y = l.op("BatchNormalization", {input, scale, shift, m, v}).attr("epsilon", eps).type(sameType(input));
  if (rank2) y = l.squeeze(y, {2});
  return y;
}

// Batch statistics (track_running_stats=False modules use them even in eval mode).
Expected<Value*> batchNormBatchStats(Lowering& l, Value* x, Value* weight, Value* bias, double eps) {
  auto rank = rankOf(x);
  if (!rank) return l.unsupported("batch_norm without running statistics needs the input rank");
  std::vector<int64_t> axes{0};
  for (int64_t i = 2; i < *rank; ++i) axes.push_back(i);
  Type t = sameType(x);
  Value* mean = l.reduce("ReduceMean", x, axes, true);
  Value* centered = l.op("Sub", {x, mean}).type(t);
  Value* var = l.reduce("ReduceMean", l.op("Mul", {centered, centered}).type(t), axes, true);
  TP_TRY(Value * epsV, l.castLike(l.staticFloatValue(eps), x));
  Value* normed = l.op("Div", {centered, l.op("Sqrt", {l.op("Add", {var, epsV}).type(tensorType(dtypeOf(x), shapeOf(var)))})
                                               .type(tensorType(dtypeOf(x), shapeOf(var)))})
                      .type(t);
  std::vector<int64_t> paramAxes;
  for (int64_t i = 1; i <= *rank - 2; ++i) paramAxes.push_back(i);
  Value* y = normed;
  if (weight != nullptr && !isNone(weight)) {
    TP_TRY(Value * w, l.castLike(weight, x));
    if (!paramAxes.empty()) w = l.unsqueeze(w, paramAxes);
    y = l.op("Mul", {y, w}).type(t);
  }
  if (bias != nullptr && !isNone(bias)) {
    TP_TRY(Value * b, l.castLike(bias, x));
    if (!paramAxes.empty()) b = l.unsqueeze(b, paramAxes);
    y = l.op("Add", {y, b}).type(t);
  }
  return y;
}

// batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled)
Status lowerBatchNorm(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(8));
  TP_TRY(bool training, l.boolArg(5, "training"));
  if (training)
    return l.unsupported("batch_norm in training mode uses batch statistics and updates running stats; "
                         "export the model in eval mode (model.eval())");
  TP_TRY(double eps, l.floatArg(7, "eps"));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  Value* y = nullptr;
  if (l.isNoneArg(3) || l.isNoneArg(4)) {
    TP_TRY(y, batchNormBatchStats(l, x, l.input(1), l.input(2), eps));
  } else {
    TP_TRY(y, batchNormInference(l, x, l.input(1), l.input(2), l.input(3), l.input(4), eps));
  }
  l.setOutput(0, y);
  return Status::ok();
}

// _native_batch_norm_legit_no_training(input, weight, bias, running_mean, running_var, momentum, eps)
// native_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps)
Status lowerNativeBatchNorm(Lowering& l) {
  const bool hasTraining = l.node().kind() == "aten::native_batch_norm";
  TP_RETURN_IF_ERROR(l.needInputs(hasTraining ? 8 : 7));
  if (hasTraining) {
    TP_TRY(bool training, l.boolArg(5, "training"));
    if (training) return l.unsupported("batch_norm in training mode; export the model in eval mode (model.eval())");
  }
  TP_TRY(double eps, l.floatArg(hasTraining ? 7 : 6, "eps"));
  for (size_t i = 1; i < l.node().numOutputs(); ++i)
    if (l.outputUsed(i)) return l.unsupported("the saved mean / invstd outputs of native batch norm");
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  if (l.isNoneArg(3) || l.isNoneArg(4)) return l.unsupported("native batch norm without running statistics");
  TP_TRY(Value * y, batchNormInference(l, x, l.input(1), l.input(2), l.input(3), l.input(4), eps));
  l.setOutput(0, y);
  return Status::ok();
}

// ---------------------------------------------------------------------------------------
// Layer norm
// ---------------------------------------------------------------------------------------
struct LayerNormArgs {
  Value* x;
  std::vector<int64_t> normalizedShape;
  Value* weight;
  Value* bias;
  double eps;
};

Expected<LayerNormArgs> layerNormArgs(Lowering& l) {  // (input, normalized_shape, weight, bias, eps, ...)
  TP_RETURN_IF_ERROR(l.needInputs(2));
  LayerNormArgs a{};
  TP_TRY(a.x, l.asTensor(l.input(0)));
  TP_TRY(a.normalizedShape, l.intsArg(1, "normalized_shape"));
  if (a.normalizedShape.empty()) return l.invalid("layer_norm with an empty normalized_shape");
  a.weight = l.isNoneArg(2) ? nullptr : l.input(2);
  a.bias = l.isNoneArg(3) ? nullptr : l.input(3);
  TP_TRY(a.eps, l.floatArgOr(4, "eps", 1e-5));
  return a;
}

Expected<Value*> layerNormDecomposed(Lowering& l, const LayerNormArgs& a) {
  std::vector<int64_t> axes;
  const int64_t k = static_cast<int64_t>(a.normalizedShape.size());
  for (int64_t i = -k; i < 0; ++i) axes.push_back(i);
  Value* x = a.x;
  Type t = sameType(x);
  Value* mean = l.reduce("ReduceMean", x, axes, true);
  Value* centered = l.op("Sub", {x, mean}).type(t);
  Value* var = l.reduce("ReduceMean", l.op("Mul", {centered, centered}).type(t), axes, true);
  TP_TRY(Value * epsV, l.castLike(l.staticFloatValue(a.eps), x));
  Type statT = tensorType(dtypeOf(x), shapeOf(var));
  Value* stddev = l.op("Sqrt", {l.op("Add", {var, epsV}).type(statT)}).type(statT);
  Value* y = l.op("Div", {centered, stddev}).type(t);
  if (a.weight != nullptr) {
    TP_TRY(Value * w, l.castLike(a.weight, x));
    y = l.op("Mul", {y, w}).type(t);
  }
  if (a.bias != nullptr) {
    TP_TRY(Value * b, l.castLike(a.bias, x));
    y = l.op("Add", {y, b}).type(t);
  }
  return y;
}

Expected<Value*> layerNormOp(Lowering& l, const LayerNormArgs& a) {
  Value* scale = nullptr;
  if (a.weight != nullptr) {
    TP_TRY(scale, l.castLike(a.weight, a.x));
  } else {
    const DType dt = dtypeOf(a.x) == DType::Undefined ? DType::F32 : dtypeOf(a.x);
    scale = l.filled(1.0, dt, a.normalizedShape);
    if (dtypeOf(a.x) == DType::Undefined) {
      TP_TRY(scale, l.castLike(scale, a.x));
    }
  }
  std::vector<Value*> inputs{a.x, scale};
  if (a.bias != nullptr) {
    TP_TRY(Value * b, l.castLike(a.bias, a.x));
    inputs.push_back(b);
  }
  const int64_t axis = -static_cast<int64_t>(a.normalizedShape.size());
  return static_cast<Value*>(l.op("LayerNormalization", std::span<Value* const>(inputs))
                                 .attr("axis", axis)
                                 .attr("epsilon", a.eps)
                                 .type(sameType(a.x)));
}

Status lowerLayerNorm13(Lowering& l) {
  TP_TRY(LayerNormArgs a, layerNormArgs(l));
  TP_TRY(Value * y, layerNormDecomposed(l, a));
  l.setOutput(0, y);
  return Status::ok();
}

Status lowerLayerNorm17(Lowering& l) {
  TP_TRY(LayerNormArgs a, layerNormArgs(l));
  TP_TRY(Value * y, layerNormOp(l, a));
  l.setOutput(0, y);
  return Status::ok();
}

Status checkOnlyFirstOutput(Lowering& l, std::string_view what) {
  for (size_t i = 1; i < l.node().numOutputs(); ++i)
    if (l.outputUsed(i)) return l.unsupported("the mean / rstd outputs of " + std::string(what));
  return Status::ok();
}

Status lowerNativeLayerNorm13(Lowering& l) {
  TP_RETURN_IF_ERROR(checkOnlyFirstOutput(l, "native_layer_norm"));
  return lowerLayerNorm13(l);
}
Status lowerNativeLayerNorm17(Lowering& l) {
  TP_RETURN_IF_ERROR(checkOnlyFirstOutput(l, "native_layer_norm"));
  return lowerLayerNorm17(l);
}

// ---------------------------------------------------------------------------------------
// Group norm and instance norm
// ---------------------------------------------------------------------------------------
// Applies per-channel weight / bias (shape [C]) to an (N, C, ...) tensor.
Expected<Value*> applyChannelAffine(Lowering& l, Value* y, Value* weight, Value* bias) {
  if ((weight == nullptr || isNone(weight)) && (bias == nullptr || isNone(bias))) return y;
  auto rank = rankOf(y);
  if (!rank) return l.unsupported("per-channel weight/bias need the input rank; declare input shapes");
  std::vector<int64_t> axes;
  for (int64_t i = 1; i <= *rank - 2; ++i) axes.push_back(i);
  Type t = sameType(y);
  if (weight != nullptr && !isNone(weight)) {
    TP_TRY(Value * w, l.castLike(weight, y));
    if (!axes.empty()) w = l.unsqueeze(w, axes);
    y = l.op("Mul", {y, w}).type(t);
  }
  if (bias != nullptr && !isNone(bias)) {
    TP_TRY(Value * b, l.castLike(bias, y));
    if (!axes.empty()) b = l.unsqueeze(b, axes);
    y = l.op("Add", {y, b}).type(t);
  }
  return y;
}

// group_norm(input, num_groups, weight, bias, eps, cudnn_enabled): normalize each group of
// C / G channels with InstanceNormalization over an (N, G, -1) view.
Status lowerGroupNorm(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(int64_t groups, l.intArg(1, "num_groups"));
  TP_TRY(double eps, l.floatArgOr(4, "eps", 1e-5));
  if (groups <= 0) return l.invalid("num_groups must be positive");
  if (auto c = staticDimOf(x, 1); c && *c % groups != 0)
    return l.invalid("num_channels " + std::to_string(*c) + " is not divisible by num_groups " + std::to_string(groups));
  const DType dt = dtypeOf(x) == DType::Undefined ? DType::F32 : dtypeOf(x);
  Value* fullShape = l.shape(x);
  Value* groupedShape = l.concatLists({l.slice(fullShape, 0, 0, 1), l.i64s({groups, -1})});
  Value* grouped = l.reshape(x, groupedShape);
  Value* ones = l.filled(1.0, dt, {groups});
  Value* zeros = l.filled(0.0, dt, {groups});
  if (dtypeOf(x) == DType::Undefined) {
    TP_TRY(ones, l.castLike(ones, x));
    TP_TRY(zeros, l.castLike(zeros, x));
  }
  Value* normed = l.op("InstanceNormalization", {grouped, ones, zeros}).attr("epsilon", eps).type(sameType(grouped));
  Value* y = l.op("Reshape", {normed, fullShape}).type(sameType(x));
  TP_TRY(y, applyChannelAffine(l, y, l.isNoneArg(2) ? nullptr : l.input(2), l.isNoneArg(3) ? nullptr : l.input(3)));
  l.setOutput(0, y);
  return Status::ok();
}

// instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps, cudnn_enabled)
Status lowerInstanceNorm(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(8));
  TP_TRY(bool useInputStats, l.boolArg(5, "use_input_stats"));
  TP_TRY(double eps, l.floatArg(7, "eps"));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  Value* weight = l.isNoneArg(1) ? nullptr : l.input(1);
  Value* bias = l.isNoneArg(2) ? nullptr : l.input(2);
  if (!useInputStats) {
    if (l.isNoneArg(3) || l.isNoneArg(4))
      return l.invalid("instance_norm with use_input_stats=False needs running_mean and running_var");
    TP_TRY(Value * y, batchNormInference(l, x, weight, bias, l.input(3), l.input(4), eps));
    l.setOutput(0, y);
    return Status::ok();
  }
  auto channels = channelCount(x, {weight, bias});
  TP_TRY(Value * scale, channelParam(l, weight, 1.0, channels, x, true));
  TP_TRY(Value * shift, channelParam(l, bias, 0.0, channels, x, true));
  l.setOutput(0, l.op("InstanceNormalization", {x, scale, shift}).attr("epsilon", eps).type(sameType(x)));
  return Status::ok();
}

constexpr ConverterSpec kTable[] = {
    {"aten::batch_norm", kMinOpset, kMaxOpset, "BatchNormalization with running statistics (eval mode only)", lowerBatchNorm},
    {"aten::native_batch_norm", kMinOpset, kMaxOpset, "BatchNormalization (eval mode, output 0 only)", lowerNativeBatchNorm},
    {"aten::_native_batch_norm_legit_no_training", kMinOpset, kMaxOpset, "BatchNormalization (output 0 only)", lowerNativeBatchNorm},
    {"aten::layer_norm", 13, 16, "ReduceMean / Sub / Sqrt decomposition (LayerNormalization needs opset 17)", lowerLayerNorm13},
    {"aten::layer_norm", 17, kMaxOpset, "LayerNormalization", lowerLayerNorm17},
    {"aten::native_layer_norm", 13, 16, "decomposed layer norm (output 0 only)", lowerNativeLayerNorm13},
    {"aten::native_layer_norm", 17, kMaxOpset, "LayerNormalization (output 0 only)", lowerNativeLayerNorm17},
    {"aten::group_norm", kMinOpset, kMaxOpset, "InstanceNormalization over (N, G, -1), then per-channel affine", lowerGroupNorm},
    {"aten::instance_norm", kMinOpset, kMaxOpset, "InstanceNormalization (BatchNormalization with running stats)", lowerInstanceNorm},
};

}  // namespace

Expected<Value*> emitLayerNorm(Lowering& l, Value* x, const std::vector<int64_t>& normalizedShape, Value* weight,
                               Value* bias, double eps) {
  LayerNormArgs a{x, normalizedShape, weight, bias, eps};
  if (l.opset() >= 17) return layerNormOp(l, a);
  return layerNormDecomposed(l, a);
}

std::span<const ConverterSpec> normalizationConverters() { return kTable; }

}  // namespace torchport::onnxplugin
