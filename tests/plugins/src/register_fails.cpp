// register_fn registers a pass and then fails with a reason (returned through the error
// buffer by TORCHPORT_PLUGIN). With TP_FAIL_SILENTLY it returns non-zero without a reason.
#include <string>

#include "torchport/torchport.h"

namespace {

torchport::Status registerAll(torchport::Registry& registry) {
  torchport::PassInfo info;
  info.name = "fails-half-way";
  info.summary = "registered before the failure; must be rolled back";
  TP_RETURN_IF_ERROR(registry.addPass(std::move(info), [](torchport::Graph&, torchport::PassContext&) {
    return torchport::Status::ok();
  }));
  return torchport::Status::internal("the frobnicator library is version 1, this plugin needs version 2");
}

#ifdef TP_FAIL_SILENTLY
int registerSilently(torchport::Registry* registry, char*, size_t) {
  (void)registerAll(*registry);
  return 7;
}
#endif

}  // namespace

#ifdef TP_FAIL_SILENTLY
extern "C" TORCHPORT_PLUGIN_EXPORT const torchport_plugin_info* torchport_get_plugin_info(void) {
  static const torchport_plugin_info info = {TORCHPORT_PLUGIN_API_VERSION, "fails-silently", "0.1.0",
                                             &registerSilently};
  return &info;
}
#else
TORCHPORT_PLUGIN("fails", "0.1.0", registerAll)
#endif
