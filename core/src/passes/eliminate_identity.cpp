// eliminate-identity: removes ops that return one of their inputs unchanged, rewiring
// their users to that input.
//
// Before:
//   graph @main(%x: f32[2,3]) -> (%out: f32[2,3]) {
//     %c: f32[2,3] = aten::contiguous(%x)
//     %one: float = prim::Constant 1.0
//     %m: f32[2,3] = aten::mul(%c, %one)
//     %out: f32[2,3] = aten::relu(%m)
//   }
// After:
//   graph @main(%x: f32[2,3]) -> (%out: f32[2,3]) {
//     %one: float = prim::Constant 1.0           # left for eliminate-dead-code
//     %out: f32[2,3] = aten::relu(%x)
//   }
//
// The rules (kIdentityRules below, tried in order) and when each is safe:
//   onnx::Identity                            always
//   aten::contiguous / detach / clone         always (memory format and autograd are not
//                                             part of an exported graph's meaning)
//   aten::dropout, feature_dropout,           the train flag is a constant false (or p a
//     alpha_dropout, feature_alpha_dropout    constant 0): dropout is the identity then
//   onnx::Dropout                             training_mode absent / none / constant false
//                                             (or ratio constant 0), and the mask output unused
//   aten::to / onnx::Cast                     source and target dtypes known and equal
//   onnx::Reshape / aten::reshape / view      input and output shapes fully known (sizes or
//                                             symbols, no `?`) and equal
//   onnx::Transpose / aten::permute           the permutation is the identity
//   aten::mul / onnx::Mul by constant 1,      broadcasting changes neither shape nor dtype:
//   aten::add / onnx::Add of constant 0,      the kept input's type and the output's type
//   aten::sub / onnx::Sub of constant 0,      are both known (no `?` dims) and equal; for
//   aten::div / onnx::Div by constant 1       aten::add/sub alpha must be a constant (1 when
//                                             the zero is the left operand), aten::div must
//                                             have no rounding mode
//
// Never fires when:
//   - other outputs of the node are used (e.g. onnx::Dropout's mask);
//   - the rewiring would break a graph output: the output's name must stay, so an identity
//     between a graph input and a graph output (or two graph outputs) is kept
//     (Graph::canReplaceAllUsesWith);
//   - input and output types are both known and disagree in dtype or rank;
//   - (aten) the input or the output is mutated in place by some user: an op that copies
//     (clone, contiguous, to, mul by 1...) separates the two tensors, removing it would let
//     the mutation reach the other one.
#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <unordered_map>

#include "passes.h"
#include "torchport/op_traits.h"

