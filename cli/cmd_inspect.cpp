// `torchport inspect FILE`: import a model and describe it (summary, textual IR, DOT).
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli_common.h"
#include "graph_summary.h"
#include "torchport/files.h"
#include "torchport/host/json.h"
#include "torchport/text_ir.h"

extern char** environ;

namespace torchport::cli {
namespace fs = std::filesystem;

namespace {

struct InspectArgs {
  std::string file;
  std::string format;
  bool ir = false;
  bool full = false;
  bool json = false;
  std::string dot;
  std::vector<std::string> plugins;
};

// Removes a file when it goes out of scope (temporary files of the Graphviz call).
class TemporaryFile {
 public:
  explicit TemporaryFile(fs::path path) : path_(std::move(path)) {}
  ~TemporaryFile() {
    std::error_code ec;
    fs::remove(path_, ec);
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Renders DOT text to `output` with Graphviz (`dot -T<format>`), atomically.
Status renderWithGraphviz(const std::string& dotText, const fs::path& output, const std::string& format) {
  const fs::path tmpDir = fs::temp_directory_path();
  const std::string stem = "torchport-" + std::to_string(::getpid());
  TemporaryFile dotFile(tmpDir / (stem + ".dot"));
  TemporaryFile rendered(tmpDir / (stem + "." + format));
  TP_RETURN_IF_ERROR(writeFileAtomically(dotFile.path(), dotText));

  std::vector<std::string> argv = {"dot", "-T" + format, dotFile.path().string(), "-o", rendered.path().string()};
  std::vector<char*> cargv;
  for (std::string& arg : argv) cargv.push_back(arg.data());
  cargv.push_back(nullptr);
  pid_t pid = 0;
  const int spawnError = ::posix_spawnp(&pid, "dot", nullptr, nullptr, cargv.data(), environ);
  const std::string howToFix = "install Graphviz (apt-get install graphviz) or write DOT text with --dot FILE.dot";
  if (spawnError != 0) {
    return Status::unsupported("--dot " + output.string() + ": cannot run Graphviz's `dot` (" +
                               std::strerror(spawnError) + "); " + howToFix);
  }
  int waitStatus = 0;
  while (::waitpid(pid, &waitStatus, 0) < 0) {
    if (errno != EINTR) return Status::internal("waiting for `dot` failed: " + std::string(std::strerror(errno)));
  }
  if (!WIFEXITED(waitStatus) || WEXITSTATUS(waitStatus) != 0) {
    return Status::unsupported("--dot " + output.string() + ": Graphviz's `dot -T" + format +
                               "` failed (exit status " +
                               std::to_string(WIFEXITED(waitStatus) ? WEXITSTATUS(waitStatus) : -1) +
                               "); check that your Graphviz supports '" + format + "', or " + howToFix);
  }
  TP_ASSIGN_OR_RETURN(std::string contents, readTextFile(rendered.path()));
  return writeFileAtomically(output, contents);
}

Status writeDot(const Graph& graph, const std::string& target) {
  const std::string dotText = graphToDot(graph);
  if (target == "-") {
    std::cout << dotText;
    return Status::ok();
  }
  const fs::path path(target);
  std::string extension = path.extension().string();
  if (!extension.empty()) extension.erase(0, 1);
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (extension == "svg" || extension == "png" || extension == "pdf") {
    return renderWithGraphviz(dotText, path, extension);
  }
  return writeFileAtomically(path, dotText);
}

}  // namespace

Command addInspectCommand(CLI::App& parent, GlobalOptions& globals) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* command = parent.add_subcommand(
      "inspect", "Import a model and summarize it: ops, parameters, inputs/outputs, dynamic dims");
  command->add_option("file", args->file, "Model file (format sniffed from its content)")
      ->required()
      ->type_name("FILE");
  command->add_option("--format", args->format, "Input format instead of sniffing it (tpir, onnx, torchscript, ...)")
      ->type_name("FORMAT");
  command->add_flag("--ir", args->ir, "Also print the textual IR");
  command->add_flag("--full", args->full, "With --ir: print tensor data in full (default elides > 16 elements)");
  command->add_flag("--json", args->json, "Print the summary (and IR with --ir) as JSON");
  command->add_option("--dot", args->dot,
                      "Write the graph as Graphviz DOT to FILE ('-' = stdout); .svg/.png/.pdf are rendered with `dot`")
      ->type_name("FILE");
  command->add_option("--plugin", args->plugins, "Load this plugin file (repeatable)")
      ->type_name("FILE")
      ->allow_extra_args(false);

  return {command, [args, &globals]() -> int {
            if (Status status = applyLogging(globals); !status.isOk()) return reportError(status);
            auto session = openSession(globals, args->plugins);
            if (!session.hasValue()) return reportError(session.status());
            std::string format;
            auto graph = (*session)->importFile(args->file, args->format, &format);
            if (!graph.hasValue()) return reportError(graph.status());

            PrintOptions printOptions;
            printOptions.elideTensorsAbove = args->full ? -1 : 16;
            const GraphSummary summary = summarizeGraph(**graph);
            const bool dotToStdout = args->dot == "-";
            if (args->json) {
              OptionValue value = summaryToValue(summary);
              OptionValue::Map root;
              root.emplace_back("file", json::string(args->file));
              root.emplace_back("format", json::string(format));
              for (auto& entry : value.asMap()) root.push_back(std::move(entry));
              if (args->ir) root.emplace_back("ir", json::string(printGraph(**graph, printOptions)));
              if (!dotToStdout) printJson(json::map(std::move(root)));
            } else if (!dotToStdout) {
              std::cout << "file     " << args->file << " (" << format << ")\n" << summaryToText(summary);
              if (args->ir) std::cout << '\n' << printGraph(**graph, printOptions);
            }
            if (!args->dot.empty()) {
              if (Status status = writeDot(**graph, args->dot); !status.isOk()) return reportError(status);
            }
            std::cout.flush();
            return 0;
          }};
}

}  // namespace torchport::cli
