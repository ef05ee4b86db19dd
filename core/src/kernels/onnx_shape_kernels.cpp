// Built-in ONNX kernels for constant folding (see onnx_shape_kernels.h for the conventions).
//
// Every kernel validates its inputs the way the ONNX spec states the op (ranks, dtypes,
// index ranges, attribute values) and computes the output shape, with overflow checks,
// before it allocates anything. Integer arithmetic wraps like the two's-complement machine
// arithmetic ONNX Runtime uses (computed in uint64, stored truncated); integer division
// truncates towards zero; a division by zero is refused rather than folded.
#include "onnx_shape_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>

namespace torchport {
namespace {

using Result = Expected<std::vector<Tensor>>;
using Shape = std::vector<int64_t>;

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------
Status invalid(const Node& node, std::string_view why) {
  return Status::input(node.describe() + ": " + std::string(why));
}

Status unsupported(const Node& node, std::string_view why) {
  return Status::unsupported(node.describe() + ": the built-in kernel cannot evaluate it: " + std::string(why));
}

Status unsupportedDType(const Node& node, DType dtype) {
  return unsupported(node, "dtype " + std::string(dtypeName(dtype)) + " is not supported");
}

std::string shapeText(const Shape& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? "," : "") + std::to_string(shape[i]);
  return out + "]";
}

// ---------------------------------------------------------------------------------------
// Shapes and sizes
// ---------------------------------------------------------------------------------------
// Element count of `shape`, or nullopt when a dim is negative or the count exceeds `limit`.
std::optional<int64_t> checkedNumel(const Shape& shape, int64_t limit = kKernelElementLimit) {
  int64_t count = 1;
  bool empty = false;
  for (int64_t dim : shape) {
    if (dim < 0) return std::nullopt;
    if (dim == 0) empty = true;
  }
  if (empty) return 0;
  for (int64_t dim : shape) {
    if (__builtin_mul_overflow(count, dim, &count) || count > limit) return std::nullopt;
  }
  return count;
}

Status checkResultSize(const Node& node, const Shape& shape) {
  for (int64_t dim : shape) {
    if (dim < 0) return invalid(node, "computed a negative dimension in shape " + shapeText(shape));
  }
  if (!checkedNumel(shape)) {
    return unsupported(node, "the result " + shapeText(shape) + " would have more than " +
                                 std::to_string(kKernelElementLimit) + " elements");
  }
  return Status::ok();
}

Shape rowMajorStrides(const Shape& shape) {
  Shape strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return strides;
}

int64_t product(std::span<const int64_t> dims) {
  int64_t p = 1;
  for (int64_t d : dims) p *= d;  // only called on validated shapes
  return p;
}

// Normalizes a possibly negative axis into [0, rank).
Expected<int64_t> normalizeAxis(const Node& node, int64_t axis, int64_t rank, std::string_view what) {
  if (axis < -rank || axis >= rank) {
    return invalid(node, std::string(what) + " " + std::to_string(axis) + " is out of range for rank " +
                             std::to_string(rank));
  }
  return axis < 0 ? axis + rank : axis;
}

// Multidirectional (numpy) broadcast of several shapes.
Expected<Shape> broadcastShapes(const Node& node, std::initializer_list<const Shape*> shapes) {
  size_t rank = 0;
  for (const Shape* s : shapes) rank = std::max(rank, s->size());
  Shape out(rank, 1);
  for (const Shape* s : shapes) {
    const size_t offset = rank - s->size();
    for (size_t i = 0; i < s->size(); ++i) {
      const int64_t dim = (*s)[i];
      int64_t& target = out[offset + i];
      if (dim == target || dim == 1) continue;
      if (target == 1) {
        target = dim;
        continue;
      }
      std::string all;
      for (const Shape* t : shapes) all += (all.empty() ? "" : " and ") + shapeText(*t);
      return invalid(node, "shapes " + all + " cannot be broadcast together");
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Tensor access
// ---------------------------------------------------------------------------------------
bool isPresent(const Tensor& t) { return t.dtype() != DType::Undefined; }

bool hasAllData(const Tensor& t) {
  const size_t size = dtypeSize(t.dtype());
  return t.hasData() && size > 0 && static_cast<uint64_t>(t.numel()) <= t.bytes().size() / size;
}

// Input `index`, which must be present and carry its data.
Expected<const Tensor*> input(const Node& node, std::span<const Tensor> inputs, size_t index, std::string_view what) {
  if (index >= inputs.size() || !isPresent(inputs[index])) {
    return invalid(node, "input " + std::to_string(index) + " (" + std::string(what) + ") is missing");
  }
  const Tensor& t = inputs[index];
  if (!hasAllData(t)) return unsupported(node, "input " + std::to_string(index) + " (" + std::string(what) + ") has no data");
  return &t;
}

// Optional input: nullptr when absent (none or past the end).
Expected<const Tensor*> optionalInput(const Node& node, std::span<const Tensor> inputs, size_t index,
                                      std::string_view what) {
  if (index >= inputs.size() || !isPresent(inputs[index])) return static_cast<const Tensor*>(nullptr);
  return input(node, inputs, index, what);
}

bool isSignedInt(DType d) { return d == DType::I8 || d == DType::I16 || d == DType::I32 || d == DType::I64; }
bool isSmallUnsigned(DType d) { return d == DType::U8 || d == DType::U16 || d == DType::U32; }
// Integers whose every value fits int64 exactly.
bool isExactInt(DType d) { return isSignedInt(d) || isSmallUnsigned(d); }
bool isWideFloat(DType d) { return d == DType::F32 || d == DType::F64; }
bool isAnyFloat(DType d) { return isWideFloat(d) || d == DType::F16 || d == DType::BF16; }

// A 1-D (or scalar) integer tensor as int64 values: axes, shapes, starts, repeats.
Expected<std::vector<int64_t>> readInts(const Node& node, const Tensor& t, std::string_view what) {
  if (!isExactInt(t.dtype())) {
    return invalid(node, std::string(what) + " must be an integer tensor, not " + std::string(dtypeName(t.dtype())));
  }
  if (t.rank() > 1) return invalid(node, std::string(what) + " must be 1-D, got shape " + shapeText(t.shape()));
  std::vector<int64_t> out(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) out[static_cast<size_t>(i)] = t.elementAsInt(i);
  return out;
}

std::vector<int64_t> asInts(const Tensor& t) {
  std::vector<int64_t> out(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) out[static_cast<size_t>(i)] = t.elementAsInt(i);
  return out;
}

std::vector<double> asDoubles(const Tensor& t) {
  std::vector<double> out(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) out[static_cast<size_t>(i)] = t.elementAsDouble(i);
  return out;
}

Tensor fromBytes(DType dtype, Shape shape, std::vector<std::byte> bytes) {
  return Tensor(dtype, std::move(shape), Storage::owned(std::move(bytes)));
}

// Same data, another shape: shares the storage (no copy).
Tensor reshaped(const Tensor& t, Shape shape) { return Tensor(t.dtype(), std::move(shape), t.storage(), t.byteOffset()); }

template <class T>
void storeAs(std::byte* p, T value) {
  std::memcpy(p, &value, sizeof(T));
}

// Stores the low bits of `v` (two's-complement wrap, as C++20 conversions define it).
void storeInt(DType dtype, std::byte* p, int64_t v) {
  switch (dtype) {
    case DType::I8: storeAs(p, static_cast<int8_t>(v)); break;
    case DType::I16: storeAs(p, static_cast<int16_t>(v)); break;
    case DType::I32: storeAs(p, static_cast<int32_t>(v)); break;
    case DType::I64: storeAs(p, v); break;
    case DType::U8: storeAs(p, static_cast<uint8_t>(v)); break;
    case DType::U16: storeAs(p, static_cast<uint16_t>(v)); break;
    case DType::U32: storeAs(p, static_cast<uint32_t>(v)); break;
    case DType::U64: storeAs(p, static_cast<uint64_t>(v)); break;
    case DType::Bool: storeAs(p, static_cast<uint8_t>(v != 0)); break;
    default: break;
  }
}

void storeFloat(DType dtype, std::byte* p, double v) {
  switch (dtype) {
    case DType::F32: storeAs(p, static_cast<float>(v)); break;
    case DType::F64: storeAs(p, v); break;
    case DType::F16: storeAs(p, floatToFloat16Bits(static_cast<float>(v))); break;
    case DType::BF16: storeAs(p, floatToBfloat16Bits(static_cast<float>(v))); break;
    default: break;
  }
}

Tensor intTensor(DType dtype, Shape shape, const std::vector<int64_t>& values) {
  const size_t size = dtypeSize(dtype);
  std::vector<std::byte> bytes(values.size() * size);
  for (size_t i = 0; i < values.size(); ++i) storeInt(dtype, bytes.data() + i * size, values[i]);
  return fromBytes(dtype, std::move(shape), std::move(bytes));
}

Tensor floatTensor(DType dtype, Shape shape, const std::vector<double>& values) {
  const size_t size = dtypeSize(dtype);
  std::vector<std::byte> bytes(values.size() * size);
  for (size_t i = 0; i < values.size(); ++i) storeFloat(dtype, bytes.data() + i * size, values[i]);
  return fromBytes(dtype, std::move(shape), std::move(bytes));
}

Tensor i64Vector(const std::vector<int64_t>& values) {
  return Tensor::fromVector<int64_t>(DType::I64, {static_cast<int64_t>(values.size())}, values);
}

// Copies elements of `source` into a new tensor of `outShape`: output element at multi-index
// o reads source element `offset + sum_d o[d] * strides[d]`. Strides may be 0 (broadcast) or
// negative (reversed slices). Transpose, Slice, Expand and Tile are all this one loop, which
// runs over whole weight matrices (folded Transpose of linear weights), hence the typed
// inner loop over the last dim.
template <typename Word>
void stridedCopyWords(const Word* base, Word* out, const Shape& outShape, const Shape& strides, int64_t offset,
                      size_t count) {
  if (outShape.empty()) {
    out[0] = base[offset];
    return;
  }
  const size_t rank = outShape.size();
  const int64_t inner = outShape[rank - 1];
  const int64_t innerStride = strides[rank - 1];
  const size_t outer = count / static_cast<size_t>(inner);
  std::vector<int64_t> index(rank - 1, 0);
  for (size_t o = 0; o < outer; ++o) {
    const Word* row = base + offset;
    for (int64_t k = 0; k < inner; ++k) out[k] = row[k * innerStride];
    out += inner;
    for (size_t d = rank - 1; d-- > 0;) {
      if (++index[d] < outShape[d]) {
        offset += strides[d];
        break;
      }
      offset -= strides[d] * (outShape[d] - 1);
      index[d] = 0;
    }
  }
}

Tensor stridedCopy(const Tensor& source, const Shape& outShape, const Shape& strides, int64_t offset) {
  const size_t size = dtypeSize(source.dtype());
  const auto count = static_cast<size_t>(product(outShape));
  std::vector<std::byte> out(count * size);
  if (count == 0 || size == 0) return fromBytes(source.dtype(), outShape, std::move(out));
  const std::byte* base = source.bytes().data();
  // Element sizes are 1, 2, 4, 8 or 16 bytes (complex128): copy whole words.
  const auto copy = [&]<typename Word>(Word*, size_t wordsPerElement) {
    Shape wordShape = outShape;
    Shape wordStrides = strides;
    if (wordsPerElement > 1) {  // an element is several words: add an innermost dim over them
      wordShape.push_back(static_cast<int64_t>(wordsPerElement));
      for (int64_t& stride : wordStrides) stride *= static_cast<int64_t>(wordsPerElement);
      wordStrides.push_back(1);
    }
    stridedCopyWords(reinterpret_cast<const Word*>(base), reinterpret_cast<Word*>(out.data()), wordShape, wordStrides,
                     offset * static_cast<int64_t>(wordsPerElement), count * wordsPerElement);
  };
  switch (size) {
    case 1: copy(static_cast<uint8_t*>(nullptr), 1); break;
    case 2: copy(static_cast<uint16_t*>(nullptr), 1); break;
    case 4: copy(static_cast<uint32_t*>(nullptr), 1); break;
    default:
      if (size % sizeof(uint64_t) == 0) {
        copy(static_cast<uint64_t*>(nullptr), size / sizeof(uint64_t));
      } else {
        copy(static_cast<uint8_t*>(nullptr), size);
      }
      break;
  }
  return fromBytes(source.dtype(), outShape, std::move(out));
}

// `t` broadcast to `outShape` (which broadcastShapes produced from t's shape).
Tensor broadcastTo(const Tensor& t, const Shape& outShape) {
  if (t.shape() == outShape) return t;
  const Shape inStrides = rowMajorStrides(t.shape());
  Shape strides(outShape.size(), 0);
  const size_t offset = outShape.size() - t.shape().size();
  for (size_t i = 0; i < t.shape().size(); ++i) {
    if (t.shape()[i] != 1) strides[offset + i] = inStrides[i];
  }
  return stridedCopy(t, outShape, strides, 0);
}

// ---------------------------------------------------------------------------------------
// Shape ops
// ---------------------------------------------------------------------------------------
Result shapeKernel(const Node& node, std::span<const Tensor> inputs) {
  // Only the shape is read: the input may have elided data.
  if (inputs.empty() || !isPresent(inputs[0])) return invalid(node, "input 0 (data) is missing");
  const Shape& shape = inputs[0].shape();
  auto [start, end] = onnxShapeRange(node, static_cast<int64_t>(shape.size()));
  std::vector<int64_t> dims;
  for (int64_t i = start; i < end; ++i) dims.push_back(shape[static_cast<size_t>(i)]);
  return std::vector<Tensor>{i64Vector(dims)};
}

Result sizeKernel(const Node& node, std::span<const Tensor> inputs) {
  if (inputs.empty() || !isPresent(inputs[0])) return invalid(node, "input 0 (data) is missing");
  auto count = checkedNumel(inputs[0].shape(), std::numeric_limits<int64_t>::max());
  if (!count) return invalid(node, "the element count of " + shapeText(inputs[0].shape()) + " overflows int64");
  return std::vector<Tensor>{Tensor::scalarI64(*count)};
}

Result identityKernel(const Node& node, std::span<const Tensor> inputs) {
  TP_ASSIGN_OR_RETURN(const Tensor* data, input(node, inputs, 0, "input"));
  return std::vector<Tensor>{*data};
}

Result reshapeKernel(const Node& node, std::span<const Tensor> inputs) {
  TP_ASSIGN_OR_RETURN(const Tensor* data, input(node, inputs, 0, "data"));
  TP_ASSIGN_OR_RETURN(const Tensor* shapeTensor, input(node, inputs, 1, "shape"));
  TP_ASSIGN_OR_RETURN(std::vector<int64_t> requested, readInts(node, *shapeTensor, "shape"));
  const bool allowZero = node.intAttr("allowzero").value_or(0) != 0;
  Shape out(requested.size());
  std::optional<size_t> inferred;
  for (size_t i = 0; i < requested.size(); ++i) {
    const int64_t dim = requested[i];
    if (dim == -1) {
      if (inferred) return invalid(node, "shape " + shapeText(requested) + " has more than one -1");
      inferred = i;
      out[i] = 1;
    } else if (dim == 0 && !allowZero) {
      if (i >= data->shape().size()) {
        return invalid(node, "shape " + shapeText(requested) + " copies dim " + std::to_string(i) +
                                 " (0) of an input of rank " + std::to_string(data->rank()));
      }
      out[i] = data->shape()[i];
    } else if (dim < 0) {
      return invalid(node, "shape " + shapeText(requested) + " has a negative dim other than -1");
    } else {
      out[i] = dim;
    }
  }
  const int64_t total = data->numel();
  if (inferred) {
    if (allowZero && std::find(requested.begin(), requested.end(), 0) != requested.end()) {
      return invalid(node, "shape " + shapeText(requested) + " has both 0 and -1 with allowzero=1");
    }
    auto known = checkedNumel(out, std::numeric_limits<int64_t>::max());
    if (!known || *known == 0 || total % *known != 0) {
      return invalid(node, "cannot reshape " + shapeText(data->shape()) + " to " + shapeText(requested));
    }
    out[*inferred] = total / *known;
  }
  auto count = checkedNumel(out, std::numeric_limits<int64_t>::max());
  if (!count || *count != total) {
    return invalid(node, "cannot reshape " + shapeText(data->shape()) + " (" + std::to_string(total) +
                             " elements) to " + shapeText(out));
  }
  return std::vector<Tensor>{reshaped(*data, out)};
}

// Axes of (Un)Squeeze: input 1 from opset 13, attribute `axes` before.
Expected<std::optional<std::vector<int64_t>>> squeezeAxes(const Node& node, std::span<const Tensor> inputs) {
  TP_ASSIGN_OR_RETURN(const Tensor* axesTensor, optionalInput(node, inputs, 1, "axes"));
  if (axesTensor != nullptr) {
    TP_ASSIGN_OR_RETURN(std::vector<int64_t> axes, readInts(node, *axesTensor, "axes"));
    return std::optional<std::vector<int64_t>>(std::move(axes));
  }
  if (const auto* axes = node.intsAttr("axes")) return std::optional<std::vector<int64_t>>(*axes);
  return std::optional<std::vector<int64_t>>();
}

Result squeezeKernel(const Node& node, std::span<const Tensor> inputs) {
  TP_ASSIGN_OR_RETURN(const Tensor* data, input(node, inputs, 0, "data"));
  TP_ASSIGN_OR_RETURN(auto axes, squeezeAxes(node, inputs));
  const Shape& shape = data->shape();
  std::vector<bool> drop(shape.size(), false);
  if (!axes) {
    for (size_t i = 0; i < shape.size(); ++i) drop[i] = shape[i] == 1;
  } else {
    for (int64_t axis : *axes) {
      TP_ASSIGN_OR_RETURN(int64_t a, normalizeAxis(node, axis, data->rank(), "axis"));
      if (shape[static_cast<size_t>(a)] != 1) {
        return invalid(node, "cannot squeeze axis " + std::to_string(axis) + " of shape " + shapeText(shape) +
                                 ": its size is not 1");
      }
      drop[static_cast<size_t>(a)] = true;
    }
  }
  Shape out;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (!drop[i]) out.push_back(shape[i]);
  }
  return std::vector<Tensor>{reshaped(*data, out)};
}

Result unsqueezeKernel(const Node& node, std::span<const Tensor> inputs) {
  TP_ASSIGN_OR_RETURN(const Tensor* data, input(node, inputs, 0, "data"));
  TP_ASSIGN_OR_RETURN(auto axes, squeezeAxes(node, inputs));
  if (!axes) return invalid(node, "axes are missing (input 1, or attribute `axes` before opset 13)");
  const int64_t outRank = data->rank() + static_cast<int64_t>(axes->size());
  std::vector<bool> inserted(static_cast<size_t>(outRank), false);
  for (int64_t axis : *axes) {
    TP_ASSIGN_OR_RETURN(int64_t a, normalizeAxis(node, axis, outRank, "axis"));
    if (inserted[static_cast<size_t>(a)]) return invalid(node, "axis " + std::to_string(axis) + " is repeated");
    inserted[static_cast<size_t>(a)] = true;
  }
  Shape out;
  size_t next = 0;
  for (int64_t i = 0; i < outRank; ++i) out.push_back(inserted[static_cast<size_t>(i)] ? 1 : data->shape()[next++]);
  return std::vector<Tensor>{reshaped(*data, out)};
}

Result concatKernel(const Node& node, std::span<const Tensor> inputs) {
  auto axisAttr = node.intAttr("axis");
  if (!axisAttr) return invalid(node, "attribute `axis` is required");
  if (inputs.empty()) return invalid(node, "needs at least one input");
  std::vector<const Tensor*> parts;
  for (size_t i = 0; i < inputs.size(); ++i) {
    TP_ASSIGN_OR_RETURN(const Tensor* part, input(node, inputs, i, "input"));
    parts.push_back(part);
  }
  const Tensor& first = *parts.front();
  if (first.rank() == 0) return invalid(node, "cannot concatenate scalars");
  TP_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(node, *axisAttr, first.rank(), "axis"));
  const auto a = static_cast<size_t>(axis);
  Shape out = first.shape();
  out[a] = 0;
  for (const Tensor* part : parts) {
    bool compatible = part->dtype() == first.dtype() && part->rank() == first.rank();
    for (size_t d = 0; compatible && d < out.size(); ++d) compatible = d == a || part->shape()[d] == first.shape()[d];
    if (!compatible) {
      return invalid(node, "cannot concatenate " + std::string(dtypeName(first.dtype())) + shapeText(first.shape()) +
                               " and " + std::string(dtypeName(part->dtype())) + shapeText(part->shape()) +
                               " along axis " + std::to_string(axis));
    }
    if (__builtin_add_overflow(out[a], part->shape()[a], &out[a])) return invalid(node, "result size overflows");
  }
  TP_RETURN_IF_ERROR(checkResultSize(node, out));
  const size_t size = dtypeSize(first.dtype());
  const auto outer = static_cast<size_t>(product(std::span(out).first(a)));
  const auto inner = static_cast<size_t>(product(std::span(out).subspan(a + 1)));
  std::vector<std::byte> bytes(static_cast<size_t>(product(out)) * size);
  std::byte* cursor = bytes.data();
  for (size_t o = 0; o < outer; ++o) {
    for (const Tensor* part : parts) {
      const size_t block = static_cast<size_t>(part->shape()[a]) * inner * size;
      if (block == 0) continue;
      std::memcpy(cursor, part->bytes().data() + o * block, block);
      cursor += block;
    }
  }
  return std::vector<Tensor>{fromBytes(first.dtype(), out, std::move(bytes))};
}

Result gatherKernel(const Node& node, std::span<const Tensor> inputs) {
  TP_ASSIGN_OR_RETURN(const Tensor* data, input(node, inputs, 0, "data"));
  TP_ASSIGN_OR_RETURN(const Tensor* indices, input(node, inputs, 1, "indices"));
  if (data->rank() == 0) return invalid(node, "data must have rank >= 1");
  if (indices->dtype() != DType::I64 && indices->dtype() != DType::I32) {
    return invalid(node, "indices must be i32 or i64, not " + std::string(dtypeName(indices->dtype())));
  }
  TP_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(node, node.intAttr("axis").value_or(0), data->rank(), "axis"));
  const auto a = static_cast<size_t>(axis);
  const int64_t dim = data->shape()[a];
  std::vector<int64_t> index = asInts(*indices);
  for (int64_t& i : index) {
    if (i < -dim || i >= dim) {
      return invalid(node, "index " + std::to_string(i) + " is out of range for axis " + std::to_string(axis) +
                               " of size " + std::to_string(dim));
    }
    if (i < 0) i += dim;
  }
  Shape out(data->shape().begin(), data->shape().begin() + axis);
  out.insert(out.end(), indices->shape().begin(), indices->shape().end());
  out.insert(out.end(), data->shape().begin() + axis + 1, data->shape().end());
  TP_RETURN_IF_ERROR(checkResultSize(node, out));
  const size_t size = dtypeSize(data->dtype());
  const auto outer = static_cast<size_t>(product(std::span(data->shape()).first(a)));
  const size_t block = static_cast<size_t>(product(std::span(data->shape()).subspan(a + 1))) * size;
  std::vector<std::byte> bytes(static_cast<size_t>(product(out)) * size);
  std::byte* cursor = bytes.data();
  const std::byte* base = data->bytes().data();
  for (size_t o = 0; o < outer && block > 0; ++o) {
    for (int64_t i : index) {
      std::memcpy(cursor, base + (o * static_cast<size_t>(dim) + static_cast<size_t>(i)) * block, block);
      cursor += block;
    }
  }
  return std::vector<Tensor>{fromBytes(data->dtype(), out, std::move(bytes))};
}

// Slice: opset >= 10 takes starts/ends/axes/steps as inputs; opset 1..9 as attributes.
Result sliceKernel(const Node& node, std::span<const Tensor> inputs) {
  TP_ASSIGN_OR_RETURN(const Tensor* data, input(node, inputs, 0, "data"));
  std::vector<int64_t> starts, ends, axes, steps;
  if (inputs.size() >= 3) {
    TP_ASSIGN_OR_RETURN(const Tensor* s, input(node, inputs, 1, "starts"));
    TP_ASSIGN_OR_RETURN(const Tensor* e, input(node, inputs, 2, "ends"));
    TP_ASSIGN_OR_RETURN(starts, readInts(node, *s, "starts"));
    TP_ASSIGN_OR_RETURN(ends, readInts(node, *e, "ends"));
    TP_ASSIGN_OR_RETURN(const Tensor* ax, optionalInput(node, inputs, 3, "axes"));
    TP_ASSIGN_OR_RETURN(const Tensor* st, optionalInput(node, inputs, 4, "steps"));
    if (ax != nullptr) {
      TP_ASSIGN_OR_RETURN(axes, readInts(node, *ax, "axes"));
    }
    if (st != nullptr) {
      TP_ASSIGN_OR_RETURN(steps, readInts(node, *st, "steps"));
    }
  } else {
    const auto* s = node.intsAttr("starts");
    const auto* e = node.intsAttr("ends");
    if (s == nullptr || e == nullptr) return invalid(node, "starts and ends are missing");
    starts = *s;
    ends = *e;
    if (const auto* ax = node.intsAttr("axes")) axes = *ax;
  }
  if (axes.empty()) {
    axes.resize(starts.size());
    std::iota(axes.begin(), axes.end(), 0);
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size()) {
    return invalid(node, "starts, ends, axes and steps must have the same length");
  }

  const int64_t rank = data->rank();
  const Shape& shape = data->shape();
  const Shape inStrides = rowMajorStrides(shape);
  Shape out = shape;
  Shape strides = inStrides;
  int64_t offset = 0;
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (size_t k = 0; k < starts.size(); ++k) {
    TP_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(node, axes[k], rank, "axis"));
    const auto a = static_cast<size_t>(axis);
    if (seen[a]) return invalid(node, "axis " + std::to_string(axes[k]) + " is repeated");
    seen[a] = true;
    const int64_t dim = shape[a];
    const int64_t step = steps[k];
    if (step == 0) return invalid(node, "step 0 on axis " + std::to_string(axes[k]));
    int64_t start = starts[k] < 0 ? starts[k] + dim : starts[k];
    int64_t end = ends[k] < 0 ? ends[k] + dim : ends[k];
    // |step| as unsigned: -step overflows for INT64_MIN. The distance is at most dim.
    const uint64_t stride = step > 0 ? static_cast<uint64_t>(step) : uint64_t{0} - static_cast<uint64_t>(step);
    int64_t count = 0;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      if (end > start) count = static_cast<int64_t>(static_cast<uint64_t>(end - start - 1) / stride + 1);
    } else {
      start = std::clamp<int64_t>(start, 0, dim - 1);
      end = std::clamp<int64_t>(end, -1, dim - 1);
      if (start > end) count = static_cast<int64_t>(static_cast<uint64_t>(start - end - 1) / stride + 1);
    }
    out[a] = count;
    if (count > 0) offset += start * inStrides[a];
    strides[a] = count > 1 ? step * inStrides[a] : 0;  // a single element never steps
  }
  TP_RETURN_IF_ERROR(checkResultSize(node, out));
  return std::vector<Tensor>{stridedCopy(*data, out, strides, product(out) == 0 ? 0 : offset)};
}