namespace torchport {
namespace {

using Match = std::optional<size_t>;  // index of the input the node returns unchanged

// ---- type helpers ----
bool typesKnownAndEqual(const Type& a, const Type& b) {
  if (!a.isTensor() || !b.isTensor() || a.dtype() == DType::Undefined || a.dtype() != b.dtype()) return false;
  if (!a.hasRank() || !b.hasRank() || a.rank() != b.rank()) return false;
  for (size_t i = 0; i < a.rank(); ++i) {
    const Dim& x = (*a.shape())[i];
    const Dim& y = (*b.shape())[i];
    if (x.isUnknown() || y.isUnknown() || !(x == y)) return false;
  }
  return true;
}

// Known-but-different dtype or rank: the op is not an identity whatever the rule says.
bool typesContradict(const Type& a, const Type& b) {
  if (!a.isTensor() || !b.isTensor()) return false;
  if (a.dtype() != DType::Undefined && b.dtype() != DType::Undefined && a.dtype() != b.dtype()) return true;
  return a.hasRank() && b.hasRank() && a.rank() != b.rank();
}

// TorchScript ScalarType enum (c10/core/ScalarType.h).
std::optional<DType> dtypeFromScalarType(int64_t code) {
  switch (code) {
    case 0: return DType::U8;
    case 1: return DType::I8;
    case 2: return DType::I16;
    case 3: return DType::I32;
    case 4: return DType::I64;
    case 5: return DType::F16;
    case 6: return DType::F32;
    case 7: return DType::F64;
    case 9: return DType::C64;
    case 10: return DType::C128;
    case 11: return DType::Bool;
    case 15: return DType::BF16;
    default: return std::nullopt;
  }
}

// ONNX TensorProto.DataType.
std::optional<DType> dtypeFromOnnx(int64_t code) {
  switch (code) {
    case 1: return DType::F32;
    case 2: return DType::U8;
    case 3: return DType::I8;
    case 4: return DType::U16;
    case 5: return DType::I16;
    case 6: return DType::I32;
    case 7: return DType::I64;
    case 9: return DType::Bool;
    case 10: return DType::F16;
    case 11: return DType::F64;
    case 12: return DType::U32;
    case 13: return DType::U64;
    case 14: return DType::C64;
    case 15: return DType::C128;
    case 16: return DType::BF16;
    case 17: return DType::F8E4M3;
    case 19: return DType::F8E5M2;
    default: return std::nullopt;
  }
}

std::optional<DType> knownDType(const Value* value) {
  if (value == nullptr || !value->type().isTensor() || value->type().dtype() == DType::Undefined) return std::nullopt;
  return value->type().dtype();
}

// ---- matchers ----
Match firstInput(const Node& node) { return node.numInputs() >= 1 ? Match(0) : std::nullopt; }

Match dropoutInInference(const Node& node) {
  if (node.numInputs() < 3) return std::nullopt;
  auto train = constantBool(node.input(2));
  auto p = constantNumber(node.input(1));
  if ((train && !*train) || (p && *p == 0.0)) return 0;
  return std::nullopt;
}

Match onnxDropoutInInference(const Node& node) {
  if (node.numInputs() < 1) return std::nullopt;
  if (node.numInputs() >= 2) {
    auto ratio = constantNumber(node.input(1));
    if (ratio && *ratio == 0.0) return 0;
  }
  if (node.numInputs() < 3 || isNoneValue(node.input(2))) return 0;
  auto training = constantBool(node.input(2));
  return training && !*training ? Match(0) : std::nullopt;
}

// Target dtype of aten::to from its constant arguments (output type preferred).
std::optional<DType> atenToTarget(const Node& node) {
  if (auto dtype = knownDType(node.output(0))) return dtype;
  if (node.numInputs() < 2) return std::nullopt;
  const Value* second = node.input(1);
  if (second->type().isTensor()) return knownDType(second);  // to(Tensor self, Tensor other, ...)
  if (auto code = constantInt(second)) return dtypeFromScalarType(*code);  // to(self, ScalarType dtype, ...)
  // to(self, Device device, ScalarType dtype, ...)
  if (node.numInputs() >= 3 && (second->type().kind() == Type::Kind::Device ||
                                (constantProducer(second) != nullptr && constantProducer(second)->stringAttr("value")))) {
    if (auto code = constantInt(node.input(2))) return dtypeFromScalarType(*code);
  }
  return std::nullopt;
}

Match sameDTypeAtenTo(const Node& node) {
  if (node.numInputs() < 1) return std::nullopt;
  auto source = knownDType(node.input(0));
  auto target = atenToTarget(node);
  return source && target && *source == *target ? Match(0) : std::nullopt;
}

Match sameDTypeOnnxCast(const Node& node) {
  if (node.numInputs() < 1) return std::nullopt;
  auto source = knownDType(node.input(0));
  std::optional<DType> target = knownDType(node.output(0));
  if (auto code = node.intAttr("to")) {
    auto fromAttribute = dtypeFromOnnx(*code);
    if (!fromAttribute || (target && *target != *fromAttribute)) return std::nullopt;
    target = fromAttribute;
  }
  return source && target && *source == *target ? Match(0) : std::nullopt;
}

Match sameShape(const Node& node) {
  if (node.numInputs() < 1) return std::nullopt;
  return typesKnownAndEqual(node.input(0)->type(), node.output(0)->type()) ? Match(0) : std::nullopt;
}

bool isIdentityPermutation(const std::vector<int64_t>& perm, std::optional<size_t> rank) {
  if (rank && perm.size() != *rank) return false;
  const auto n = static_cast<int64_t>(perm.size());
  for (int64_t i = 0; i < n; ++i) {
    const int64_t axis = perm[static_cast<size_t>(i)];
    if (axis != i && axis + n != i) return false;
  }
  return true;
}

std::optional<size_t> rankOf(const Value* value) {
  if (!value->type().isTensor() || !value->type().hasRank()) return std::nullopt;
  return value->type().rank();
}

Match onnxIdentityTranspose(const Node& node) {
  if (node.numInputs() < 1) return std::nullopt;
  auto rank = rankOf(node.input(0));
  if (const auto* perm = node.intsAttr("perm")) return isIdentityPermutation(*perm, rank) ? Match(0) : std::nullopt;
  return rank && *rank <= 1 ? Match(0) : std::nullopt;  // default perm reverses the axes
}

Match atenIdentityPermute(const Node& node) {
  if (node.numInputs() < 2) return std::nullopt;
  auto dims = constantInts(node.input(1));
  return dims && isIdentityPermutation(*dims, rankOf(node.input(0))) ? Match(0) : std::nullopt;
}

// Keeps input `kept` only if broadcasting against the constant changes nothing.
Match keepIfTypePreserved(const Node& node, size_t kept) {
  return typesKnownAndEqual(node.input(kept)->type(), node.output(0)->type()) ? Match(kept) : std::nullopt;
}

// aten::add / aten::sub carry alpha as input 2: a + alpha * b.
std::optional<double> alphaOf(const Node& node) {
  if (node.domain() != "aten" || node.numInputs() < 3) return 1.0;
  return constantNumber(node.input(2));
}

Match multiplyByOne(const Node& node) {
  if (node.numInputs() < 2) return std::nullopt;
  if (isConstantFilledWith(node.input(1), 1.0)) return keepIfTypePreserved(node, 0);
  if (isConstantFilledWith(node.input(0), 1.0)) return keepIfTypePreserved(node, 1);
  return std::nullopt;
}

Match addZero(const Node& node) {
  if (node.numInputs() < 2) return std::nullopt;
  auto alpha = alphaOf(node);
  if (!alpha || !std::isfinite(*alpha)) return std::nullopt;
  if (isConstantFilledWith(node.input(1), 0.0)) return keepIfTypePreserved(node, 0);
  if (*alpha == 1.0 && isConstantFilledWith(node.input(0), 0.0)) return keepIfTypePreserved(node, 1);
  return std::nullopt;
}

Match subtractZero(const Node& node) {
  if (node.numInputs() < 2) return std::nullopt;
  auto alpha = alphaOf(node);
  if (!alpha || !std::isfinite(*alpha)) return std::nullopt;
  return isConstantFilledWith(node.input(1), 0.0) ? keepIfTypePreserved(node, 0) : std::nullopt;
}

Match divideByOne(const Node& node) {
  if (node.numInputs() < 2) return std::nullopt;
  if (node.domain() == "aten" && node.numInputs() >= 3 && !isNoneValue(node.input(2))) return std::nullopt;  // rounding_mode
  return isConstantFilledWith(node.input(1), 1.0) ? keepIfTypePreserved(node, 0) : std::nullopt;
}

struct IdentityRule {
  std::string_view kind;
  Match (*match)(const Node&);
};

// Ordered table of identity rules (one line per op kind).
constexpr IdentityRule kIdentityRules[] = {
    {"onnx::Identity", firstInput},
    {"aten::contiguous", firstInput},
    {"aten::detach", firstInput},
    {"aten::clone", firstInput},
    {"aten::dropout", dropoutInInference},
    {"aten::feature_dropout", dropoutInInference},
    {"aten::alpha_dropout", dropoutInInference},
    {"aten::feature_alpha_dropout", dropoutInInference},
    {"onnx::Dropout", onnxDropoutInInference},
    {"aten::to", sameDTypeAtenTo},
    {"onnx::Cast", sameDTypeOnnxCast},
    {"onnx::Reshape", sameShape},
    {"aten::reshape", sameShape},
    {"aten::view", sameShape},
    {"onnx::Transpose", onnxIdentityTranspose},
    {"aten::permute", atenIdentityPermute},
    {"aten::mul", multiplyByOne},
    {"onnx::Mul", multiplyByOne},
    {"aten::add", addZero},
    {"onnx::Add", addZero},
    {"aten::sub", subtractZero},
    {"onnx::Sub", subtractZero},
    {"aten::div", divideByOne},
    {"onnx::Div", divideByOne},
};

bool mutatedInPlace(const Value* value) {
  for (const Use& use : value->uses()) {
    if (mutatesInput(*use.user)) return true;
  }
  return false;
}

class IdentityElimination {
 public:
  explicit IdentityElimination(PassContext& context) : context_(context) {
    for (const IdentityRule& rule : kIdentityRules) rules_.emplace(rule.kind, &rule);
  }

