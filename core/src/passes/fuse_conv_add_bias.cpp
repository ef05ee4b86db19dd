// fuse-conv-add-bias: SKELETON, being written (the lead created this file so the registration table
// compiles; the pass owner replaces all of it).
#include "passes.h"

namespace torchport {

PassInfo fuseConvAddBiasInfo() {
  PassInfo info;
  info.name = "fuse-conv-add-bias";
  info.summary = "(not yet implemented)";
  info.kind = StepKind::Transform;
  return info;
}

Status runFuseConvAddBias(Graph&, PassContext&) { return Status::ok(); }

}  // namespace torchport
