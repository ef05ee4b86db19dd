// fuse-consecutive-transposes: composes onnx::Transpose(onnx::Transpose(x, p1), p2) into one
// onnx::Transpose(x, q), and removes it altogether when q is the identity.
//
// Before:
//   graph @main(%x: f32[2,3,4]) -> (%z: f32[3,2,4], %w: f32[2,3,4]) {
//     %y: f32[4,2,3] = onnx::Transpose(%x) {perm=[2,0,1]}
//     %z: f32[3,2,4] = onnx::Transpose(%y) {perm=[2,1,0]}
//     %t: f32[4,3,2] = onnx::Transpose(%x)
//     %u: f32[2,3,4] = onnx::Transpose(%t)
//     %w: f32[2,3,4] = onnx::Relu(%u)
//   }
// After:
//   graph @main(%x: f32[2,3,4]) -> (%z: f32[3,2,4], %w: f32[2,3,4]) {
//     %z: f32[3,2,4] = onnx::Transpose(%x) {perm=[1,0,2]}
//     %w: f32[2,3,4] = onnx::Relu(%x)
//   }
//
// Math. Transpose(x, p) has output dim i = input dim p[i]: y[i...] reads x at axis p[i]. So
// z = Transpose(Transpose(x, p1), p2) has z.dim[j] = y.dim[p2[j]] = x.dim[p1[p2[j]]], i.e.
// z = Transpose(x, q) with q[j] = p1[p2[j]]. An absent perm is the reversal [n-1, ..., 0],
// which needs the rank n: taken from the other Transpose's perm or from a known type rank.
//
// Fires only when (otherwise a debug note, or nothing when not the pattern):
//   - both nodes are onnx::Transpose with one input, one output and no attribute but perm;
//   - both perms are known (given, or the reversal of a known rank), are permutations of
//     0..n-1 (negative entries are not accepted) of the same length n, and agree with the
//     rank of x when it is known.
// The second Transpose then reads x with perm q (in place, keeping its output and name). When
// q is the identity, its output is replaced by x instead — unless that would rename or merge
// graph inputs/outputs, or make a nested graph return a value it does not compute (then the
// Transpose with the identity perm stays, for eliminate-identity to judge). The first
// Transpose is erased once it has no users and is not a graph output; otherwise (other
// users) it stays. Chains of any length collapse in one run. Works inside If/Loop bodies.
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "pass_utils.h"
#include "passes.h"
#include "torchport/op_traits.h"

namespace torchport {
namespace {

std::optional<size_t> rankOf(const Value* value) {
  if (!value->type().isTensor() || !value->type().hasRank()) return std::nullopt;
  return value->type().rank();
}

bool isPermutation(const std::vector<int64_t>& perm) {
  std::vector<bool> seen(perm.size(), false);
  for (int64_t axis : perm) {
    if (axis < 0 || static_cast<size_t>(axis) >= perm.size() || seen[static_cast<size_t>(axis)]) return false;
    seen[static_cast<size_t>(axis)] = true;
  }
  return true;
}

bool isIdentity(const std::vector<int64_t>& perm) {
  for (size_t i = 0; i < perm.size(); ++i) {
    if (perm[i] != static_cast<int64_t>(i)) return false;
  }
  return true;
}

std::vector<int64_t> reversal(size_t rank) {
  std::vector<int64_t> perm(rank);
  for (size_t i = 0; i < rank; ++i) perm[i] = static_cast<int64_t>(rank - 1 - i);
  return perm;
}

bool isPlainTranspose(const Node& node) {
  if (node.kind() != "onnx::Transpose" || node.numInputs() != 1 || node.numOutputs() != 1) return false;
  for (const auto& [name, attribute] : node.attributes()) {
    if (name != "perm" || attributeKind(attribute) != AttributeKind::Ints) return false;
  }
  return true;
}

// The node's output (or value) computed inside `graph` (not captured, not a constant):
// a nested graph must compute what it returns.
bool producedInside(const Graph& graph, const Value* value) {
  if (const Node* producer = value->producer()) return producer->owningGraph() == &graph && !producer->isConstant();
  const auto inputs = graph.inputs();
  return std::find(inputs.begin(), inputs.end(), value) != inputs.end();
}

class TransposeFusion {
 public:
  explicit TransposeFusion(PassContext& context) : context_(context) {}

  Status run(Graph& root) {
    return forEachNodeDeep(root, [this](Graph& graph, Node* node) {
      return node->kind() == "onnx::Transpose" ? visit(graph, *node) : Status::ok();
    });
  }

  size_t fused() const { return fused_; }
  size_t removed() const { return removed_; }

 private:
  Status skip(const Node& node, std::string_view why) {
    context_.diag().debug("fuse-consecutive-transposes: not fusing " + node.describe() + ": " + std::string(why));
    return Status::ok();
  }

