// `torchport run CONFIG.yaml`: run a YAML pipeline.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli_common.h"
#include "torchport/host/pipeline.h"

namespace torchport::cli {
namespace fs = std::filesystem;

namespace {
struct RunArgs {
  std::string config;
  std::vector<std::string> plugins;
  std::string input;
  std::string format;
  RunOutputOptions output;
};
}  // namespace

Command addRunCommand(CLI::App& parent, GlobalOptions& globals) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* command = parent.add_subcommand(
      "run",
      "Run the pipeline of a YAML config: plugins, input, steps (validated as a whole before anything runs)");
  command->add_option("config", args->config, "Pipeline config file")->required()->type_name("CONFIG.yaml");
  command->add_option("--plugin", args->plugins, "Load this plugin file (repeatable)")
      ->type_name("FILE")
      ->allow_extra_args(false);
  command->add_option("--input", args->input, "Use this input file instead of the config's `input: path:`")
      ->type_name("FILE");
  command->add_option("--format", args->format, "Input format instead of sniffing it (tpir, onnx, torchscript, ...)")
      ->type_name("FORMAT");
  args->output.addTo(*command);

  return {command, [args, &globals]() -> int {
            globals.quiet = args->output.quiet;
            if (Status status = applyLogging(globals); !status.isOk()) return reportError(status);
            auto config = loadPipelineFile(args->config);
            if (!config.hasValue()) return reportError(config.status());

            RunSession run(args->output.quiet || args->output.json);
            std::vector<PluginRequest> requests = configPluginRequests(*config);
            for (PluginRequest& request : pluginRequests(globals, args->plugins)) requests.push_back(std::move(request));
            run.loadPlugins(requests);

            RunOptions runOptions;
            if (!args->input.empty()) {
              // Relative to where the user typed it, not to the config's directory.
              std::error_code ec;
              const fs::path absolute = fs::absolute(args->input, ec);
              runOptions.inputPath = ec ? fs::path(args->input) : absolute;
            }
            runOptions.inputFormat = args->format;
            return executeRun(run, std::move(config).value(), args->output, std::move(runOptions));
          }};
}

}  // namespace torchport::cli
