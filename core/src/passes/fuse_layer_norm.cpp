// fuse-layer-norm: turns the decomposed layer normalization that exporters emit below
// opset 17 (ReduceMean, Sub, Pow/Mul, ReduceMean, Add eps, Sqrt, Div, then the affine Mul
// and Add) into one onnx::LayerNormalization (opset 17), which runtimes run as one kernel.
//
// Before:
//   graph @main(%x: f32[2,5,8]) -> (%y: f32[2,5,8]) {
//     %w = const f32[8] @"ln.weight"
//     %b = const f32[8] @"ln.bias"
//     %m: f32[2,5,1] = onnx::ReduceMean(%x) {keepdims=1, axes=[-1]}
//     %d: f32[2,5,8] = onnx::Sub(%x, %m)
//     %sq: f32[2,5,8] = onnx::Mul(%d, %d)
//     %v: f32[2,5,1] = onnx::ReduceMean(%sq) {keepdims=1, axes=[-1]}
//     %eps = const f32[] dense<[1e-05]>
//     %ve: f32[2,5,1] = onnx::Add(%v, %eps)
//     %s: f32[2,5,1] = onnx::Sqrt(%ve)
//     %n: f32[2,5,8] = onnx::Div(%d, %s)
//     %g: f32[2,5,8] = onnx::Mul(%n, %w)
//     %y: f32[2,5,8] = onnx::Add(%g, %b)
//   }
// After (fuse-layer-norm{opset=17}):
//   graph @main(%x: f32[2,5,8]) -> (%y: f32[2,5,8]) {
//     %w = const f32[8] @"ln.weight"
//     %b = const f32[8] @"ln.bias"
//     %eps = const f32[] dense<[1e-05]>                         (left for eliminate-dead-code)
//     %y: f32[2,5,8] = onnx::LayerNormalization(%x, %w, %b) {axis=-1, epsilon=1e-05}
//   }
//
// Math: over the normalized dims A = [a, r) of x (rank r),
//   mean = ReduceMean_A(x), d = x - mean, var = ReduceMean_A(d * d) (or Pow(d, 2)),
//   y = d / sqrt(var + eps) * gamma + beta          (or d * Reciprocal(sqrt(var + eps)))
// which is LayerNormalization(x, gamma, beta){axis = a - r, epsilon = eps} by definition
// (its Scale and B have the shape x.shape[a:]). Variants:
//   - the normalization may be Div(d, s), Mul(d, Reciprocal(s)) or Mul(Reciprocal(s), d);
//     the affine Mul and Add may take their operands in either order; eps may be either Add operand;
//   - without the Mul by gamma, Scale is a new constant of ones (needs a static x.shape[a:]);
//     without the Add of beta, B is omitted (it is optional in LayerNormalization-17);
//   - a Mul / Add whose other operand does not have exactly the shape x.shape[a:] (rank r - a,
//     equal sizes or equal symbols, no unknown dims) and x's dtype stays outside: the norm is
//     fused without it (e.g. a gamma of shape [1,1,8] stays a Mul after the LayerNormalization).
//
// Fires only when (otherwise a debug note names the reason, once the chain is recognized):
//   - the target opset (the `opset` option, else the one lower-to-onnx used) is known and >= 17;
//   - x has a known rank and dtype f32, f16 or bf16 (f64 is left alone: LayerNormalization's
//     default stash_type computes the statistics in f32);
//   - both ReduceMeans have keepdims=1 (default) and reduce the same trailing block of dims:
//     axes from the attribute (before opset 18) or the constant axes input (from 18), negative
//     axes normalized with the rank, no repeats; absent axes mean all dims, unless
//     noop_with_empty_axes=1 (then it is no reduction at all);
//   - the exponent of Pow is a one-element constant 2, eps a one-element constant (finite,
//     >= 0), neither of rank above x's, so that they do not broadcast the shapes up;
//   - the mean, d, d*d, var, var+eps, the sqrt (and its Reciprocal), and, when fused, the
//     normalized value and the Mul by gamma have no users outside the chain and are not graph
//     outputs (d feeds exactly the square and the normalization).
// The LayerNormalization replaces the last node of the chain (its name and graph-output slot
// are kept) and takes the first ReduceMean's provenance. Works inside If/Loop bodies.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "pass_utils.h"
#include "passes.h"
#include "torchport/op_traits.h"

