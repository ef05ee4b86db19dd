// fuse-conv-add-bias: moves a per-output-channel constant that is added to (or subtracted
// from) the result of an onnx::Conv / onnx::ConvTranspose into the conv's bias input
// (torch.onnx emits this for convs whose bias was folded away, or for `conv(x) + b`).
//
// Before:
//   graph @main(%x: f32[1,3,8,8]) -> (%y: f32[1,4,8,8]) {
//     %w = const f32[4,3,3,3] @"conv.weight"
//     %c: f32[1,4,8,8] = onnx::Conv(%x, %w) {pads=[1,1,1,1]}
//     %b = const f32[1,4,1,1] dense<[1.0, 2.0, 3.0, 4.0]>
//     %y: f32[1,4,8,8] = onnx::Add(%c, %b)
//   }
// After (fuse-conv-add-bias,eliminate-dead-code):
//   graph @main(%x: f32[1,3,8,8]) -> (%y: f32[1,4,8,8]) {
//     %w = const f32[4,3,3,3] @"conv.weight"
//     %c.bias = const f32[4] dense<[1.0, 2.0, 3.0, 4.0]>
//     %y: f32[1,4,8,8] = onnx::Conv(%x, %w, %c.bias) {pads=[1,1,1,1]}
//   }
//
// Math. Conv(X, W, B)[n, o, ...] = sum(W * X)[n, o, ...] + B[o]. Adding a constant K whose
// broadcast to the conv output [N, M, d1..dk] is constant except along the channel axis
// (K[o] for channel o) gives Conv(X, W, B + K). onnx::Sub(conv, K) is Conv(X, W, B - K)
// (x - k == x + (-k) exactly in IEEE arithmetic). Without a bias B = 0 and K is used as is
// (bit-exact); with a constant bias, B[o] + K[o] is computed in double and stored in the
// weight's dtype (the unfused graph rounds after each addition instead: results may differ
// in the last bit).
//
// Broadcasting follows ONNX (numpy) rules: K of rank r <= R = rank of the conv output
// (= rank of W) is aligned with the *trailing* output dims, so every dim of K must be 1
// except the one aligned with the channel axis 1, which may be M or 1:
//   conv 2-D, output [N,M,H,W]:  K of shape [], [1], [M,1,1], [1,M,1,1], [1,1,1,1] fuse;
//                                [M] does NOT (it broadcasts along W), nor [1,M,H,W]
//                                with H*W > 1, nor [2,M,1,1] (along the batch).
// Legacy Add/Sub (opset < 7) with broadcast=1 aligns K at `axis` instead (default: the
// trailing dims), and only broadcasts the second operand.
//
// Fires only when (otherwise a debug note names the reason, or nothing when not the pattern):
//   - the Add (either operand order) or Sub (conv first) has one output and no attributes
//     other than the legacy broadcast/axis/consumed_inputs;
//   - the other operand is a constant tensor with data, of the weight's dtype;
//   - the conv has one output, 2 or 3 inputs, and its output has exactly one use (this
//     Add/Sub), is not a graph output, and lives in the same graph as the Add/Sub;
//   - the weight's dtype is f16, bf16, f32 or f64 and its shape is known (a constant, or a
//     value whose type has known rank and channel dim): rank R >= 3, M = W[0] for Conv and
//     W[1] * group for ConvTranspose; known output types of the conv and the Add/Sub agree
//     with rank R, channel count M and the weight's dtype;
//   - an existing bias is a constant with data of shape [M] and the weight's dtype (or an
//     absent/none input);
//   - the Add/Sub output can take over the conv output's place (graph-output names stay:
//     the conv output takes the Add/Sub output's name).
// Works inside If/Loop bodies. A new [M] bias constant is created before the conv; the old
// ones are left for eliminate-dead-code.
#include <optional>
#include <string>
#include <vector>

#include "pass_utils.h"
#include "passes.h"
#include "torchport/op_traits.h"

