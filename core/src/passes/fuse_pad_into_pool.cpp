// fuse-pad-into-pool: SKELETON, being written (the lead created this file so the registration table
// compiles; the pass owner replaces all of it).
#include "passes.h"

namespace torchport {

PassInfo fusePadIntoPoolInfo() {
  PassInfo info;
  info.name = "fuse-pad-into-pool";
  info.summary = "(not yet implemented)";
  info.kind = StepKind::Transform;
  return info;
}

Status runFusePadIntoPool(Graph&, PassContext&) { return Status::ok(); }

}  // namespace torchport