  Status run(Graph& graph) {
    for (Node* node : graph.nodeSnapshot()) {
      for (const auto& [name, attribute] : node->attributes()) {
        const auto* body = std::get_if<GraphPtr>(&attribute);
        if (body != nullptr && *body != nullptr) TP_RETURN_IF_ERROR(run(**body));
      }
      TP_RETURN_IF_ERROR(visit(graph, *node));
    }
    return Status::ok();
  }

  size_t removed() const { return removed_; }

 private:
  Status visit(Graph& graph, Node& node) {
    auto rule = rules_.find(node.kind());
    if (rule == rules_.end() || node.numOutputs() == 0) return Status::ok();
    Match match = rule->second->match(node);
    if (!match || *match >= node.numInputs() || node.input(*match) == nullptr) return Status::ok();

    Value* from = node.output(0);
    Value* to = node.input(*match);
    for (size_t i = 1; i < node.numOutputs(); ++i) {
      if (node.output(i)->hasUses() || node.output(i)->isGraphOutput()) return Status::ok();  // e.g. a used mask
    }
    if (typesContradict(from->type(), to->type())) return Status::ok();
    if (node.domain() == "aten" && (mutatedInPlace(from) || mutatedInPlace(to))) {
      context_.diag().debug("eliminate-identity: kept " + node.describe() + ": a user mutates it in place");
      return Status::ok();
    }
    if (from->isGraphOutput() && !producedInside(graph, to)) {
      // ONNX (and ONNX Runtime) require a subgraph's outputs to be computed inside it: an
      // If branch returning an outer-scope value or a constant keeps its Identity.
      context_.diag().debug("eliminate-identity: kept " + node.describe() +
                            ": its input is not computed in the graph that returns it");
      return Status::ok();
    }
    if (!graph.canReplaceAllUsesWith(from, to)) {
      context_.diag().debug("eliminate-identity: kept " + node.describe() +
                            ": removing it would rename or merge graph inputs/outputs");
      return Status::ok();
    }
    if (to->type().isUnknown() && !to->isGraphInput()) to->setType(from->type());
    TP_RETURN_IF_ERROR(graph.replaceAllUsesWith(from, to));
    TP_RETURN_IF_ERROR(graph.eraseNode(&node));
    ++removed_;
    return Status::ok();
  }

