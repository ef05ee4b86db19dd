// Calls a function that no library defines (MODULE libraries may link with undefined
// symbols). Loading with RTLD_NOW must fail with dlerror naming the symbol, instead of the
// process dying at the first call.
#include "torchport/torchport.h"

extern "C" int torchport_test_symbol_that_does_not_exist(int);

namespace {
int registerAll(torchport::Registry*, char*, size_t) { return torchport_test_symbol_that_does_not_exist(1); }
}  // namespace

extern "C" TORCHPORT_PLUGIN_EXPORT const torchport_plugin_info* torchport_get_plugin_info(void) {
  static const torchport_plugin_info info = {TORCHPORT_PLUGIN_API_VERSION, "undefined-symbol", "0.1.0",
                                             &registerAll};
  return &info;
}
