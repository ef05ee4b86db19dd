// `torchport passes [NAME]`: list pipeline steps, or document one.
#include <algorithm>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "cli_common.h"
#include "torchport/host/presets.h"
#include "torchport/host/json.h"
#include "torchport/host/pipeline.h"

namespace torchport::cli {
namespace {

struct PassesArgs {
  std::string name;
  bool json = false;
  bool markdown = false;
  std::vector<std::string> plugins;
};

// A pass or an exporter, seen as a pipeline step.
struct StepDoc {
  const PassInfo* info;
  std::string plugin;
  std::string format;  // exporters: output format
};

std::string_view stepKindName(StepKind kind) {
  switch (kind) {
    case StepKind::Transform: return "transform";
    case StepKind::Export: return "export";
    case StepKind::Verify: return "verify";
  }
  return "?";
}

// `fixpoint` is part of the pipeline grammar, not a registered step; documented alongside.
const PassInfo& fixpointInfo() {
  static const PassInfo info = [] {
    PassInfo p;
    p.name = "fixpoint";
    p.summary = "Repeat a group of steps until none of them changes the graph";
    p.description =
        "Pipeline construct, not a registered step. In pipeline text:\n"
        "  fixpoint{max_iterations=4}(eliminate-identity,eliminate-dead-code)\n"
        "In YAML:\n"
        "  - fixpoint: {max_iterations: 4, steps: [eliminate-identity, eliminate-dead-code]}\n"
        "The children run in order, repeatedly, until one round changes nothing or the\n"
        "iteration limit is reached.";
    OptionSpec maxIterations;
    maxIterations.name = "max_iterations";
    maxIterations.type = OptionType::Int;
    maxIterations.defaultValue = json::integer(8);
    maxIterations.doc = "Upper bound on rounds";
    maxIterations.minInt = 1;
    p.options.push_back(std::move(maxIterations));
    return p;
  }();
  return info;
}

// Grammar-level steps (fixpoint groups, presets) documented alongside registered ones.
std::vector<StepDoc> pipelineConstructs() {
  return {{&fixpointInfo(), "core", {}}, {&optimizePresetInfo(), "core", {}}};
}

std::vector<StepDoc> allSteps(const Registry& registry) {
  std::vector<StepDoc> steps;
  for (const PassEntry* pass : registry.passes()) steps.push_back({&pass->info, pass->plugin, {}});
  for (const ExporterEntry* exporter : registry.exporters()) {
    steps.push_back({&exporter->info, exporter->plugin, exporter->format});
  }
  return steps;
}

std::string optionTypeText(const OptionSpec& spec) {
  std::string text(optionTypeName(spec.type));
  if (!spec.choices.empty()) {
    text += " (";
    for (size_t i = 0; i < spec.choices.size(); ++i) text += (i > 0 ? "|" : "") + spec.choices[i];
    text += ")";
  }
  if (spec.minInt || spec.maxInt) {
    text += " [" + (spec.minInt ? std::to_string(*spec.minInt) : std::string()) + ".." +
            (spec.maxInt ? std::to_string(*spec.maxInt) : std::string()) + "]";
  }
  return text;
}

std::string defaultText(const OptionSpec& spec) {
  if (spec.required) return "(required)";
  if (spec.defaultValue.isNull()) return "-";
  return spec.defaultValue.toString();
}

OptionValue stepToValue(const StepDoc& step, bool full) {
  OptionValue::Map map;
  map.emplace_back("name", json::string(step.info->name));
  map.emplace_back("kind", json::string(std::string(stepKindName(step.info->kind))));
  map.emplace_back("plugin", json::string(step.plugin));
  if (!step.format.empty()) map.emplace_back("format", json::string(step.format));
  map.emplace_back("summary", json::string(step.info->summary));
  if (full) {
    map.emplace_back("description", json::string(step.info->description));
    OptionValue::List options;
    for (const OptionSpec& spec : step.info->options) {
      OptionValue::Map option;
      option.emplace_back("name", json::string(spec.name));
      option.emplace_back("type", json::string(std::string(optionTypeName(spec.type))));
      option.emplace_back("default", spec.defaultValue);
      option.emplace_back("required", json::boolean(spec.required));
      option.emplace_back("doc", json::string(spec.doc));
      if (!spec.choices.empty()) {
        OptionValue::List choices;
        for (const std::string& choice : spec.choices) choices.push_back(json::string(choice));
        option.emplace_back("choices", json::list(std::move(choices)));
      }
      if (spec.minInt) option.emplace_back("min", json::integer(*spec.minInt));
      if (spec.maxInt) option.emplace_back("max", json::integer(*spec.maxInt));
      options.push_back(json::map(std::move(option)));
    }
    map.emplace_back("options", json::list(std::move(options)));
  }
  return json::map(std::move(map));
}

// Splits a long prose line at spaces so that each piece fits `width`, continuing with the
// line's own indentation. Lines that are already short (code samples) stay as they are.
std::vector<std::string> wrapLine(const std::string& line, size_t width) {
  if (line.size() <= width) return {line};
  const size_t indent = line.find_first_not_of(' ');
  if (indent == std::string::npos) return {std::string()};
  const std::string prefix(indent, ' ');
  std::vector<std::string> pieces;
  std::string current = prefix;
  std::istringstream words(line.substr(indent));
  for (std::string word; words >> word;) {
    if (current.size() > prefix.size() && current.size() + 1 + word.size() > width) {
      pieces.push_back(current);
      current = prefix;
    }
    if (current.size() > prefix.size()) current += ' ';
    current += word;
  }
  if (current.size() > prefix.size()) pieces.push_back(current);
  return pieces;
}

void printStepDoc(const StepDoc& step) {
  const PassInfo& info = *step.info;
  std::cout << info.name << " (" << stepKindName(info.kind);
  if (!step.format.empty()) std::cout << ", writes " << step.format;
  std::cout << ", from " << step.plugin << ")\n\n  " << info.summary << "\n";
  if (!info.description.empty()) {
    std::cout << '\n';
    std::istringstream lines(info.description);
    for (std::string line; std::getline(lines, line);) {
      for (const std::string& wrapped : wrapLine(line, 96)) std::cout << (wrapped.empty() ? "" : "  ") << wrapped << '\n';
    }
  }
  std::cout << '\n';
  if (info.options.empty()) {
    std::cout << "Options: none\n";
    return;
  }
  std::cout << "Options:\n";
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"name", "type", "default", "description"});
  for (const OptionSpec& spec : info.options) {
    rows.push_back({spec.name, optionTypeText(spec), defaultText(spec), spec.doc});
  }
  printTable(std::cout, rows, "  ");
}