namespace torchport {
namespace {

// A one-element constant of rank <= maxRank (so that it broadcasts without growing the shape).
std::optional<double> smallScalar(const Value* value, size_t maxRank) {
  const Node* producer = constantProducer(value);
  if (producer == nullptr) return std::nullopt;
  if (const Tensor* t = producer->tensorAttr("value")) {
    if (t->numel() != 1 || static_cast<size_t>(t->rank()) > maxRank) return std::nullopt;
  }
  return constantNumber(value);
}

Node* producerOf(const Value* value, std::string_view kind) {
  Node* producer = value->producer();
  return producer != nullptr && producer->kind() == kind && producer->numOutputs() == 1 ? producer : nullptr;
}

// LayerNormalization's epsilon is a float attribute: store the shortest decimal that gives the
// same float (1e-05, not 9.999999747378752e-06 for an f32 constant 1e-5).
double asFloatAttribute(double value) {
  char text[32];
  const auto written = std::to_chars(text, text + sizeof(text), static_cast<float>(value));
  double shortest = value;
  if (written.ec == std::errc()) std::from_chars(text, written.ptr, shortest);
  return shortest;
}

bool singleUse(const Value* value) { return value->uses().size() == 1 && !value->isGraphOutput(); }

bool isSupportedDType(DType dtype) { return dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16; }

// The first normalized dim of a keepdims ReduceMean over a trailing block of x's dims, or
// nullopt with `why` set.
std::optional<int64_t> trailingReduceStart(const Node& mean, int64_t rank, std::string& why) {
  if (mean.numInputs() < 1 || mean.numInputs() > 2) {
    why = "a ReduceMean is malformed";
    return std::nullopt;
  }
  if (mean.intAttr("keepdims").value_or(1) != 1) {
    why = "a ReduceMean has keepdims=0";
    return std::nullopt;
  }
  std::optional<std::vector<int64_t>> axes;
  const bool axesInput = mean.numInputs() == 2 && !isNoneValue(mean.input(1));
  if (axesInput && mean.hasAttribute("axes")) {
    why = "a ReduceMean has both an axes attribute and an axes input";
    return std::nullopt;
  }
  if (axesInput) {
    axes = constantInts(mean.input(1));
    if (!axes) {
      why = "a ReduceMean's axes input is not constant";
      return std::nullopt;
    }
  } else if (const std::vector<int64_t>* attribute = mean.intsAttr("axes")) {
    axes = *attribute;
  }
  if (!axes || axes->empty()) {
    if (mean.intAttr("noop_with_empty_axes").value_or(0) != 0) {
      why = "a ReduceMean has no axes and noop_with_empty_axes=1";
      return std::nullopt;
    }
    return 0;  // all dims
  }
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  int64_t start = rank;
  for (int64_t axis : *axes) {
    if (axis < -rank || axis >= rank) {
      why = "a ReduceMean axis is out of range";
      return std::nullopt;
    }
    const int64_t normalized = axis < 0 ? axis + rank : axis;
    if (seen[static_cast<size_t>(normalized)]) {
      why = "a ReduceMean repeats an axis";
      return std::nullopt;
    }
    seen[static_cast<size_t>(normalized)] = true;
    start = std::min(start, normalized);
  }
  if (static_cast<int64_t>(axes->size()) != rank - start) {
    why = "the ReduceMean axes are not the trailing dims";
    return std::nullopt;
  }
  return start;
}

// The decomposed normalization up to d / sqrt(var + eps).
struct Chain {
  Value* x = nullptr;
  double epsilon = 0.0;
  Node* mean = nullptr;
  std::vector<Node*> nodes;  // consumers before producers: erase in this order
};

class LayerNormFusion {
 public:
  LayerNormFusion(PassContext& context, std::optional<int64_t> opset) : context_(context), opset_(opset) {}

  Status run(Graph& graph) {
    for (Node* node : graph.nodeSnapshot()) {
      if (erased_.count(node) != 0) continue;  // fused as the affine tail of an earlier chain
      for (const auto& [name, attribute] : node->attributes()) {
        const auto* body = std::get_if<GraphPtr>(&attribute);
        if (body != nullptr && *body != nullptr) TP_RETURN_IF_ERROR(run(**body));
      }
      if ((node->kind() == "onnx::Div" || node->kind() == "onnx::Mul") && node->numInputs() == 2 &&
          node->numOutputs() == 1) {
        TP_RETURN_IF_ERROR(visit(*node));
      }
    }
    return Status::ok();
  }

