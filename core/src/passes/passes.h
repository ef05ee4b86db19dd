// Core's built-in generic passes. Each pass has metadata (`<name>Info()`, registry name in
// kebab-case = file name in snake case) and an entry point (`run<Name>`), registered by
// core_steps.cpp's explicit table. Not part of the SDK.
#pragma once

#include <cstddef>

#include "torchport/ir.h"
#include "torchport/registry.h"

namespace torchport {

// eliminate-dead-code (eliminate_dead_code.cpp)
PassInfo eliminateDeadCodeInfo();
Status runEliminateDeadCode(Graph& graph, PassContext& context);
// The same, usable from other passes: returns how many nodes were removed.
size_t removeDeadNodes(Graph& graph);

// eliminate-identity (eliminate_identity.cpp)
PassInfo eliminateIdentityInfo();
Status runEliminateIdentity(Graph& graph, PassContext& context);

// fold-constants (fold_constants.cpp)
PassInfo foldConstantsInfo();
Status runFoldConstants(Graph& graph, PassContext& context);

// eliminate-common-subexpressions (eliminate_common_subexpressions.cpp)
PassInfo eliminateCommonSubexpressionsInfo();
Status runEliminateCommonSubexpressions(Graph& graph, PassContext& context);

// fuse-conv-batchnorm (fuse_conv_batchnorm.cpp)
PassInfo fuseConvBatchnormInfo();
Status runFuseConvBatchnorm(Graph& graph, PassContext& context);

// fuse-matmul-add-into-gemm (fuse_matmul_add_into_gemm.cpp)
PassInfo fuseMatmulAddIntoGemmInfo();
Status runFuseMatmulAddIntoGemm(Graph& graph, PassContext& context);

// fuse-conv-add-bias (fuse_conv_add_bias.cpp)
PassInfo fuseConvAddBiasInfo();
Status runFuseConvAddBias(Graph& graph, PassContext& context);

// fuse-consecutive-transposes (fuse_consecutive_transposes.cpp)
PassInfo fuseConsecutiveTransposesInfo();
Status runFuseConsecutiveTransposes(Graph& graph, PassContext& context);

// fuse-consecutive-reshapes (fuse_consecutive_reshapes.cpp)
PassInfo fuseConsecutiveReshapesInfo();
Status runFuseConsecutiveReshapes(Graph& graph, PassContext& context);

// fuse-consecutive-casts (fuse_consecutive_casts.cpp)
PassInfo fuseConsecutiveCastsInfo();
Status runFuseConsecutiveCasts(Graph& graph, PassContext& context);

// fuse-pad-into-conv (fuse_pad_into_conv.cpp)
PassInfo fusePadIntoConvInfo();
Status runFusePadIntoConv(Graph& graph, PassContext& context);

// fuse-pad-into-pool (fuse_pad_into_pool.cpp)
PassInfo fusePadIntoPoolInfo();
Status runFusePadIntoPool(Graph& graph, PassContext& context);

// fuse-layer-norm (fuse_layer_norm.cpp)
PassInfo fuseLayerNormInfo();
Status runFuseLayerNorm(Graph& graph, PassContext& context);

// fuse-gelu (fuse_gelu.cpp)
PassInfo fuseGeluInfo();
Status runFuseGelu(Graph& graph, PassContext& context);

// infer-shapes (infer_shapes.cpp)
PassInfo inferShapesInfo();
Status runInferShapes(Graph& graph, PassContext& context);

// convert-float-to-float16 (convert_float_to_float16.cpp)
PassInfo convertFloatToFloat16Info();
Status runConvertFloatToFloat16(Graph& graph, PassContext& context);

}  // namespace torchport
