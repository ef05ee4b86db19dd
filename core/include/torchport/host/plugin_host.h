// Loads plugins with Boost.DLL and registers them, with distinct, actionable errors for
// each failure class. A failing plugin leaves nothing registered and never crashes the host.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "torchport/registry.h"
#include "torchport/status.h"

namespace torchport {

struct LoadedPlugin {
  std::string name;
  std::string version;
  std::filesystem::path path;
  std::vector<std::string> provides;  // "pass:foo", "exporter:save-onnx", "importer:onnx", ...
};

enum class PluginError : uint8_t { None, NotFound, LoadFailed, NoEntryPoint, ApiVersion, RegistrationFailed, Duplicate };

class PluginHost {
 public:
  explicit PluginHost(Registry& registry);
  ~PluginHost();
  PluginHost(const PluginHost&) = delete;
  PluginHost& operator=(const PluginHost&) = delete;

  // Loads one plugin file. A plugin whose name is already loaded is skipped (debug log)
  // when `skipIfLoaded`, else reported as a duplicate. Loading the same file again is a
  // no-op. A bare file name (`onnx`, `libtorchport_onnx.so`) not found in the current
  // directory is also looked up in the search directories below.
  Status load(const std::filesystem::path& file, bool skipIfLoaded = false);
  PluginError lastError() const { return lastError_; }

  // Search order: explicit files (--plugin, config `plugins:`), then every plugin file in
  // the directories of $TORCHPORT_PLUGIN_PATH (':'-separated), then the install plugin
  // directory. Explicit files must load; directory scans report failures but go on
  // (returned as one Status listing every failure).
  Status loadAll(const std::vector<std::filesystem::path>& explicitFiles);

  // <exe dir>/../lib/torchport/plugins (same layout in build and install trees).
  static std::filesystem::path installPluginDir();
  // Files in `dir` that look like plugins: libtorchport_*.so / *.dylib / *.dll.
  static std::vector<std::filesystem::path> pluginFilesIn(const std::filesystem::path& dir);

  const std::vector<LoadedPlugin>& plugins() const { return plugins_; }

 private:
  struct Library;
  Registry& registry_;
  // Loaded with RTLD_NODELETE: plugin code stays mapped until exit, so the Registry (whose
  // std::functions point into it) may outlive the host.
  std::vector<std::unique_ptr<Library>> libraries_;
  std::vector<LoadedPlugin> plugins_;
  PluginError lastError_ = PluginError::None;
};

}  // namespace torchport
