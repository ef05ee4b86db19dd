// What plugins register and what passes see while they run: pass metadata, PassContext,
// importers (with content sniffers), exporters, op converters, constant-folding kernels.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "torchport/ir.h"
#include "torchport/options.h"
#include "torchport/status.h"

namespace torchport {

class Registry;

// ---------------------------------------------------------------------------------------
// Diagnostics and progress, as seen by passes (the host routes them to spdlog / a TTY).
// ---------------------------------------------------------------------------------------
enum class LogLevel : uint8_t { Trace, Debug, Info, Warn, Error, Off };

class Diagnostics {
 public:
  virtual ~Diagnostics() = default;
  virtual void log(LogLevel level, std::string_view message) = 0;
  void debug(std::string_view m) { log(LogLevel::Debug, m); }
  void info(std::string_view m) { log(LogLevel::Info, m); }
  void warn(std::string_view m) { log(LogLevel::Warn, m); }
};

// Progress of one long step. Draws on a terminal, silent otherwise (host decides).
class Progress {
 public:
  virtual ~Progress() = default;
  virtual void start(std::string_view task, size_t total) = 0;
  virtual void advance(size_t steps = 1) = 0;
  virtual void finish() = 0;
};

// ---------------------------------------------------------------------------------------
// PassContext: everything a running step may touch besides the graph.
// ---------------------------------------------------------------------------------------
class PassContext {
 public:
  PassContext(const Registry& registry, Diagnostics& diagnostics, Progress& progress,
              std::filesystem::path baseDir = {});

  const Registry& registry() const { return *registry_; }
  Diagnostics& diag() { return *diagnostics_; }
  Progress& progress() { return *progress_; }

  // Options of the step being run (validated, defaults filled in).
  const Options& options() const { return options_; }
  void setOptions(Options options) { options_ = std::move(options); }

  // A pass that modified the graph says so; the driver uses it for fixpoints and stats.
  void setChanged(bool changed = true) { changed_ = changed_ || changed; }
  bool changed() const { return changed_; }
  void resetChanged() { changed_ = false; }

  // Relative paths in step options resolve against the config file's directory.
  std::filesystem::path resolvePath(const std::filesystem::path& path) const;
  const std::filesystem::path& baseDir() const { return baseDir_; }

  // Session state shared between steps of one run (e.g. the loaded TorchScript module
  // that save-torchscript and verify need). Keys are namespaced by plugin: "torchscript.module".
  void setState(std::string key, std::shared_ptr<void> value) { state_[std::move(key)] = std::move(value); }
  template <class T>
  std::shared_ptr<T> state(std::string_view key) const {
    auto it = state_.find(key);
    return it == state_.end() ? nullptr : std::static_pointer_cast<T>(it->second);
  }

  // Machine-readable facts for the JSON report ("onnx.opset": 17, "files": [...]).
  void report(std::string key, OptionValue value) { report_[std::move(key)] = std::move(value); }
  const std::map<std::string, OptionValue, std::less<>>& reportEntries() const { return report_; }

 private:
  const Registry* registry_;
  Diagnostics* diagnostics_;
  Progress* progress_;
  std::filesystem::path baseDir_;
  Options options_;
  bool changed_ = false;
  std::map<std::string, std::shared_ptr<void>, std::less<>> state_;
  std::map<std::string, OptionValue, std::less<>> report_;
};

// ---------------------------------------------------------------------------------------
// Passes
// ---------------------------------------------------------------------------------------
enum class StepKind : uint8_t { Transform, Export, Verify };

struct PassInfo {
  std::string name;         // registry name, kebab-case: "fuse-conv-batchnorm"
  std::string summary;      // one line
  std::string description;  // longer docs: Before/After, safety conditions
  std::vector<OptionSpec> options;
  StepKind kind = StepKind::Transform;
};

using PassFn = std::function<Status(Graph&, PassContext&)>;
// Extra validation of option values that specs cannot express; runs before anything runs.
using OptionsValidateFn = std::function<Status(const Options&)>;

struct PassEntry {
  PassInfo info;
  PassFn run;
  OptionsValidateFn validate;  // may be empty
  std::string plugin;          // who registered it ("core" for built-ins)
};

// ---------------------------------------------------------------------------------------
// Importers: turn a file into a Graph. `sniff` looks at the first bytes (up to 4 KiB) and
// the path and returns a confidence: 0 = not mine, 50 = extension only, 100 = magic bytes.
// ---------------------------------------------------------------------------------------
struct ImporterInfo {
  std::string format;   // "torchscript", "onnx", "tpir"
  std::string summary;
  std::vector<std::string> extensions;  // ".pt", ".onnx"
  std::vector<OptionSpec> options;      // keys allowed in `input:` besides path/format
};
using SniffFn = std::function<int(std::span<const std::byte> head, const std::filesystem::path& path)>;
using ImportFn = std::function<Expected<std::unique_ptr<Graph>>(const std::filesystem::path& path, PassContext&)>;

struct ImporterEntry {
  ImporterInfo info;
  SniffFn sniff;
  ImportFn import;
  OptionsValidateFn validate;
  std::string plugin;
};

// Exporters are pipeline steps (`save-onnx: {path: ...}`) that write the graph.
struct ExporterEntry {
  PassInfo info;  // kind == StepKind::Export; options must include `path`
  std::string format;
  std::vector<std::string> extensions;
  std::function<Status(const Graph&, PassContext&)> run;
  OptionsValidateFn validate;
  std::string plugin;
};

// ---------------------------------------------------------------------------------------
// Op converters (lowering one dialect to another, e.g. aten -> onnx). A converter
// replaces one node: it emits new nodes before it and maps each old output to a new value.
// ---------------------------------------------------------------------------------------
class ConversionContext {
 public:
  ConversionContext(Graph& graph, Node& node, int targetVersion, const Options& options)
      : graph_(graph), node_(node), targetVersion_(targetVersion), options_(options) {}

