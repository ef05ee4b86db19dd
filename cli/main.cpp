// torchport: command-line entry point. Parses the command line with CLI11 and dispatches
// to one subcommand. This is the exception boundary: anything thrown below becomes exit
// code 70 with a message; expected failures travel as Status and map to ErrorKind codes.
#include <algorithm>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli_common.h"
#include "torchport/plugin.h"

#ifndef TORCHPORT_VERSION
#define TORCHPORT_VERSION "0.0.0"
#endif

namespace {

std::string versionText() {
  return std::string("torchport ") + TORCHPORT_VERSION + "\nplugin API version " +
         std::to_string(TORCHPORT_PLUGIN_API_VERSION);
}

int runCli(int argc, char** argv) {
  using namespace torchport::cli;
  CLI::App app{
      "torchport: export trained PyTorch models (TorchScript, state_dict, ONNX) to ONNX and\n"
      "frozen TorchScript, driven by a YAML pipeline. See `torchport passes` for the steps.",
      "torchport"};
  app.set_version_flag("--version", versionText(), "Print the torchport and plugin API versions and exit");
  app.require_subcommand(1);
  // Global options may also follow the subcommand: `torchport run x.yaml -v`.
  app.fallthrough();

  GlobalOptions globals;
  app.add_flag("-v,--verbose", globals.verbosity, "More log output (repeatable: -v info, -vv debug, -vvv trace)");
  app.add_option("--log-level", globals.logLevel, "Log level: trace, debug, info, warn, error, off")
      ->type_name("LEVEL");
  app.add_option("--plugin", globals.plugins, "Load this plugin file (repeatable)")
      ->type_name("FILE")
      ->allow_extra_args(false);

  std::vector<Command> commands;
  commands.push_back(addRunCommand(app, globals));
  commands.push_back(addConvertCommand(app, globals));
  commands.push_back(addInspectCommand(app, globals));
  commands.push_back(addPassesCommand(app, globals));
  commands.push_back(addPluginsCommand(app, globals));
  commands.push_back(addConvertersCommand(app, globals));

  // CLI11 would report an unknown command as "a subcommand is required"; name it instead.
  std::vector<std::string> commandNames;
  for (const Command& command : commands) commandNames.push_back(command.app->get_name());
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--log-level" || arg == "--plugin") {
      ++i;  // skip the option's value
      continue;
    }
    if (arg.empty() || arg[0] == '-') continue;
    if (std::find(commandNames.begin(), commandNames.end(), arg) != commandNames.end()) break;
    const std::string suggestion = closestMatch(arg, commandNames);
    std::string names;
    for (const std::string& name : commandNames) names += (names.empty() ? "" : ", ") + name;
    std::cerr << "torchport: error: unknown command '" << arg << "'"
              << (suggestion.empty() ? std::string() : " (did you mean '" + suggestion + "'?)")
              << "; commands: " << names << " (run 'torchport --help')\n";
    return static_cast<int>(torchport::ErrorKind::Usage);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help and --version are "errors" with exit code 0 and print their text.
    if (error.get_exit_code() == 0) return app.exit(error);
    std::cerr << "torchport: error: " << error.what() << "\n(run 'torchport --help' for usage)\n";
    return static_cast<int>(torchport::ErrorKind::Usage);
  }

  for (const Command& command : commands) {
    if (command.app->parsed()) return command.run();
  }
  std::cerr << "torchport: error: no subcommand given (run 'torchport --help')\n";
  return static_cast<int>(torchport::ErrorKind::Usage);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return runCli(argc, argv);
  } catch (const std::exception& error) {
    std::cerr << "torchport: error: internal error: " << error.what()
              << " (this is a bug in torchport or a plugin; please report it with the command line)\n";
  } catch (...) {
    std::cerr << "torchport: error: internal error: unknown exception"
              << " (this is a bug in torchport or a plugin; please report it with the command line)\n";
  }
  return static_cast<int>(torchport::ErrorKind::Internal);
}
