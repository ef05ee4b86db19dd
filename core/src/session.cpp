// Run session: registry + plugins + validation + import + pass manager + report.
// See torchport/host/session.h for the order of things and why.
#include "torchport/host/session.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "torchport/files.h"
#include "torchport/host/core_steps.h"
#include "torchport/host/diagnostics.h"
#include "torchport/host/json.h"

namespace torchport {
namespace fs = std::filesystem;

namespace {

// Accumulates problems so that the user sees all of them in one message. The kind of the
// combined status is the kind of the first problem (the most fundamental one: plugin and
// config problems are collected before anything that depends on them).
class ProblemList {
 public:
  void add(const Status& status) {
    if (status.isOk()) return;
    if (kind_ == ErrorKind::Ok) kind_ = status.kind();
    messages_.push_back(status.message());
  }
  bool empty() const { return messages_.empty(); }
  Status toStatus() const {
    if (messages_.empty()) return Status::ok();
    std::string joined;
    for (const std::string& m : messages_) {
      if (!joined.empty()) joined += '\n';
      joined += m;
    }
    return Status::error(kind_, std::move(joined));
  }

 private:
  ErrorKind kind_ = ErrorKind::Ok;
  std::vector<std::string> messages_;
};

fs::path absoluteOrSame(const fs::path& path) {
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec);
  return ec ? path : absolute.lexically_normal();
}

// Every step name in the pipeline, fixpoint children included.
void collectStepNames(const std::vector<PipelineStep>& steps, std::vector<std::string>& names) {
  for (const PipelineStep& step : steps) {
    names.push_back(step.name);
    collectStepNames(step.children, names);
  }
}

void collectExportSteps(const std::vector<PipelineStep>& steps, std::vector<const PipelineStep*>& out) {
  for (const PipelineStep& step : steps) {
    if (step.exporter != nullptr) out.push_back(&step);
    collectExportSteps(step.children, out);
  }
}

std::string joinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

// --print-ir-after names that are not steps of this pipeline would silently print
// nothing; say so before running instead.
Status checkPrintIrAfter(const PassManagerOptions& options, const std::vector<PipelineStep>& steps) {
  std::vector<std::string> names;
  collectStepNames(steps, names);
  ProblemList problems;
  for (const std::string& wanted : options.printIrAfter) {
    if (wanted == "all") continue;
    if (std::find(names.begin(), names.end(), wanted) != names.end()) continue;
    problems.add(Status::usage("--print-ir-after " + wanted + ": the pipeline has no step named '" + wanted +
                               "' (its steps: " + (names.empty() ? std::string("none") : joinNames(names)) +
                               "); use one of them or 'all'"));
  }
  return problems.toStatus();
}

// Keeps `raw` (the `input:` map as written) consistent with an overridden key, so that
// anything reading the map sees the same value as the InputSpec fields.
void setRawInputKey(OptionValue& raw, const std::string& key, const std::string& value) {
  if (!raw.isMap()) raw = json::map();
  for (auto& [k, v] : raw.asMap()) {
    if (k == key) {
      v = json::string(value);
      return;
    }
  }
  raw.asMap().emplace_back(key, json::string(value));
}

std::vector<GraphSignatureEntry> signatureOf(std::span<Value* const> values) {
  std::vector<GraphSignatureEntry> entries;
  entries.reserve(values.size());
  for (const Value* value : values) entries.push_back({value->name(), value->type().toString()});
  return entries;
}

struct FileState {
  bool exists = false;
  fs::file_time_type modified{};
  uintmax_t bytes = 0;
};

FileState fileState(const fs::path& path) {
  FileState state;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return state;
  state.exists = true;
  state.modified = fs::last_write_time(path, ec);
  state.bytes = fs::file_size(path, ec);
  if (ec) state.bytes = 0;
  return state;
}

}  // namespace

std::string_view runStageName(RunStage stage) {
  switch (stage) {
    case RunStage::Setup: return "setup";
    case RunStage::Validate: return "validate";
    case RunStage::Import: return "import";
    case RunStage::Run: return "run";
    case RunStage::Done: return "done";
  }
  return "?";
}

int exitCodeFor(const Status& status) { return static_cast<int>(status.kind()); }

