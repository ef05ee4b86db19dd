// fuse-pad-into-conv: SKELETON, being written (the lead created this file so the registration table
// compiles; the pass owner replaces all of it).
#include "passes.h"

namespace torchport {

PassInfo fusePadIntoConvInfo() {
  PassInfo info;
  info.name = "fuse-pad-into-conv";
  info.summary = "(not yet implemented)";
  info.kind = StepKind::Transform;
  return info;
}

Status runFusePadIntoConv(Graph&, PassContext&) { return Status::ok(); }

}  // namespace torchport
