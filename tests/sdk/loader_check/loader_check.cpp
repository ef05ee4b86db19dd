// Loads one plugin through the installed SDK's PluginHost (host headers included), prints
// what it provides, and runs one of its passes on an empty graph:
//   loader_check <plugin file> <pass name>
#include <iostream>

#include "torchport/host/core_steps.h"
#include "torchport/host/diagnostics.h"
#include "torchport/host/plugin_host.h"
#include "torchport/torchport.h"

namespace {
class StderrDiagnostics final : public torchport::Diagnostics {
 public:
  void log(torchport::LogLevel, std::string_view message) override { std::cerr << message << '\n'; }
};
}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: loader_check <plugin file> <pass name>\n";
    return 2;
  }
  torchport::Registry registry;
  registry.setCurrentOwner("core");
  if (torchport::Status status = torchport::registerCoreSteps(registry); !status.isOk()) {
    std::cerr << "core steps: " << status.message() << '\n';
    return 1;
  }
  torchport::PluginHost host(registry);
  if (torchport::Status status = host.load(argv[1]); !status.isOk()) {
    std::cerr << status.message() << '\n';
    return 1;
  }
  for (const torchport::LoadedPlugin& plugin : host.plugins()) {
    std::cout << plugin.name << ' ' << plugin.version << ' ' << plugin.path.string() << '\n';
    for (const std::string& item : plugin.provides) std::cout << "  " << item << '\n';
  }
  const torchport::PassEntry* pass = registry.findPass(argv[2]);
  if (pass == nullptr) {
    std::cerr << "pass " << argv[2] << " is not registered\n";
    return 1;
  }
  torchport::Graph graph;
  StderrDiagnostics diagnostics;
  torchport::NullProgress progress;
  torchport::PassContext context(registry, diagnostics, progress);
  if (torchport::Status status = pass->run(graph, context); !status.isOk()) {
    std::cerr << "pass " << argv[2] << ": " << status.message() << '\n';
    return 1;
  }
  std::cout << "ran " << argv[2] << '\n';
  return 0;
}