  size_t fused() const { return fused_; }

 private:
  Status skip(const Node& node, std::string_view why) {
    context_.diag().debug("fuse-layer-norm: not fusing the layer norm ending at " + node.describe() + ": " +
                          std::string(why));
    return Status::ok();
  }

  // `normalize` is d / s, d * Reciprocal(s) or Reciprocal(s) * d.
  Status visit(Node& normalize) {
    Value* d = nullptr;
    Node* reciprocal = nullptr;
    Node* sqrt = nullptr;
    if (normalize.kind() == "onnx::Div") {
      d = normalize.input(0);
      sqrt = producerOf(normalize.input(1), "onnx::Sqrt");
    } else {
      for (size_t i = 0; i < 2 && sqrt == nullptr; ++i) {
        reciprocal = producerOf(normalize.input(i), "onnx::Reciprocal");
        if (reciprocal != nullptr && reciprocal->numInputs() == 1) {
          sqrt = producerOf(reciprocal->input(0), "onnx::Sqrt");
          d = normalize.input(1 - i);
        }
      }
    }
    if (sqrt == nullptr || sqrt->numInputs() != 1) return Status::ok();
    Node* addEps = producerOf(sqrt->input(0), "onnx::Add");
    if (addEps == nullptr || addEps->numInputs() != 2) return Status::ok();
    Node* variance = nullptr;
    Value* epsValue = nullptr;
    for (size_t i = 0; i < 2 && variance == nullptr; ++i) {
      variance = producerOf(addEps->input(i), "onnx::ReduceMean");
      epsValue = addEps->input(1 - i);
    }
    if (variance == nullptr || variance->numInputs() < 1) return Status::ok();
    Node* square = variance->input(0)->producer();
    if (square == nullptr || square->numInputs() != 2 || square->numOutputs() != 1) return Status::ok();
    const bool isPow = square->kind() == "onnx::Pow" && square->input(0) == d;
    const bool isMul = square->kind() == "onnx::Mul" && square->input(0) == d && square->input(1) == d;
    if (!isPow && !isMul) return Status::ok();
    Node* sub = producerOf(d, "onnx::Sub");
    if (sub == nullptr || sub->numInputs() != 2) return Status::ok();
    Value* x = sub->input(0);
    Node* mean = producerOf(sub->input(1), "onnx::ReduceMean");
    if (mean == nullptr || mean->numInputs() < 1 || mean->input(0) != x) return Status::ok();
    // The structure is a layer norm from here on: every refusal gets a debug note.

    if (!opset_ || *opset_ < 17) {
      return skip(normalize, opset_ ? "the target opset " + std::to_string(*opset_) + " is below 17"
                                    : std::string("the target opset is unknown (set the opset option)"));
    }
    const Type& xType = x->type();
    if (!xType.isTensor() || !xType.hasRank()) return skip(normalize, "the rank of the input is unknown");
    if (!isSupportedDType(xType.dtype())) {
      return skip(normalize, "the input dtype is " + std::string(dtypeName(xType.dtype())) + " (supported: f32, f16, bf16)");
    }
    const auto rank = static_cast<int64_t>(xType.rank());
    if (rank == 0) return skip(normalize, "the input is a scalar");
    // Uses: the chain's values feed only the next node of the chain.
    const size_t squareUses = isMul ? 2 : 1;
    bool dUsesOk = d->uses().size() == squareUses + 1 && !d->isGraphOutput();
    for (const Use& use : d->uses()) dUsesOk = dUsesOk && (use.user == square || use.user == &normalize);
    if (!singleUse(sub->input(1)) || !dUsesOk || !singleUse(square->output()) || !singleUse(variance->output()) ||
        !singleUse(addEps->output()) || !singleUse(sqrt->output()) ||
        (reciprocal != nullptr && !singleUse(reciprocal->output()))) {
      return skip(normalize, "an intermediate value has users outside the layer norm or is a graph output");
    }
    if (isPow) {
      auto exponent = smallScalar(square->input(1), static_cast<size_t>(rank));
      if (!exponent || *exponent != 2.0) return skip(normalize, "the Pow exponent is not a constant 2");
    }
    auto epsilon = smallScalar(epsValue, static_cast<size_t>(rank));
    if (!epsilon) return skip(normalize, "epsilon is not a one-element constant of rank <= the input's");
    if (!std::isfinite(*epsilon) || *epsilon < 0.0) return skip(normalize, "epsilon is negative or not finite");
    std::string why;
    auto start = trailingReduceStart(*mean, rank, why);
    if (!start) return skip(normalize, why);
    auto varianceStart = trailingReduceStart(*variance, rank, why);
    if (!varianceStart) return skip(normalize, why);
    if (*start != *varianceStart) return skip(normalize, "the two ReduceMeans reduce different dims");

    // The affine tail: Mul by gamma, then Add of beta, each only when its operand has exactly
    // the normalized shape (LayerNormalization's Scale and B do not broadcast).
    const std::vector<Dim> normalizedDims(xType.shape()->begin() + *start, xType.shape()->end());
    Node* last = &normalize;
    Value* gamma = nullptr;
    Value* beta = nullptr;
    Node* scaleMul = nullptr;
    Node* biasAdd = nullptr;
    if (Node* next = affineUser(*last, "onnx::Mul", normalizedDims, xType.dtype(), gamma)) {
      scaleMul = next;
      last = next;
    }
    if (Node* next = affineUser(*last, "onnx::Add", normalizedDims, xType.dtype(), beta)) {
      biasAdd = next;
      last = next;
    }
    std::optional<std::vector<int64_t>> onesShape;
    if (gamma == nullptr) {
      std::vector<int64_t> sizes;
      for (const Dim& dim : normalizedDims) {
        if (!dim.isKnown()) return skip(normalize, "there is no Mul by a scale and the normalized shape is not static");
        sizes.push_back(dim.size());
      }
      onesShape = std::move(sizes);
    }

    Graph& graph = *last->owningGraph();
    Value* result = last->output();
    if (gamma == nullptr) {
      Node* ones = graph.createConstant(onesTensor(xType.dtype(), *onesShape), last, x->name() + ".ln_scale");
      gamma = ones->output();
    }
    std::vector<Value*> inputs{x, gamma};
    if (beta != nullptr) inputs.push_back(beta);
    Node* layerNorm = graph.insertNodeBefore(last, "onnx::LayerNormalization", inputs);
    layerNorm->setAttribute("axis", *start - rank);
    layerNorm->setAttribute("epsilon", asFloatAttribute(*epsilon));
    layerNorm->setProvenance(mean->provenance());
    layerNorm->output()->setType(result->type().isUnknown() ? xType : result->type());
    const std::string name = result->name();
    TP_RETURN_IF_ERROR(graph.replaceAllUsesWith(result, layerNorm->output()));

    std::vector<Node*> chain;
    if (biasAdd != nullptr) chain.push_back(biasAdd);
    if (scaleMul != nullptr) chain.push_back(scaleMul);
    chain.push_back(&normalize);
    if (reciprocal != nullptr) chain.push_back(reciprocal);
    for (Node* node : {sqrt, addEps, variance, square, sub, mean}) chain.push_back(node);
    for (Node* node : chain) {
      erased_.insert(node);
      TP_RETURN_IF_ERROR(node->owningGraph()->eraseNode(node));
    }
    if (layerNorm->output()->name() != name && graph.findValue(name) == nullptr) {
      TP_RETURN_IF_ERROR(graph.renameValue(layerNorm->output(), name));
    }
    ++fused_;
    return Status::ok();
  }

