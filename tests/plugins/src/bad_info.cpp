// Entry points returning malformed info: TP_BAD_INFO = 1 null info, 2 null name,
// 3 empty name, 4 null register_fn, 5 name "core" (reserved).
#include "torchport/torchport.h"

namespace {
[[maybe_unused]] int registerNothing(torchport::Registry*, char*, size_t) { return 0; }
}  // namespace

extern "C" TORCHPORT_PLUGIN_EXPORT const torchport_plugin_info* torchport_get_plugin_info(void) {
#if TP_BAD_INFO == 1
  return nullptr;
#elif TP_BAD_INFO == 2
  static const torchport_plugin_info info = {TORCHPORT_PLUGIN_API_VERSION, nullptr, "0.1.0", &registerNothing};
  return &info;
#elif TP_BAD_INFO == 3
  static const torchport_plugin_info info = {TORCHPORT_PLUGIN_API_VERSION, "", "0.1.0", &registerNothing};
  return &info;
#elif TP_BAD_INFO == 4
  static const torchport_plugin_info info = {TORCHPORT_PLUGIN_API_VERSION, "no-register-fn", "0.1.0", nullptr};
  return &info;
#elif TP_BAD_INFO == 5
  static const torchport_plugin_info info = {TORCHPORT_PLUGIN_API_VERSION, "core", "0.1.0", &registerNothing};
  return &info;
#else
#error "define TP_BAD_INFO"
#endif
}