Result transposeKernel(const Node& node, std::span<const Tensor> inputs) {
  TP_ASSIGN_OR_RETURN(const Tensor* data, input(node, inputs, 0, "data"));
  const int64_t rank = data->rank();
  std::vector<int64_t> perm(static_cast<size_t>(rank));
  if (const auto* p = node.intsAttr("perm")) {
    perm = *p;
  } else {
    for (int64_t i = 0; i < rank; ++i) perm[static_cast<size_t>(i)] = rank - 1 - i;
  }
  if (static_cast<int64_t>(perm.size()) != rank) {
    return invalid(node, "perm " + shapeText(perm) + " does not match rank " + std::to_string(rank));
  }
  std::vector<bool> used(static_cast<size_t>(rank), false);
  const Shape inStrides = rowMajorStrides(data->shape());
  Shape out(static_cast<size_t>(rank)), strides(static_cast<size_t>(rank));
  for (size_t k = 0; k < perm.size(); ++k) {
    TP_ASSIGN_OR_RETURN(int64_t axis, normalizeAxis(node, perm[k], rank, "perm entry"));
    if (used[static_cast<size_t>(axis)]) return invalid(node, "perm " + shapeText(perm) + " is not a permutation");
    used[static_cast<size_t>(axis)] = true;
    out[k] = data->shape()[static_cast<size_t>(axis)];
    strides[k] = inStrides[static_cast<size_t>(axis)];
  }
  return std::vector<Tensor>{stridedCopy(*data, out, strides, 0)};
}

