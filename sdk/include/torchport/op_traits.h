// Op traits for generic passes: which nodes may be removed when unused, folded, or
// deduplicated, on any dialect. The tables (aten, prim, onnx) live in op_traits.cpp;
// unknown ops are treated as pure unless they have no outputs or their JIT schema
// (string attribute "schema") marks an argument as mutated with `!`.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "torchport/ir.h"

namespace torchport {

// Running the node does more than compute its outputs: raises (prim::RaiseException),
// prints (prim::Print), sets module state (prim::SetAttr), calls opaque code
// (prim::CallMethod), touches the global RNG seed (aten::manual_seed) or mutates an input
// (see mutatesInput). Nodes without outputs count as side-effecting; control flow
// (If/Loop) inherits from the nodes of its bodies. Such nodes are never removed.
// prim::Uninitialized, prim::Constant and ONNX ops are pure.
bool hasSideEffects(const Node& node);

// The node writes into one of its inputs: aten in-place ops (name ending in a single
// '_': aten::add_, aten::copy_; aten::__iadd__ ...), list/dict mutation (aten::append,
// aten::_set_item ...), or a schema with a `(a!)` alias annotation.
bool mutatesInput(const Node& node);

// Two runs on equal inputs may give different results: random ops (aten::rand*,
// aten::randn*, aten::bernoulli, aten::multinomial, onnx::RandomNormal ...), dropout
// unless its train flag is a constant false (or p a constant 0), uninitialized memory
// (aten::empty*), process state (aten::is_grad_enabled, aten::is_autocast_enabled).
// Never folded or deduplicated. Control flow inherits from its bodies.
bool isNondeterministic(const Node& node);

// Neither side effects nor nondeterminism.
inline bool isPure(const Node& node) { return !hasSideEffects(node) && !isNondeterministic(node); }

// ---- constant inspection (values produced by prim::Constant, see kConstKind) ----
// The producing constant node, or nullptr.
const Node* constantProducer(const Value* value);
// The tensor of a tensor constant whose data is loaded and consistent with its shape
// (nullptr for scalars, lists, elided or malformed tensors). Points into the constant node.
const Tensor* constantTensorData(const Value* value);
// int / bool scalar constants and one-element integer or bool tensors.
std::optional<int64_t> constantInt(const Value* value);
std::optional<bool> constantBool(const Value* value);
// Numeric scalar constants and one-element tensors of any numeric dtype.
std::optional<double> constantNumber(const Value* value);
// int lists: an `ints` constant, an integer tensor of rank <= 1, or a
// prim::ListConstruct whose elements are all int constants.
std::optional<std::vector<int64_t>> constantInts(const Value* value);
// A constant tensor or number all of whose elements equal `x` (false when elided).
bool isConstantFilledWith(const Value* value, double x);
// The node carries a graph attribute (control flow: If/Loop bodies).
bool hasGraphAttribute(const Node& node);
// An absent optional argument: type `none`, or a constant without "value".
bool isNoneValue(const Value* value);

}  // namespace torchport