  // The only user of `node`'s output when it is a binary `kind` whose other operand has exactly
  // the normalized dims and dtype (sets `operand`); else nullptr.
  static Node* affineUser(const Node& node, std::string_view kind, const std::vector<Dim>& dims, DType dtype,
                          Value*& operand) {
    const Value* out = node.output();
    if (!singleUse(out)) return nullptr;
    Node* user = out->uses().front().user;
    if (user->kind() != kind || user->numInputs() != 2 || user->numOutputs() != 1) return nullptr;
    const size_t index = out->uses().front().inputIndex;
    Value* other = user->input(1 - index);
    if (other == out) return nullptr;
    const Type& type = other->type();
    if (!type.isTensor() || type.dtype() != dtype || !type.hasRank() || *type.shape() != dims) return nullptr;
    for (const Dim& dim : dims) {
      if (dim.isUnknown()) return nullptr;  // `?` == `?` proves nothing
    }
    operand = other;
    return user;
  }

  static Tensor onesTensor(DType dtype, const std::vector<int64_t>& shape) {
    int64_t count = 1;
    for (int64_t size : shape) count *= size;
    const auto n = static_cast<size_t>(count);
    switch (dtype) {
      case DType::F16: return Tensor::fromVector<uint16_t>(dtype, shape, std::vector<uint16_t>(n, floatToFloat16Bits(1.0f)));
      case DType::BF16: return Tensor::fromVector<uint16_t>(dtype, shape, std::vector<uint16_t>(n, floatToBfloat16Bits(1.0f)));
      default: return Tensor::fromVector<float>(DType::F32, shape, std::vector<float>(n, 1.0f));  // F32 (isSupportedDType)
    }
  }

