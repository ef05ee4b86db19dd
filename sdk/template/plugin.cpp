// A minimal torchport plugin: one pass, `template-count-ops`, that counts the nodes of a
// graph (all of them, or those of one op kind) and reports the count. Copy this project,
// rename the plugin, and replace the pass with your own.
//
//   pipeline:
//     - template-count-ops: {op: aten::conv2d}
#include <string>

#include "torchport/torchport.h"

namespace {

// Counts nodes in `graph` and in the graphs nested in its nodes' attributes (If/Loop bodies).
int64_t countNodes(const torchport::Graph& graph, const std::string& kind) {
  int64_t count = 0;
  for (const torchport::Node* node : graph.nodes()) {
    if (kind.empty() || node->kind() == kind) ++count;
    for (const auto& [name, attribute] : node->attributes()) {
      if (const auto* body = std::get_if<torchport::GraphPtr>(&attribute); body != nullptr && *body) {
        count += countNodes(**body, kind);
      }
    }
  }
  return count;
}

torchport::Status countOps(torchport::Graph& graph, torchport::PassContext& context) {
  const std::string kind = context.options().getString("op");
  const int64_t count = countNodes(graph, kind);
  context.diag().info("template-count-ops: " + std::to_string(count) + " " + (kind.empty() ? "nodes" : kind + " nodes"));
  context.report("template.count", torchport::OptionValue(count));
  return torchport::Status::ok();  // the graph is unchanged: no setChanged()
}

torchport::Status registerAll(torchport::Registry& registry) {
  torchport::PassInfo info;
  info.name = "template-count-ops";
  info.summary = "Counts the graph's nodes (or those of one op kind) and reports the count";
  info.description =
      "Leaves the graph unchanged. Nodes of nested graphs (If/Loop bodies) are counted too.\n"
      "The count is logged and reported as `template.count` in the JSON report.";
  torchport::OptionSpec op;
  op.name = "op";
  op.type = torchport::OptionType::String;
  op.defaultValue = torchport::OptionValue(std::string());
  op.doc = "Qualified op kind to count (e.g. aten::conv2d); empty counts every node";
  info.options.push_back(std::move(op));
  return registry.addPass(std::move(info), countOps);
}

}  // namespace

TORCHPORT_PLUGIN("template", "0.1.0", registerAll)
