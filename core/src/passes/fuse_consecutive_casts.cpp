// fuse-consecutive-casts: SKELETON, being written (the lead created this file so the registration table
// compiles; the pass owner replaces all of it).
#include "passes.h"

namespace torchport {

PassInfo fuseConsecutiveCastsInfo() {
  PassInfo info;
  info.name = "fuse-consecutive-casts";
  info.summary = "(not yet implemented)";
  info.kind = StepKind::Transform;
  return info;
}

Status runFuseConsecutiveCasts(Graph&, PassContext&) { return Status::ok(); }

}  // namespace torchport
