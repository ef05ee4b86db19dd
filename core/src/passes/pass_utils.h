// Helpers shared by core passes (not SDK). Constant inspection lives in op_traits.h.
#pragma once

#include <cstdint>
#include <optional>

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

}  // namespace torchport
