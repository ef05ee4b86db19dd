// Built for a future plugin API: the entry point is there, the version is not ours.
#include "torchport/torchport.h"

namespace {
int registerNothing(torchport::Registry*, char*, size_t) { return 0; }
}  // namespace

extern "C" TORCHPORT_PLUGIN_EXPORT const torchport_plugin_info* torchport_get_plugin_info(void) {
  static const torchport_plugin_info info = {TORCHPORT_PLUGIN_API_VERSION + 41, "from-the-future", "9.0.0",
                                             &registerNothing};
  return &info;
}
