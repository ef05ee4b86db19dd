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
//
// Dynamic-quantized LSTMs (quantize_dynamic(model, {nn.LSTM}, dtype=torch.qint8)) keep one
// CellParamsBase object per layer and direction, consumed by
//   aten::quantized_lstm.input(input, hx, CellParamsBase[] params, has_biases, num_layers,
//                              dropout, train, bidirectional, batch_first, *, dtype, use_dynamic)
// lowerQuantizedLstms rewrites that op, before conversion, into the float
//   aten::lstm.input(input, hx, Tensor[] params, has_biases, num_layers, dropout, train,
//                    bidirectional, batch_first)
// whose params are the cells' weights dequantized to f32, (int8 - zero_point) * scale per
// tensor or per channel, and their f32 biases, flat as nn.LSTM keeps them
// (w_ih, w_hh, b_ih, b_hh per layer and direction). The ONNX lowering of aten::lstm then
// applies. LibTorch quantizes the activations (x and h) to 8 bits (7 with reduce_range) at
// run time before each matrix product; the float LSTM does not, so the two differ by that
// activation rounding, which accumulates over the time steps: up to ~1e-2 on the final cell
// state (measured 9e-3 on c_n of max 0.64, 2 layers x 32 hidden; tests/e2e/cases.py,
// quant_dynamic_lstm, allows 3e-2).
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include <ATen/core/ivalue.h>

#include "jit_bridge.h"

namespace torchport::torchscript {

// The tuple standing for `object` when it is a quantized packed-params object torchport
// knows; nullopt otherwise. When the object is a packed-params class that cannot be
// unpacked (an unsupported quantization scheme, the LSTM cell params of a dynamic-quantized
// LSTM...), `problem` receives why and what to do.
std::optional<c10::IValue> unpackQuantizedParams(const c10::IValue& object, std::string& problem);

// Rewrites every aten::quantized_lstm.input of `graph` (nested blocks included) whose cell
// params are a list of constant "quantized_dynamic" CellParamsBase objects into aten::lstm
// with f32 weight constants, named after the float nn.LSTM's parameters below the module
// path `paths` gives ("lstm.weight_ih_l0", "lstm.bias_hh_l1_reverse"...). Returns how many
// were rewritten; the others are left for the converter to refuse (unpackQuantizedParams
// then says why). The replaced cell objects become dead: run dead-code elimination after.
size_t lowerQuantizedLstms(torch::jit::Graph& graph, const ModulePaths& paths);

}  // namespace torchport::torchscript
