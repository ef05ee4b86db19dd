// Named pass presets: `optimize{level=N}` expands, at validation time, into a documented
// fixpoint group of registered passes, so --stats and --print-ir-after still see every pass.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "torchport/registry.h"

namespace torchport {

inline constexpr std::string_view kOptimizePreset = "optimize";
inline constexpr int kDefaultOptimizeLevel = 2;
inline constexpr int kMaxOptimizeLevel = 3;
inline constexpr int kOptimizePresetIterations = 4;

// The step list (pipeline text) a level expands to, run as a fixpoint group ("" for level 0).
std::string optimizePresetSteps(int level);

// `torchport passes optimize` documentation, with every level's expansion.
const PassInfo& optimizePresetInfo();

}  // namespace torchport
