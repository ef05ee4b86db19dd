// What the torchscript plugin adds to the registry (an explicit list, no static
// initializers). Kept apart from the entry point so that tests can register it directly.
#include "aten_kernel.h"
#include "import_options.h"
#include "save_torchscript.h"
#include "sniff.h"
#include "state_dict_formats.h"
#include "torchscript_importer.h"

namespace torchport::torchscript {

Status registerTorchScriptPlugin(Registry& registry) {
  ImporterInfo info;
  info.format = "torchscript";
  info.summary = "TorchScript modules (torch.jit.script / torch.jit.trace, saved with torch.jit.save)";
  info.extensions = torchScriptExtensions();
  info.options = importerOptionSpecs();
  TP_RETURN_IF_ERROR(registry.addImporter(std::move(info), sniffTorchScript, importTorchScript, validateImportOptions));
  TP_RETURN_IF_ERROR(registry.addImporter(stateDictImporterInfo(), sniffStateDict, importStateDict));
  TP_RETURN_IF_ERROR(registry.addExporter(saveStateDictInfo(), "state_dict", {".pth"}, runSaveStateDict));
  // fold-constants evaluates aten ops with LibTorch (exact kernels of other plugins win).
  TP_RETURN_IF_ERROR(registry.addKernel(atenKernelEntry()));
  return registry.addExporter(saveTorchScriptInfo(), "torchscript", {".pt", ".ptl"}, runSaveTorchScript,
                              validateSaveTorchScriptOptions);
}

}  // namespace torchport::torchscript
