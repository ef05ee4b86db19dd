// torchport IR (aten / prim dialect) -> a LibTorch TorchScript module, the inverse of the
// importer (graph_converter.cpp). Used by save-torchscript. Includes LibTorch: only the
// translation units that already pay for it include this header.
#pragma once

#include <string>
#include <vector>

#include <torch/csrc/jit/api/module.h>

#include "torchport/ir.h"
#include "torchport/status.h"

namespace torchport::torchscript {

// Kinds in `graph` (nested graphs included) that LibTorch cannot run: anything outside the
// aten / prim dialects for which the JIT has no registered operator (onnx::Conv after
// lower-to-onnx, a custom-domain op such as com.example::FancyAct). One line per kind with
// its count and first module paths, sorted by kind; empty when everything can be emitted.
std::vector<std::string> findNonTorchScriptOps(const Graph& graph);

struct JitModuleBuild {
  torch::jit::Module module;              // class __torch__.TorchportModule, method forward
  std::vector<std::string> outputNames;   // forward returns one tensor, or a tuple in this order
  std::vector<std::string> parameterNames;  // "param" names kept as module attributes
};

// Builds a module whose forward(self, <graph inputs>) computes `graph`. Constants with a
// "param" attribute become module attributes (parameters, or buffers for BatchNorm running
// statistics and non-float tensors) named after the parameter with dots escaped
// ("layer1.0.conv1.weight" -> "layer1_0_conv1_weight"); other constants are graph constants.
// The module has a `training` attribute set to false. `trainable` marks floating-point
// parameters requires_grad (for a module that is saved unfrozen).
// Errors name every node that could not be emitted (with Node::describe()).
Expected<JitModuleBuild> buildJitModule(const Graph& graph, bool trainable);

}  // namespace torchport::torchscript
