// Pipeline configs: the YAML file (schema version `torchport: 1`, DESIGN.md section 3) and
// the text grammar `name{key=value,key=value},name` shared by CLI and YAML. A pipeline is
// fully validated against the registry before any step runs.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "torchport/options.h"
#include "torchport/registry.h"
#include "torchport/status.h"

namespace torchport {

inline constexpr int kConfigSchemaVersion = 1;

struct PipelineStep {
  std::string name;        // pass or exporter name, or "fixpoint"
  OptionValue rawOptions;  // map as written (null when none given)
  SourceLocation where;    // of the step name
  // Filled by validatePipeline:
  Options options;
  const PassEntry* pass = nullptr;
  const ExporterEntry* exporter = nullptr;
  // "fixpoint" groups: children repeated until none changes the graph, at most
  // maxIterations times (option max_iterations, default 8).
  std::vector<PipelineStep> children;
  int maxIterations = 0;
  // Filled by validatePipeline: true for fixpoint groups and expanded presets
  // (`optimize{level}`), whose children the pass manager repeats.
  bool group = false;
};

struct InputSpec {
  std::filesystem::path path;  // as written (resolved against baseDir at run time)
  std::string format;          // empty = sniff
  OptionValue raw;             // the whole `input:` map
  SourceLocation where;
  // Filled by validatePipeline:
  Options options;
  const ImporterEntry* importer = nullptr;
};

struct PipelineConfig {
  std::filesystem::path file;     // config path ("" for text pipelines)
  std::filesystem::path baseDir;  // relative paths resolve here
  int schemaVersion = kConfigSchemaVersion;
  std::vector<std::pair<std::string, SourceLocation>> plugins;
  bool hasInput = false;
  InputSpec input;
  std::vector<PipelineStep> steps;
};

// Parses YAML text (syntax + schema: known top-level keys, types). Registry-independent.
// Errors: Status::input "file:line:col: message" naming the offending key.
Expected<PipelineConfig> parsePipelineYaml(std::string_view yamlText, const std::filesystem::path& file);
Expected<PipelineConfig> loadPipelineFile(const std::filesystem::path& file);

// Parses the text grammar: `a,b{k=v,list=[1,2]},fixpoint{max_iterations=4}(c,d)`.
// Values: true/false, ints, floats, bare or quoted strings, [lists], {maps}.
Expected<std::vector<PipelineStep>> parsePipelineText(std::string_view text, std::string_view sourceName = "<pipeline>");

// Resolves step names (unknown: "did you mean"), validates options against specs and
// step validate hooks, resolves the importer (format or sniff, if the file exists).
// Reports ALL problems in one Status, each with its location.
Status validatePipeline(PipelineConfig& config, const Registry& registry);
Status validateSteps(std::vector<PipelineStep>& steps, const Registry& registry);

}  // namespace torchport