Result expandKernel(const Node& node, std::span<const Tensor> inputs) {
  TP_ASSIGN_OR_RETURN(const Tensor* data, input(node, inputs, 0, "input"));
  TP_ASSIGN_OR_RETURN(const Tensor* shapeTensor, input(node, inputs, 1, "shape"));
  TP_ASSIGN_OR_RETURN(std::vector<int64_t> requested, readInts(node, *shapeTensor, "shape"));
  for (int64_t dim : requested) {
    if (dim < 0) return invalid(node, "shape " + shapeText(requested) + " has a negative dim");
  }
  TP_ASSIGN_OR_RETURN(Shape out, broadcastShapes(node, {&data->shape(), &requested}));
  TP_RETURN_IF_ERROR(checkResultSize(node, out));
  return std::vector<Tensor>{broadcastTo(*data, out)};
}

// Tile = broadcast of the input viewed as [1, d0, 1, d1, ...] to [r0, d0, r1, d1, ...].
Result tileKernel(const Node& node, std::span<const Tensor> inputs) {
  TP_ASSIGN_OR_RETURN(const Tensor* data, input(node, inputs, 0, "input"));
  TP_ASSIGN_OR_RETURN(const Tensor* repeatsTensor, input(node, inputs, 1, "repeats"));
  TP_ASSIGN_OR_RETURN(std::vector<int64_t> repeats, readInts(node, *repeatsTensor, "repeats"));
  if (static_cast<int64_t>(repeats.size()) != data->rank()) {
    return invalid(node, "repeats " + shapeText(repeats) + " must have one entry per input dim (rank " +
                             std::to_string(data->rank()) + ")");
  }
  Shape out, interleaved, strides;
  const Shape inStrides = rowMajorStrides(data->shape());
  for (size_t i = 0; i < repeats.size(); ++i) {
    if (repeats[i] < 0) return invalid(node, "repeats " + shapeText(repeats) + " has a negative entry");
    int64_t dim = 0;
    if (__builtin_mul_overflow(data->shape()[i], repeats[i], &dim)) return invalid(node, "result size overflows");
    out.push_back(dim);
    interleaved.insert(interleaved.end(), {repeats[i], data->shape()[i]});
    strides.insert(strides.end(), {0, inStrides[i]});
  }
  TP_RETURN_IF_ERROR(checkResultSize(node, out));
  Tensor tiled = stridedCopy(*data, interleaved, strides, 0);
  return std::vector<Tensor>{reshaped(tiled, out)};
}

