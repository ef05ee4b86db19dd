// Built-in steps of core: generic passes (eliminate-dead-code, eliminate-identity,
// fold-constants, eliminate-common-subexpressions, fuse-conv-batchnorm,
// fuse-matmul-add-into-gemm), the textual-IR importer (format "tpir", *.tpir), the `save-ir`
// exporter and constant-folding kernels for ONNX shape ops (onnx::Shape, Gather, ...).
#pragma once

#include "torchport/registry.h"

namespace torchport {

// Registers everything core provides, attributed to owner "core". Explicit ordered table.
Status registerCoreSteps(Registry& registry);

}  // namespace torchport