Session::Session(SessionOptions options)
    : options_(options), registry_(std::make_unique<Registry>()), host_(std::make_unique<PluginHost>(*registry_)) {
  if (options_.diagnostics == nullptr) {
    ownedDiagnostics_ = std::make_unique<SpdlogDiagnostics>();
    options_.diagnostics = ownedDiagnostics_.get();
  }
  if (options_.progress == nullptr) {
    ownedProgress_ = std::make_unique<NullProgress>();
    options_.progress = ownedProgress_.get();
  }
  registry_->setCurrentOwner("core");
  Status status = registerCoreSteps(*registry_);
  if (!status.isOk()) {
    setupStatus_ = Status::internal("registering core's built-in steps failed: " + status.message() +
                                    " (this is a bug in torchport; please report it)");
  }
}

Session::~Session() = default;

const std::vector<LoadedPlugin>& Session::plugins() const { return host_->plugins(); }

Status Session::loadPlugins(std::span<const PluginRequest> explicitPlugins) {
  if (pluginsLoaded_) return Status::internal("Session::loadPlugins called twice");
  pluginsLoaded_ = true;
  ProblemList problems;
  std::set<std::string> requested;  // the same file named twice (config and --plugin) loads once
  for (const PluginRequest& request : explicitPlugins) {
    // A bare name ("onnx", "libtorchport_onnx.so") is looked up in the search path by the
    // host; anything with a directory part is a file path.
    const fs::path path = request.path.has_parent_path() ? absoluteOrSame(request.path) : request.path;
    if (!requested.insert(path.string()).second) continue;
    Status status = host_->load(path, /*skipIfLoaded=*/false);
    if (!status.isOk()) {
      const std::string where = request.where.toString();
      problems.add(where.empty() ? status : status.withContext(where));
    }
  }
  if (options_.scanPluginPaths) {
    // Failures in the search path do not stop a run that may not need that plugin; they
    // are shown as warnings (and in the JSON report).
    Status status = host_->loadAll({});
    if (!status.isOk()) {
      warnings_.push_back(status.message());
      options_.diagnostics->warn(status.message());
    }
  }
  return problems.toStatus();
}

Expected<std::unique_ptr<Graph>> Session::importFile(const fs::path& path, std::string_view format,
                                                     std::string* formatUsed) {
  TP_RETURN_IF_ERROR(setupStatus_);
  const fs::path resolved = absoluteOrSame(path);
  std::error_code ec;
  if (!fs::exists(resolved, ec)) {
    return Status::input("input file '" + path.string() + "' does not exist (looked at '" + resolved.string() +
                         "'); check the path");
  }
  const ImporterEntry* importer = nullptr;
  if (!format.empty()) {
    importer = registry_->findImporter(format);
    if (importer == nullptr) {
      std::vector<std::string> known;
      for (const ImporterEntry* entry : registry_->importers()) known.push_back(entry->info.format);
      return Status::usage("unknown input format '" + std::string(format) + "' for '" + path.string() +
                           "' (known formats: " + joinNames(known) + "); load the plugin that provides it");
    }
  } else {
    TP_ASSIGN_OR_RETURN(std::vector<std::byte> head, readFileHead(resolved));
    importer = registry_->sniffImporter(head, resolved);
    if (importer == nullptr) {
      std::vector<std::string> known;
      for (const ImporterEntry* entry : registry_->importers()) {
        std::string description = entry->info.format;
        if (!entry->info.extensions.empty()) {
          description += " (";
          for (size_t i = 0; i < entry->info.extensions.size(); ++i) {
            description += (i > 0 ? " " : "") + entry->info.extensions[i];
          }
          description += ")";
        }
        known.push_back(std::move(description));
      }
      return Status::unsupported("no importer recognises '" + path.string() + "' (known formats: " +
                                 joinNames(known) +
                                 "); pass the format explicitly or load the plugin that reads it");
    }
  }
  if (formatUsed != nullptr) *formatUsed = importer->info.format;
  TP_ASSIGN_OR_RETURN(Options importerOptions,
                      validateOptions(importer->info.format, importer->info.options, json::map()));
  PassContext context(*registry_, *options_.diagnostics, *options_.progress, fs::current_path(ec));
  context.setOptions(std::move(importerOptions));
  return importer->import(resolved, context);
}

