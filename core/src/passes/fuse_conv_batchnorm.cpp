// fuse-conv-batchnorm: folds an inference-mode onnx::BatchNormalization into the
// onnx::Conv (or onnx::ConvTranspose) that feeds it, by rescaling the conv's constant
// weights and bias.
//
// Before:
//   graph @main(%x: f32[1,2,5,5]) -> (%y: f32[1,4,5,5]) {
//     %w = const f32[4,2,3,3] @"conv.weight"
//     %b = const f32[4] @"conv.bias"
//     %c: f32[1,4,5,5] = onnx::Conv(%x, %w, %b) {pads=[1,1,1,1]}
//     %scale = const f32[4] @"bn.weight"
//     %beta = const f32[4] @"bn.bias"
//     %mean = const f32[4] @"bn.running_mean"
//     %var = const f32[4] @"bn.running_var"
//     %y: f32[1,4,5,5] = onnx::BatchNormalization(%c, %scale, %beta, %mean, %var) {epsilon=1e-05}
//   }
// After (fuse-conv-batchnorm,eliminate-dead-code):
//   graph @main(%x: f32[1,2,5,5]) -> (%y: f32[1,4,5,5]) {
//     %w.bn = const f32[4,2,3,3] dense<...>
//     %b.bn = const f32[4] dense<...>
//     %y: f32[1,4,5,5] = onnx::Conv(%x, %w.bn, %b.bn) {pads=[1,1,1,1]}
//   }
//
// Math. In inference BN computes, per output channel o,
//   y = scale[o] * (c - mean[o]) / sqrt(var[o] + eps) + beta[o]
// and c = sum(W[o,...] * x) + B[o]. With f[o] = scale[o] / sqrt(var[o] + eps):
//   y = sum((W[o,...] * f[o]) * x) + (B[o] - mean[o]) * f[o] + beta[o]
// so W'[o,...] = W[o,...] * f[o] and B'[o] = (B[o] - mean[o]) * f[o] + beta[o] (B = 0 when
// the conv has no bias). The arithmetic is done in double and stored in W's dtype.
// Output channel o of Conv is W's dim 0 (also for grouped convs: W is [M, C/group, k...]).
// ConvTranspose's W is [C, M/group, k...]: element W[i, j, ...] feeds output channel
// (i / (C/group)) * (M/group) + j, and is scaled by that channel's f.
//
// Fires only when all of these hold (otherwise a debug note names the reason):
//   - the BN has exactly one output (no training-mode outputs), training_mode is not 1,
//     spatial is not 0 (opset < 9 per-element BN), and its input is the conv's only output;
//   - that conv output has exactly one use (the BN) and is not a graph output: other
//     readers need the un-normalized values;
//   - W is a constant with data, dtype f32, f64 or f16, rank >= 3; the bias, if any, is a
//     constant with data of shape [M] and W's dtype;
//   - scale, B, mean and var of the BN are constants with data, floating-point, with M
//     elements, and var + eps > 0 with a finite factor for every channel;
//   - the BN's output can take over the conv's place without renaming graph outputs.
// New constants are created (W may be shared with other convs); the old ones are left for
// eliminate-dead-code. Works inside If/Loop bodies.
#include <cmath>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pass_utils.h"
#include "passes.h"
#include "torchport/op_traits.h"

