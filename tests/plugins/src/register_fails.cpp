// register_fn registers a pass and then fails with a reason (returned through the error
// buffer by TORCHPORT_PLUGIN). With TP_FAIL_SILENTLY it returns non-zero without a reason;
// with TP_IGNORE_REGISTRY_ERROR it ignores a duplicate-name error and returns 0.
#include <string>

#include "torchport/torchport.h"

namespace {

[[maybe_unused]] torchport::Status registerAll(torchport::Registry& registry) {
  torchport::PassInfo info;
  info.name = "fails-half-way";
  info.summary = "registered before the failure; must be rolled back";
  TP_RETURN_IF_ERROR(registry.addPass(std::move(info), [](torchport::Graph&, torchport::PassContext&) {
    return torchport::Status::ok();
  }));
  return torchport::Status::internal("the frobnicator library is version 1, this plugin needs version 2");
}

#ifdef TP_IGNORE_REGISTRY_ERROR
// Registers a pass named like core's, drops the Registry's error and claims success.
int registerIgnoringErrors(torchport::Registry* registry, char*, size_t) {
  torchport::PassInfo mine;
  mine.name = "ignores-error-own-pass";
  (void)registry->addPass(std::move(mine), [](torchport::Graph&, torchport::PassContext&) {
    return torchport::Status::ok();
  });
  torchport::PassInfo clash;
  clash.name = "eliminate-dead-code";
  (void)registry->addPass(std::move(clash), [](torchport::Graph&, torchport::PassContext&) {
    return torchport::Status::ok();
  });
  return 0;
}
#endif

#ifdef TP_FAIL_SILENTLY
int registerSilently(torchport::Registry* registry, char*, size_t) {
  (void)registerAll(*registry);
  return 7;
}
#endif

}  // namespace

#if defined(TP_IGNORE_REGISTRY_ERROR)
extern "C" TORCHPORT_PLUGIN_EXPORT const torchport_plugin_info* torchport_get_plugin_info(void) {
  static const torchport_plugin_info info = {TORCHPORT_PLUGIN_API_VERSION, "ignores-error", "0.1.0",
                                             &registerIgnoringErrors};
  return &info;
}
#elif defined(TP_FAIL_SILENTLY)
extern "C" TORCHPORT_PLUGIN_EXPORT const torchport_plugin_info* torchport_get_plugin_info(void) {
  static const torchport_plugin_info info = {TORCHPORT_PLUGIN_API_VERSION, "fails-silently", "0.1.0",
                                             &registerSilently};
  return &info;
}
#else
TORCHPORT_PLUGIN("fails", "0.1.0", registerAll)
#endif
