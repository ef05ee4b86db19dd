// infer-shapes: SKELETON, being written (the lead created this file so the registration table
// compiles; the pass owner replaces all of it).
#include "passes.h"

namespace torchport {

PassInfo inferShapesInfo() {
  PassInfo info;
  info.name = "infer-shapes";
  info.summary = "(not yet implemented)";
  info.kind = StepKind::Transform;
  return info;
}

Status runInferShapes(Graph&, PassContext&) { return Status::ok(); }

}  // namespace torchport
