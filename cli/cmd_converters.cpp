// `torchport converters`: the op converter table (which source op lowers at which target
// version, and how), as text, JSON, or the Markdown table that README.md embeds.
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cli_common.h"
#include "torchport/host/json.h"

namespace torchport::cli {
namespace {

struct ConvertersArgs {
  std::string target = "onnx";
  bool json = false;
  bool markdown = false;
  int minVersion = 13;
  int maxVersion = 18;
  std::vector<std::string> plugins;
};

// One source op: its converters ordered by first version.
using OpTable = std::map<std::string, std::vector<const ConverterEntry*>>;

OpTable groupByOp(const Registry& registry, const std::string& target) {
  OpTable ops;
  for (const ConverterEntry* entry : registry.converters(target)) ops[entry->opKind].push_back(entry);
  for (auto& [op, entries] : ops) {
    std::sort(entries.begin(), entries.end(),
              [](const ConverterEntry* a, const ConverterEntry* b) { return a->minVersion < b->minVersion; });
  }
  return ops;
}

std::string versionRange(const ConverterEntry& entry, int maxShown) {
  if (entry.maxVersion >= maxShown) return std::to_string(entry.minVersion) + "+";
  if (entry.minVersion == entry.maxVersion) return std::to_string(entry.minVersion);
  return std::to_string(entry.minVersion) + "-" + std::to_string(entry.maxVersion);
}

bool supports(const std::vector<const ConverterEntry*>& entries, int version) {
  return std::any_of(entries.begin(), entries.end(),
                     [&](const ConverterEntry* e) { return e->minVersion <= version && version <= e->maxVersion; });
}

// Markdown cells must not contain raw pipes.
std::string escapeCell(std::string text) {
  std::string out;
  for (char c : text) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

void printMarkdown(const OpTable& ops, const ConvertersArgs& args) {
  std::cout << "| op |";
  for (int v = args.minVersion; v <= args.maxVersion; ++v) std::cout << ' ' << v << " |";
  std::cout << " lowering |\n|---|";
  for (int v = args.minVersion; v <= args.maxVersion; ++v) std::cout << ":-:|";
  std::cout << "---|\n";
  for (const auto& [op, entries] : ops) {
    std::cout << "| `" << op << "` |";
    for (int v = args.minVersion; v <= args.maxVersion; ++v) std::cout << (supports(entries, v) ? " ✓ |" : "   |");
    std::string how;
    for (const ConverterEntry* entry : entries) {
      if (!how.empty()) how += "; ";
      if (entries.size() > 1) how += versionRange(*entry, args.maxVersion) + ": ";
      how += entry->summary;
    }
    std::cout << ' ' << escapeCell(how) << " |\n";
  }
  std::cout << "\n" << ops.size() << " ops.\n";
}

}  // namespace

Command addConvertersCommand(CLI::App& parent, GlobalOptions& globals) {
  auto args = std::make_shared<ConvertersArgs>();
  CLI::App* command = parent.add_subcommand(
      "converters", "List the op converters: which source ops lower to a target dialect at which versions");
  command->add_option("--target", args->target, "Target dialect (default: onnx)")->type_name("DIALECT");
  command->add_option("--from", args->minVersion, "First target version shown by --markdown (default: 13)")
      ->type_name("N");
  command->add_option("--to", args->maxVersion, "Last target version shown by --markdown (default: 18)")
      ->type_name("N");
  auto* json = command->add_flag("--json", args->json, "Print as JSON");
  command->add_flag("--markdown", args->markdown, "Print the per-version support table in Markdown (README.md)")
      ->excludes(json);
  command->add_option("--plugin", args->plugins, "Load this plugin file too (repeatable)")
      ->type_name("FILE")
      ->allow_extra_args(false);

  return {command, [args, &globals]() -> int {
            if (Status status = applyLogging(globals); !status.isOk()) return reportError(status);
            if (args->minVersion > args->maxVersion) {
              return reportError(Status::usage("--from " + std::to_string(args->minVersion) + " is after --to " +
                                               std::to_string(args->maxVersion)));
            }
            auto opened = openSession(globals, args->plugins);
            if (!opened.hasValue()) return reportError(opened.status());
            const OpTable ops = groupByOp((*opened)->registry(), args->target);
            if (ops.empty()) {
              return reportError(Status::usage("no converters to '" + args->target +
                                               "' are registered; see `torchport plugins` for what is loaded"));
            }
            if (args->markdown) {
              printMarkdown(ops, *args);
              return 0;
            }
            if (args->json) {
              OptionValue::List list;
              for (const auto& [op, entries] : ops) {
                for (const ConverterEntry* entry : entries) {
                  list.push_back(json::map({{"op", json::string(op)},
                                            {"target", json::string(entry->target)},
                                            {"min_version", json::integer(entry->minVersion)},
                                            {"max_version", json::integer(entry->maxVersion)},
                                            {"summary", json::string(entry->summary)},
                                            {"plugin", json::string(entry->plugin)}}));
                }
              }
              printJson(json::list(std::move(list)));
              return 0;
            }
            std::vector<std::vector<std::string>> rows{{"op", "versions", "plugin", "lowering"}};
            for (const auto& [op, entries] : ops) {
              for (const ConverterEntry* entry : entries) {
                rows.push_back({op, versionRange(*entry, 1 << 30), entry->plugin, entry->summary});
              }
            }
            printTable(std::cout, rows);
            std::cout << '\n' << ops.size() << " ops with converters to " << args->target << ".\n";
            return 0;
          }};
}

}  // namespace torchport::cli