namespace torchport {
namespace {

bool isConvFloatType(DType dtype) {
  return dtype == DType::F16 || dtype == DType::BF16 || dtype == DType::F32 || dtype == DType::F64;
}

Tensor fromDoubles(DType dtype, int64_t channels, const std::vector<double>& values) {
  std::vector<int64_t> shape{channels};
  switch (dtype) {
    case DType::F64: return Tensor::fromVector<double>(dtype, std::move(shape), values);
    case DType::F32: {
      std::vector<float> f(values.begin(), values.end());
      return Tensor::fromVector<float>(dtype, std::move(shape), f);
    }
    case DType::BF16: {
      std::vector<uint16_t> h(values.size());
      for (size_t i = 0; i < values.size(); ++i) h[i] = floatToBfloat16Bits(static_cast<float>(values[i]));
      return Tensor::fromVector<uint16_t>(dtype, std::move(shape), h);
    }
    default: {  // F16 (isConvFloatType)
      std::vector<uint16_t> h(values.size());
      for (size_t i = 0; i < values.size(); ++i) h[i] = floatToFloat16Bits(static_cast<float>(values[i]));
      return Tensor::fromVector<uint16_t>(dtype, std::move(shape), h);
    }
  }
}

// Raw copy of element `index` of `source` (same dtype), to build a bit-exact bias.
void appendElement(std::vector<std::byte>& out, const Tensor& source, int64_t index) {
  const size_t size = dtypeSize(source.dtype());
  const auto bytes = source.bytes();
  const size_t begin = static_cast<size_t>(index) * size;
  out.insert(out.end(), bytes.begin() + static_cast<std::ptrdiff_t>(begin),
             bytes.begin() + static_cast<std::ptrdiff_t>(begin + size));
}

// Shape of the conv weight: the constant's tensor shape (data may be elided), else the
// value's type when rank and the channel-defining dim are known.
struct WeightInfo {
  DType dtype = DType::Undefined;
  size_t rank = 0;
  std::optional<int64_t> dim0, dim1;
};

std::optional<WeightInfo> weightInfo(const Value* weight) {
  WeightInfo info;
  if (const Node* producer = constantProducer(weight)) {
    const Tensor* tensor = producer->tensorAttr("value");
    if (tensor == nullptr) return std::nullopt;
    info.dtype = tensor->dtype();
    info.rank = static_cast<size_t>(tensor->rank());
    if (info.rank >= 2) {
      info.dim0 = tensor->shape()[0];
      info.dim1 = tensor->shape()[1];
    }
    return info;
  }
  const Type& type = weight->type();
  if (!type.isTensor() || !type.hasRank()) return std::nullopt;
  info.dtype = type.dtype();
  info.rank = type.rank();
  if (info.rank >= 2) {
    const Dim& d0 = (*type.shape())[0];
    const Dim& d1 = (*type.shape())[1];
    if (d0.isKnown()) info.dim0 = d0.size();
    if (d1.isKnown()) info.dim1 = d1.size();
  }
  return info;
}

// Known output type of the conv / the Add contradicting rank R, channels M or dtype.
bool contradicts(const Type& type, size_t rank, int64_t channels, DType dtype) {
  if (!type.isTensor()) return !type.isUnknown();
  if (type.dtype() != DType::Undefined && type.dtype() != dtype) return true;
  if (!type.hasRank()) return false;
  if (type.rank() != rank) return true;
  const Dim& channel = (*type.shape())[1];
  return channel.isKnown() && channel.size() != channels;
}

class ConvAddBiasFusion {
 public:
  explicit ConvAddBiasFusion(PassContext& context) : context_(context) {}

  Status run(Graph& root) {
    return forEachNodeDeep(root, [this](Graph& graph, Node* node) {
      const bool isAdd = node->kind() == "onnx::Add";
      if ((!isAdd && node->kind() != "onnx::Sub") || node->numInputs() != 2 || node->numOutputs() != 1) {
        return Status::ok();
      }
      for (size_t operand = 0; operand < (isAdd ? 2u : 1u); ++operand) {
        bool fusedHere = false;
        TP_RETURN_IF_ERROR(tryFuse(graph, *node, operand, fusedHere));
        if (fusedHere) break;  // the Add is gone
      }
      return Status::ok();
    });
  }

  size_t fused() const { return fused_; }

 private:
  Status skip(const Node& add, std::string_view why) {
    context_.diag().debug("fuse-conv-add-bias: not fusing " + add.describe() + ": " + std::string(why));
    return Status::ok();
  }