Result constantOfShapeKernel(const Node& node, std::span<const Tensor> inputs) {
  TP_ASSIGN_OR_RETURN(const Tensor* shapeTensor, input(node, inputs, 0, "shape"));
  TP_ASSIGN_OR_RETURN(std::vector<int64_t> out, readInts(node, *shapeTensor, "shape"));
  for (int64_t dim : out) {
    if (dim < 0) return invalid(node, "shape " + shapeText(out) + " has a negative dim");
  }
  TP_RETURN_IF_ERROR(checkResultSize(node, out));
  Tensor fill = Tensor::scalarF32(0.0f);
  if (const Tensor* value = node.tensorAttr("value")) {
    if (value->numel() != 1 || !hasAllData(*value)) return invalid(node, "attribute `value` must hold one element");
    fill = *value;
  }
  const size_t size = dtypeSize(fill.dtype());
  const auto count = static_cast<size_t>(product(out));
  std::vector<std::byte> bytes(count * size);
  for (size_t i = 0; i < count; ++i) std::memcpy(bytes.data() + i * size, fill.bytes().data(), size);
  return std::vector<Tensor>{fromBytes(fill.dtype(), out, std::move(bytes))};
}

Result whereKernel(const Node& node, std::span<const Tensor> inputs) {
  TP_ASSIGN_OR_RETURN(const Tensor* condition, input(node, inputs, 0, "condition"));
  TP_ASSIGN_OR_RETURN(const Tensor* x, input(node, inputs, 1, "X"));
  TP_ASSIGN_OR_RETURN(const Tensor* y, input(node, inputs, 2, "Y"));
  if (condition->dtype() != DType::Bool) return invalid(node, "condition must be bool");
  if (x->dtype() != y->dtype()) return invalid(node, "X and Y must have the same dtype");
  TP_ASSIGN_OR_RETURN(Shape out, broadcastShapes(node, {&condition->shape(), &x->shape(), &y->shape()}));
  TP_RETURN_IF_ERROR(checkResultSize(node, out));
  const Tensor c = broadcastTo(*condition, out), a = broadcastTo(*x, out), b = broadcastTo(*y, out);
  const size_t size = dtypeSize(x->dtype());
  const auto count = static_cast<size_t>(product(out));
  std::vector<std::byte> bytes(count * size);
  for (size_t i = 0; i < count; ++i) {
    const Tensor& chosen = c.bytes()[i] != std::byte{0} ? a : b;
    std::memcpy(bytes.data() + i * size, chosen.bytes().data() + i * size, size);
  }
  return std::vector<Tensor>{fromBytes(x->dtype(), out, std::move(bytes))};
}