namespace torchport {
namespace {

// A constant tensor with all its data, or nullptr.
bool isSupportedWeightType(DType dtype) { return dtype == DType::F32 || dtype == DType::F64 || dtype == DType::F16; }

std::vector<double> toDoubles(const Tensor& t) {
  std::vector<double> out(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < out.size(); ++i) out[i] = t.elementAsDouble(static_cast<int64_t>(i));
  return out;
}

Tensor fromDoubles(DType dtype, std::vector<int64_t> shape, const std::vector<double>& values) {
  switch (dtype) {
    case DType::F64: return Tensor::fromVector<double>(dtype, std::move(shape), values);
    case DType::F32: {
      std::vector<float> f(values.begin(), values.end());
      return Tensor::fromVector<float>(dtype, std::move(shape), f);
    }
    default: {  // F16 (isSupportedWeightType)
      std::vector<uint16_t> h(values.size());
      for (size_t i = 0; i < values.size(); ++i) h[i] = floatToFloat16Bits(static_cast<float>(values[i]));
      return Tensor::fromVector<uint16_t>(dtype, std::move(shape), h);
    }
  }
}

// W' = W * f[channel of the element], in W's own dtype: the product is formed in double
// and rounded once. Typed loops, because weights are the bulk of a model's bytes.
template <typename Element, typename Load, typename Store>
std::vector<Element> scaleElements(std::span<const Element> in, const std::vector<double>& factor, int64_t dim0,
                                   int64_t dim1, bool transposed, int64_t group, Load load, Store store) {
  std::vector<Element> out(in.size());
  const int64_t inner = static_cast<int64_t>(in.size()) / (dim0 * dim1 == 0 ? 1 : dim0 * dim1);
  const int64_t inputsPerGroup = transposed ? dim0 / group : 0;
  for (int64_t i = 0; i < dim0; ++i) {
    for (int64_t j = 0; j < dim1; ++j) {
      const int64_t channel = transposed ? (i / inputsPerGroup) * dim1 + j : i;
      const double f = factor[static_cast<size_t>(channel)];
      const size_t begin = static_cast<size_t>((i * dim1 + j) * inner);
      for (size_t k = begin; k < begin + static_cast<size_t>(inner); ++k) out[k] = store(load(in[k]) * f);
    }
  }
  return out;
}

Tensor scaleWeight(const Tensor& weight, const std::vector<double>& factor, bool transposed, int64_t group) {
  const int64_t dim0 = weight.shape()[0];
  const int64_t dim1 = weight.shape()[1];
  switch (weight.dtype()) {
    case DType::F64:
      return Tensor::fromVector<double>(
          DType::F64, weight.shape(),
          scaleElements<double>(weight.data<double>(), factor, dim0, dim1, transposed, group,
                                [](double v) { return v; }, [](double v) { return v; }));
    case DType::F32:
      return Tensor::fromVector<float>(
          DType::F32, weight.shape(),
          scaleElements<float>(weight.data<float>(), factor, dim0, dim1, transposed, group,
                               [](float v) { return static_cast<double>(v); },
                               [](double v) { return static_cast<float>(v); }));
    default:  // F16 (isSupportedWeightType)
      return Tensor::fromVector<uint16_t>(
          DType::F16, weight.shape(),
          scaleElements<uint16_t>(weight.data<uint16_t>(), factor, dim0, dim1, transposed, group,
                                  [](uint16_t bits) { return static_cast<double>(float16BitsToFloat(bits)); },
                                  [](double v) { return floatToFloat16Bits(static_cast<float>(v)); }));
  }
}

class ConvBatchnormFusion {
 public:
  explicit ConvBatchnormFusion(PassContext& context) : context_(context) {}

  Status run(Graph& root) {
    return forEachNodeDeep(root, [this](Graph& graph, Node* node) {
      return node->kind() == "onnx::BatchNormalization" ? visit(graph, *node) : Status::ok();
    });
  }

  size_t fused() const { return fused_; }

 private:
  Status skip(const Node& bn, std::string_view why) {
    context_.diag().debug("fuse-conv-batchnorm: not fusing " + bn.describe() + ": " + std::string(why));
    return Status::ok();
  }

