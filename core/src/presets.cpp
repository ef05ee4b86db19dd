// The `optimize{level}` preset. Levels only ever add passes, so raising the level never
// undoes an earlier level's work; each list runs as one fixpoint group because fusions
// expose folding opportunities and folding exposes dead code.
#include "torchport/host/presets.h"

#include <array>

namespace torchport {
namespace {

// Index = level. Level 1 is cleanup only (no arithmetic changes); level 2 also folds
// constants, fuses conv+bn and matmul+add, and merges duplicates (float results can differ
// in the last bits from the unfused graph, as with any BN folding).
constexpr std::array<std::string_view, kMaxOptimizeLevel + 1> kLevels = {
    "",
    "eliminate-identity,eliminate-dead-code",
    "fold-constants,eliminate-identity,fuse-conv-batchnorm,fuse-matmul-add-into-gemm,"
    "eliminate-common-subexpressions,eliminate-dead-code",
};

}  // namespace

std::string optimizePresetSteps(int level) {
  if (level < 0 || level > kMaxOptimizeLevel) return {};
  return std::string(kLevels[static_cast<size_t>(level)]);
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
      std::string steps = optimizePresetSteps(level);
      p.description += "  " + std::to_string(level) + ": " + (steps.empty() ? std::string("(nothing)") : steps) + "\n";
    }
    p.description +=
        "Level 1 never changes numerics. Level 2 folds constants and fuses conv+batchnorm and\n"
        "matmul+add into gemm, which changes float results within rounding. Passes that only\n"
        "understand the ONNX dialect (the fusions) do nothing before lower-to-onnx, so place the\n"
        "preset after it.";
    OptionSpec level;
    level.name = "level";
    level.type = OptionType::Int;
    level.defaultValue = OptionValue(int64_t{kDefaultOptimizeLevel});
    level.doc = "0 = nothing, 1 = cleanup, 2 = cleanup + folding + fusions";
    level.minInt = 0;
    level.maxInt = kMaxOptimizeLevel;
    p.options.push_back(std::move(level));
    p.kind = StepKind::Transform;
    return p;
  }();
  return info;
}

}  // namespace torchport
