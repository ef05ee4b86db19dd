// Validates a parsed pipeline against the registry before anything runs: step names,
// option specs, the steps' own validate hooks, fixpoint groups, and the input importer.
// Every problem is collected so that the user fixes the whole config in one go.
#include <exception>
#include <system_error>

#include "config_internal.h"
#include "torchport/files.h"
#include "torchport/host/pipeline.h"
#include "torchport/host/presets.h"

namespace torchport {

namespace {

constexpr int kDefaultFixpointIterations = 8;

const std::vector<OptionSpec>& fixpointSpecs() {
  static const std::vector<OptionSpec> specs = [] {
    OptionSpec maxIterations;
    maxIterations.name = "max_iterations";
    maxIterations.type = OptionType::Int;
    maxIterations.defaultValue = OptionValue(int64_t{kDefaultFixpointIterations});
    maxIterations.doc = "upper bound on rounds over the group's steps";
    maxIterations.minInt = 1;
    maxIterations.maxInt = 100000;
    return std::vector<OptionSpec>{maxIterations};
  }();
  return specs;
}

std::string prefix(const SourceLocation& where) { return detail::locationPrefix(where); }

const SourceLocation& optionsLocation(const PipelineStep& step) {
  return detail::knownOr(step.rawOptions.where(), step.where);
}

// Runs a plugin-provided validate hook; plugins are foreign code, so exceptions are
// contained and reported like any other problem.
void runValidateHook(const OptionsValidateFn& hook, const Options& options, const std::string& subjectPrefix,
                     std::vector<std::string>& problems) {
  if (!hook) return;
  Status status;
  try {
    status = hook(options);
  } catch (const std::exception& error) {
    status = Status::internal(std::string("its option check threw an exception: ") + error.what());
  } catch (...) {
    status = Status::internal("its option check threw an unknown exception");
  }
  if (!status.isOk()) problems.push_back(subjectPrefix + status.message());
}

void validateStepsInto(std::vector<PipelineStep>& steps, const Registry& registry, std::vector<std::string>& problems);

// `optimize{level}` becomes a group of the level's passes, each located at the preset's own
// line so that problems (e.g. a pass missing from the registry) point at what the user wrote.
void expandOptimizePreset(PipelineStep& step, const Registry& registry, std::vector<std::string>& problems) {
  const size_t problemsBefore = problems.size();
  step.options = detail::validateOptionsInto("preset 'optimize'", optimizePresetInfo().options, step.rawOptions,
                                             optionsLocation(step), problems);
  if (!step.children.empty()) {
    problems.push_back(prefix(step.where) + "preset 'optimize' cannot contain steps; use a fixpoint group instead");
  }
  if (problems.size() != problemsBefore) return;
  const int level = static_cast<int>(step.options.getInt("level", kDefaultOptimizeLevel));
  step.children.clear();
  const std::string text = optimizePresetSteps(level);
  if (!text.empty()) {
    Expected<std::vector<PipelineStep>> expansion = parsePipelineText(text, "optimize preset");
    if (!expansion.hasValue()) {
      problems.push_back(prefix(step.where) + "internal error in the optimize preset: " + expansion.status().message());
      return;
    }
    step.children = std::move(*expansion);
    for (PipelineStep& child : step.children) child.where = step.where;
  }
  step.group = true;
  step.maxIterations = kOptimizePresetIterations;
  validateStepsInto(step.children, registry, problems);
}

void validateStepsInto(std::vector<PipelineStep>& steps, const Registry& registry, std::vector<std::string>& problems) {
  for (PipelineStep& step : steps) {
    step.pass = nullptr;
    step.exporter = nullptr;
    step.group = false;
    if (step.name == kOptimizePreset && registry.findPass(step.name) == nullptr) {
      expandOptimizePreset(step, registry, problems);
      continue;
    }
    if (step.name == "fixpoint") {
      step.group = true;
      step.options = detail::validateOptionsInto("fixpoint group", fixpointSpecs(), step.rawOptions,
                                                 optionsLocation(step), problems);
      step.maxIterations = static_cast<int>(step.options.getInt("max_iterations", kDefaultFixpointIterations));
      if (step.children.empty()) {
        problems.push_back(prefix(step.where) + "fixpoint group has no steps; list them in `steps: [...]` (YAML) "
                                                "or in parentheses: fixpoint(step-a,step-b)");
      }
      validateStepsInto(step.children, registry, problems);
      continue;
    }
    if (!step.children.empty()) {
      problems.push_back(prefix(step.where) + "step '" + step.name + "' cannot contain steps; only fixpoint groups do");
    }

    const std::vector<OptionSpec>* specs = nullptr;
    const OptionsValidateFn* hook = nullptr;
    if (const PassEntry* pass = registry.findPass(step.name)) {
      step.pass = pass;
      specs = &pass->info.options;
      hook = &pass->validate;
    } else if (const ExporterEntry* exporter = registry.findExporter(step.name)) {
      step.exporter = exporter;
      specs = &exporter->info.options;
      hook = &exporter->validate;
    } else {
      problems.push_back(prefix(step.where) + "unknown step '" + step.name + "'" +
                         detail::didYouMeanSuffix(step.name, registry.stepNames()) +
                         "; run `torchport passes` to list steps, or load the plugin that provides it");
      continue;
    }

    const std::string subject = "step '" + step.name + "'";
    size_t problemsBefore = problems.size();
    step.options = detail::validateOptionsInto(subject, *specs, step.rawOptions, optionsLocation(step), problems);
    // The hook sees complete, well-typed options only.
    if (problems.size() == problemsBefore) {
      runValidateHook(*hook, step.options, prefix(optionsLocation(step)) + subject + ": ", problems);
    }
  }
}

std::vector<std::string> importerFormats(const Registry& registry) {
  std::vector<std::string> formats;
  for (const ImporterEntry* importer : registry.importers()) formats.push_back(importer->info.format);
  return formats;
}

void validateInput(PipelineConfig& config, const Registry& registry, std::vector<std::string>& problems) {
  InputSpec& input = config.input;
  input.importer = nullptr;
  const OptionValue* pathValue = input.raw.find("path");
  const OptionValue* formatValue = input.raw.find("format");
  const SourceLocation& pathWhere = pathValue != nullptr ? detail::knownOr(pathValue->where(), input.where) : input.where;
  const SourceLocation& formatWhere =
      formatValue != nullptr ? detail::knownOr(formatValue->where(), input.where) : input.where;

  if (input.path.empty()) {
    problems.push_back(prefix(input.where) + "input: no model file given; set `path:` under `input:`");
    return;
  }
  const std::vector<std::string> formats = importerFormats(registry);
  const std::string knownFormats = formats.empty() ? std::string("none (no importer plugins are loaded; see `torchport plugins`)")
                                                   : detail::joinNames(formats);

  const std::filesystem::path resolved =
      input.path.is_absolute() || config.baseDir.empty() ? input.path : config.baseDir / input.path;
  std::error_code ec;
  const bool exists = std::filesystem::exists(resolved, ec);

  if (!input.format.empty()) {
    input.importer = registry.findImporter(input.format);
    if (input.importer == nullptr) {
      problems.push_back(prefix(formatWhere) + "input: unknown format '" + input.format + "'" +
                         detail::didYouMeanSuffix(input.format, formats) + "; known formats: " + knownFormats +
                         " (a plugin may provide it: add it under `plugins:` or pass --plugin)");
    }
  }
  if (!exists) {
    std::string message = prefix(pathWhere) + "input: file '" + input.path.string() + "' does not exist";
    if (resolved != input.path) message += " (looked for '" + resolved.string() + "'; relative paths are relative to the config file)";
    problems.push_back(message + "; fix `path:`");
    return;
  }
  if (input.format.empty()) {
    auto head = readFileHead(resolved);
    if (!head) {
      problems.push_back(prefix(pathWhere) + "input: " + head.status().message());
      return;
    }
    input.importer = registry.sniffImporter(head.value(), resolved);
    if (input.importer == nullptr) {
      problems.push_back(prefix(pathWhere) + "input: cannot tell the format of '" + input.path.string() +
                         "' from its contents or name; set `format:` to one of: " + knownFormats);
      return;
    }
  }
  if (input.importer == nullptr) return;

  // path and format are the input's own keys; everything else belongs to the importer.
  OptionValue importerOptions(OptionValue::Map{}, detail::knownOr(input.raw.where(), input.where));
  if (input.raw.isMap()) {
    for (const auto& [key, value] : input.raw.asMap()) {
      if (key != "path" && key != "format") importerOptions.asMap().emplace_back(key, value);
    }
  }
  const std::string subject = "input (format '" + input.importer->info.format + "')";
  size_t problemsBefore = problems.size();
  input.options = detail::validateOptionsInto(subject, input.importer->info.options, importerOptions, input.where, problems);
  input.options.set("path", OptionValue(input.path.string(), pathWhere));
  input.options.set("format", OptionValue(input.importer->info.format, formatWhere));
  if (problems.size() == problemsBefore) {
    runValidateHook(input.importer->validate, input.options, prefix(input.where) + subject + ": ", problems);
  }
}

}  // namespace

Status validateSteps(std::vector<PipelineStep>& steps, const Registry& registry) {
  std::vector<std::string> problems;
  validateStepsInto(steps, registry, problems);
  return detail::problemsToStatus(problems);
}

Status validatePipeline(PipelineConfig& config, const Registry& registry) {
  std::vector<std::string> problems;
  validateStepsInto(config.steps, registry, problems);
  if (config.hasInput) validateInput(config, registry, problems);
  return detail::problemsToStatus(problems);
}

}  // namespace torchport
