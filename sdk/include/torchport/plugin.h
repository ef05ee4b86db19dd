// The plugin ABI. A plugin is a shared library exporting one C symbol,
//   extern "C" const torchport_plugin_info* torchport_get_plugin_info(void);
// returning a POD whose register_fn adds importers, exporters, passes, converters and
// kernels to the host's Registry. Use TORCHPORT_PLUGIN(...) rather than writing it by hand.
//
// register_fn returns 0 on success. On failure it returns non-zero and may write a
// NUL-terminated reason into `error` (capacity `error_size`). Exceptions thrown by
// register_fn are caught by the host and reported as registration failures. Everything a
// failing plugin registered is rolled back.
#pragma once

#include <cstddef>
#include <cstdint>

#define TORCHPORT_PLUGIN_API_VERSION 2u  // 2: Node layout (use positions)
#define TORCHPORT_PLUGIN_ENTRY_POINT "torchport_get_plugin_info"

namespace torchport {
class Registry;
}

extern "C" {
typedef int (*torchport_register_fn)(torchport::Registry* registry, char* error, size_t error_size);

struct torchport_plugin_info {
  uint32_t api_version;  // TORCHPORT_PLUGIN_API_VERSION the plugin was built against
  const char* name;
  const char* version;
  torchport_register_fn register_fn;
};
}

#if defined(_WIN32)
#define TORCHPORT_PLUGIN_EXPORT __declspec(dllexport)
#else
#define TORCHPORT_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

// Defines the entry point. REGISTER is a function `torchport::Status f(torchport::Registry&)`.
//   static torchport::Status registerAll(torchport::Registry& r) { ... }
//   TORCHPORT_PLUGIN("my-plugin", "1.0.0", registerAll)
#define TORCHPORT_PLUGIN(NAME, VERSION, REGISTER)                                          \
  extern "C" {                                                                             \
  static int torchport_plugin_register_(torchport::Registry* registry, char* error,        \
                                        size_t error_size) {                               \
    ::torchport::Status status = REGISTER(*registry);                                      \
    if (status.isOk()) return 0;                                                           \
    if (error != nullptr && error_size > 0) {                                              \
      size_t n = status.message().size() < error_size - 1 ? status.message().size()        \
                                                          : error_size - 1;                \
      for (size_t i = 0; i < n; ++i) error[i] = status.message()[i];                       \
      error[n] = '\0';                                                                     \
    }                                                                                      \
    return 1;                                                                              \
  }                                                                                        \
  TORCHPORT_PLUGIN_EXPORT const torchport_plugin_info* torchport_get_plugin_info(void) {   \
    static const torchport_plugin_info info = {TORCHPORT_PLUGIN_API_VERSION, NAME, VERSION, \
                                               &torchport_plugin_register_};               \
    return &info;                                                                          \
  }                                                                                        \
  }