  // Fuses when input `operand` of `add` is the conv output and the other one the constant.
  Status tryFuse(Graph& graph, Node& add, size_t operand, bool& fusedHere) {
    Value* convOutput = add.input(operand);
    Value* addend = add.input(1 - operand);
    Node* conv = convOutput->producer();
    if (conv == nullptr || (conv->kind() != "onnx::Conv" && conv->kind() != "onnx::ConvTranspose")) {
      return Status::ok();  // not the pattern
    }
    const bool transposed = conv->kind() == "onnx::ConvTranspose";
    const bool subtract = add.kind() == "onnx::Sub";
    const Tensor* constant = constantTensorData(addend);
    if (constant == nullptr) return skip(add, "the other operand is not a constant tensor with data");

    // Legacy (opset < 7) broadcasting attributes; anything else is unknown semantics.
    const bool legacyBroadcast = add.intAttr("broadcast").value_or(0) != 0;
    for (const auto& [name, attribute] : add.attributes()) {
      if (name != "broadcast" && name != "axis" && name != "consumed_inputs") {
        return skip(add, "it has an unknown attribute '" + name + "'");
      }
    }
    if (add.hasAttribute("axis") && !legacyBroadcast) return skip(add, "it has an axis attribute without broadcast=1");
    if (legacyBroadcast && operand != 0) return skip(add, "legacy broadcast only broadcasts the second operand");

    if (conv->numOutputs() != 1 || conv->numInputs() < 2 || conv->numInputs() > 3) {
      return skip(add, "the conv is malformed");
    }
    if (convOutput->uses().size() != 1 || convOutput->isGraphOutput()) {
      return skip(add, "the output of " + conv->describe() + " has other users or is a graph output");
    }
    if (conv->owningGraph() != &graph) return skip(add, "the conv is defined in an enclosing graph");

    auto weight = weightInfo(conv->input(1));
    if (!weight || weight->rank < 3) return skip(add, "the conv weight's rank is not known to be >= 3");
    if (!isConvFloatType(weight->dtype)) {
      return skip(add, "the conv weight has dtype " + std::string(dtypeName(weight->dtype)) +
                           " (supported: f16, bf16, f32, f64)");
    }
    const int64_t group = conv->intAttr("group").value_or(1);
    if (group < 1) return skip(add, "the conv has group < 1");
    std::optional<int64_t> channels = transposed ? weight->dim1 : weight->dim0;
    if (channels && transposed && __builtin_mul_overflow(*channels, group, &*channels)) channels.reset();
    if (!channels || *channels < 1) return skip(add, "the conv's output channel count is unknown");
    const int64_t m = *channels;
    const size_t rank = weight->rank;
    const DType dtype = weight->dtype;
    if (contradicts(convOutput->type(), rank, m, dtype) || contradicts(add.output()->type(), rank, m, dtype)) {
      return skip(add, "the known output types disagree with the conv weight");
    }
    if (constant->dtype() != dtype) return skip(add, "the constant's dtype differs from the conv weight's");

    // Align the constant with the output dims and find the per-channel stride.
    const auto r = static_cast<size_t>(constant->rank());
    if (r > rank) return skip(add, "the constant has a higher rank than the conv output");
    size_t offset = rank - r;
    if (legacyBroadcast && add.hasAttribute("axis")) {
      int64_t axis = *add.intAttr("axis");
      if (axis < 0) axis += static_cast<int64_t>(rank);
      if (axis < 0 || static_cast<size_t>(axis) + r > rank) return skip(add, "the legacy broadcast axis is out of range");
      offset = static_cast<size_t>(axis);
    }
    bool perChannel = false;  // the constant varies along the channel axis
    for (size_t i = 0; i < r; ++i) {
      const int64_t size = constant->shape()[i];
      if (offset + i == 1 && size == m) {
        perChannel = m > 1;
      } else if (size != 1) {
        return skip(add, "the constant does not broadcast per output channel (dim " + std::to_string(i) + " is " +
                             std::to_string(size) + ")");
      }
    }

    const Value* biasValue = conv->numInputs() == 3 && !isNoneValue(conv->input(2)) ? conv->input(2) : nullptr;
    const Tensor* bias = nullptr;
    if (biasValue != nullptr) {
      bias = constantTensorData(biasValue);
      if (bias == nullptr) return skip(add, "the conv bias is not a constant with data");
      if (bias->dtype() != dtype || bias->shape() != std::vector<int64_t>{m}) {
        return skip(add, "the conv bias does not have the weight's dtype and shape [" + std::to_string(m) + "]");
      }
    }

    Value* sum = add.output();
    if (!graph.canReplaceAllUsesWith(sum, convOutput)) return skip(add, "its output cannot take the conv's place");

    // The new bias, element o = B[o] + K[o] (K[0] when K does not vary along channels).
    Tensor newBias;
    if (bias == nullptr && !subtract) {
      std::vector<std::byte> bytes;
      bytes.reserve(static_cast<size_t>(m) * dtypeSize(dtype));
      for (int64_t o = 0; o < m; ++o) appendElement(bytes, *constant, perChannel ? o : 0);
      newBias = Tensor(dtype, {m}, Storage::owned(std::move(bytes)));
    } else {
      std::vector<double> values(static_cast<size_t>(m));
      for (int64_t o = 0; o < m; ++o) {
        const double k = constant->elementAsDouble(perChannel ? o : 0);
        const double b = bias != nullptr ? bias->elementAsDouble(o) : 0.0;
        values[static_cast<size_t>(o)] = subtract ? b - k : b + k;
      }
      newBias = fromDoubles(dtype, m, values);
    }
    const std::string hint = biasValue != nullptr ? biasValue->name() + ".add" : convOutput->name() + ".bias";
    Node* biasNode = graph.createConstant(std::move(newBias), conv, hint);
    if (conv->numInputs() == 3) conv->setInput(2, biasNode->output());
    else conv->addInput(biasNode->output());

    if (convOutput->type().isUnknown()) convOutput->setType(sum->type());
    TP_RETURN_IF_ERROR(graph.replaceAllUsesWith(sum, convOutput));
    TP_RETURN_IF_ERROR(graph.eraseNode(&add));
    fusedHere = true;
    ++fused_;
    return Status::ok();
  }