  Graph& graph() { return graph_; }
  Node& node() { return node_; }
  int targetVersion() const { return targetVersion_; }  // e.g. ONNX opset
  const Options& options() const { return options_; }

  // New node before the converted one, inheriting its provenance.
  Node* emit(std::string_view kind, std::span<Value* const> inputs, size_t numOutputs = 1);
  Node* emit(std::string_view kind, std::initializer_list<Value*> inputs, size_t numOutputs = 1) {
    std::vector<Value*> v(inputs);
    return emit(kind, std::span<Value* const>(v), numOutputs);
  }
  Value* constant(Tensor tensor);
  // The converted node's output `index` is now `value`.
  void mapOutput(size_t index, Value* value);
  Value* mappedOutput(size_t index) const;
  const std::vector<Value*>& outputMap() const { return outputs_; }

  // Error helpers naming the node and its provenance.
  Status unsupported(std::string_view why) const;
  Status invalid(std::string_view why) const;

 private:
  Graph& graph_;
  Node& node_;
  int targetVersion_;
  const Options& options_;
  std::vector<Value*> outputs_;
};

using ConvertFn = std::function<Status(ConversionContext&)>;

struct ConverterEntry {
  std::string opKind;   // source op, "aten::conv2d"
  std::string target;   // target dialect, "onnx"
  int minVersion = 0;   // inclusive target version range (ONNX opsets)
  int maxVersion = 1 << 30;
  std::string summary;
  ConvertFn convert;
  std::string plugin;
};

// ---------------------------------------------------------------------------------------
// Kernels: evaluate an op on constant inputs (used by fold-constants). `opKind` is exact
// ("onnx::Shape") or a domain wildcard ("aten::*") for generic evaluators.
// ---------------------------------------------------------------------------------------
using KernelFn = std::function<Expected<std::vector<Tensor>>(const Node&, std::span<const Tensor>)>;

struct KernelEntry {
  std::string opKind;
  std::string summary;
  KernelFn evaluate;
  std::string plugin;
};

// ---------------------------------------------------------------------------------------
// The registry. Names are unique per category; a duplicate is an error that names the
// plugin that registered the name first.
// ---------------------------------------------------------------------------------------
class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Status addPass(PassInfo info, PassFn run, OptionsValidateFn validate = {});
  Status addImporter(ImporterInfo info, SniffFn sniff, ImportFn import, OptionsValidateFn validate = {});
  Status addExporter(PassInfo info, std::string format, std::vector<std::string> extensions,
                     std::function<Status(const Graph&, PassContext&)> run, OptionsValidateFn validate = {});
  Status addConverter(ConverterEntry entry);
  Status addKernel(KernelEntry entry);

  const PassEntry* findPass(std::string_view name) const;
  const ExporterEntry* findExporter(std::string_view name) const;
  const ExporterEntry* findExporterForPath(const std::filesystem::path& path) const;
  const ImporterEntry* findImporter(std::string_view format) const;
  // Best sniffer match for a file; nullptr if no importer claims it.
  const ImporterEntry* sniffImporter(std::span<const std::byte> head, const std::filesystem::path& path) const;
  // Converter for `opKind` to `target` at `version`, or nullptr.
  const ConverterEntry* findConverter(std::string_view opKind, std::string_view target, int version) const;
  std::vector<const ConverterEntry*> converters(std::string_view target) const;
  const KernelEntry* findKernel(std::string_view opKind) const;

  std::vector<const PassEntry*> passes() const;        // sorted by name
  std::vector<const ExporterEntry*> exporters() const;
  std::vector<const ImporterEntry*> importers() const;
  std::vector<const KernelEntry*> kernels() const;
  // Every known step name (passes + exporters), for "did you mean".
  std::vector<std::string> stepNames() const;

  // Registrations are attributed to the current owner (a plugin name, or "core").
  void setCurrentOwner(std::string owner);
  const std::string& currentOwner() const;
  // Transactions so that a plugin failing half-way leaves nothing registered.
  void beginTransaction();
  void commitTransaction();
  void rollbackTransaction();
  // Errors that add* calls returned since the outermost beginTransaction() (cleared by
  // begin/commit/rollback of it), so that the plugin host reports a registration failure
  // even when the plugin ignored the Status and reported success.
  const std::vector<Status>& transactionErrors() const;
  // Names each owner added, for `torchport plugins`.
  std::vector<std::string> namesOwnedBy(std::string_view owner) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace torchport
