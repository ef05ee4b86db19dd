// register_fn registers a pass, then throws: std::runtime_error, or (TP_THROW_NON_STD) an
// int. The host must catch it and roll the pass back.
#include <stdexcept>
#include <string>

#include "torchport/torchport.h"

namespace {

torchport::Status registerAll(torchport::Registry& registry) {
  torchport::PassInfo info;
  info.name = std::string(TP_TEST_PLUGIN_NAME) + "-before-throw";
  info.summary = "registered before the exception; must be rolled back";
  TP_RETURN_IF_ERROR(registry.addPass(std::move(info), [](torchport::Graph&, torchport::PassContext&) {
    return torchport::Status::ok();
  }));
#ifdef TP_THROW_NON_STD
  throw 42;
#else
  throw std::runtime_error("kaboom: the plugin's registration blew up");
#endif
}

}  // namespace

TORCHPORT_PLUGIN(TP_TEST_PLUGIN_NAME, "0.1.0", registerAll)