// ---------------------------------------------------------------------------------------
// Cast
// ---------------------------------------------------------------------------------------
// Float -> integer conversion as C++'s truncating cast, refused where that is undefined.
Expected<int64_t> floatToInt(const Node& node, double v, DType target) {
  double low = 0, high = 0;
  switch (target) {
    case DType::I8: low = -128.0, high = 127.0; break;
    case DType::I16: low = -32768.0, high = 32767.0; break;
    case DType::I32: low = -2147483648.0, high = 2147483647.0; break;
    case DType::I64: low = -9223372036854775808.0, high = 9223372036854774784.0; break;  // < 2^63
    case DType::U8: high = 255.0; break;
    case DType::U16: high = 65535.0; break;
    case DType::U32: high = 4294967295.0; break;
    default: return unsupportedDType(node, target);
  }
  const double t = std::trunc(v);
  if (!(t >= low && t <= high)) {
    return unsupported(node, "the value " + std::to_string(v) + " does not fit " + std::string(dtypeName(target)) +
                                 " (the conversion is undefined)");
  }
  return static_cast<int64_t>(t);
}

Result castKernel(const Node& node, std::span<const Tensor> inputs) {
  TP_ASSIGN_OR_RETURN(const Tensor* data, input(node, inputs, 0, "input"));
  auto code = node.intAttr("to");
  if (!code) return invalid(node, "attribute `to` is required");
  auto target = dtypeFromOnnxCode(*code);
  if (!target) return unsupported(node, "cast to ONNX data type " + std::to_string(*code));
  const DType source = data->dtype();
  const bool sourceOk = isExactInt(source) || isAnyFloat(source) || source == DType::Bool;
  if (!sourceOk) return unsupportedDType(node, source);
  const bool targetOk = isExactInt(*target) || isAnyFloat(*target) || *target == DType::Bool;
  if (!targetOk) return unsupportedDType(node, *target);
  if (source == *target) return std::vector<Tensor>{*data};

  const size_t size = dtypeSize(*target);
  const auto count = static_cast<size_t>(data->numel());
  std::vector<std::byte> bytes(count * size);
  for (size_t i = 0; i < count; ++i) {
    std::byte* p = bytes.data() + i * size;
    const auto index = static_cast<int64_t>(i);
    if (isAnyFloat(source)) {
      const double v = data->elementAsDouble(index);
      if (isAnyFloat(*target)) {
        storeFloat(*target, p, v);
      } else if (*target == DType::Bool) {
        storeInt(*target, p, v != 0.0 ? 1 : 0);  // NaN is true, as in C++
      } else {
        TP_ASSIGN_OR_RETURN(int64_t converted, floatToInt(node, v, *target));
        storeInt(*target, p, converted);
      }
    } else {
      const int64_t v = data->elementAsInt(index);  // exact: ints fit int64, bool is 0/1
      if (isAnyFloat(*target)) storeFloat(*target, p, static_cast<double>(v));
      else storeInt(*target, p, v);  // wraps (integers) or tests != 0 (bool)
    }
  }
  return std::vector<Tensor>{fromBytes(*target, data->shape(), std::move(bytes))};
}

