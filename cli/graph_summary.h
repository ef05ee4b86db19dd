// What `torchport inspect` reports about a graph, and its Graphviz rendering.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "torchport/ir.h"
#include "torchport/options.h"

namespace torchport::cli {

struct GraphSummary {
  std::string name;
  size_t nodes = 0;        // top-level graph only
  size_t nodesDeep = 0;    // including nested If/Loop bodies
  size_t nestedGraphs = 0;
  std::vector<std::pair<std::string, size_t>> opCounts;  // by count (desc), then kind
  // Tensor-valued constants: all of them, and those naming a parameter ("param").
  size_t constantTensors = 0, parameterTensors = 0;
  int64_t parameterElements = 0;  // over all tensor constants
  uintmax_t parameterBytes = 0;
  size_t elidedTensors = 0;       // constants whose data is not present (elided textual IR)
  std::vector<std::pair<std::string, std::string>> inputs, outputs;  // name, type
  // Symbolic dims of graph inputs/outputs: symbol -> "input[0]", "output[0]", ...
  std::vector<std::pair<std::string, std::vector<std::string>>> dynamicDims;
  size_t unknownDims = 0;  // '?' dims or unknown ranks among graph inputs/outputs
};

GraphSummary summarizeGraph(const Graph& graph);
OptionValue summaryToValue(const GraphSummary& summary);
std::string summaryToText(const GraphSummary& summary);

// Graphviz DOT: one box per node (constants as small notes), graph inputs/outputs as
// ellipses, nested graphs as clusters; edges labelled with value types when known.
std::string graphToDot(const Graph& graph);

}  // namespace torchport::cli
