// Built-in steps of core: generic passes (eliminate-dead-code, eliminate-identity), the
// textual-IR importer (format "tpir", *.tpir) and the `save-ir` exporter.
#pragma once

#include "torchport/registry.h"

namespace torchport {

// Registers everything core provides, attributed to owner "core". Explicit ordered table.
Status registerCoreSteps(Registry& registry);

}  // namespace torchport
