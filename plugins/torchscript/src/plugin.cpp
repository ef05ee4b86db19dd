// Plugin entry point (torchport_get_plugin_info) of the torchscript plugin.
#include "torchport/plugin.h"

#include "torchscript_importer.h"

namespace {
torchport::Status registerAll(torchport::Registry& registry) {
  return torchport::torchscript::registerTorchScriptPlugin(registry);
}
}  // namespace

TORCHPORT_PLUGIN("torchscript", TORCHPORT_TORCHSCRIPT_VERSION, registerAll)