  Status visit(Graph& graph, Node& bn) {
    if (bn.numInputs() != 5) return Status::ok();
    const Value* convOutput = bn.input(0);
    Node* conv = convOutput->producer();
    if (conv == nullptr || (conv->kind() != "onnx::Conv" && conv->kind() != "onnx::ConvTranspose")) {
      return Status::ok();  // not the pattern
    }
    const bool transposed = conv->kind() == "onnx::ConvTranspose";
    if (bn.numOutputs() != 1) return skip(bn, "it has training-mode outputs (running mean/var)");
    if (bn.intAttr("training_mode").value_or(0) != 0) return skip(bn, "training_mode=1");
    if (bn.intAttr("spatial").value_or(1) == 0) return skip(bn, "spatial=0 (per-element statistics)");
    if (conv->numOutputs() != 1 || conv->numInputs() < 2 || conv->numInputs() > 3) {
      return skip(bn, "the conv is malformed");
    }
    if (convOutput->uses().size() != 1 || convOutput->isGraphOutput()) {
      return skip(bn, "the output of " + conv->describe() + " has other users or is a graph output");
    }

    const Tensor* weight = constantTensorData(conv->input(1));
    if (weight == nullptr) return skip(bn, "the conv weight is not a constant with data");
    if (!isSupportedWeightType(weight->dtype())) {
      return skip(bn, "the conv weight has dtype " + std::string(dtypeName(weight->dtype())) +
                          " (supported: f32, f64, f16)");
    }
    if (weight->rank() < 3) return skip(bn, "the conv weight has rank < 3");
    const int64_t group = conv->intAttr("group").value_or(1);
    if (group < 1) return skip(bn, "the conv has group < 1");
    int64_t channels = weight->shape()[0];  // M for Conv
    if (transposed) {
      if (weight->shape()[0] % group != 0) return skip(bn, "the ConvTranspose weight does not split into groups");
      if (__builtin_mul_overflow(weight->shape()[1], group, &channels)) return skip(bn, "the conv has a bad group");
    }

    const Tensor* bias = nullptr;
    if (conv->numInputs() == 3 && !isNoneValue(conv->input(2))) {
      bias = constantTensorData(conv->input(2));
      if (bias == nullptr) return skip(bn, "the conv bias is not a constant with data");
      if (bias->dtype() != weight->dtype() || bias->shape() != std::vector<int64_t>{channels}) {
        return skip(bn, "the conv bias does not have the weight's dtype and shape [" + std::to_string(channels) + "]");
      }
    }

    static constexpr const char* kParameterNames[] = {"scale", "B", "mean", "var"};
    std::vector<std::vector<double>> parameters;
    for (size_t i = 0; i < 4; ++i) {
      const Tensor* parameter = constantTensorData(bn.input(i + 1));
      if (parameter == nullptr) return skip(bn, std::string(kParameterNames[i]) + " is not a constant with data");
      if (!isFloatingPoint(parameter->dtype()) || parameter->rank() != 1 || parameter->numel() != channels) {
        return skip(bn, std::string(kParameterNames[i]) + " is not a floating-point vector of " +
                            std::to_string(channels) + " channels");
      }
      parameters.push_back(toDoubles(*parameter));
    }
    const std::vector<double>& scale = parameters[0];
    const std::vector<double>& beta = parameters[1];
    const std::vector<double>& mean = parameters[2];
    const std::vector<double>& variance = parameters[3];
    const double epsilon = bn.floatAttr("epsilon").value_or(1e-5);

    std::vector<double> factor(static_cast<size_t>(channels));
    for (size_t o = 0; o < factor.size(); ++o) {
      const double denominator = variance[o] + epsilon;
      if (!(denominator > 0.0)) return skip(bn, "var + epsilon is not positive for channel " + std::to_string(o));
      factor[o] = scale[o] / std::sqrt(denominator);
      if (!std::isfinite(factor[o])) return skip(bn, "the scale factor of channel " + std::to_string(o) + " is not finite");
    }

    Graph& convGraph = *conv->owningGraph();
    Value* bnOutput = bn.output();
    if (!graph.canReplaceAllUsesWith(bnOutput, conv->output())) {
      return skip(bn, "its output cannot take the conv's place");
    }

    // W' = W * f[channel of the element]; B' = (B - mean) * f + beta.
    Tensor scaledWeight = scaleWeight(*weight, factor, transposed, group);
    std::vector<double> b = bias != nullptr ? toDoubles(*bias) : std::vector<double>(static_cast<size_t>(channels), 0.0);
    for (size_t o = 0; o < b.size(); ++o) b[o] = (b[o] - mean[o]) * factor[o] + beta[o];

    Node* newWeight = convGraph.createConstant(std::move(scaledWeight), conv,
                                               conv->input(1)->name() + ".bn");
    const std::string biasHint = bias != nullptr ? conv->input(2)->name() + ".bn" : conv->output()->name() + ".bias";
    Node* newBias = convGraph.createConstant(fromDoubles(weight->dtype(), {channels}, b), conv, biasHint);
    conv->setInput(1, newWeight->output());
    if (conv->numInputs() == 3) conv->setInput(2, newBias->output());
    else conv->addInput(newBias->output());

    Value* fusedOutput = conv->output();
    if (fusedOutput->type().isUnknown()) fusedOutput->setType(bnOutput->type());
    TP_RETURN_IF_ERROR(graph.replaceAllUsesWith(bnOutput, fusedOutput));
    TP_RETURN_IF_ERROR(graph.eraseNode(&bn));
    ++fused_;
    return Status::ok();
  }

  PassContext& context_;
  size_t fused_ = 0;
};

}  // namespace

PassInfo fuseConvBatchnormInfo() {
  PassInfo info;
  info.name = "fuse-conv-batchnorm";
  info.summary = "Fold inference-mode onnx::BatchNormalization into the preceding Conv / ConvTranspose";
  info.description =
      "Rescales the constant weights and bias of an onnx::Conv (or onnx::ConvTranspose) whose only user is an "
      "inference-mode onnx::BatchNormalization with constant parameters, and removes the BN.\n"
      "Math, per output channel o with f[o] = scale[o] / sqrt(var[o] + epsilon):\n"
      "  W'[o,...] = W[o,...] * f[o]      (ConvTranspose: W[i,j,...] scaled by the f of channel "
      "(i / (C/group)) * (M/group) + j)\n"
      "  B'[o] = (B[o] - mean[o]) * f[o] + beta[o]      (B = 0 without a bias)\n"
      "computed in double, stored in W's dtype (f32, f64, f16).\n"
      "Before:\n"
      "  %c: f32[1,4,5,5] = onnx::Conv(%x, %w, %b)\n"
      "  %y: f32[1,4,5,5] = onnx::BatchNormalization(%c, %scale, %beta, %mean, %var) {epsilon=1e-05}\n"
      "After:\n"
      "  %y: f32[1,4,5,5] = onnx::Conv(%x, %w.bn, %b.bn)\n"
      "Does not fire when the conv output has other users or is a graph output, when a weight or BN parameter is "
      "not a constant with data, when the BN has training outputs or training_mode=1, or for other dtypes.";
  info.kind = StepKind::Transform;
  return info;
}

Status runFuseConvBatchnorm(Graph& graph, PassContext& context) {
  ConvBatchnormFusion fusion(context);
  TP_RETURN_IF_ERROR(fusion.run(graph));
  if (fusion.fused() > 0) {
    context.setChanged();
    context.diag().debug("fuse-conv-batchnorm: fused " + std::to_string(fusion.fused()) + " batch norm" +
                         (fusion.fused() == 1 ? "" : "s"));
  }
  return Status::ok();
}

}  // namespace torchport
