// convert-float-to-float16: SKELETON, being written (the lead created this file so the registration table
// compiles; the pass owner replaces all of it).
#include "passes.h"

namespace torchport {

PassInfo convertFloatToFloat16Info() {
  PassInfo info;
  info.name = "convert-float-to-float16";
  info.summary = "(not yet implemented)";
  info.kind = StepKind::Transform;
  return info;
}

Status runConvertFloatToFloat16(Graph&, PassContext&) { return Status::ok(); }

}  // namespace torchport
