#include "cli_common.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "torchport/host/json.h"
#include "torchport/text_ir.h"

namespace torchport::cli {
namespace fs = std::filesystem;

Status applyLogging(const GlobalOptions& globals) {
  LogLevel level = LogLevel::Warn;
  if (globals.verbosity == 1) level = LogLevel::Info;
  if (globals.verbosity == 2) level = LogLevel::Debug;
  if (globals.verbosity >= 3) level = LogLevel::Trace;
  if (globals.quiet && globals.verbosity == 0) level = LogLevel::Error;
  if (!globals.logLevel.empty()) {
    std::optional<LogLevel> parsed = parseLogLevel(globals.logLevel);
    if (!parsed) {
      return Status::usage("--log-level " + globals.logLevel +
                           ": unknown level; use one of trace, debug, info, warn, error, off");
    }
    level = *parsed;
  }
  configureLogging(level);
  return Status::ok();
}

int reportError(const Status& status) {
  std::cout.flush();
  std::cerr << "torchport: error: " << status.message() << '\n';
  std::cerr.flush();
  return exitCodeFor(status);
}

std::vector<PluginRequest> pluginRequests(const GlobalOptions& globals, const std::vector<std::string>& local) {
  std::vector<PluginRequest> requests;
  for (const std::string& file : globals.plugins) requests.push_back({file, SourceLocation{"--plugin", 0, 0}});
  for (const std::string& file : local) requests.push_back({file, SourceLocation{"--plugin", 0, 0}});
  return requests;
}

Expected<std::unique_ptr<Session>> openSession(const GlobalOptions& globals,
                                               const std::vector<std::string>& localPlugins) {
  auto session = std::make_unique<Session>();
  TP_RETURN_IF_ERROR(session->setupStatus());
  const std::vector<PluginRequest> requests = pluginRequests(globals, localPlugins);
  TP_RETURN_IF_ERROR(session->loadPlugins(requests));
  return session;
}

void RunOutputOptions::addTo(CLI::App& command) {
  command.add_option("--print-ir-after", printIrAfter,
                     "Print the IR after the named step (repeatable), or after every step with 'all'")
      ->type_name("STEP|all")
      ->allow_extra_args(false);
  command.add_flag("--full", full, "With --print-ir-after: print tensor data in full (default elides > 16 elements)");
  command.add_flag("--stats", stats, "Print per-step timing and node counts");
  command.add_flag("--verify-each", verifyEach,
                   "Check IR consistency after every pass that changed the graph, inside optimize/fixpoint groups too "
                   "(default: after each top-level step; slower on big graphs, names the exact pass that broke the IR)");
  command.add_flag("--json", json, "Print the run report as JSON on stdout (IR printing goes to stderr)");
  command.add_flag("-q,--quiet", quiet, "Print nothing but errors (no summary, no progress)");
}

namespace {

std::string displayPath(const fs::path& path) {
  if (path.empty()) return {};
  std::error_code ec;
  const fs::path cwd = fs::current_path(ec);
  if (ec) return path.string();
  const fs::path relative = path.lexically_relative(cwd);
  if (relative.empty() || relative.begin()->string() == "..") return path.string();
  return relative.string();
}

void printSummary(const RunReport& report) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"input", displayPath(report.inputPath) + " (" + report.inputFormat + "): " +
                               std::to_string(report.nodesImported) + " nodes"});
  rows.push_back({"pipeline", "ran in " + formatSeconds(report.seconds) + ": " + std::to_string(report.nodesImported) +
                                  " -> " + std::to_string(report.nodesFinal) + " nodes"});
  for (const RunOutput& output : report.outputs) {
    rows.push_back({output.written ? "wrote" : "not written",
                    displayPath(output.path) + " (" + output.step +
                        (output.written ? ", " + formatBytes(output.bytes) : std::string()) + ")"});
  }
  for (const auto& [key, value] : report.entries) rows.push_back({key, value.toString()});
  printTable(std::cout, rows);
}

