// Shared pieces of the torchport CLI: global options, error reporting, sessions, output of
// run reports (used by `run` and `convert`), small text helpers.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "torchport/host/diagnostics.h"
#include "torchport/host/session.h"
#include "torchport/status.h"

namespace torchport::cli {

// Options accepted before (and, through CLI11 fallthrough, after) the subcommand.
struct GlobalOptions {
  int verbosity = 0;      // -v count
  std::string logLevel;   // --log-level, overrides -v
  std::vector<std::string> plugins;  // global --plugin
  bool quiet = false;     // set by subcommands that have --quiet
};

// A registered subcommand and what to do when it was chosen.
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

Command addRunCommand(CLI::App& parent, GlobalOptions& globals);
Command addConvertCommand(CLI::App& parent, GlobalOptions& globals);
Command addPassesCommand(CLI::App& parent, GlobalOptions& globals);
Command addPluginsCommand(CLI::App& parent, GlobalOptions& globals);
Command addInspectCommand(CLI::App& parent, GlobalOptions& globals);
Command addConvertersCommand(CLI::App& parent, GlobalOptions& globals);

// Sets the spdlog level from -v / --log-level / --quiet. Returns a usage error for an
// unknown --log-level.
Status applyLogging(const GlobalOptions& globals);

// Prints "torchport: error: <message>" once on stderr and returns the exit code.
int reportError(const Status& status);

// Explicit plugin requests from a subcommand's --plugin list plus the global one.
std::vector<PluginRequest> pluginRequests(const GlobalOptions& globals, const std::vector<std::string>& local);

// A session with core steps, the requested plugins and the search path loaded. Explicit
// plugin failures are returned as an error.
Expected<std::unique_ptr<Session>> openSession(const GlobalOptions& globals, const std::vector<std::string>& localPlugins);

// Output switches shared by `run` and `convert`.
struct RunOutputOptions {
  std::vector<std::string> printIrAfter;
  bool stats = false;
  bool json = false;
  bool quiet = false;
  bool full = false;  // print tensors in --print-ir-after in full
  bool verifyEach = false;  // verify the IR after every pass, group children included
  void addTo(CLI::App& command);
};

// A session for one pipeline run, with a progress display that lives as long as it.
struct RunSession {
  explicit RunSession(bool quiet);
  TerminalProgress progress;
  Session session;
  Status pluginErrors;  // of loadPlugins, reported together with validation errors
  // Loads `requests` (explicit plugins) and the search path.
  void loadPlugins(const std::vector<PluginRequest>& requests);
};

// Runs `config` in `run` and prints the outcome as asked; returns the exit code.
int executeRun(RunSession& run, PipelineConfig config, const RunOutputOptions& output, RunOptions runOptions = {});

// ---- text helpers ----
// Closest candidate by edit distance, if close enough to be a plausible typo.
std::string closestMatch(std::string_view word, const std::vector<std::string>& candidates);
std::string formatBytes(uintmax_t bytes);    // "812 B", "1.2 KiB", "44.7 MiB"
std::string formatSeconds(double seconds);   // "0.8 ms", "1.23 s"
std::string padRight(std::string_view text, size_t width);
// Prints rows as aligned columns (two spaces between columns, last column not padded).
void printTable(std::ostream& out, const std::vector<std::vector<std::string>>& rows, std::string_view indent = "");
// Writes `json` followed by a newline to stdout.
void printJson(const OptionValue& value);

}  // namespace torchport::cli