// ---------------------------------------------------------------------------------------
// Elementwise arithmetic and comparisons
// ---------------------------------------------------------------------------------------
struct BinaryOperands {
  Tensor a, b;  // broadcast to `shape`
  Shape shape;
  DType dtype;
};

Expected<BinaryOperands> binaryOperands(const Node& node, std::span<const Tensor> inputs) {
  TP_ASSIGN_OR_RETURN(const Tensor* a, input(node, inputs, 0, "A"));
  TP_ASSIGN_OR_RETURN(const Tensor* b, input(node, inputs, 1, "B"));
  if (a->dtype() != b->dtype()) {
    return invalid(node, "operands have different dtypes " + std::string(dtypeName(a->dtype())) + " and " +
                             std::string(dtypeName(b->dtype())));
  }
  TP_ASSIGN_OR_RETURN(Shape out, broadcastShapes(node, {&a->shape(), &b->shape()}));
  TP_RETURN_IF_ERROR(checkResultSize(node, out));
  return BinaryOperands{broadcastTo(*a, out), broadcastTo(*b, out), out, a->dtype()};
}

enum class Arith { Add, Sub, Mul, Div, Mod };

Result arithmetic(const Node& node, std::span<const Tensor> inputs, Arith op) {
  TP_ASSIGN_OR_RETURN(BinaryOperands operands, binaryOperands(node, inputs));
  const DType dtype = operands.dtype;
  if (isWideFloat(dtype)) {
    const bool fmod = node.intAttr("fmod").value_or(0) != 0;
    if (op == Arith::Mod && !fmod) return invalid(node, "Mod of floating-point values needs fmod=1");
    std::vector<double> a = asDoubles(operands.a), b = asDoubles(operands.b), out(a.size());
    for (size_t i = 0; i < a.size(); ++i) {
      switch (op) {
        case Arith::Add: out[i] = a[i] + b[i]; break;
        case Arith::Sub: out[i] = a[i] - b[i]; break;
        case Arith::Mul: out[i] = a[i] * b[i]; break;
        case Arith::Div: out[i] = a[i] / b[i]; break;
        case Arith::Mod: out[i] = std::fmod(a[i], b[i]); break;
      }
    }
    // For f32 operands the double result rounded to f32 equals the f32 operation: double has
    // at least 2 * 24 + 2 bits of precision, so +, -, *, / round once; fmod is exact.
    return std::vector<Tensor>{floatTensor(dtype, operands.shape, out)};
  }
  if (!isExactInt(dtype)) return unsupportedDType(node, dtype);
  std::vector<int64_t> a = asInts(operands.a), b = asInts(operands.b), out(a.size());
  const bool fmod = node.intAttr("fmod").value_or(0) != 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto ua = static_cast<uint64_t>(a[i]), ub = static_cast<uint64_t>(b[i]);
    switch (op) {
      case Arith::Add: out[i] = static_cast<int64_t>(ua + ub); break;
      case Arith::Sub: out[i] = static_cast<int64_t>(ua - ub); break;
      case Arith::Mul: out[i] = static_cast<int64_t>(ua * ub); break;
      case Arith::Div:
      case Arith::Mod:
        // Undefined behaviour at run time as well: the node is invalid, not just unfoldable.
        if (b[i] == 0) return invalid(node, "integer division by zero");
        if (a[i] == std::numeric_limits<int64_t>::min() && b[i] == -1) return invalid(node, "integer division overflows");
        if (op == Arith::Div) {
          out[i] = a[i] / b[i];  // truncates towards zero, as ONNX Runtime
        } else {
          int64_t r = a[i] % b[i];  // fmod=1: sign of the dividend
          if (!fmod && r != 0 && ((r < 0) != (b[i] < 0))) r += b[i];  // fmod=0: sign of the divisor
          out[i] = r;
        }
        break;
    }
  }
  return std::vector<Tensor>{intTensor(dtype, operands.shape, out)};
}

