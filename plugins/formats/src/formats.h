// The formats plugin's steps (registered by plugin.cpp). Uses the public SDK only.
#pragma once

#include "torchport/torchport.h"

namespace torchport::formats {

// save-safetensors{path, metadata}: the graph's weights as a .safetensors file.
PassInfo saveSafetensorsInfo();
Status saveSafetensors(const Graph& graph, PassContext& context);
Status validateSaveSafetensors(const Options& options);

// save-dot{path, format=auto|dot|svg, constants}: a picture of the graph (Graphviz).
PassInfo saveDotInfo();
Status saveDot(const Graph& graph, PassContext& context);

// JSON string literal with escapes (shared by both writers).
std::string jsonString(std::string_view text);

}  // namespace torchport::formats