// One Markdown table row per step (README's pass table is generated from this).
std::string markdownCell(std::string_view text) {
  std::string escaped;
  for (char c : text) escaped += c == '|' ? std::string("\\|") : std::string(1, c);
  return escaped;
}

int printMarkdown(const Registry& registry) {
  std::vector<StepDoc> steps = allSteps(registry);
  for (const StepDoc& construct : pipelineConstructs()) steps.push_back(construct);
  std::sort(steps.begin(), steps.end(), [](const StepDoc& a, const StepDoc& b) {
    return std::tie(a.info->kind, a.info->name) < std::tie(b.info->kind, b.info->name);
  });
  std::cout << "| step | kind | plugin | what it does |\n| --- | --- | --- | --- |\n";
  for (const StepDoc& step : steps) {
    std::cout << "| `" << step.info->name << "` | " << stepKindName(step.info->kind) << " | " << step.plugin << " | "
              << markdownCell(step.info->summary) << " |\n";
  }
  return 0;
}

int listSteps(const Registry& registry, bool json) {
  std::vector<StepDoc> steps = allSteps(registry);
  const std::vector<StepDoc> constructs = pipelineConstructs();
  if (json) {
    OptionValue::List list;
    for (const StepDoc& step : steps) list.push_back(stepToValue(step, false));
    for (const StepDoc& construct : constructs) list.push_back(stepToValue(construct, false));
    printJson(json::list(std::move(list)));
    return 0;
  }
  const auto section = [&](std::string_view title, StepKind kind) {
    std::vector<std::vector<std::string>> rows;
    for (const StepDoc& step : steps) {
      if (step.info->kind == kind) rows.push_back({step.info->name, "[" + step.plugin + "]", step.info->summary});
    }
    if (rows.empty()) return;
    std::cout << title << ":\n";
    printTable(std::cout, rows, "  ");
    std::cout << '\n';
  };
  section("Transforms", StepKind::Transform);
  section("Exporters", StepKind::Export);
  section("Verification", StepKind::Verify);
  std::cout << "Pipeline constructs:\n";
  std::vector<std::vector<std::string>> rows;
  for (const StepDoc& construct : constructs) rows.push_back({construct.info->name, construct.info->summary});
  printTable(std::cout, rows, "  ");
  std::cout << "\nRun 'torchport passes NAME' for a step's documentation and options.\n";
  return 0;
}

}  // namespace

Command addPassesCommand(CLI::App& parent, GlobalOptions& globals) {
  auto args = std::make_shared<PassesArgs>();
  CLI::App* command =
      parent.add_subcommand("passes", "List pipeline steps (passes, exporters), or document one with its options");
  command->add_option("name", args->name, "Step to document")->type_name("NAME");
  command->add_flag("--json", args->json, "Print as JSON");
  command->add_flag("--markdown", args->markdown, "List every step as a Markdown table (README.md's pass table)");
  command->add_option("--plugin", args->plugins, "Load this plugin file (repeatable)")
      ->type_name("FILE")
      ->allow_extra_args(false);

  return {command, [args, &globals]() -> int {
            if (Status status = applyLogging(globals); !status.isOk()) return reportError(status);
            auto session = openSession(globals, args->plugins);
            if (!session.hasValue()) return reportError(session.status());
            const Registry& registry = (*session)->registry();
            if (args->markdown) return printMarkdown(registry);
            if (args->name.empty()) return listSteps(registry, args->json);

            std::vector<StepDoc> steps = allSteps(registry);
            for (const StepDoc& construct : pipelineConstructs()) steps.push_back(construct);
            for (const StepDoc& step : steps) {
              if (step.info->name != args->name) continue;
              if (args->json) {
                printJson(stepToValue(step, true));
              } else {
                printStepDoc(step);
              }
              return 0;
            }
            std::vector<std::string> names;
            for (const StepDoc& step : steps) names.push_back(step.info->name);
            const std::string suggestion = closestMatch(args->name, names);
            return reportError(Status::usage(
                "no step named '" + args->name + "'" +
                (suggestion.empty() ? std::string() : "; did you mean '" + suggestion + "'?") +
                " Run 'torchport passes' for the list (steps from plugins appear once the plugin is loaded)."));
          }};
}

}  // namespace torchport::cli