  Status visit(Graph& graph, Node& second) {
    if (second.numInputs() != 1) return Status::ok();
    Value* middle = second.input(0);
    Node* first = middle->producer();
    if (first == nullptr || first->kind() != "onnx::Transpose") return Status::ok();  // not the pattern
    if (!isPlainTranspose(second) || !isPlainTranspose(*first)) {
      return skip(second, "a Transpose has unexpected inputs, outputs or attributes");
    }
    Value* x = first->input(0);
    const std::vector<int64_t>* p1 = first->intsAttr("perm");
    const std::vector<int64_t>* p2 = second.intsAttr("perm");
    // The rank: from a perm, else from a known type along the chain; all must agree.
    std::vector<size_t> ranks;
    if (p1 != nullptr) ranks.push_back(p1->size());
    if (p2 != nullptr) ranks.push_back(p2->size());
    const Value* const chain[] = {x, middle, second.output()};
    for (const Value* v : chain) {
      if (auto known = rankOf(v)) ranks.push_back(*known);
    }
    if (ranks.empty()) return skip(second, "both perms are absent (reversal) and the rank is unknown");
    const size_t rank = ranks.front();
    for (size_t r : ranks) {
      if (r != rank) return skip(second, "the perms and the known ranks disagree");
    }
    const std::vector<int64_t> perm1 = p1 != nullptr ? *p1 : reversal(rank);
    const std::vector<int64_t> perm2 = p2 != nullptr ? *p2 : reversal(rank);
    if (!isPermutation(perm1) || !isPermutation(perm2)) return skip(second, "a perm is not a permutation of 0..rank-1");
    std::vector<int64_t> composed(rank);
    for (size_t j = 0; j < rank; ++j) composed[j] = perm1[static_cast<size_t>(perm2[j])];

    Value* out = second.output();
    bool removedSecond = false;
    if (isIdentity(composed)) {
      const bool nestedOutputProblem = out->isGraphOutput() && graph.parent() != nullptr && !producedInside(graph, x);
      if (!nestedOutputProblem && graph.canReplaceAllUsesWith(out, x)) {
        if (x->type().isUnknown() && !x->isGraphInput()) x->setType(out->type());
        TP_RETURN_IF_ERROR(graph.replaceAllUsesWith(out, x));
        TP_RETURN_IF_ERROR(graph.eraseNode(&second));
        removedSecond = true;
        ++removed_;
      } else {
        context_.diag().debug("fuse-consecutive-transposes: " + second.describe() +
                              " becomes an identity Transpose: removing it would rename or merge graph inputs/outputs");
      }
    }
    if (!removedSecond) {
      second.setInput(0, x);
      second.setAttribute("perm", composed);
      ++fused_;
    }
    if (!middle->hasUses() && !middle->isGraphOutput()) {
      TP_RETURN_IF_ERROR(first->owningGraph()->eraseNode(first));
    }
    return Status::ok();
  }

  PassContext& context_;
  size_t fused_ = 0;
  size_t removed_ = 0;
};

}  // namespace

PassInfo fuseConsecutiveTransposesInfo() {
  PassInfo info;
  info.name = "fuse-consecutive-transposes";
  info.summary = "Compose onnx::Transpose(onnx::Transpose(x, p1), p2) into one Transpose, or none when it is the identity";
  info.description =
      "Rewrites the second of two chained onnx::Transpose nodes to read x directly with perm q[j] = p1[p2[j]] "
      "(an absent perm is the reversal of the rank, taken from the other perm or a known type). When q is the "
      "identity the second Transpose is removed and its users read x.\n"
      "Before:\n"
      "  %y: f32[4,2,3] = onnx::Transpose(%x) {perm=[2,0,1]}       # %x: f32[2,3,4]\n"
      "  %z: f32[3,2,4] = onnx::Transpose(%y) {perm=[2,1,0]}\n"
      "After:\n"
      "  %z: f32[3,2,4] = onnx::Transpose(%x) {perm=[1,0,2]}\n"
      "The first Transpose stays while it has other users or is a graph output, and is erased otherwise. An "
      "identity result stays as a Transpose with perm [0,1,...] when removing it would rename or merge graph "
      "inputs/outputs (e.g. x is a graph input and the result a graph output). Does not fire when a perm is not "
      "a permutation of 0..n-1 (negative entries included), the perms' lengths disagree with each other or "
      "with known ranks, or a perm is absent and the rank unknown. Works inside If/Loop bodies.";
  info.kind = StepKind::Transform;
  return info;
}

Status runFuseConsecutiveTransposes(Graph& graph, PassContext& context) {
  TransposeFusion fusion(context);
  TP_RETURN_IF_ERROR(fusion.run(graph));
  if (fusion.fused() + fusion.removed() > 0) {
    context.setChanged();
    context.diag().debug("fuse-consecutive-transposes: composed " + std::to_string(fusion.fused()) +
                         " Transpose pair(s), removed " + std::to_string(fusion.removed()) + " identity Transpose(s)");
  }
  return Status::ok();
}

}  // namespace torchport