Result addKernel(const Node& n, std::span<const Tensor> in) { return arithmetic(n, in, Arith::Add); }
Result subKernel(const Node& n, std::span<const Tensor> in) { return arithmetic(n, in, Arith::Sub); }
Result mulKernel(const Node& n, std::span<const Tensor> in) { return arithmetic(n, in, Arith::Mul); }
Result divKernel(const Node& n, std::span<const Tensor> in) { return arithmetic(n, in, Arith::Div); }
Result modKernel(const Node& n, std::span<const Tensor> in) { return arithmetic(n, in, Arith::Mod); }

enum class Compare { Equal, Greater, Less, GreaterOrEqual, LessOrEqual };

template <class T>
bool compare(Compare op, T a, T b) {
  switch (op) {
    case Compare::Equal: return a == b;
    case Compare::Greater: return a > b;
    case Compare::Less: return a < b;
    case Compare::GreaterOrEqual: return a >= b;
    case Compare::LessOrEqual: return a <= b;
  }
  return false;
}

Result comparison(const Node& node, std::span<const Tensor> inputs, Compare op) {
  TP_ASSIGN_OR_RETURN(BinaryOperands operands, binaryOperands(node, inputs));
  const DType dtype = operands.dtype;
  const auto count = static_cast<size_t>(product(operands.shape));
  std::vector<int64_t> out(count);
  if (isWideFloat(dtype)) {
    std::vector<double> a = asDoubles(operands.a), b = asDoubles(operands.b);
    for (size_t i = 0; i < count; ++i) out[i] = compare(op, a[i], b[i]);
  } else if (isExactInt(dtype) || (dtype == DType::Bool && op == Compare::Equal)) {
    std::vector<int64_t> a = asInts(operands.a), b = asInts(operands.b);
    for (size_t i = 0; i < count; ++i) out[i] = compare(op, a[i], b[i]);
  } else {
    return unsupportedDType(node, dtype);
  }
  return std::vector<Tensor>{intTensor(DType::Bool, operands.shape, out)};
}

Result equalKernel(const Node& n, std::span<const Tensor> in) { return comparison(n, in, Compare::Equal); }
Result greaterKernel(const Node& n, std::span<const Tensor> in) { return comparison(n, in, Compare::Greater); }
Result lessKernel(const Node& n, std::span<const Tensor> in) { return comparison(n, in, Compare::Less); }
Result greaterOrEqualKernel(const Node& n, std::span<const Tensor> in) {
  return comparison(n, in, Compare::GreaterOrEqual);
}
Result lessOrEqualKernel(const Node& n, std::span<const Tensor> in) { return comparison(n, in, Compare::LessOrEqual); }

enum class Logic { And, Or };

Result logical(const Node& node, std::span<const Tensor> inputs, Logic op) {
  TP_ASSIGN_OR_RETURN(BinaryOperands operands, binaryOperands(node, inputs));
  if (operands.dtype != DType::Bool) return invalid(node, "operands must be bool");
  std::vector<int64_t> a = asInts(operands.a), b = asInts(operands.b), out(a.size());
  for (size_t i = 0; i < a.size(); ++i) out[i] = op == Logic::And ? (a[i] && b[i]) : (a[i] || b[i]);
  return std::vector<Tensor>{intTensor(DType::Bool, operands.shape, out)};
}

Result andKernel(const Node& n, std::span<const Tensor> in) { return logical(n, in, Logic::And); }
Result orKernel(const Node& n, std::span<const Tensor> in) { return logical(n, in, Logic::Or); }

Result notKernel(const Node& node, std::span<const Tensor> inputs) {
  TP_ASSIGN_OR_RETURN(const Tensor* x, input(node, inputs, 0, "X"));
  if (x->dtype() != DType::Bool) return invalid(node, "input must be bool");
  std::vector<int64_t> values = asInts(*x);
  for (int64_t& v : values) v = v == 0 ? 1 : 0;
  return std::vector<Tensor>{intTensor(DType::Bool, x->shape(), values)};
}

Result negKernel(const Node& node, std::span<const Tensor> inputs) {
  TP_ASSIGN_OR_RETURN(const Tensor* x, input(node, inputs, 0, "X"));
  if (isWideFloat(x->dtype())) {
    std::vector<double> values = asDoubles(*x);
    for (double& v : values) v = -v;
    return std::vector<Tensor>{floatTensor(x->dtype(), x->shape(), values)};
  }
  if (!isSignedInt(x->dtype())) return unsupportedDType(node, x->dtype());
  std::vector<int64_t> values = asInts(*x);
  for (int64_t& v : values) v = static_cast<int64_t>(uint64_t{0} - static_cast<uint64_t>(v));  // wraps
  return std::vector<Tensor>{intTensor(x->dtype(), x->shape(), values)};
}

