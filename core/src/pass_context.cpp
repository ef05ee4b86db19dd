// PassContext: what a running step sees besides the graph.
#include "torchport/registry.h"

namespace torchport {

PassContext::PassContext(const Registry& registry, Diagnostics& diagnostics, Progress& progress,
                         std::filesystem::path baseDir)
    : registry_(&registry), diagnostics_(&diagnostics), progress_(&progress), baseDir_(std::move(baseDir)) {}

std::filesystem::path PassContext::resolvePath(const std::filesystem::path& path) const {
  // Paths in a config are relative to the config file, not to the working directory, so
  // that a config runs the same from anywhere.
  if (path.empty() || path.is_absolute() || baseDir_.empty()) return path;
  return (baseDir_ / path).lexically_normal();
}

}  // namespace torchport
