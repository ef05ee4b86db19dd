// The generic aten kernel: fold-constants (core/src/passes/fold_constants.cpp) evaluates any
// `aten::X` node whose inputs are all constants by running LibTorch's own JIT operator
// for it. Registered for the domain wildcard "aten::*" (exact kernels of other plugins
// still win, see Registry::findKernel).
//
// Before (fold-constants):
//   %a = const f32[2] dense<[1.0, 2.0]>
//   %b = const f32[2] dense<[10.0, 20.0]>
//   %alpha = const int 2
//   %y: f32[2] = aten::add(%a, %b, %alpha) {schema="aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor"}
// After:
//   %y = const f32[2] dense<[21.0, 42.0]>
//
// Overload: the node's "schema" attribute (set by the TorchScript importer) names it
// exactly; without one, the overload whose argument types fit the declared types of the
// inputs and outputs best is taken (exact types beat Scalar / type variables / int->float,
// fewer filled-in defaults beat more), and a tie is refused as ambiguous.
// Inputs, as fold-constants passes them: tensors; int / bool / float scalars as 0-d
// i64 / bool / f64; int / float / bool lists as 1-D; none as an absent tensor. Tensor[]
// arguments are read from the node's prim::ListConstruct of tensor constants.
// Outputs: tensors (copied into storage of their own, contiguous), int / float / bool as
// 0-d i64 / f64 / bool, int[] / float[] as 1-D i64 / f64; several returns (max.dim) map to
// the node's outputs.
// Refused (Status::unsupported, a debug note of fold-constants): no or ambiguous overload,
// arguments or results of other types (str, Device, Generator, Tensor[] results, tuples),
// complex / quantized / float8 tensors, elided data, in-place and mutating ops (trailing
// '_', `(a!)` in the schema), random ops (schema tag nondeterministic_seeded unless a
// constant train=false, Generator arguments, rand*/empty* names), ops without arguments
// (is_grad_enabled, is_autocast_enabled: process state, not data), ops whose JIT operation
// needs the graph node. LibTorch errors (shape mismatch...) come back as Status::input
// naming the op (a warning of fold-constants); "not implemented for <dtype>" as unsupported.
#pragma once

#include <span>
#include <vector>

#include "torchport/ir.h"
#include "torchport/registry.h"
#include "torchport/status.h"

namespace torchport::torchscript {

// Evaluates `node` (kind aten::*) on `inputs` (one per node input, see above).
Expected<std::vector<Tensor>> evaluateAtenNode(const Node& node, std::span<const Tensor> inputs);

// The registry entry for "aten::*".
KernelEntry atenKernelEntry();

}  // namespace torchport::torchscript
