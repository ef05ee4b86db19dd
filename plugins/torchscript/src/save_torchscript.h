// The save-torchscript export step: writes the aten-dialect graph as a TorchScript module
// (optionally frozen, optimized for inference or mobile, or for the lite interpreter).
// LibTorch-free, so that the plugin registration can include it.
#pragma once

#include "torchport/ir.h"
#include "torchport/registry.h"
#include "torchport/status.h"

namespace torchport::torchscript {

// Name, docs and option specs (path, freeze, optimize, format) shown by `torchport passes`.
PassInfo saveTorchScriptInfo();
// Combinations the specs cannot reject (optimize without freeze).
Status validateSaveTorchScriptOptions(const Options& options);
// Builds the module from `graph` (see ir_to_jit.h), freezes / optimizes it and writes it
// atomically to the resolved `path`. Refuses graphs with ops TorchScript cannot run
// (onnx:: after lower-to-onnx, custom domains), listing all of them; writes nothing then.
Status runSaveTorchScript(const Graph& graph, PassContext& context);

}  // namespace torchport::torchscript
