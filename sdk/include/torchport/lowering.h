// Generic dialect lowering driver used by lower-to-* passes (e.g. lower-to-onnx).
#pragma once

#include <string_view>

#include "torchport/ir.h"
#include "torchport/registry.h"

namespace torchport {

struct LoweringRequest {
  std::string_view target;  // dialect name, "onnx"
  int version = 0;          // target version (opset)
  const Options* options = nullptr;  // passed to converters
};

// Lowers every node whose domain is not `target` (nested graphs included) with the
// registered converters. `prim::Constant` nodes are dialect-neutral: they are never
// converted (converters read them as static values; the exporter writes them), and
// constants left unused are removed at the end. When a converter maps an old output
// to a new value whose type is unknown and the old type is a tensor type, the new value
// takes the old type, so later converters keep rank/dtype information. First collects every op kind without a converter for this
// version and fails with Status::unsupported listing each kind with its count and module
// paths, and how to add a converter; nothing is changed in that case. Otherwise converts
// node by node in order; a converter error is returned naming the node.
// Nodes in the custom domains that earlier steps declared for the target in the session
// state "<target>.domain_versions" (std::map<std::string, int64_t>, e.g. "onnx.domain_versions"
// = {com.example: 1}, set by `custom-op` steps) are final too: they are kept as they are.
Status lowerGraph(Graph& graph, PassContext& context, const LoweringRequest& request);

// Message listing unsupported ops (shared with checks done ahead of a run).
struct UnsupportedOp {
  std::string kind;
  size_t count = 0;
  std::vector<std::string> modulePaths;  // first few distinct paths
};
std::vector<UnsupportedOp> findUnsupportedOps(const Graph& graph, const Registry& registry,
                                              const LoweringRequest& request);

}  // namespace torchport
