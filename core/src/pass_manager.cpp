// The pass driver. Passes never loop over themselves: the driver owns ordering, fixpoint
// iteration, timing, node counts, IR printing and the IR check after each step, so every
// pass gets them for free and a broken pass is caught at the step that broke the IR.
#include "torchport/host/pass_manager.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <map>
#include <span>

namespace torchport {

namespace {

std::string stepLabel(const PipelineStep& step) {
  std::string label = "step '" + step.name + "'";
  if (step.where.line > 0 || !step.where.file.empty()) label += " (" + step.where.toString() + ")";
  return label;
}

// Plugins are foreign code: an exception escaping a pass becomes an internal error
// naming the step instead of taking the process down.
template <class Fn>
Status callGuarded(const std::string& owner, Fn&& fn) {
  try {
    return fn();
  } catch (const std::exception& error) {
    return Status::internal("threw an exception (a bug in plugin '" + owner + "'): " + error.what());
  } catch (...) {
    return Status::internal("threw an unknown exception (a bug in plugin '" + owner + "')");
  }
}

std::string formatSeconds(double seconds) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.3f", seconds);
  return buffer;
}

}  // namespace

size_t countNodesDeep(const Graph& graph) { return graph.numNodesDeep(); }

size_t PassManager::countNodes(const Graph& graph) {
  if (!knownNodeCount_) knownNodeCount_ = countNodesDeep(graph);
  return *knownNodeCount_;
}

Status PassManager::run(Graph& graph, std::vector<PipelineStep>& steps, PassContext& context) {
  stats_.clear();
  knownNodeCount_.reset();
  depth_ = 0;
  context.progress().start("pipeline", steps.size());
  for (PipelineStep& step : steps) {
    Status status = runStep(graph, step, context);
    if (!status.isOk()) {
      context.progress().finish();
      return status;
    }
    context.progress().advance();
  }
  context.progress().finish();
  return Status::ok();
}

Status PassManager::runStep(Graph& graph, PipelineStep& step, PassContext& context) {
  using Clock = std::chrono::steady_clock;
  const std::string label = stepLabel(step);
  StepStats stats;
  stats.name = step.name;
  stats.nodesBefore = countNodes(graph);
  const auto start = Clock::now();

  if (step.group) {
    // Children are repeated until a whole round changes nothing. Their stats are merged
    // per child (summed time, changed if any round changed) and recorded before the
    // group's own entry.
    const int maxIterations = step.maxIterations > 0 ? step.maxIterations : 8;
    const size_t groupStatsIndex = stats_.size();
    std::vector<StepStats> childTotals(step.children.size());
    bool converged = false;
    int iteration = 0;
    std::vector<std::string> lastChangers;
    while (iteration < maxIterations && !converged) {
      ++iteration;
      lastChangers.clear();
      for (size_t i = 0; i < step.children.size(); ++i) {
        const size_t mark = stats_.size();
        ++depth_;
        Status childStatus = runStep(graph, step.children[i], context);
        --depth_;
        TP_RETURN_IF_ERROR(childStatus);
        // Keep the child's own entry only (a nested group also leaves its children's).
        StepStats childStats = stats_.back();
        stats_.resize(mark);
        StepStats& total = childTotals[i];
        if (iteration == 1) {
          total = childStats;
          total.iterations = 0;
        } else {
          total.seconds += childStats.seconds;
          // The child's own net effect: its first round's count plus what each later round
          // of this child added or removed (the other children's edits do not count).
          const auto net = static_cast<int64_t>(total.nodesAfter) + static_cast<int64_t>(childStats.nodesAfter) -
                           static_cast<int64_t>(childStats.nodesBefore);
          total.nodesAfter = static_cast<size_t>(std::max<int64_t>(net, 0));
          total.changed = total.changed || childStats.changed;
        }
        total.iterations += 1;
        if (childStats.changed) lastChangers.push_back(step.children[i].name);
      }
      converged = lastChangers.empty();
    }
    for (StepStats& total : childTotals) stats_.push_back(std::move(total));
    if (!converged) {
      std::string changers;
      for (const std::string& name : lastChangers) changers += (changers.empty() ? "" : ", ") + name;
      std::string where = step.where.line > 0 || !step.where.file.empty() ? " at " + step.where.toString() : std::string();
      context.diag().warn(step.name + " group" + where + " still changed the graph after " +
                          std::to_string(maxIterations) + " iterations (last changes by " + changers +
                          "); continuing with the result. Raise max_iterations if more rounds are expected to help.");
    }
    stats.iterations = iteration;
    stats.changed = false;
    for (size_t i = groupStatsIndex; i < stats_.size(); ++i) stats.changed = stats.changed || stats_[i].changed;
  } else if (step.pass != nullptr) {
    context.setOptions(step.options);
    context.resetChanged();
    Status status = callGuarded(step.pass->plugin, [&] { return step.pass->run(graph, context); });
    if (!status.isOk()) return status.withContext(label);
    stats.changed = context.changed();
  } else if (step.exporter != nullptr) {
    context.setOptions(step.options);
    context.resetChanged();
    const Graph& readOnly = graph;
    Status status = callGuarded(step.exporter->plugin, [&] { return step.exporter->run(readOnly, context); });
    if (!status.isOk()) return status.withContext(label);
  } else {
    return Status::internal(label + " was not validated before running (call validatePipeline first)");
  }

  stats.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  knownNodeCount_.reset();  // the step may have edited the graph
  stats.nodesAfter = countNodes(graph);
  // A pass that edits the graph but forgets setChanged() would otherwise end fixpoints early.
  if (step.pass != nullptr && stats.nodesAfter != stats.nodesBefore) stats.changed = true;

  // Only a step that changed the graph can have broken it (the node-count check above
  // catches passes that edit without saying so).
  using Verify = PassManagerOptions::Verify;
  const bool verifyHere = options_.verify == Verify::AfterEveryStep ||
                          (options_.verify == Verify::AfterTopLevelSteps && depth_ == 0);
  if ((step.pass != nullptr || step.group) && verifyHere && stats.changed) {
    Status verified = graph.verify();
    if (!verified.isOk()) {
      if (step.group) {
        std::string changers;
        for (const StepStats& child : std::span(stats_).last(std::min(stats_.size(), step.children.size()))) {
          if (child.changed) changers += (changers.empty() ? "" : ", ") + child.name;
        }
        return Status::internal(label + " left the IR inconsistent: a bug in one of the passes that changed it (" +
                                changers + "; rerun with --verify-each to name it; please report it): " +
                                verified.message());
      }
      return Status::internal(label + " left the IR inconsistent (a bug in pass '" + step.name + "' from plugin '" +
                              step.pass->plugin + "'; please report it): " + verified.message());
    }
  }
  if (options_.printHook && !step.group &&
      (options_.printIrAfter.count("all") > 0 || options_.printIrAfter.count(step.name) > 0)) {
    options_.printHook(step.name, graph);
  }

  context.diag().debug(label + ": " + formatSeconds(stats.seconds) + " s, nodes " + std::to_string(stats.nodesBefore) +
                       " -> " + std::to_string(stats.nodesAfter) + (stats.changed ? ", changed" : ", unchanged") +
                       (step.group ? ", " + std::to_string(stats.iterations) + " iterations" : ""));
  stats_.push_back(std::move(stats));
  return Status::ok();
}

}  // namespace torchport
