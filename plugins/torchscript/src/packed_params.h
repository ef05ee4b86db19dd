// Quantized packed-params objects (the custom classes that quantized modules keep their
// weights in) turned into plain tensors, so a quantized graph can be imported like any other.
//
// PyTorch's quantized ops take their weight as an opaque object:
//   quantized::linear_dynamic(x, LinearPackedParamsBase, reduce_range)
//   quantized::linear(qx, LinearPackedParamsBase, out_scale, out_zero_point)
//   quantized::conv2d(_relu)(qx, Conv2dPackedParamsBase, out_scale, out_zero_point)
// Each object can give its contents back (its `unpack` method and accessors); the importer
// replaces the object constant by a tuple constant of tensors and ints (imported as a
// prim::TupleConstruct of prim::Constant nodes), in this layout:
//
//   linear: (weight, scale, zero_point, axis, bias)
//   conv2d: (weight, scale, zero_point, axis, bias, stride, padding, dilation, groups,
//            output_padding, transpose)
//
//   weight      the integer values of the quantized weight (int_repr): i8 for qint8, u8 for quint8
//   scale       f32, 0-d (per-tensor) or [C] (per-channel)
//   zero_point  same element type as weight, 0-d or [C]
//   axis        int, the per-channel axis (0 for per-tensor weights)
//   bias        f32 [out] or None (PyTorch keeps quantized ops' bias in float)
//   the rest    the conv hyper-parameters as int lists / int / bool
//
// so that weight_float = (weight - zero_point) * scale (broadcast along `axis`): the ONNX
// lowering emits exactly that as DequantizeLinear (QDQ form). Other custom-class objects
// (XNNPACK op contexts are unpacked earlier, see torchscript_import.cpp) are left alone.
#pragma once

#include <optional>
#include <string>

#include <ATen/core/ivalue.h>

namespace torchport::torchscript {

// The tuple standing for `object` when it is a quantized packed-params object torchport
// knows; nullopt otherwise. When the object is a packed-params class that cannot be
// unpacked (an unsupported quantization scheme, the LSTM cell params of a dynamic-quantized
// LSTM...), `problem` receives why and what to do.
std::optional<c10::IValue> unpackQuantizedParams(const c10::IValue& object, std::string& problem);

}  // namespace torchport::torchscript
