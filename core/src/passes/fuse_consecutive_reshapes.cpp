// fuse-consecutive-reshapes: makes an onnx::Reshape whose input comes from another
// shape-only op (onnx::Reshape, Flatten, Squeeze, Unsqueeze) read that op's input directly,
// when its target shape does not depend on the intermediate shape.
//
// Before:
//   graph @main(%x: f32[batch,3,4]) -> (%z: f32[batch,4,3]) {
//     %s1 = const i64[2] dense<[0, 12]>
//     %y: f32[batch,12] = onnx::Reshape(%x, %s1)
//     %s2 = const i64[3] dense<[0, 4, -1]>
//     %z: f32[batch,4,3] = onnx::Reshape(%y, %s2)
//   }
// After (fuse-consecutive-reshapes,eliminate-dead-code):
//   graph @main(%x: f32[batch,3,4]) -> (%z: f32[batch,4,3]) {
//     %s2 = const i64[3] dense<[0, 4, -1]>
//     %z: f32[batch,4,3] = onnx::Reshape(%x, %s2)
//   }
//
// Why it is exact. Reshape, Flatten, Squeeze and Unsqueeze keep the elements in row-major
// order and change only the shape, so Reshape(op(x), s2) == Reshape(x, s2') as long as s2'
// yields the same output shape from x's shape as s2 does from y = op(x)'s shape. Entries of
// s2 that are > 0, or -1 (inferred from the element count, which x and y share), or 0 with
// allowzero=1 (a literal zero) do not look at y's shape. A 0 with allowzero=0 copies y's dim
// i; it is resolved:
//   - to the literal size when y's dim i is known and > 0: from y's type, from a positive
//     s1[i], or (s1[i] = -1) inferred from a fully static x and the other entries of s1;
//   - to 0 again (copy x's dim i) when the first op is a Reshape whose s1[i] is 0 with
//     allowzero=0: then y's dim i is x's dim i;
// otherwise (y's dim unknown or 0) the pass does not fire.
//
// Fires only when (otherwise a debug note, or nothing when not the pattern):
//   - the second op is an onnx::Reshape with one output and a constant i64 vector shape
//     input (opset >= 5), or the opset-1 `shape` attribute; entries are >= -1, at most one
//     -1, and not both a -1 and a 0 under allowzero=1 (invalid per the ONNX spec);
//   - the first op is an onnx::Reshape (either form), onnx::Flatten, onnx::Squeeze or
//     onnx::Unsqueeze with one output (its other inputs and attributes do not matter);
//   - every 0 entry under allowzero=0 is resolved as above, and known sizes do not
//     contradict each other.
// The second Reshape keeps its output (name, type) and allowzero; a resolved shape becomes
// a new i64 constant before it (or its `shape` attribute). The first op is erased once it has
// no users and is not a graph output; otherwise it stays. Chains collapse in one run. Works
// inside If/Loop bodies.
#include <optional>
#include <string>
#include <vector>

#include "pass_utils.h"
#include "passes.h"
#include "torchport/op_traits.h"

namespace torchport {
namespace {

bool isShapeOnlyOp(const Node& node) {
  const std::string& kind = node.kind();
  return kind == "onnx::Reshape" || kind == "onnx::Flatten" || kind == "onnx::Squeeze" || kind == "onnx::Unsqueeze";
}

// The target shape of a Reshape: a constant i64 vector input (opset >= 5) or the opset-1
// `shape` attribute. nullopt when unknown or malformed.
std::optional<std::vector<int64_t>> reshapeTarget(const Node& reshape) {
  if (reshape.numInputs() == 2) {
    if (reshape.hasAttribute("shape")) return std::nullopt;  // both forms: malformed
    const Tensor* shape = constantTensorData(reshape.input(1));
    if (shape == nullptr || shape->dtype() != DType::I64 || shape->rank() != 1) return std::nullopt;
    auto values = shape->data<int64_t>();
    return std::vector<int64_t>(values.begin(), values.end());
  }
  if (reshape.numInputs() == 1) {
    if (const auto* shape = reshape.intsAttr("shape")) return *shape;
  }
  return std::nullopt;
}

bool allowsZero(const Node& reshape) { return reshape.intAttr("allowzero").value_or(0) != 0; }

// A valid target shape: entries >= -1, at most one -1, no -1 together with a literal 0.
bool validTarget(const std::vector<int64_t>& shape, bool allowZero) {
  int minusOnes = 0;
  bool zero = false;
  for (int64_t v : shape) {
    if (v < -1) return false;
    minusOnes += v == -1;
    zero = zero || v == 0;
  }
  return minusOnes <= 1 && !(allowZero && zero && minusOnes == 1);
}

// What is known about dim i of the intermediate value y.
struct DimFact {
  std::optional<int64_t> size;  // known size
  bool copiesX = false;         // y's dim i is x's dim i (s1[i] = 0 under allowzero=0)
};

std::optional<std::vector<int64_t>> staticShapeOf(const Value* value) {
  if (!value->type().isTensor()) return std::nullopt;
  return value->type().staticShape();
}

class ReshapeFusion {
 public:
  explicit ReshapeFusion(PassContext& context) : context_(context) {}