RunReport Session::run(PipelineConfig config, const RunOptions& options, const Status& pluginErrors) {
  using Clock = std::chrono::steady_clock;
  RunReport report;
  report.configFile = config.file;
  report.plugins = host_->plugins();
  report.warnings = warnings_;
  if (!setupStatus_.isOk()) {
    report.status = setupStatus_;
    return report;
  }

  // ---- validate everything before touching the input or any output ----
  report.stage = RunStage::Validate;
  if (!options.inputPath.empty()) {
    config.hasInput = true;
    config.input.path = options.inputPath;
    setRawInputKey(config.input.raw, "path", options.inputPath.string());
  }
  if (!options.inputFormat.empty()) {
    config.input.format = options.inputFormat;
    setRawInputKey(config.input.raw, "format", options.inputFormat);
  }

  ProblemList problems;
  problems.add(pluginErrors);
  const std::string configName = config.file.empty() ? std::string("<pipeline>") : config.file.string();
  if (!config.hasInput) {
    problems.add(Status::input(configName + ": the config has no `input:`; add one, e.g. `input: {path: model.pt}`"));
  }
  problems.add(validatePipeline(config, *registry_));
  problems.add(checkPrintIrAfter(options.passManager, config.steps));

  PassContext context(*registry_, *options_.diagnostics, *options_.progress, config.baseDir);
  const fs::path inputPath = absoluteOrSame(context.resolvePath(config.input.path));
  report.inputPath = inputPath;
  // validatePipeline reports a missing or unrecognised input file; this only guards the
  // invariant the import below relies on.
  if (config.hasInput && problems.empty() && config.input.importer == nullptr) {
    problems.add(Status::unsupported(configName + ": no importer recognises '" + config.input.path.string() +
                                     "'; set `input: format:` or load the plugin that reads it"));
  }
  if (!problems.empty()) {
    report.status = problems.toStatus();
    return report;
  }
  report.inputFormat = config.input.importer->info.format;

  // ---- import ----
  report.stage = RunStage::Import;
  const auto started = Clock::now();
  context.setOptions(config.input.options);
  auto imported = config.input.importer->import(inputPath, context);
  if (!imported.hasValue()) {
    const Status& status = imported.status();
    report.status = status.message().find(inputPath.filename().string()) == std::string::npos
                        ? status.withContext("importing '" + inputPath.string() + "' (" + report.inputFormat + ")")
                        : status;
    report.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    return report;
  }
  std::shared_ptr<Graph> graph = std::move(imported).value();
  if (Status verified = graph->verify(); !verified.isOk()) {
    report.status = Status::internal("the " + report.inputFormat + " importer (plugin '" +
                                     config.input.importer->plugin + "') produced an invalid graph from '" +
                                     inputPath.string() + "': " + verified.message() +
                                     " (this is a bug in that importer)");
    return report;
  }
  report.nodesImported = countNodesDeep(*graph);

  // ---- run ----
  report.stage = RunStage::Run;
  std::vector<const PipelineStep*> exportSteps;
  collectExportSteps(config.steps, exportSteps);
  std::vector<FileState> before;
  for (const PipelineStep* step : exportSteps) {
    RunOutput output;
    output.step = step->name;
    output.path = absoluteOrSame(context.resolvePath(step->options.getString("path")));
    before.push_back(fileState(output.path));
    report.outputs.push_back(std::move(output));
  }

  PassManager manager(options.passManager);
  report.status = manager.run(*graph, config.steps, context);
  report.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  report.steps = manager.stats();
  report.entries = context.reportEntries();
  for (size_t i = 0; i < report.outputs.size(); ++i) {
    const FileState after = fileState(report.outputs[i].path);
    report.outputs[i].written = after.exists && (!before[i].exists || after.modified != before[i].modified ||
                                                 after.bytes != before[i].bytes);
    report.outputs[i].bytes = after.exists ? after.bytes : 0;
  }
  report.nodesFinal = countNodesDeep(*graph);
  report.graphInputs = signatureOf(graph->inputs());
  report.graphOutputs = signatureOf(graph->outputs());
  if (report.status.isOk()) report.stage = RunStage::Done;
  if (options.keepGraph) report.graph = std::move(graph);
  return report;
}

