// The driver: runs validated pipeline steps in order, owns fixpoint iteration, timing,
// node counts, IR printing hooks and per-step verification.
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "torchport/host/pipeline.h"
#include "torchport/ir.h"
#include "torchport/registry.h"

namespace torchport {

struct StepStats {
  std::string name;
  double seconds = 0.0;
  size_t nodesBefore = 0;
  size_t nodesAfter = 0;
  bool changed = false;
  int iterations = 1;  // for fixpoint groups
};

struct PassManagerOptions {
  // Step names after which to print the IR; "all" matches every step.
  std::set<std::string, std::less<>> printIrAfter;
  std::function<void(std::string_view stepName, const Graph& graph)> printHook;
  // Graph::verify (linear, but a full walk with hash lookups per value) after steps that
  // changed the graph: after every step, group children included (tests, --verify-each),
  // or only after top-level steps, where a broken group names the children that changed
  // (the CLI default: a fixpoint group of N passes verifies once instead of N times a round).
  enum class Verify : uint8_t { Never, AfterTopLevelSteps, AfterEveryStep };
  Verify verify = Verify::AfterEveryStep;
};

class PassManager {
 public:
  explicit PassManager(PassManagerOptions options = {}) : options_(std::move(options)) {}
  // Runs `steps` (validated) on `graph`. Stops at the first failing step, returning its
  // error prefixed with the step name and location.
  Status run(Graph& graph, std::vector<PipelineStep>& steps, PassContext& context);
  const std::vector<StepStats>& stats() const { return stats_; }

 private:
  Status runStep(Graph& graph, PipelineStep& step, PassContext& context);
  // Node count of the graph as the last step left it (the next step's "before").
  size_t countNodes(const Graph& graph);
  PassManagerOptions options_;
  std::vector<StepStats> stats_;
  int depth_ = 0;  // group nesting of the step being run (0 = top level)
  std::optional<size_t> knownNodeCount_;
};

// Counts nodes including those in nested graphs.
size_t countNodesDeep(const Graph& graph);

}  // namespace torchport
