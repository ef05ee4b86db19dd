// Deterministic textual form of the IR. print(parse(text)) == text for printer output;
// parse(print(g)) is structurally equal to g. Syntax (see DESIGN.md section 2):
//
//   graph @main(%input: f32[batch,3,224,224]) -> (%output: f32[batch,1000]) {
//     %w = prim::Constant f32[64,3,7,7] @"conv1.weight"          # data elided
//     %b = prim::Constant f32[2] dense<[1.0, 2.0]>
//     %k: int = prim::Constant 3
//     %1: f32[batch,64,112,112] = aten::conv2d(%input, %w) {stride=[2,2]}  # conv1 loc("m.py:3")
//     %output = ...
//   }
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "torchport/ir.h"
#include "torchport/status.h"

namespace torchport {

struct PrintOptions {
  // Tensors with more elements than this print as `@"param"`/shape only (data elided).
  // Negative: always print data.
  int64_t elideTensorsAbove = -1;
  bool printProvenance = true;
};

std::string printGraph(const Graph& graph, const PrintOptions& options = {});

// Parses one graph. Errors are Status::input with "<source>:line:col: message".
Expected<std::unique_ptr<Graph>> parseGraph(std::string_view text, std::string_view sourceName = "<ir>");

}  // namespace torchport