std::vector<PluginRequest> configPluginRequests(const PipelineConfig& config) {
  std::vector<PluginRequest> requests;
  for (const auto& [file, where] : config.plugins) {
    fs::path path(file);
    if (path.is_relative() && !config.baseDir.empty()) {
      // "dir/x.so" is relative to the config; a bare name is too if such a file is next to
      // the config, else the host looks it up in the plugin search path.
      std::error_code ec;
      if (path.has_parent_path() || fs::exists(config.baseDir / path, ec)) path = config.baseDir / path;
    }
    requests.push_back({path, where});
  }
  return requests;
}

RunReport runPipeline(PipelineConfig config, const RunOptions& options, const SessionOptions& sessionOptions) {
  Session session(sessionOptions);
  std::vector<PluginRequest> requests = configPluginRequests(config);
  requests.insert(requests.end(), options.extraPlugins.begin(), options.extraPlugins.end());
  const Status pluginErrors = session.loadPlugins(requests);
  return session.run(std::move(config), options, pluginErrors);
}

OptionValue runReportToValue(const RunReport& report) {
  using json::boolean;
  using json::integer;
  using json::list;
  using json::map;
  using json::number;
  using json::string;
  const auto count = [](size_t n) { return integer(static_cast<int64_t>(n)); };

  OptionValue::Map root;
  root.emplace_back("ok", boolean(report.status.isOk()));
  root.emplace_back("stage", string(std::string(runStageName(report.stage))));
  if (!report.status.isOk()) {
    root.emplace_back("error", map({{"kind", string(std::string(errorKindName(report.status.kind())))},
                                    {"exit_code", integer(exitCodeFor(report.status))},
                                    {"message", string(report.status.message())}}));
  }
  root.emplace_back("config", report.configFile.empty() ? json::null() : string(report.configFile.string()));
  root.emplace_back("input", map({{"path", string(report.inputPath.string())},
                                  {"format", string(report.inputFormat)},
                                  {"nodes", count(report.nodesImported)}}));

  const auto signature = [&](const std::vector<GraphSignatureEntry>& entries) {
    OptionValue::List values;
    for (const auto& entry : entries) {
      values.push_back(map({{"name", string(entry.name)}, {"type", string(entry.type)}}));
    }
    return list(std::move(values));
  };
  root.emplace_back("graph", map({{"nodes", count(report.nodesFinal)},
                                  {"inputs", signature(report.graphInputs)},
                                  {"outputs", signature(report.graphOutputs)}}));

  OptionValue::List steps;
  for (const StepStats& step : report.steps) {
    steps.push_back(map({{"name", string(step.name)},
                         {"seconds", number(step.seconds)},
                         {"nodes_before", count(step.nodesBefore)},
                         {"nodes_after", count(step.nodesAfter)},
                         {"changed", boolean(step.changed)},
                         {"iterations", integer(step.iterations)}}));
  }
  root.emplace_back("steps", list(std::move(steps)));

  OptionValue::List outputs;
  for (const RunOutput& output : report.outputs) {
    outputs.push_back(map({{"step", string(output.step)},
                           {"path", string(output.path.string())},
                           {"written", boolean(output.written)},
                           {"bytes", integer(static_cast<int64_t>(output.bytes))}}));
  }
  root.emplace_back("outputs", list(std::move(outputs)));

  OptionValue::Map entries;
  for (const auto& [key, value] : report.entries) entries.emplace_back(key, value);
  root.emplace_back("report", map(std::move(entries)));

  OptionValue::List plugins;
  for (const LoadedPlugin& plugin : report.plugins) {
    plugins.push_back(map({{"name", string(plugin.name)},
                           {"version", string(plugin.version)},
                           {"path", string(plugin.path.string())}}));
  }
  root.emplace_back("plugins", list(std::move(plugins)));

  OptionValue::List warnings;
  for (const std::string& warning : report.warnings) warnings.push_back(string(warning));
  root.emplace_back("warnings", list(std::move(warnings)));
  root.emplace_back("seconds", number(report.seconds));
  return map(std::move(root));
}

}  // namespace torchport
