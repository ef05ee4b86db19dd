// Static simplification of TorchScript graphs before ONNX lowering (part of lower-to-onnx).
//
// Scripted modules carry checks that are static for an exported inference graph but that
// TorchScript cannot fold on its own: `query.dim() == 3`, `x.is_cuda`,
// `torch.is_grad_enabled()`, `"cpu" in str(x.device)`, `why_not = "..."; if len(why_not)`
// (nn.MultiheadAttention's fast-path selection), `x.dtype == ...`. Their dead branches
// often hold code that could not be lowered anyway (ranks unknown, training-only ops).
//
// Before:
//   %d: int = aten::dim(%x)                 # %x: f32[batch,seq,64]
//   %b: bool = aten::eq(%d, %three)
//   %y = prim::If(%b) {then=graph @then() -> (%t) { %t = aten::relu(%x) }, else=...}
// After:
//   %y = aten::relu(%x)
//
// Folds, to a fixpoint: scalar ops on constants (int/float/bool/str arithmetic,
// comparisons, not/and/or, len/str/find/format on strings, all/any of constant bool
// lists), inference-time facts (is_cuda, requires_grad, is_grad_enabled,
// is_autocast_enabled, is_nested -> false; device -> "cpu"; dim / dtype of typed tensors;
// `is` / `is not` None tests), and prim::If on a constant condition (the taken branch is
// inlined). Safe because every fold is exact for the exported (CPU, no-grad, eval) graph.
#pragma once

#include "torchport/ir.h"
#include "torchport/status.h"

namespace torchport::onnxplugin {

// Returns the number of nodes folded or inlined.
Expected<size_t> simplifyStaticScripting(Graph& graph);

}  // namespace torchport::onnxplugin