  static bool producedInside(const Graph& graph, const Value* value) {
    if (const Node* producer = value->producer()) return producer->owningGraph() == &graph && !producer->isConstant();
    const auto inputs = graph.inputs();
    return std::find(inputs.begin(), inputs.end(), value) != inputs.end();
  }

  PassContext& context_;
  std::unordered_map<std::string_view, const IdentityRule*> rules_;
  size_t removed_ = 0;
};

}  // namespace

PassInfo eliminateIdentityInfo() {
  PassInfo info;
  info.name = "eliminate-identity";
  info.summary = "Remove ops that return their input unchanged (Identity, contiguous, eval-mode dropout, x*1 ...)";
  info.description =
      "Rewires the users of an identity op to its input and removes it. Rules, in order: onnx::Identity; "
      "aten::contiguous, aten::detach, aten::clone; aten::dropout (and feature/alpha variants) with a constant "
      "false train flag; onnx::Dropout without training mode and with an unused mask; aten::to / onnx::Cast to the "
      "same dtype; onnx::Reshape / aten::reshape / aten::view to the same fully known shape; onnx::Transpose / "
      "aten::permute with the identity permutation; mul/div by a constant 1 and add/sub of a constant 0 when "
      "broadcasting changes neither shape nor dtype (both types known).\n"
      "Before:\n"
      "  %c: f32[2,3] = aten::contiguous(%x)\n"
      "  %out: f32[2,3] = aten::relu(%c)\n"
      "After:\n"
      "  %out: f32[2,3] = aten::relu(%x)\n"
      "Never fires when it would rename or merge graph inputs/outputs (an identity between a graph input and a "
      "graph output stays), when other outputs of the op are used, or (aten) when a user mutates the input or "
      "output in place.";
  info.kind = StepKind::Transform;
  return info;
}

Status runEliminateIdentity(Graph& graph, PassContext& context) {
  IdentityElimination elimination(context);
  TP_RETURN_IF_ERROR(elimination.run(graph));
  if (elimination.removed() > 0) {
    context.setChanged();
    context.diag().debug("eliminate-identity: removed " + std::to_string(elimination.removed()) + " node" +
                         (elimination.removed() == 1 ? "" : "s"));
  }
  return Status::ok();
}

}  // namespace torchport
