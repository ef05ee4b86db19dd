// Registers a pass of its own, then a pass named like core's built-in eliminate-dead-code.
// The Registry refuses the second; the plugin propagates the error and the host rolls back
// the first.
#include "torchport/torchport.h"

namespace {

torchport::Status noop(torchport::Graph&, torchport::PassContext&) { return torchport::Status::ok(); }

torchport::Status registerAll(torchport::Registry& registry) {
  torchport::PassInfo mine;
  mine.name = "duplicate-plugin-own-pass";
  mine.summary = "registered before the duplicate; must be rolled back";
  TP_RETURN_IF_ERROR(registry.addPass(std::move(mine), noop));
  torchport::PassInfo clash;
  clash.name = "eliminate-dead-code";
  clash.summary = "same name as core's pass";
  TP_RETURN_IF_ERROR(registry.addPass(std::move(clash), noop));
  return torchport::Status::ok();
}

}  // namespace

TORCHPORT_PLUGIN("duplicate", "0.1.0", registerAll)
