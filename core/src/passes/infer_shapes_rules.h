// Per-op shape rules of infer-shapes (infer_shapes.cpp): given a node of the ONNX dialect
// and what is known about its inputs (types, constant data, partially known int vectors),
// compute its output types. Not part of the SDK.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "torchport/ir.h"

namespace torchport::shape_rules {

// One element of a small integer tensor whose value is partly known at compile time: a
// literal int (any sign), a symbolic dim (`batch`, from Shape of f32[batch,...]) or unknown.
struct SymInt {
  std::optional<int64_t> value;
  std::string symbol;  // when !value: empty = unknown
  static SymInt known(int64_t v) { return {v, {}}; }
  static SymInt fromDim(const Dim& d) {
    if (d.isKnown()) return known(d.size());
    return {std::nullopt, d.isSymbol() ? d.symbolName() : std::string()};
  }
  // As a dim: literal ints < 0 and unknowns give an unknown dim.
  Dim toDim() const {
    if (value) return *value >= 0 ? Dim::known(*value) : Dim::unknown();
    return symbol.empty() ? Dim::unknown() : Dim::symbol(symbol);
  }
};
// The elements of a rank-0 or rank-1 integer tensor, row-major.
using ShapeData = std::vector<SymInt>;

// What the rules may ask about input values: partially known data of int vectors that
// earlier nodes computed (Shape -> Gather -> Concat chains). Constants are read directly.
using DataLookup = std::function<const ShapeData*(const Value*)>;

struct NodeResult {
  // One entry per output; Type::unknown() = nothing inferred for that output.
  std::vector<Type> outputs;
  // Partially known data of outputs (only small int vectors), same indexing; may be shorter.
  std::vector<std::optional<ShapeData>> data;
  // Inconsistencies found in the inputs (a MatMul whose K dims disagree...): warnings.
  std::vector<std::string> problems;
};

// Output types of an onnx:: node; an empty `outputs` when the op is unknown or nothing can
// be said. Never fails: what cannot be inferred stays unknown.
NodeResult inferOnnxNode(const Node& node, const DataLookup& lookup);

// Data of a constant value as SymInts (integer tensors of rank <= 1 with at most 64
// elements, int and int-list constants); nullopt otherwise.
std::optional<ShapeData> constantShapeData(const Value* value);

}  // namespace torchport::shape_rules