  Status run(Graph& root) {
    return forEachNodeDeep(root, [this](Graph& graph, Node* node) {
      return node->kind() == "onnx::Reshape" ? visit(graph, *node) : Status::ok();
    });
  }

  size_t fused() const { return fused_; }

 private:
  Status skip(const Node& node, std::string_view why) {
    context_.diag().debug("fuse-consecutive-reshapes: not fusing " + node.describe() + ": " + std::string(why));
    return Status::ok();
  }

  // Facts about y = first(x), one per dim, or an error message when they contradict.
  static std::optional<std::vector<DimFact>> intermediateDims(const Node& first, std::string& why) {
    const Value* y = first.output();
    const Value* x = first.input(0);
    std::optional<std::vector<DimFact>> facts;
    if (y->type().isTensor() && y->type().hasRank()) {
      facts.emplace(y->type().rank());
      for (size_t i = 0; i < facts->size(); ++i) {
        const Dim& d = (*y->type().shape())[i];
        if (d.isKnown()) (*facts)[i].size = d.size();
      }
    }
    if (first.kind() != "onnx::Reshape") return facts;
    auto s1 = reshapeTarget(first);
    if (!s1 || !validTarget(*s1, allowsZero(first))) return facts;
    if (facts && facts->size() != s1->size()) {
      why = "the first Reshape's shape and its output's rank disagree";
      return std::nullopt;
    }
    if (!facts) facts.emplace(s1->size());
    const bool allowZero = allowsZero(first);
    const auto xShape = staticShapeOf(x);
    std::optional<size_t> inferred;  // position of a -1
    for (size_t i = 0; i < s1->size(); ++i) {
      const int64_t v = (*s1)[i];
      std::optional<int64_t> size;
      if (v > 0 || (v == 0 && allowZero)) {
        size = v;
      } else if (v == 0) {
        (*facts)[i].copiesX = true;
        if (xShape && i < xShape->size()) size = (*xShape)[i];
      } else {
        inferred = i;
      }
      if (size) {
        if ((*facts)[i].size && *(*facts)[i].size != *size) {
          why = "the first Reshape's shape and its output's type disagree";
          return std::nullopt;
        }
        (*facts)[i].size = size;
      }
    }
    // s1's -1: x's element count divided by the product of the other (now known) dims.
    if (inferred && xShape && !(*facts)[*inferred].size) {
      int64_t total = 1;
      bool known = true;
      for (int64_t d : *xShape) known = known && !__builtin_mul_overflow(total, d, &total);
      int64_t rest = 1;
      for (size_t i = 0; i < facts->size(); ++i) {
        if (i == *inferred) continue;
        if (!(*facts)[i].size) known = false;
        else known = known && !__builtin_mul_overflow(rest, *(*facts)[i].size, &rest);
      }
      if (known && rest > 0 && total % rest == 0) (*facts)[*inferred].size = total / rest;
    }
    return facts;
  }

