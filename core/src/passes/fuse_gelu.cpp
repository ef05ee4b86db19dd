// fuse-gelu: SKELETON, being written (the lead created this file so the registration table
// compiles; the pass owner replaces all of it).
#include "passes.h"

namespace torchport {

PassInfo fuseGeluInfo() {
  PassInfo info;
  info.name = "fuse-gelu";
  info.summary = "(not yet implemented)";
  info.kind = StepKind::Transform;
  return info;
}

Status runFuseGelu(Graph&, PassContext&) { return Status::ok(); }

}  // namespace torchport
