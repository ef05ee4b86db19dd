// Helpers shared by core passes (not SDK). Constant inspection lives in op_traits.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "torchport/ir.h"
#include "torchport/options.h"
#include "torchport/registry.h"

namespace torchport {

// The `opset` option of passes whose rewrite needs an ONNX op that only exists from some
// opset on (LayerNormalization: 17): 0 = the opset lower-to-onnx targeted in this session.
OptionSpec targetOpsetOption();

// The ONNX opset a pass may emit: the step's `opset` option when > 0, else the session's
// "onnx.opset" state (set by lower-to-onnx); nullopt when neither says (e.g. a graph
// loaded from textual IR with no opset given), in which case such passes do not fire.
std::optional<int64_t> targetOnnxOpset(const PassContext& context);

// Calls `visit(graph, node)` for every node of `graph` and of the If/Loop bodies nested in it
// (a body before the node that owns it), over a snapshot of each node list: `visit` may erase
// the node it is given or insert nodes, which are not visited.
template <class Visit>
Status forEachNodeDeep(Graph& graph, Visit&& visit) {
  for (Node* node : graph.nodeSnapshot()) {
    for (const auto& [name, attribute] : node->attributes()) {
      const auto* body = std::get_if<GraphPtr>(&attribute);
      if (body != nullptr && *body != nullptr) TP_RETURN_IF_ERROR(forEachNodeDeep(**body, visit));
    }
    TP_RETURN_IF_ERROR(visit(graph, node));
  }
  return Status::ok();
}

// A constant-mode onnx::Pad, with its pads spread over every dim of the data.
struct ConstantPad {
  Value* data = nullptr;
  std::vector<int64_t> pads;  // [x0_begin, ..., x{r-1}_begin, x0_end, ..., x{r-1}_end]
  double value = 0.0;
};

// Reads an onnx::Pad in either form (attributes before opset 11, inputs from 11, `axes` from
// 18) when its mode is constant, its pads and value are constants, its pads are
// non-negative and its input rank is known (fuse-pad-into-conv / -pool). nullopt with `why`
// set otherwise.
std::optional<ConstantPad> readConstantPad(const Node& pad, std::string& why);

}  // namespace torchport