  PassContext& context_;
  size_t fused_ = 0;
};

}  // namespace

PassInfo fuseConvAddBiasInfo() {
  PassInfo info;
  info.name = "fuse-conv-add-bias";
  info.summary = "Fold a per-channel constant added to (or subtracted from) an onnx::Conv / ConvTranspose into its bias";
  info.description =
      "Replaces onnx::Add(conv, K) (either operand order) or onnx::Sub(conv, K), where conv is an onnx::Conv or "
      "onnx::ConvTranspose whose output has no other user and K a constant that is constant except along the "
      "output-channel axis, by the conv with bias B + K (B - K for Sub; B = 0 without a bias).\n"
      "Before:\n"
      "  %c: f32[1,4,8,8] = onnx::Conv(%x, %w)                 # %w: const f32[4,3,3,3]\n"
      "  %y: f32[1,4,8,8] = onnx::Add(%c, %k)                  # %k: const f32[1,4,1,1]\n"
      "After:\n"
      "  %y: f32[1,4,8,8] = onnx::Conv(%x, %w, %c.bias)        # %c.bias: const f32[4] = K\n"
      "K follows ONNX broadcasting, aligned with the trailing output dims: shapes [], [1], [M,1,1], [1,M,1,1] (2-D "
      "conv) fuse; [M] does not (it broadcasts along the last spatial dim), nor constants varying along the batch "
      "or a spatial dim. Legacy Add/Sub with broadcast=1 align K at `axis`. M is W[0] for Conv, W[1] * group for "
      "ConvTranspose. Without a bias K is copied bit-exactly; with a constant bias B + K is computed in double and "
      "stored in the weight's dtype (f16, bf16, f32, f64; K must have that dtype).\n"
      "Does not fire when the conv output has other users or is a graph output, when K or an existing bias is not "
      "a constant with data, when the channel count or the weight's rank is unknown, or when known types disagree. "
      "The Add/Sub output's name (e.g. a graph output) moves to the conv. Works inside If/Loop bodies.";
  info.kind = StepKind::Transform;
  return info;
}

Status runFuseConvAddBias(Graph& graph, PassContext& context) {
  ConvAddBiasFusion fusion(context);
  TP_RETURN_IF_ERROR(fusion.run(graph));
  if (fusion.fused() > 0) {
    context.setChanged();
    context.diag().debug("fuse-conv-add-bias: fused " + std::to_string(fusion.fused()) + " Add/Sub" +
                         (fusion.fused() == 1 ? "" : "s") + " into conv biases");
  }
  return Status::ok();
}

}  // namespace torchport
