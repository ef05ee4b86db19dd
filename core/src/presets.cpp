// The `optimize{level}` preset. Levels only ever add passes, so raising the level never
// undoes an earlier level's work; each list runs as one fixpoint group because fusions
// expose folding opportunities and folding exposes dead code.
#include "torchport/host/presets.h"

#include <string>

namespace torchport {
namespace {

// Level 1 is cleanup only (no arithmetic changes); level 2 also folds
// constants and fuses (float results can differ in the last bits from the unfused graph, as
// with any batch-norm folding); level 3 adds symbolic shape inference, which types every
// value (written as value_info) and lets fold-constants fold shape arithmetic on known dims.
// Order inside a level: cleanups that expose patterns first, fusions, then merging and dead
// code; the group repeats, so a fusion that exposes another is picked up the next round.
constexpr std::string_view kLevel2 =
    "fold-constants,eliminate-identity,fuse-consecutive-transposes,fuse-consecutive-reshapes,"
    "fuse-consecutive-casts,fuse-pad-into-conv,fuse-pad-into-pool,fuse-conv-batchnorm,fuse-conv-add-bias,"
    "fuse-matmul-add-into-gemm,fuse-layer-norm,fuse-gelu,eliminate-common-subexpressions,eliminate-dead-code";

constexpr std::string_view kLevel1 = "eliminate-identity,eliminate-dead-code";
constexpr std::string_view kLevel3Prefix = "infer-shapes,";

}  // namespace

std::string optimizePresetSteps(int level) {
  switch (level) {
    case 1: return std::string(kLevel1);
    case 2: return std::string(kLevel2);
    case 3: return std::string(kLevel3Prefix) + std::string(kLevel2);
    default: return {};
  }
}

const PassInfo& optimizePresetInfo() {
  static const PassInfo info = [] {
    PassInfo p;
    p.name = std::string(kOptimizePreset);
    p.summary = "Preset: the standard graph optimizations for a level (0 = none .. " +
                std::to_string(kMaxOptimizeLevel) + "); `torchport convert` uses level " +
                std::to_string(kDefaultOptimizeLevel);
    p.description =
        "Pipeline construct, not a registered step: expands before the run into a group of registered\n"
        "passes repeated until none changes the graph (at most " + std::to_string(kOptimizePresetIterations) +
        " rounds), so --stats and\n--print-ir-after report every pass by its own name.\n"
        "In pipeline text: optimize{level=2}; in YAML: `- optimize: {level: 2}`.\n"
        "Levels:\n";
    for (int level = 0; level <= kMaxOptimizeLevel; ++level) {
      std::string steps;  // ", "-separated so that `torchport passes` can wrap the line
      for (char c : optimizePresetSteps(level)) steps += c == ',' ? std::string(", ") : std::string(1, c);
      p.description += "  " + std::to_string(level) + ": " + (steps.empty() ? std::string("(nothing)") : steps) + "\n";
    }
    p.description +=
        "Level 1 never changes numerics. Level 2 folds constants and fuses (conv+batchnorm, conv+bias,\n"
        "matmul+add into gemm, pads into conv/pool, transposes/reshapes/exact casts, layer norm from\n"
        "opset 17, gelu from opset 20), which changes float results within rounding. Level 3 also runs\n"
        "infer-shapes each round (symbolic shapes on every value, written as value_info; more shape\n"
        "arithmetic folds). Opset-dependent fusions read the opset lower-to-onnx used. Passes that only\n"
        "understand the ONNX dialect do nothing before lower-to-onnx, so place the preset after it.";
    OptionSpec level;
    level.name = "level";
    level.type = OptionType::Int;
    level.defaultValue = OptionValue(int64_t{kDefaultOptimizeLevel});
    level.doc = "0 = nothing, 1 = cleanup, 2 = cleanup + folding + fusions, 3 = 2 + symbolic shape inference";
    level.minInt = 0;
    level.maxInt = kMaxOptimizeLevel;
    p.options.push_back(std::move(level));
    p.kind = StepKind::Transform;
    return p;
  }();
  return info;
}

}  // namespace torchport
