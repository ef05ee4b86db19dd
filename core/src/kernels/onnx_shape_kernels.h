// Core's built-in constant-folding kernels for the ONNX ops that shape computations leave
// behind (Shape, Gather, Concat, Unsqueeze, Slice, Cast, Reshape, integer arithmetic ...),
// so that fold-constants works on lowered graphs without any plugin. Registered by
// core_steps.cpp's explicit table (Registry::addKernel, owner "core"). Not part of the SDK.
//
// Conventions shared by every kernel here:
//   - inputs arrive as Tensors in node-input order; an absent optional input (a `const none`)
//     is a default-constructed Tensor (dtype Undefined);
//   - a kernel that cannot evaluate its node returns Status::unsupported (dtype or attribute
//     it does not handle: the caller leaves the node alone) or Status::input (the node is
//     invalid, e.g. a Gather index out of range); messages name the node (Node::describe());
//   - results never exceed kKernelElementLimit elements, whatever the caller's own cap, so
//     that no constant input (Expand to [1e12]) can exhaust memory;
//   - data-movement ops (Gather, Concat, Slice, Reshape, Transpose, Expand, Tile, Where,
//     Squeeze, Unsqueeze, Identity) copy bytes and accept every dtype with a fixed element
//     size; arithmetic and comparisons accept signed integers, u8/u16/u32, f32, f64 (and
//     bool where ONNX allows it), and refuse the rest (f16/bf16/u64/complex/f8).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "torchport/ir.h"

namespace torchport {

// Hard cap on the number of elements a built-in kernel produces (2^26 = 64 Mi elements).
inline constexpr int64_t kKernelElementLimit = int64_t{1} << 26;

struct BuiltinKernel {
  std::string_view opKind;   // "onnx::Gather"
  std::string_view summary;  // one line for `torchport plugins`
  Expected<std::vector<Tensor>> (*evaluate)(const Node& node, std::span<const Tensor> inputs);
};

// The table, in registration order.
std::span<const BuiltinKernel> onnxShapeKernels();

// onnx::Shape's [start, end) dim range (opset 15 attributes, clamped as the spec says) for an
// input of rank `rank`; end <= start means an empty result.
std::pair<int64_t, int64_t> onnxShapeRange(const Node& node, int64_t rank);

// ONNX TensorProto.DataType code (onnx::Cast's `to`) -> DType; nullopt for string/unknown.
std::optional<DType> dtypeFromOnnxCode(int64_t code);

}  // namespace torchport
