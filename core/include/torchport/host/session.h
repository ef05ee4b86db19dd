// A run session: everything between "here is a pipeline config" and "here is what
// happened", shared by the CLI (`run`, `convert`, `inspect`, `passes`, `plugins`) and
// tests.
//
//   1. a Registry with core's built-in steps;
//   2. plugins: explicit ones first (`plugins:` entries of the config resolved against its
//      directory, then --plugin files), then $TORCHPORT_PLUGIN_PATH and the install's
//      plugin directory (failures there are warnings, not errors);
//   3. validation of the whole pipeline (every problem at once, with config line:column);
//      nothing is imported, run or written when anything is invalid;
//   4. import of the input through its importer, run of the steps by the PassManager, with
//      one PassContext shared by import and steps (importers leave session state, e.g. the
//      loaded TorchScript module, for later steps);
//   5. a RunReport (also as JSON via runReportToValue + toJson).
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "torchport/host/pass_manager.h"
#include "torchport/host/pipeline.h"
#include "torchport/host/plugin_host.h"
#include "torchport/ir.h"
#include "torchport/options.h"
#include "torchport/registry.h"
#include "torchport/status.h"

namespace torchport {

// A plugin file the user asked for, with where it was asked (config line, "--plugin").
struct PluginRequest {
  std::filesystem::path path;
  SourceLocation where;
};

struct SessionOptions {
  // Scan $TORCHPORT_PLUGIN_PATH and the install plugin directory after explicit plugins.
  bool scanPluginPaths = true;
  // Where log messages and progress of steps go. Null: spdlog / no progress display.
  Diagnostics* diagnostics = nullptr;
  Progress* progress = nullptr;
};

// Where a run stopped (or Done). Lets callers and tests tell "rejected before anything
// ran" from "failed while running".
enum class RunStage : uint8_t { Setup, Validate, Import, Run, Done };
std::string_view runStageName(RunStage stage);

struct RunOptions {
  // Extra explicit plugins (--plugin), loaded after the config's own `plugins:`.
  std::vector<PluginRequest> extraPlugins;
  // Overrides of the config's `input:` (CLI convenience); empty = keep.
  std::filesystem::path inputPath;
  std::string inputFormat;
  // IR printing / verification hooks of the driver. Names in printIrAfter must be steps of
  // the pipeline (or "all"); others are reported as validation errors.
  PassManagerOptions passManager;
  // Keep the final graph in RunReport::graph.
  bool keepGraph = false;
};

struct GraphSignatureEntry {
  std::string name;
  std::string type;  // textual IR type, "f32[batch,3,224,224]"
};

// A file an export step was asked to write, resolved against the config directory.
struct RunOutput {
  std::string step;
  std::filesystem::path path;
  bool written = false;  // exists after the run
  uintmax_t bytes = 0;
};

struct RunReport {
  Status status;  // ok, or every problem found (validation) / the first failure (run)
  RunStage stage = RunStage::Setup;
  std::filesystem::path configFile;
  std::filesystem::path inputPath;  // resolved
  std::string inputFormat;
  size_t nodesImported = 0;  // deep node count right after import
  size_t nodesFinal = 0;
  std::vector<GraphSignatureEntry> graphInputs, graphOutputs;  // of the final graph
  std::vector<StepStats> steps;
  std::vector<RunOutput> outputs;
  std::map<std::string, OptionValue, std::less<>> entries;  // PassContext::report(...)
  std::vector<LoadedPlugin> plugins;
  std::vector<std::string> warnings;  // e.g. plugins in the search path that failed to load
  double seconds = 0.0;               // import + steps
  std::shared_ptr<Graph> graph;       // final graph when RunOptions::keepGraph
};

class Session {
 public:
  explicit Session(SessionOptions options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Loads `explicitPlugins` in order (each must load; failures are collected, each naming
  // its request location), then scans the search path (failures become warnings()).
  // Returns every explicit failure in one Status. Call once, before using the registry.
  Status loadPlugins(std::span<const PluginRequest> explicitPlugins);

  Registry& registry() { return *registry_; }
  const Registry& registry() const { return *registry_; }
  const std::vector<LoadedPlugin>& plugins() const;
  const std::vector<std::string>& warnings() const { return warnings_; }
  // Problem registering core's own steps (a bug), checked by every entry point.
  const Status& setupStatus() const { return setupStatus_; }

  // Imports one file (format sniffed from content when `format` is empty) with the
  // importer's default options. Relative paths resolve against the current directory.
  // `formatUsed` receives the importer's format name.
  Expected<std::unique_ptr<Graph>> importFile(const std::filesystem::path& path, std::string_view format = {},
                                              std::string* formatUsed = nullptr);

  // Validates and runs `config` (plugins must have been loaded; config.plugins are NOT
  // loaded here, see runPipeline). `pluginErrors` (from loadPlugins) is reported together
  // with validation errors so that the user sees every problem at once.
  RunReport run(PipelineConfig config, const RunOptions& options, const Status& pluginErrors = Status::ok());

 private:
  SessionOptions options_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<PluginHost> host_;
  std::unique_ptr<Diagnostics> ownedDiagnostics_;
  std::unique_ptr<Progress> ownedProgress_;
  Status setupStatus_;
  std::vector<std::string> warnings_;
  bool pluginsLoaded_ = false;
};

// Explicit plugin requests of a config: its `plugins:` entries resolved against baseDir.
std::vector<PluginRequest> configPluginRequests(const PipelineConfig& config);

// The whole thing: a Session, config plugins + options.extraPlugins + search path,
// validation, import, run. `sessionOptions` controls plugin scanning and diagnostics.
RunReport runPipeline(PipelineConfig config, const RunOptions& options, const SessionOptions& sessionOptions = {});

// The report as a value tree for toJson (host/json.h). Keys are snake_case:
//   {ok, stage, error: {kind, exit_code, message}?, config, input: {path, format, nodes},
//    output: {nodes, inputs: [{name, type}], outputs: [...]}, steps: [{name, seconds,
//    nodes_before, nodes_after, changed, iterations}], outputs: [{step, path, written,
//    bytes}], report: {...}, plugins: [{name, version, path}], warnings: [...], seconds}
OptionValue runReportToValue(const RunReport& report);

// Exit code for a status (0 for ok): the ErrorKind's value, see status.h.
int exitCodeFor(const Status& status);

}  // namespace torchport
