// fuse-consecutive-reshapes: SKELETON, being written (the lead created this file so the registration table
// compiles; the pass owner replaces all of it).
#include "passes.h"

namespace torchport {

PassInfo fuseConsecutiveReshapesInfo() {
  PassInfo info;
  info.name = "fuse-consecutive-reshapes";
  info.summary = "(not yet implemented)";
  info.kind = StepKind::Transform;
  return info;
}

Status runFuseConsecutiveReshapes(Graph&, PassContext&) { return Status::ok(); }

}  // namespace torchport