void printStats(const RunReport& report, std::ostream& out) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"step", "time", "nodes", "changed", "iterations"});
  for (const StepStats& step : report.steps) {
    rows.push_back({step.name, formatSeconds(step.seconds),
                    std::to_string(step.nodesBefore) + " -> " + std::to_string(step.nodesAfter),
                    step.changed ? "yes" : "no", std::to_string(step.iterations)});
  }
  rows.push_back({"total", formatSeconds(report.seconds),
                  std::to_string(report.nodesImported) + " -> " + std::to_string(report.nodesFinal), "", ""});
  printTable(out, rows);
}

}  // namespace

RunSession::RunSession(bool quiet)
    : progress(quiet), session([this] {
        SessionOptions options;
        options.progress = &progress;
        return options;
      }()) {}

void RunSession::loadPlugins(const std::vector<PluginRequest>& requests) {
  pluginErrors = session.setupStatus().isOk() ? session.loadPlugins(requests) : Status::ok();
}

int executeRun(RunSession& run, PipelineConfig config, const RunOutputOptions& output, RunOptions runOptions) {
  runOptions.passManager.printIrAfter.insert(output.printIrAfter.begin(), output.printIrAfter.end());
  runOptions.passManager.verify =
      output.verifyEach ? PassManagerOptions::Verify::AfterEveryStep : PassManagerOptions::Verify::AfterTopLevelSteps;
  // With --json, stdout carries exactly one JSON document; IR goes to stderr.
  std::ostream& irStream = output.json ? std::cerr : std::cout;
  PrintOptions printOptions;
  printOptions.elideTensorsAbove = output.full ? -1 : 16;
  runOptions.passManager.printHook = [&irStream, printOptions](std::string_view step, const Graph& graph) {
    irStream << "// ----- IR after " << step << " -----\n" << printGraph(graph, printOptions);
    irStream.flush();
  };

  const RunReport report = run.session.run(std::move(config), runOptions, run.pluginErrors);
  if (output.json) {
    printJson(runReportToValue(report));
  } else {
    if (report.status.isOk() && !output.quiet) printSummary(report);
    if (output.stats && !report.steps.empty()) printStats(report, std::cout);
  }
  std::cout.flush();
  if (!report.status.isOk()) return reportError(report.status);
  return 0;
}

// ---- text helpers ----

std::string closestMatch(std::string_view word, const std::vector<std::string>& candidates) {
  const auto distance = [](std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      size_t diagonal = row[0];
      row[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        const size_t above = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
        diagonal = above;
      }
    }
    return row[b.size()];
  };
  std::string best;
  size_t bestDistance = static_cast<size_t>(-1);
  for (const std::string& candidate : candidates) {
    const size_t d = distance(word, candidate);
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  // A third of the word's length (at least 2 edits) is a plausible typo; more is a guess.
  const size_t allowed = std::max<size_t>(2, word.size() / 3);
  return bestDistance <= allowed ? best : std::string();
}

std::string formatBytes(uintmax_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(kUnits)) {
    value /= 1024.0;
    ++unit;
  }
  std::ostringstream out;
  out << std::fixed << std::setprecision(1) << value << ' ' << kUnits[unit];
  return out.str();
}

std::string formatSeconds(double seconds) {
  std::ostringstream out;
  out << std::fixed;
  if (seconds < 1.0) {
    out << std::setprecision(1) << seconds * 1000.0 << " ms";
  } else {
    out << std::setprecision(2) << seconds << " s";
  }
  return out.str();
}

std::string padRight(std::string_view text, size_t width) {
  std::string out(text);
  if (out.size() < width) out.append(width - out.size(), ' ');
  return out;
}

void printTable(std::ostream& out, const std::vector<std::vector<std::string>>& rows, std::string_view indent) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line(indent);
    for (size_t i = 0; i < row.size(); ++i) {
      const bool last = i + 1 == row.size();
      line += last ? row[i] : padRight(row[i], widths[i]) + "  ";
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << '\n';
  }
}

void printJson(const OptionValue& value) { std::cout << toJson(value) << '\n'; }

}  // namespace torchport::cli
