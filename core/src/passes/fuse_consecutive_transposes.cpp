// fuse-consecutive-transposes: SKELETON, being written (the lead created this file so the registration table
// compiles; the pass owner replaces all of it).
#include "passes.h"

namespace torchport {

PassInfo fuseConsecutiveTransposesInfo() {
  PassInfo info;
  info.name = "fuse-consecutive-transposes";
  info.summary = "(not yet implemented)";
  info.kind = StepKind::Transform;
  return info;
}

Status runFuseConsecutiveTransposes(Graph&, PassContext&) { return Status::ok(); }

}  // namespace torchport