  PassContext& context_;
  std::optional<int64_t> opset_;
  std::unordered_set<const Node*> erased_;
  size_t fused_ = 0;
};

}  // namespace

PassInfo fuseLayerNormInfo() {
  PassInfo info;
  info.name = "fuse-layer-norm";
  info.summary = "Fuse the decomposed layer norm (ReduceMean/Sub/Pow/Sqrt/Div/Mul/Add) into onnx::LayerNormalization";
  info.description =
      "Replaces the layer normalization that exporters decompose below opset 17 by one "
      "onnx::LayerNormalization (opset 17), when the target opset is >= 17.\n"
      "Before:\n"
      "  %m: f32[2,5,1] = onnx::ReduceMean(%x) {keepdims=1, axes=[-1]}\n"
      "  %d: f32[2,5,8] = onnx::Sub(%x, %m)\n"
      "  %sq: f32[2,5,8] = onnx::Mul(%d, %d)                 # or onnx::Pow(%d, 2)\n"
      "  %v: f32[2,5,1] = onnx::ReduceMean(%sq) {keepdims=1, axes=[-1]}\n"
      "  %ve: f32[2,5,1] = onnx::Add(%v, %eps)               # %eps: one-element constant\n"
      "  %s: f32[2,5,1] = onnx::Sqrt(%ve)\n"
      "  %n: f32[2,5,8] = onnx::Div(%d, %s)                  # or Mul(%d, Reciprocal(%s))\n"
      "  %g: f32[2,5,8] = onnx::Mul(%n, %w)                  # %w: f32[8] (optional)\n"
      "  %y: f32[2,5,8] = onnx::Add(%g, %b)                  # %b: f32[8] (optional)\n"
      "After:\n"
      "  %y: f32[2,5,8] = onnx::LayerNormalization(%x, %w, %b) {axis=-1, epsilon=1e-05}\n"
      "Math: y = (x - mean) / sqrt(var + eps) * gamma + beta over the normalized trailing dims, which is "
      "LayerNormalization's definition. Without the Mul by gamma, Scale is a new constant of ones (the "
      "normalized shape must be static); without the Add of beta, B is omitted. A Mul/Add whose other operand "
      "does not have exactly the normalized shape (x.shape[axis:]) and x's dtype stays outside the fusion.\n"
      "Fires only when: the target opset is known and >= 17; x has a known rank and dtype f32, f16 or bf16; both "
      "ReduceMeans have keepdims=1 and reduce the same trailing dims (axes attribute before opset 18, constant "
      "axes input from 18, negative axes normalized, absent axes = all dims unless noop_with_empty_axes=1); "
      "the Pow exponent is a constant 2 and eps a finite non-negative one-element constant; no intermediate "
      "value has users outside the chain or is a graph output. Works inside If/Loop bodies.\n"
      "Options:\n"
      "  opset: the ONNX opset the output targets; 0 (default) = the opset lower-to-onnx used in this run. With "
      "neither, the pass does not fire.";
  info.options = {targetOpsetOption()};
  info.kind = StepKind::Transform;
  return info;
}

Status runFuseLayerNorm(Graph& graph, PassContext& context) {
  LayerNormFusion fusion(context, targetOnnxOpset(context));
  TP_RETURN_IF_ERROR(fusion.run(graph));
  if (fusion.fused() > 0) {
    context.setChanged();
    context.diag().debug("fuse-layer-norm: fused " + std::to_string(fusion.fused()) + " layer norm" +
                         (fusion.fused() == 1 ? "" : "s"));
  }
  return Status::ok();
}

}  // namespace torchport
