// Names of error kinds, as shown in messages and the JSON report.
#include "torchport/status.h"

namespace torchport {

std::string_view errorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::Ok: return "ok";
    case ErrorKind::Usage: return "usage";
    case ErrorKind::Input: return "input";
    case ErrorKind::Unsupported: return "unsupported";
    case ErrorKind::Verification: return "verification";
    case ErrorKind::Internal: return "internal";
  }
  return "unknown";
}

}  // namespace torchport
