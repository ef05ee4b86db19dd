// lower-to-onnx{opset=17}: lowers the aten/prim dialect to the ONNX dialect.
//
// Before (textual IR):
//   %y = aten::conv2d(%x, %w, %b, %stride, %pad, %dil, %groups)
//   %z = aten::relu_(%y)
// After:
//   %0 = onnx::Conv(%x, %w, %b) {dilations=[1,1], group=1, kernel_shape=[3,3], pads=[1,1,1,1], strides=[1,1]}
//   %z = onnx::Relu(%0)
//
// Steps:
//  1. Prepare (aten level): drop assertion-only control flow (zero-output prim::If / Loop
//     whose bodies only check and raise: ONNX has no exceptions), aten::warn / prim::Print,
//     and dead pure nodes; refuse in-place ops whose mutation is observed later (the ONNX
//     form is functional, so that program would change meaning).
//  2. core's lowerGraph with target "onnx" and the converter tables of this plugin
//     (one error listing every op without a converter, with counts and module paths).
//  3. Clean up: dead ONNX nodes (e.g. sequences that consumers read through) and unused
//     constants; check that only ONNX nodes and prim::Constant remain.
//
// Session state written for later steps: "onnx.opset" (std::shared_ptr<int64_t>).
#pragma once

#include "torchport/registry.h"

namespace torchport::onnxplugin {

inline constexpr const char* kOpsetStateKey = "onnx.opset";
// Optional: versions of custom domains used by ONNX nodes (std::map<std::string, int64_t>),
// set by steps that create custom-domain ops; save-onnx writes them as opset imports.
inline constexpr const char* kDomainVersionsStateKey = "onnx.domain_versions";

PassInfo lowerToOnnxInfo();
Status runLowerToOnnx(Graph& graph, PassContext& context);

// Removes unused nodes without side effects (all ONNX nodes, constants, pure aten/prim
// nodes), nested graphs included, until nothing changes. Returns the number removed.
Expected<size_t> removeDeadNodes(Graph& graph);

}  // namespace torchport::onnxplugin
