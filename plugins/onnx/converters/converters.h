// The converter tables, one per family. plugin.cpp registers them in this order; each
// table is an explicit, ordered array in its .cpp file (no static-initializer magic).
#pragma once

#include <span>

#include "../converter_utils.h"

namespace torchport::onnxplugin {

std::span<const ConverterSpec> elementwiseConverters();    // elementwise.cpp
std::span<const ConverterSpec> activationConverters();     // activations.cpp
std::span<const ConverterSpec> convPoolConverters();       // conv_pool.cpp
std::span<const ConverterSpec> normalizationConverters();  // normalization.cpp
std::span<const ConverterSpec> linearConverters();         // linear.cpp
std::span<const ConverterSpec> reduceConverters();         // reduce.cpp
std::span<const ConverterSpec> shapeConverters();          // shape_ops.cpp
std::span<const ConverterSpec> creationConverters();       // creation.cpp
std::span<const ConverterSpec> primConverters();           // prim_ops.cpp (lists, tuples, scalars, control flow)
std::span<const ConverterSpec> attentionConverters();      // attention.cpp
std::span<const ConverterSpec> recurrentConverters();      // recurrent.cpp
std::span<const ConverterSpec> spectralConverters();       // spectral.cpp (stft, view_as_real)
std::span<const ConverterSpec> quantizedConverters();      // quantized.cpp (QDQ form)

// Building blocks shared across families.
// Layer norm over the last normalizedShape.size() dims (LayerNormalization from opset 17,
// decomposed below); weight / bias may be nullptr.
Expected<Value*> emitLayerNorm(Lowering& l, Value* x, const std::vector<int64_t>& normalizedShape, Value* weight,
                               Value* bias, double eps);
// x @ weight^T + bias (bias may be nullptr); Gemm for 2-D x, MatMul otherwise.
Expected<Value*> emitLinear(Lowering& l, Value* x, Value* weight, Value* bias);

}  // namespace torchport::onnxplugin
