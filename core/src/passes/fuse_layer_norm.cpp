// fuse-layer-norm: SKELETON, being written (the lead created this file so the registration table
// compiles; the pass owner replaces all of it).
#include "passes.h"

namespace torchport {

PassInfo fuseLayerNormInfo() {
  PassInfo info;
  info.name = "fuse-layer-norm";
  info.summary = "(not yet implemented)";
  info.kind = StepKind::Transform;
  return info;
}

Status runFuseLayerNorm(Graph&, PassContext&) { return Status::ok(); }

}  // namespace torchport
