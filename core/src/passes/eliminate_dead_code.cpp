// eliminate-dead-code: removes nodes whose results nobody needs.
//
// A node is dead when none of its outputs is used (by a node of this graph or of a nested
// graph) or returned (as an output of its graph or of a nested graph), and it has no side
// effects (op_traits.h: raising, printing, in-place mutation, opaque calls; nodes without
// outputs and control flow whose bodies have side effects are kept). Works inside nested
// If/Loop bodies too. Graph inputs are never removed (they are the model's interface).
//
// Before:
//   graph @main(%x: f32[4]) -> (%y: f32[4]) {
//     %c: f32[4] = prim::Constant f32[4] dense<[1.0, 2.0, 3.0, 4.0]>
//     %unused: f32[4] = aten::mul(%x, %c)
//     %twice: f32[4] = aten::relu(%unused)
//     %y: f32[4] = aten::neg(%x)
//   }
// After:
//   graph @main(%x: f32[4]) -> (%y: f32[4]) {
//     %y: f32[4] = aten::neg(%x)
//   }
//
// Safe because a pure node whose outputs are unused cannot influence any graph output.
// Nondeterministic but effect-free nodes (aten::rand) are removed too.
//
// Linear time: one walk in reverse order. Erasing a node removes its uses, which can only
// make producers dead; producers come earlier in topological order, so the reverse walk
// reaches them afterwards. Nested bodies are cleaned before the node owning them is left,
// and the outer values they stopped using are defined earlier, so the same walk covers them.
#include <string>

#include "passes.h"
#include "torchport/op_traits.h"

namespace torchport {
namespace {

bool isDead(const Node& node) {
  for (const Value* output : node.outputs()) {
    if (output->hasUses() || output->isGraphOutput()) return false;
  }
  return !hasSideEffects(node);  // checked last: it may walk nested bodies
}

Status removeDeadNodesIn(Graph& graph, size_t& removed) {
  std::vector<Node*> nodes = graph.nodeSnapshot();
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    Node* node = *it;
    if (isDead(*node)) {
      TP_RETURN_IF_ERROR(graph.eraseNode(node));
      ++removed;
      continue;
    }
    for (const auto& [name, attribute] : node->attributes()) {
      const auto* body = std::get_if<GraphPtr>(&attribute);
      if (body != nullptr && *body != nullptr) TP_RETURN_IF_ERROR(removeDeadNodesIn(**body, removed));
    }
  }
  return Status::ok();
}

}  // namespace

PassInfo eliminateDeadCodeInfo() {
  PassInfo info;
  info.name = "eliminate-dead-code";
  info.summary = "Remove nodes whose outputs are unused and that have no side effects";
  info.description =
      "Removes every node (nested If/Loop bodies included) whose outputs are neither used nor graph outputs and "
      "that has no side effects (raise, print, in-place mutation, module attribute writes, opaque calls; nodes "
      "without outputs are kept). Graph inputs are kept.\n"
      "Before:\n"
      "  %unused: f32[4] = aten::mul(%x, %c)\n"
      "  %y: f32[4] = aten::neg(%x)      # %y is the graph output\n"
      "After:\n"
      "  %y: f32[4] = aten::neg(%x)      # the mul and its constant are gone\n"
      "Linear time (one reverse walk).";
  info.kind = StepKind::Transform;
  return info;
}

size_t removeDeadNodes(Graph& graph) {
  size_t removed = 0;
  Status status = removeDeadNodesIn(graph, removed);
  (void)status;  // cannot fail: isDead() guarantees eraseNode's precondition
  return removed;
}

Status runEliminateDeadCode(Graph& graph, PassContext& context) {
  size_t removed = 0;
  TP_RETURN_IF_ERROR(removeDeadNodesIn(graph, removed));
  if (removed > 0) {
    context.setChanged();
    context.diag().debug("eliminate-dead-code: removed " + std::to_string(removed) + " node" +
                         (removed == 1 ? "" : "s"));
  }
  return Status::ok();
}

}  // namespace torchport