// Range(start, limit, delta): ceil((limit - start) / delta) elements start + i * delta.
Result rangeKernel(const Node& node, std::span<const Tensor> inputs) {
  TP_ASSIGN_OR_RETURN(const Tensor* start, input(node, inputs, 0, "start"));
  TP_ASSIGN_OR_RETURN(const Tensor* limit, input(node, inputs, 1, "limit"));
  TP_ASSIGN_OR_RETURN(const Tensor* delta, input(node, inputs, 2, "delta"));
  const DType dtype = start->dtype();
  if (limit->dtype() != dtype || delta->dtype() != dtype) return invalid(node, "inputs must have the same dtype");
  if (start->numel() != 1 || limit->numel() != 1 || delta->numel() != 1) return invalid(node, "inputs must be scalars");
  if (isWideFloat(dtype)) {
    const double s = start->elementAsDouble(0), l = limit->elementAsDouble(0), d = delta->elementAsDouble(0);
    if (d == 0.0) return invalid(node, "delta is 0");
    const double n = std::max(std::ceil((l - s) / d), 0.0);
    if (!std::isfinite(n) || n > static_cast<double>(kKernelElementLimit)) {
      return unsupported(node, "the range has more than " + std::to_string(kKernelElementLimit) + " elements");
    }
    std::vector<double> out(static_cast<size_t>(n));
    if (dtype == DType::F32) {  // accumulate in the element type, as ONNX Runtime does
      float value = static_cast<float>(s);
      for (double& v : out) v = value, value += static_cast<float>(d);
    } else {
      double value = s;
      for (double& v : out) v = value, value += d;
    }
    return std::vector<Tensor>{floatTensor(dtype, {static_cast<int64_t>(out.size())}, out)};
  }
  if (!isSignedInt(dtype)) return unsupportedDType(node, dtype);
  const int64_t s = start->elementAsInt(0), l = limit->elementAsInt(0), d = delta->elementAsInt(0);
  if (d == 0) return invalid(node, "delta is 0");
  int64_t span = 0;
  if (__builtin_sub_overflow(l, s, &span)) return unsupported(node, "the range is too long");
  int64_t n = 0;
  if (span != 0 && ((span > 0) == (d > 0))) {
    // span and d have the same sign: span / d rounded up (INT64_MIN / -1 would overflow).
    if (d == -1 && span == std::numeric_limits<int64_t>::min()) return unsupported(node, "the range is too long");
    n = span / d + (span % d != 0 ? 1 : 0);
  }
  if (n > kKernelElementLimit) {
    return unsupported(node, "the range has more than " + std::to_string(kKernelElementLimit) + " elements");
  }
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = s + i * d;  // within [s, l): no overflow
  return std::vector<Tensor>{intTensor(dtype, {n}, out)};
}

constexpr BuiltinKernel kKernels[] = {
    {"onnx::Shape", "shape of the input (also from a static type when the data is elided)", shapeKernel},
    {"onnx::Size", "element count of the input", sizeKernel},
    {"onnx::Identity", "the input itself", identityKernel},
    {"onnx::Gather", "gather along an axis (any dtype; scalar or N-d indices, negative indices)", gatherKernel},
    {"onnx::Concat", "concatenation along an axis (any dtype)", concatKernel},
    {"onnx::Unsqueeze", "insert size-1 dims (axes as input from opset 13, attribute before)", unsqueezeKernel},
    {"onnx::Squeeze", "drop size-1 dims (axes as input from opset 13, attribute before)", squeezeKernel},
    {"onnx::Slice", "strided slice with clamping, negative indices and steps", sliceKernel},
    {"onnx::Cast", "conversion between integer, floating-point and bool dtypes", castKernel},
    {"onnx::Reshape", "reshape with 0 (copy) and -1 (infer), allowzero", reshapeKernel},
    {"onnx::Transpose", "axis permutation (any dtype)", transposeKernel},
    {"onnx::Expand", "bidirectional broadcast to a shape", expandKernel},
    {"onnx::Tile", "repetition along each axis", tileKernel},
    {"onnx::ConstantOfShape", "tensor of a shape filled with one value", constantOfShapeKernel},
    {"onnx::Range", "arithmetic sequence (integers, f32, f64)", rangeKernel},
    {"onnx::Where", "elementwise select with broadcasting", whereKernel},
    {"onnx::Add", "addition with broadcasting (integers wrap)", addKernel},
    {"onnx::Sub", "subtraction with broadcasting (integers wrap)", subKernel},
    {"onnx::Mul", "multiplication with broadcasting (integers wrap)", mulKernel},
    {"onnx::Div", "division with broadcasting (integers truncate towards zero)", divKernel},
    {"onnx::Mod", "remainder (fmod=0: sign of the divisor, fmod=1: of the dividend)", modKernel},
    {"onnx::Neg", "negation", negKernel},
    {"onnx::Equal", "elementwise ==", equalKernel},
    {"onnx::Greater", "elementwise >", greaterKernel},
    {"onnx::Less", "elementwise <", lessKernel},
    {"onnx::GreaterOrEqual", "elementwise >=", greaterOrEqualKernel},
    {"onnx::LessOrEqual", "elementwise <=", lessOrEqualKernel},
    {"onnx::Not", "logical not", notKernel},
    {"onnx::And", "logical and", andKernel},
    {"onnx::Or", "logical or", orKernel},
};

}  // namespace

std::span<const BuiltinKernel> onnxShapeKernels() { return kKernels; }

std::pair<int64_t, int64_t> onnxShapeRange(const Node& node, int64_t rank) {
  auto clampAxis = [rank](int64_t axis) { return std::clamp<int64_t>(axis < 0 ? axis + rank : axis, 0, rank); };
  const int64_t start = clampAxis(node.intAttr("start").value_or(0));
  const int64_t end = clampAxis(node.intAttr("end").value_or(rank));
  return {start, std::max(start, end)};
}

std::optional<DType> dtypeFromOnnxCode(int64_t code) {
  switch (code) {
    case 1: return DType::F32;
    case 2: return DType::U8;
    case 3: return DType::I8;
    case 4: return DType::U16;
    case 5: return DType::I16;
    case 6: return DType::I32;
    case 7: return DType::I64;
    case 9: return DType::Bool;
    case 10: return DType::F16;
    case 11: return DType::F64;
    case 12: return DType::U32;
    case 13: return DType::U64;
    case 14: return DType::C64;
    case 15: return DType::C128;
    case 16: return DType::BF16;
    case 17: return DType::F8E4M3;
    case 19: return DType::F8E5M2;
    default: return std::nullopt;  // 8 = string, 18/20 = other f8 variants
  }
}

}  // namespace torchport
