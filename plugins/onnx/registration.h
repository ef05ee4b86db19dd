// Everything the ONNX plugin registers (the entry point and the tests share it).
#pragma once

#include "torchport/registry.h"

namespace torchport::onnxplugin {

// Adds lower-to-onnx, save-onnx and every converter table, in order.
Status registerOnnxPlugin(Registry& registry);

}  // namespace torchport::onnxplugin
