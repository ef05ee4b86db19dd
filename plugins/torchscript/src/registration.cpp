// What the torchscript plugin adds to the registry (an explicit list, no static
// initializers). Kept apart from the entry point so that tests can register it directly.
#include "import_options.h"
#include "sniff.h"
#include "torchscript_importer.h"

namespace torchport::torchscript {

Status registerTorchScriptPlugin(Registry& registry) {
  ImporterInfo info;
  info.format = "torchscript";
  info.summary = "TorchScript modules (torch.jit.script / torch.jit.trace, saved with torch.jit.save)";
  info.extensions = torchScriptExtensions();
  info.options = importerOptionSpecs();
  return registry.addImporter(std::move(info), sniffTorchScript, importTorchScript, validateImportOptions);
}

}  // namespace torchport::torchscript
