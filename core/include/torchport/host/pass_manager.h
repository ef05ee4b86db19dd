// The driver: runs validated pipeline steps in order, owns fixpoint iteration, timing,
// node counts, IR printing hooks and per-step verification.
#pragma once

#include <functional>
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
  bool verifyAfterEachStep = true;  // run Graph::verify after each step (cheap, linear)
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
  PassManagerOptions options_;
  std::vector<StepStats> stats_;
};

// Counts nodes including those in nested graphs.
size_t countNodesDeep(const Graph& graph);

}  // namespace torchport
