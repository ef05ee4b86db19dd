// Choosing what to export and specializing its arguments (TorchScript importer, step 1-2).
//
//   input:
//     submodule: _model              # export a method of self._model instead of self
//     method: generate               # any method, not only forward
//     constants: {sr: 16000}         # bind non-tensor arguments to values
//
// Binding an argument replaces the graph input by a constant before the cleanup passes run,
// so constant propagation folds every branch that tests it and dead-code elimination drops
// the untaken paths:
//   Before:  graph(%self, %x: Tensor, %sr: int):  %c = aten::eq(%sr, 16000); prim::If(%c) ...
//   After:   graph(%self, %x: Tensor):            (the branch for sr == 16000, inlined)
// Arguments left unbound stay graph inputs: int/float/bool ones become 0-d ONNX inputs.
//
// Dict inputs: a `Dict[str, T]` argument that the graph only reads with constant keys
// (d["foo"]) becomes one input per key, named ARG.KEY, in the order the keys are first read:
//   Before:  graph(%self, %batch: Dict(str, Tensor)):  %a = aten::__getitem__(%batch, "foo")
//   After:   graph(%self, %batch.foo: Tensor, ...):     uses of %a use %batch.foo
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/ir/ir.h>

#include "torchport/options.h"
#include "torchport/registry.h"
#include "torchport/status.h"

namespace torchport::torchscript {

// The submodule at dotted attribute path `path` ("_model", "encoder.0") of `root`.
// Errors name the first missing or non-module component and list what exists there.
Expected<torch::jit::Module> findSubmodule(const torch::jit::Module& root, const std::string& path,
                                           const std::string& file);

// Binds `constants` (argument name -> value) to the inputs of `graph` (input 0 = self; input
// i >= 1 is argument i of `schema`). Each bound input is replaced by a constant and erased.
// Errors: unknown argument (lists the arguments), tensor argument, value of the wrong type.
Status bindConstantArguments(torch::jit::Graph& graph, const c10::FunctionSchema& schema,
                             const std::vector<std::pair<std::string, OptionValue>>& constants,
                             const std::string& file);

// Replaces each Dict[str, T] input read only through aten::__getitem__ with constant keys
// by one input per key (debug name "ARG.KEY"). Dicts used otherwise stay (and are reported
// by the converter). Returns how many dict inputs were flattened.
size_t flattenDictInputs(torch::jit::Graph& graph, Diagnostics& diagnostics);

}  // namespace torchport::torchscript
