// Entry point of the formats plugin: an explicit table of its exporters.
#include "formats.h"

#ifndef TORCHPORT_FORMATS_VERSION
#define TORCHPORT_FORMATS_VERSION "0.0.0"
#endif

namespace {

torchport::Status registerAll(torchport::Registry& registry) {
  using namespace torchport::formats;
  TP_RETURN_IF_ERROR(registry.addExporter(saveSafetensorsInfo(), "safetensors", {".safetensors"}, saveSafetensors,
                                          validateSaveSafetensors));
  TP_RETURN_IF_ERROR(registry.addExporter(saveDotInfo(), "dot", {".dot", ".gv", ".svg"}, saveDot));
  return torchport::Status::ok();
}

}  // namespace

TORCHPORT_PLUGIN("formats", TORCHPORT_FORMATS_VERSION, registerAll)