  Status visit(Graph& graph, Node& second) {
    if (second.numInputs() < 1 || second.numOutputs() != 1) return Status::ok();
    Value* middle = second.input(0);
    Node* first = middle->producer();
    if (first == nullptr || !isShapeOnlyOp(*first)) return Status::ok();  // not the pattern
    if (first->numOutputs() != 1 || first->numInputs() < 1) return skip(second, "the first op is malformed");
    auto s2 = reshapeTarget(second);
    if (!s2) return skip(second, "its shape is not a constant i64 vector");
    const bool allowZero = allowsZero(second);
    if (!validTarget(*s2, allowZero)) return skip(second, "its shape is not a valid Reshape target");

    std::vector<int64_t> resolved = *s2;
    bool needsFacts = false;
    for (int64_t v : *s2) needsFacts = needsFacts || (v == 0 && !allowZero);
    if (needsFacts) {
      std::string why;
      auto facts = intermediateDims(*first, why);
      if (!facts) return skip(second, why.empty() ? "its 0 entries copy dims of an input of unknown rank" : why);
      for (size_t i = 0; i < resolved.size(); ++i) {
        if (resolved[i] != 0) continue;
        if (i >= facts->size()) return skip(second, "a 0 entry is beyond the rank of its input");
        const DimFact& fact = (*facts)[i];
        if (fact.size && *fact.size > 0) {
          resolved[i] = *fact.size;
        } else if (!fact.copiesX) {
          return skip(second, "entry " + std::to_string(i) + " copies an input dim that is unknown or 0");
        }  // else: stays 0 and copies x's dim i
      }
    }

    Value* x = first->input(0);
    if (resolved != *s2) {
      if (second.numInputs() == 2) {
        Node* shape = graph.createConstant(
            Tensor::fromVector<int64_t>(DType::I64, {static_cast<int64_t>(resolved.size())}, resolved), &second,
            second.input(1)->name() + ".fused");
        second.setInput(1, shape->output());
      } else {
        second.setAttribute("shape", resolved);
      }
    }
    second.setInput(0, x);
    ++fused_;
    if (!middle->hasUses() && !middle->isGraphOutput()) {
      TP_RETURN_IF_ERROR(first->owningGraph()->eraseNode(first));
    }
    return Status::ok();
  }

  PassContext& context_;
  size_t fused_ = 0;
};

}  // namespace

PassInfo fuseConsecutiveReshapesInfo() {
  PassInfo info;
  info.name = "fuse-consecutive-reshapes";
  info.summary = "Make an onnx::Reshape of a Reshape / Flatten / Squeeze / Unsqueeze read that op's input directly";
  info.description =
      "Rewires onnx::Reshape(op(x), s2), op one of onnx::Reshape, Flatten, Squeeze, Unsqueeze, to "
      "onnx::Reshape(x, s2') when s2 is a constant whose result does not depend on op(x)'s shape beyond its "
      "element count: entries > 0, -1, or 0 under allowzero=1 are kept; a 0 under allowzero=0 (copy the input "
      "dim) is replaced by that dim's size when it is known and > 0 (from the intermediate type, the first "
      "Reshape's shape, or inferred from a static x), or stays 0 when the first Reshape copied the same dim of x "
      "(its own 0 under allowzero=0). Otherwise nothing happens.\n"
      "Before:\n"
      "  %y: f32[batch,12] = onnx::Reshape(%x, %s1)          # %x: f32[batch,3,4], %s1 = [0, 12]\n"
      "  %z: f32[batch,4,3] = onnx::Reshape(%y, %s2)         # %s2 = [0, 4, -1]\n"
      "After:\n"
      "  %z: f32[batch,4,3] = onnx::Reshape(%x, %s2)\n"
      "The second Reshape keeps its output and allowzero; a changed shape becomes a new i64 constant (or the "
      "opset-1 `shape` attribute). The first op is erased when nothing else uses it (not a graph output). Works "
      "inside If/Loop bodies.";
  info.kind = StepKind::Transform;
  return info;
}

Status runFuseConsecutiveReshapes(Graph& graph, PassContext& context) {
  ReshapeFusion fusion(context);
  TP_RETURN_IF_ERROR(fusion.run(graph));
  if (fusion.fused() > 0) {
    context.setChanged();
    context.diag().debug("fuse-consecutive-reshapes: fused " + std::to_string(fusion.fused()) + " reshape pair" +
                         (fusion.fused() == 1 ? "" : "s"));
  }
  return Status::ok();
}

}  // namespace torchport
