// Shape queries and shape manipulation: size/dim/numel/len, view/reshape/flatten,
// permute/transpose, (un)squeeze, cat/stack, chunk/split/unbind (ONNX Split feeding a
// sequence that prim::ListUnpack reads through), select/slice/narrow/index_select,
// expand/repeat/flip/roll, gather/scatter, padding, triu/tril, topk.
#include <algorithm>
#include <limits>

#include "converters.h"

namespace torchport::onnxplugin {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();

Type sameType(Value* x) { return tensorType(dtypeOf(x), shapeOf(x)); }
Type scalarI64() { return tensorType(DType::I64, std::vector<Dim>{}); }

bool isListValue(const Value* v) {
  return v->type().kind() == Type::Kind::List;
}

// ---------------------------------------------------------------------------------------
// Shape queries
// ---------------------------------------------------------------------------------------
// size(self) -> int[] | size(self, dim) -> int
Status lowerSize(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  if (l.numInputs() == 1) {
    l.setOutput(0, l.shape(x));
    return Status::ok();
  }
  if (!staticInt(l.input(1))) {
    TP_TRY(Value * dim, l.asI64Scalar(l.input(1)));
    l.setOutput(0, l.op("Gather", {l.shape(x), dim}).attr("axis", 0).type(scalarI64()));
    return Status::ok();
  }
  TP_TRY(int64_t dim, l.intArg(1, "dim"));
  if (auto r = rankOf(x)) {
    TP_TRY(dim, l.normalizeAxis(dim, *r, "dim"));
  }
  l.setOutput(0, l.dimSize(x, dim));
  return Status::ok();
}

Status lowerDim(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  if (auto r = rankOf(l.input(0))) {
    l.setOutput(0, l.staticIntValue(*r));
    return Status::ok();
  }
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  l.setOutput(0, l.op("Size", {l.shape(x)}).type(scalarI64()));
  return Status::ok();
}

Status lowerNumel(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  l.setOutput(0, l.op("Size", {x}).type(scalarI64()));
  return Status::ok();
}

// len(list) | len(tensor) (= size(0))
Status lowerLen(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  Value* v = l.input(0);
  if (auto ints = staticInts(v); ints && constantProducer(v) && !staticTensor(v)) {
    l.setOutput(0, l.staticIntValue(static_cast<int64_t>(ints->size())));
    return Status::ok();
  }
  const Node* p = v->producer();
  if (p != nullptr && p->kind() == "onnx::SequenceConstruct") {
    l.setOutput(0, l.staticIntValue(static_cast<int64_t>(p->numInputs())));
    return Status::ok();
  }
  if (auto d = staticDimOf(v, 0); d && dtypeOf(v) == DType::I64 && rankOf(v) == 1 && !v->type().isUnknown() &&
                                      (p == nullptr || p->domain() == "onnx")) {
    // Length of a 1-D int list whose size is known (Shape of a known-rank tensor, ...).
    if (p != nullptr && (p->kind() == "onnx::Shape" || p->kind() == "onnx::Concat" || p->kind() == "onnx::Slice")) {
      l.setOutput(0, l.staticIntValue(*d));
      return Status::ok();
    }
  }
  if (v->type().kind() == Type::Kind::List && !v->type().elements().empty() &&
      v->type().elements()[0].isTensor()) {
    l.setOutput(0, l.op("SequenceLength", {v}).type(scalarI64()));
    return Status::ok();
  }
  TP_TRY(Value * x, l.asTensor(v));
  if (rankOf(x) == 1) {
    l.setOutput(0, l.op("Size", {x}).type(scalarI64()));
    return Status::ok();
  }
  l.setOutput(0, l.dimSize(x, 0));
  return Status::ok();
}

// __getitem__(list, idx): int lists are 1-D tensors (Gather); tensor lists are sequences.
Status lowerGetItem(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  Value* list = l.input(0);
  if (list->type().kind() == Type::Kind::Object || list->type().kind() == Type::Kind::Unknown) {
    if (staticString(l.input(1)) != nullptr) return l.unsupported("dict indexing");
  }
  const Node* p = list->producer();
  auto idx = staticInt(l.input(1));
  if (p != nullptr && p->kind() == "onnx::SequenceConstruct" && idx) {
    int64_t i = *idx < 0 ? *idx + static_cast<int64_t>(p->numInputs()) : *idx;
    if (i < 0 || i >= static_cast<int64_t>(p->numInputs())) return l.invalid("list index out of range");
    l.passThrough(0, p->input(static_cast<size_t>(i)));
    return Status::ok();
  }
  if (auto ints = staticInts(list); ints && idx && !staticTensor(list)) {
    int64_t i = *idx < 0 ? *idx + static_cast<int64_t>(ints->size()) : *idx;
    if (i < 0 || i >= static_cast<int64_t>(ints->size())) return l.invalid("list index out of range");
    l.setOutput(0, l.staticIntValue((*ints)[static_cast<size_t>(i)]));
    return Status::ok();
  }
  TP_TRY(Value * index, l.asI64Scalar(l.input(1)));
  const Type& outType = l.output()->type();
  if (outType.isTensor() || (list->type().kind() == Type::Kind::List && !list->type().elements().empty() &&
                             list->type().elements()[0].isTensor())) {
    l.setOutput(0, l.op("SequenceAt", {list, index}));
    return Status::ok();
  }
  TP_TRY(Value * listTensor, l.asTensor(list));
  DType dt = dtypeOf(listTensor) == DType::Undefined ? DType::I64 : dtypeOf(listTensor);
  l.setOutput(0, l.op("Gather", {listTensor, index}).attr("axis", 0).type(tensorType(dt, std::vector<Dim>{})));
  return Status::ok();
}

// ---------------------------------------------------------------------------------------
// Reshapes
// ---------------------------------------------------------------------------------------
Status reshapeTo(Lowering& l, Value* x, Value* shapeArg) {
  TP_TRY(Value * target, l.asI64List(shapeArg));
  if (auto values = staticInts(target); values && std::find(values->begin(), values->end(), 0) != values->end()) {
    // PyTorch's 0 is an empty dim; ONNX Reshape copies the input dim for 0 unless allowzero.
    if (l.opset() < 14) return l.unsupported("reshape to a shape containing 0 needs opset >= 14 (allowzero)");
    Value* y = l.reshape(x, target);
    y->producer()->setAttribute("allowzero", int64_t{1});
    l.setOutput(0, y);
    return Status::ok();
  }
  l.setOutput(0, l.reshape(x, target));
  return Status::ok();
}

Status lowerView(Lowering& l) {  // view(self, size) | reshape(self, shape)
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  if (l.node().kind() == "aten::view" && l.input(1)->type().kind() == Type::Kind::Int) {
    // view.dtype(self, ScalarType) reinterprets bits: not expressible.
    return l.unsupported("view(dtype) bit reinterpretation");
  }
  return reshapeTo(l, x, l.input(1));
}

Status lowerViewAs(Lowering& l) {  // view_as(self, other) | reshape_as
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(Value * other, l.asTensor(l.input(1)));
  Value* y = l.op("Reshape", {x, l.shape(other)}).type(tensorType(dtypeOf(x), shapeOf(other)));
  l.setOutput(0, y);
  return Status::ok();
}

// flatten(self, start_dim=0, end_dim=-1)
Status lowerFlatten(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(int64_t start, l.intArgOr(1, "start_dim", 0));
  TP_TRY(int64_t end, l.intArgOr(2, "end_dim", -1));
  auto rank = rankOf(x);
  if (rank) {
    if (*rank == 0) {
      l.setOutput(0, l.reshape(x, l.i64s({1})));
      return Status::ok();
    }
    TP_TRY(start, l.normalizeAxis(start, *rank, "start_dim"));
    TP_TRY(end, l.normalizeAxis(end, *rank, "end_dim"));
    if (start > end) return l.invalid("flatten: start_dim must not come after end_dim");
    if (start == end) {
      l.passThrough(0, x);
      return Status::ok();
    }
  } else if (start == end) {
    l.passThrough(0, x);
    return Status::ok();
  }
  const bool toEnd = end == -1 || (rank && end == *rank - 1);
  std::optional<std::vector<Dim>> outShape;
  if (auto s = shapeOf(x)) {
    std::vector<Dim> dims(s->begin(), s->begin() + start);
    int64_t product = 1;
    bool known = true;
    for (int64_t i = start; i <= end; ++i) {
      const Dim& d = (*s)[static_cast<size_t>(i)];
      if (d.isKnown()) product *= d.size();
      else known = false;
    }
    dims.push_back(known ? Dim::known(product) : Dim::unknown());
    dims.insert(dims.end(), s->begin() + end + 1, s->end());
    outShape = dims;
  }
  if (start == 1 && toEnd) {
    // Flatten(axis=1) is exactly [d0, prod(rest)].
    l.setOutput(0, l.op("Flatten", {x}).attr("axis", 1).type(tensorType(dtypeOf(x), outShape)));
    return Status::ok();
  }
  std::vector<Value*> pieces;
  Value* full = l.shape(x);
  if (start != 0) pieces.push_back(l.slice(full, 0, 0, start));
  pieces.push_back(l.i64s({-1}));
  if (!toEnd) pieces.push_back(l.slice(full, 0, end + 1, kInt64Max));
  Value* y = l.op("Reshape", {x, l.concatLists(pieces)}).type(tensorType(dtypeOf(x), outShape));
  l.setOutput(0, y);
  return Status::ok();
}

// unflatten(self, dim, sizes)
Status lowerUnflatten(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(3));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(int64_t dim, l.intArg(1, "dim"));
  TP_TRY(Value * sizes, l.asI64List(l.input(2)));
  if (auto r = rankOf(x)) {
    TP_TRY(dim, l.normalizeAxis(dim, *r, "dim"));
  }
  Value* full = l.shape(x);
  std::vector<Value*> pieces;
  if (dim != 0) pieces.push_back(l.slice(full, 0, 0, dim));
  pieces.push_back(sizes);
  if (dim != -1) pieces.push_back(l.slice(full, 0, dim + 1, kInt64Max));
  l.setOutput(0, l.reshape(x, l.concatLists(pieces)));
  return Status::ok();
}

// permute(self, dims)
Status lowerPermute(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(std::vector<int64_t> dims, l.intsArg(1, "dims"));
  const int64_t rank = static_cast<int64_t>(dims.size());
  if (auto r = rankOf(x); r && *r != rank)
    return l.invalid("permute dims " + formatInts(dims) + " do not match the input rank " + std::to_string(*r));
  for (int64_t& d : dims) {
    TP_TRY(d, l.normalizeAxis(d, rank, "dim"));
  }
  l.setOutput(0, l.transpose(x, dims));
  return Status::ok();
}

// transpose(self, dim0, dim1) | swapaxes
Status lowerTranspose(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(3));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(int64_t d0, l.intArg(1, "dim0"));
  TP_TRY(int64_t d1, l.intArg(2, "dim1"));
  auto rank = rankOf(x);
  if (!rank)
    return l.unsupported("transpose needs the input rank to build the permutation; declare input shapes so ranks propagate");
  TP_TRY(d0, l.normalizeAxis(d0, *rank, "dim0"));
  TP_TRY(d1, l.normalizeAxis(d1, *rank, "dim1"));
  if (d0 == d1) {
    l.passThrough(0, x);
    return Status::ok();
  }
  std::vector<int64_t> perm(static_cast<size_t>(*rank));
  for (int64_t i = 0; i < *rank; ++i) perm[static_cast<size_t>(i)] = i;
  std::swap(perm[static_cast<size_t>(d0)], perm[static_cast<size_t>(d1)]);
  l.setOutput(0, l.transpose(x, perm));
  return Status::ok();
}

Status lowerT(Lowering& l) {  // t(self): 2-D transpose, identity for rank < 2
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  auto rank = rankOf(x);
  if (!rank) return l.unsupported("t() needs the input rank; declare input shapes");
  if (*rank > 2) return l.invalid("t() expects a tensor with <= 2 dims");
  if (*rank < 2) {
    l.passThrough(0, x);
    return Status::ok();
  }
  l.setOutput(0, l.transpose(x, {1, 0}));
  return Status::ok();
}

Status lowerNumpyT(Lowering& l) {  // numpy_T / permute with reversed dims
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  auto rank = rankOf(x);
  if (!rank) return l.unsupported("reversing dims needs the input rank");
  std::vector<int64_t> perm;
  for (int64_t i = *rank - 1; i >= 0; --i) perm.push_back(i);
  l.setOutput(0, l.transpose(x, perm));
  return Status::ok();
}

Status lowerUnsqueeze(Lowering& l) {  // unsqueeze(self, dim)
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(int64_t dim, l.intArg(1, "dim"));
  l.setOutput(0, l.unsqueeze(x, {dim}));
  return Status::ok();
}

// squeeze(self) | squeeze.dim(self, dim) | squeeze.dims(self, dims). PyTorch leaves dims
// whose size is not 1 alone, while ONNX Squeeze rejects them.
Status lowerSqueeze(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  if (l.numInputs() == 1) {
    std::optional<std::vector<Dim>> outShape;
    if (auto s = shapeOf(x)) {
      std::vector<int64_t> axes;
      bool allKnown = true;
      for (size_t i = 0; i < s->size(); ++i) {
        if (!(*s)[i].isKnown()) allKnown = false;
        else if ((*s)[i].size() == 1) axes.push_back(static_cast<int64_t>(i));
      }
      if (allKnown) {
        if (axes.empty()) l.passThrough(0, x);
        else l.setOutput(0, l.squeeze(x, axes));
        return Status::ok();
      }
    }
    l.setOutput(0, l.op("Squeeze", {x}).type(tensorType(dtypeOf(x), outShape)));
    return Status::ok();
  }
  TP_TRY(std::vector<int64_t> dims, l.intsArg(1, "dim"));
  auto rank = rankOf(x);
  std::vector<int64_t> squeezeAxes;
  std::vector<int64_t> dynamicAxes;
  for (int64_t d : dims) {
    if (rank && *rank == 0) continue;  // squeezing a 0-d tensor is a no-op
    int64_t a = d;
    if (rank) {
      TP_TRY(a, l.normalizeAxis(d, *rank, "dim"));
    }
    auto size = staticDimOf(x, a);
    if (size && *size == 1) squeezeAxes.push_back(a);
    else if (!size) dynamicAxes.push_back(a);
  }
  if (dynamicAxes.empty()) {
    if (squeezeAxes.empty()) l.passThrough(0, x);
    else l.setOutput(0, l.squeeze(x, squeezeAxes));
    return Status::ok();
  }
  if (dynamicAxes.size() > 1 || !squeezeAxes.empty() || dynamicAxes[0] < 0)
    return l.unsupported("squeeze of several dims of unknown size; declare static shapes for them");
  // Reshape to shape[:d] ++ shape[d + (shape[d] == 1):], dropping dim d only when it is 1.
  const int64_t d = dynamicAxes[0];
  Value* full = l.shape(x);
  Value* size = l.op("Gather", {full, l.i64(d)}).attr("axis", 0).type(scalarI64());
  Value* isOne = l.op("Equal", {size, l.i64(1)}).type(tensorType(DType::Bool, std::vector<Dim>{}));
  TP_TRY(Value * skip, l.castTo(isOne, DType::I64));
  Value* tailStart = l.unsqueeze(l.op("Add", {skip, l.i64(d)}).type(scalarI64()), {0});
  Value* tail = l.op("Slice", {full, tailStart, l.i64s({kInt64Max}), l.i64s({0})})
                    .type(tensorType(DType::I64, std::vector<Dim>{Dim::unknown()}));
  Value* head = l.slice(full, 0, 0, d);
  Value* target = l.op("Concat", {head, tail}).attr("axis", 0).type(tensorType(DType::I64, std::vector<Dim>{Dim::unknown()}));
  l.setOutput(0, l.op("Reshape", {x, target}).type(tensorType(dtypeOf(x))));
  return Status::ok();
}

// ---------------------------------------------------------------------------------------
// Concatenation and splitting
// ---------------------------------------------------------------------------------------
// Tensors of a list argument when it is a known SequenceConstruct.
std::optional<std::vector<Value*>> listElements(Value* list) {
  const Node* p = list->producer();
  if (p == nullptr || p->kind() != "onnx::SequenceConstruct") return std::nullopt;
  return std::vector<Value*>(p->inputs().begin(), p->inputs().end());
}

Status lowerCat(Lowering& l) {  // cat(tensors, dim=0)
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(int64_t dim, l.intArgOr(1, "dim", 0));
  auto elements = listElements(l.input(0));
  if (!elements) {
    l.setOutput(0, l.op("ConcatFromSequence", {l.input(0)}).attr("axis", dim));
    return Status::ok();
  }
  // PyTorch skips legacy empty 1-D tensors of size 0 and promotes dtypes.
  std::vector<Value*> inputs;
  for (Value* v : *elements) {
    if (rankOf(v) == 1 && staticDimOf(v, 0) == 0 && rankOf(elements->front()) != 1) continue;
    inputs.push_back(v);
  }
  if (inputs.empty()) return l.invalid("cat of an empty list");
  DType dt = DType::Undefined;
  TP_TRY(inputs, l.promoteOperands(inputs, dt));
  if (inputs.size() == 1) {
    l.passThrough(0, inputs[0]);
    return Status::ok();
  }
  std::optional<std::vector<Dim>> outShape = shapeOf(inputs[0]);
  if (outShape) {
    const int64_t rank = static_cast<int64_t>(outShape->size());
    const int64_t a = dim < 0 ? dim + rank : dim;
    if (a >= 0 && a < rank) {
      int64_t total = 0;
      bool known = true;
      for (Value* v : inputs) {
        auto d = staticDimOf(v, a);
        if (!d || rankOf(v) != rank) known = false;
        else total += *d;
      }
      (*outShape)[static_cast<size_t>(a)] = known ? Dim::known(total) : Dim::unknown();
      for (int64_t i = 0; i < rank; ++i) {
        if (i == a || !(*outShape)[static_cast<size_t>(i)].isUnknown()) continue;
        for (Value* v : inputs)
          if (Dim d = dimOf(v, i); !d.isUnknown()) (*outShape)[static_cast<size_t>(i)] = d;
      }
    }
  }
  l.setOutput(0, l.op("Concat", std::span<Value* const>(inputs)).attr("axis", dim).type(tensorType(dt, outShape)));
  return Status::ok();
}

Status lowerStack(Lowering& l) {  // stack(tensors, dim=0)
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(int64_t dim, l.intArgOr(1, "dim", 0));
  auto elements = listElements(l.input(0));
  if (!elements) {
    l.setOutput(0, l.op("ConcatFromSequence", {l.input(0)}).attr("axis", dim).attr("new_axis", 1));
    return Status::ok();
  }
  DType dt = DType::Undefined;
  TP_TRY(std::vector<Value*> inputs, l.promoteOperands(*elements, dt));
  std::vector<Value*> expanded;
  for (Value* v : inputs) expanded.push_back(l.unsqueeze(v, {dim}));
  std::optional<std::vector<Dim>> outShape = shapeOf(expanded[0]);
  if (outShape) {
    const int64_t rank = static_cast<int64_t>(outShape->size());
    const int64_t a = dim < 0 ? dim + rank : dim;
    if (a >= 0 && a < rank) (*outShape)[static_cast<size_t>(a)] = Dim::known(static_cast<int64_t>(expanded.size()));
  }
  if (expanded.size() == 1) {
    l.setOutput(0, expanded[0]);
    return Status::ok();
  }
  l.setOutput(0, l.op("Concat", std::span<Value* const>(expanded)).attr("axis", dim).type(tensorType(dt, outShape)));
  return Status::ok();
}

// Number of list elements consumers expect, from a prim::ListUnpack of the list output.
std::optional<size_t> unpackedCount(Lowering& l) {
  for (const Use& u : l.output()->uses())
    if (u.user->kind() == "prim::ListUnpack") return u.user->numOutputs();
  return std::nullopt;
}

// Emits Split with `sizes` (static, or a dynamic 1-D list with `count` entries) and maps
// the list output to a SequenceConstruct of the pieces (read through by ListUnpack).
Status emitSplit(Lowering& l, Value* x, int64_t dim, Value* sizes, size_t count,
                 const std::optional<std::vector<int64_t>>& staticSizes, bool squeezeEach) {
  std::vector<Type> types;
  for (size_t i = 0; i < count; ++i) {
    std::optional<std::vector<Dim>> s = shapeOf(x);
    if (s) {
      const int64_t rank = static_cast<int64_t>(s->size());
      const int64_t a = dim < 0 ? dim + rank : dim;
      if (a >= 0 && a < rank)
        (*s)[static_cast<size_t>(a)] = staticSizes ? Dim::known((*staticSizes)[i]) : Dim::unknown();
    }
    types.push_back(tensorType(dtypeOf(x), s));
  }
  OpBuilder split = l.op("Split", {x, sizes}, count).attr("axis", dim);
  std::vector<Value*> pieces;
  for (size_t i = 0; i < count; ++i) {
    split.type(types[i], i);
    Value* piece = split.out(i);
    if (squeezeEach) piece = l.squeeze(piece, {dim});
    pieces.push_back(piece);
  }
  Type listType = Type::list(pieces.empty() ? Type::unknown() : pieces[0]->type());
  l.setOutput(0, l.op("SequenceConstruct", std::span<Value* const>(pieces)).type(listType));
  return Status::ok();
}

// Sizes of chunks of `chunkSize` over a dim of size `total` (the last may be smaller).
std::vector<int64_t> chunkSizes(int64_t total, int64_t chunkSize) {
  std::vector<int64_t> sizes;
  for (int64_t done = 0; done < total; done += chunkSize) sizes.push_back(std::min(chunkSize, total - done));
  return sizes;
}

// Fixed-size chunks over a dynamic dim with `count` pieces: [c] * (count - 1) ++ [S - c * (count - 1)].
Value* dynamicChunkSizes(Lowering& l, Value* x, int64_t dim, Value* chunkSize, size_t count) {
  Value* total = l.dimSize(x, dim);
  const int64_t k = static_cast<int64_t>(count) - 1;
  Value* used = l.op("Mul", {chunkSize, l.i64(k)}).type(scalarI64());
  Value* last = l.unsqueeze(l.op("Sub", {total, used}).type(scalarI64()), {0});
  Value* c1 = l.unsqueeze(chunkSize, {0});
  std::vector<Value*> parts(static_cast<size_t>(k), c1);
  parts.push_back(last);
  if (parts.size() == 1) return parts[0];
  return l.op("Concat", std::span<Value* const>(parts)).attr("axis", 0).type(tensorType(DType::I64, knownDims({static_cast<int64_t>(count)})));
}

// chunk(self, chunks, dim=0): chunk size ceil(S / chunks), possibly fewer chunks.
Status lowerChunk(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(int64_t chunks, l.intArg(1, "chunks"));
  TP_TRY(int64_t dim, l.intArgOr(2, "dim", 0));
  if (chunks <= 0) return l.invalid("chunk expects a positive number of chunks");
  if (auto total = staticDimOf(x, dim)) {
    const int64_t chunkSize = std::max<int64_t>((*total + chunks - 1) / chunks, 1);
    auto sizes = chunkSizes(*total, chunkSize);
    if (sizes.empty()) sizes.push_back(0);
    return emitSplit(l, x, dim, l.i64s(sizes), sizes.size(), sizes, false);
  }
  auto count = unpackedCount(l);
  if (!count)
    return l.unsupported("chunk over a dim of unknown size whose pieces are not unpacked into a fixed number of values");
  // ceil(S / chunks) computed at run time.
  Value* total = l.dimSize(x, dim);
  Value* numerator = l.op("Add", {total, l.i64(chunks - 1)}).type(scalarI64());
  Value* chunkSize = l.op("Div", {numerator, l.i64(chunks)}).type(scalarI64());
  return emitSplit(l, x, dim, dynamicChunkSizes(l, x, dim, chunkSize, *count), *count, std::nullopt, false);
}

// split(self, split_size: int, dim=0) | split(self, split_sizes: int[], dim=0) | split_with_sizes
Status lowerSplit(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(int64_t dim, l.intArgOr(2, "dim", 0));
  const bool listForm = l.node().kind() == "aten::split_with_sizes" || isListValue(l.input(1)) ||
                        (staticInts(l.input(1)) && !staticInt(l.input(1)));
  if (listForm) {
    if (auto sizes = staticInts(l.input(1))) return emitSplit(l, x, dim, l.i64s(*sizes), sizes->size(), *sizes, false);
    auto count = unpackedCount(l);
    auto known = knownListDims(l.input(1));
    if (!known) return l.unsupported("split with dynamic split sizes of unknown count");
    // Sizes computed from static dims (e.g. [E, 2 * E] from a weight's shape) are static.
    std::vector<int64_t> values;
    for (const KnownInt& k : *known)
      if (k.value) values.push_back(*k.value);
    if (values.size() == known->size()) return emitSplit(l, x, dim, l.i64s(values), values.size(), values, false);
    TP_TRY(Value * sizes, l.asI64List(l.input(1)));
    return emitSplit(l, x, dim, sizes, count.value_or(known->size()), std::nullopt, false);
  }
  // A split size computed from static dims (d_model read from x.shape) counts as static.
  std::optional<int64_t> splitSize = staticInt(l.input(1));
  if (!splitSize && rankOf(l.input(1)).value_or(0) == 0) splitSize = knownIntValue(l.input(1)).value;
  if (splitSize) {
    if (*splitSize <= 0) return l.invalid("split_size must be positive");
    if (auto total = staticDimOf(x, dim)) {
      auto sizes = chunkSizes(*total, *splitSize);
      if (sizes.empty()) sizes.push_back(0);
      return emitSplit(l, x, dim, l.i64s(sizes), sizes.size(), sizes, false);
    }
    auto count = unpackedCount(l);
    if (!count) return l.unsupported("split over a dim of unknown size whose pieces are not unpacked");
    return emitSplit(l, x, dim, dynamicChunkSizes(l, x, dim, l.i64(*splitSize), *count), *count, std::nullopt, false);
  }
  return l.unsupported("split with a dynamic split_size");
}

// unbind(self, dim=0): Split into size-1 pieces, each squeezed.
Status lowerUnbind(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(int64_t dim, l.intArgOr(1, "dim", 0));
  std::optional<size_t> count;
  if (auto total = staticDimOf(x, dim)) count = static_cast<size_t>(*total);
  else count = unpackedCount(l);
  if (!count) return l.unsupported("unbind over a dim of unknown size whose pieces are not unpacked");
  std::vector<int64_t> ones(*count, 1);
  return emitSplit(l, x, dim, l.i64s(ones), *count, ones, true);
}

// ---------------------------------------------------------------------------------------
// Indexing
// ---------------------------------------------------------------------------------------
Status lowerSelect(Lowering& l) {  // select(self, dim, index)
  TP_RETURN_IF_ERROR(l.needInputs(3));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(int64_t dim, l.intArg(1, "dim"));
  TP_TRY(Value * index, l.asI64Scalar(l.input(2)));
  std::optional<std::vector<Dim>> outShape = shapeOf(x);
  if (outShape) {
    TP_TRY(int64_t a, l.normalizeAxis(dim, static_cast<int64_t>(outShape->size()), "dim"));
    outShape->erase(outShape->begin() + a);
    dim = a;
  }
  l.setOutput(0, l.op("Gather", {x, index}).attr("axis", dim).type(tensorType(dtypeOf(x), outShape)));
  return Status::ok();
}

Expected<Value*> boundList(Lowering& l, Value* v, int64_t fallback) {
  if (isNone(v)) return l.i64s({fallback});
  return l.asI64List(v);
}

// slice(self, dim=0, start=None, end=None, step=1) | slice.t(list, start, end, step)
Status lowerSlice(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  const bool listForm = isListValue(l.input(0)) || l.numInputs() == 4;
  const size_t base = listForm ? 0 : 1;
  TP_TRY(Value * x, listForm ? l.asI64List(l.input(0)) : l.asTensor(l.input(0)));
  int64_t dim = 0;
  if (!listForm) {
    TP_TRY(dim, l.intArgOr(1, "dim", 0));
  }
  TP_TRY(int64_t step, l.intArgOr(base + 3, "step", 1));
  if (step <= 0) return l.invalid("slice step must be positive (PyTorch rejects negative steps; use flip)");
  Value* startArg = base + 1 < l.numInputs() ? l.input(base + 1) : nullptr;
  Value* endArg = base + 2 < l.numInputs() ? l.input(base + 2) : nullptr;
  auto start = startArg == nullptr || isNone(startArg) ? std::optional<int64_t>(0) : staticInt(startArg);
  auto end = endArg == nullptr || isNone(endArg) ? std::optional<int64_t>(kInt64Max) : staticInt(endArg);
  if (start && end) {
    if (*start == 0 && *end >= kInt64Max && step == 1) {
      l.passThrough(0, x);
      return Status::ok();
    }
    if (listForm) {
      if (auto values = staticInts(x)) {
        std::vector<int64_t> out;
        const int64_t n = static_cast<int64_t>(values->size());
        int64_t s = *start < 0 ? std::max<int64_t>(*start + n, 0) : std::min(*start, n);
        int64_t e = *end < 0 ? std::max<int64_t>(*end + n, 0) : std::min(*end, n);
        for (int64_t i = s; i < e; i += step) out.push_back((*values)[static_cast<size_t>(i)]);
        l.setOutput(0, l.i64s(out));
        return Status::ok();
      }
    }
    l.setOutput(0, l.slice(x, dim, *start, *end, step));
    return Status::ok();
  }
  TP_TRY(Value * starts, boundList(l, startArg, 0));
  TP_TRY(Value * ends, boundList(l, endArg, kInt64Max));
  std::optional<std::vector<Dim>> outShape = shapeOf(x);
  if (outShape && !outShape->empty()) {
    const int64_t rank = static_cast<int64_t>(outShape->size());
    const int64_t a = dim < 0 ? dim + rank : dim;
    if (a >= 0 && a < rank) (*outShape)[static_cast<size_t>(a)] = Dim::unknown();
  }
  l.setOutput(0, l.op("Slice", {x, starts, ends, l.i64s({dim}), l.i64s({step})}).type(tensorType(dtypeOf(x), outShape)));
  return Status::ok();
}

Status lowerNarrow(Lowering& l) {  // narrow(self, dim, start, length)
  TP_RETURN_IF_ERROR(l.needInputs(4));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(int64_t dim, l.intArg(1, "dim"));
  auto start = staticInt(l.input(2));
  auto length = staticInt(l.input(3));
  if (start && length && *start >= 0) {
    l.setOutput(0, l.slice(x, dim, *start, *start + *length, 1));
    return Status::ok();
  }
  TP_TRY(Value * s, l.asI64Scalar(l.input(2)));
  TP_TRY(Value * len, l.asI64Scalar(l.input(3)));
  if (!start || *start < 0) {
    // A negative start counts from the end of the dim.
    Value* size = l.dimSize(x, dim);
    Value* negative = l.op("Less", {s, l.i64(0)}).type(tensorType(DType::Bool, std::vector<Dim>{}));
    s = l.op("Where", {negative, l.op("Add", {s, size}).type(scalarI64()), s}).type(scalarI64());
  }
  Value* e = l.op("Add", {s, len}).type(scalarI64());
  std::optional<std::vector<Dim>> outShape = shapeOf(x);
  if (outShape) {
    TP_TRY(int64_t a, l.normalizeAxis(dim, static_cast<int64_t>(outShape->size()), "dim"));
    (*outShape)[static_cast<size_t>(a)] = length ? Dim::known(*length) : Dim::unknown();
  }
  l.setOutput(0, l.op("Slice", {x, l.unsqueeze(s, {0}), l.unsqueeze(e, {0}), l.i64s({dim})})
                     .type(tensorType(dtypeOf(x), outShape)));
  return Status::ok();
}

Status lowerIndexSelect(Lowering& l) {  // index_select(self, dim, index)
  TP_RETURN_IF_ERROR(l.needInputs(3));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(int64_t dim, l.intArg(1, "dim"));
  TP_TRY(Value * index, l.asTensor(l.input(2)));
  std::optional<std::vector<Dim>> outShape = shapeOf(x);
  if (outShape) {
    TP_TRY(int64_t a, l.normalizeAxis(dim, static_cast<int64_t>(outShape->size()), "dim"));
    (*outShape)[static_cast<size_t>(a)] = rankOf(index) == 1 ? dimOf(index, 0) : Dim::unknown();
  }
  l.setOutput(0, l.op("Gather", {x, index}).attr("axis", dim).type(tensorType(dtypeOf(x), outShape)));
  return Status::ok();
}

// index.Tensor(self, indices: Tensor?[]): a single integer index tensor (after leading
// None entries) is a Gather along that dim.
Status lowerIndex(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  auto elements = listElements(l.input(1));
  if (!elements) return l.unsupported("indexing with a dynamic list of indices");
  int64_t axis = -1;
  Value* index = nullptr;
  for (size_t i = 0; i < elements->size(); ++i) {
    Value* e = (*elements)[i];
    if (isNone(e)) continue;
    if (index != nullptr) return l.unsupported("advanced indexing with more than one index tensor");
    index = e;
    axis = static_cast<int64_t>(i);
  }
  if (index == nullptr) {
    l.passThrough(0, x);
    return Status::ok();
  }
  TP_TRY(index, l.asTensor(index));
  const DType dt = dtypeOf(index);
  if (dt == DType::Bool || dt == DType::U8)
    return l.unsupported("boolean mask indexing (its output shape depends on the data); use torch.where");
  std::optional<std::vector<Dim>> outShape;
  if (auto s = shapeOf(x); s && shapeOf(index)) {
    std::vector<Dim> dims(s->begin(), s->begin() + axis);
    auto is = *shapeOf(index);
    dims.insert(dims.end(), is.begin(), is.end());
    dims.insert(dims.end(), s->begin() + axis + 1, s->end());
    outShape = dims;
  }
  l.setOutput(0, l.op("Gather", {x, index}).attr("axis", axis).type(tensorType(dtypeOf(x), outShape)));
  return Status::ok();
}

// gather(self, dim, index, sparse_grad=False)
Status lowerGather(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(3));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(int64_t dim, l.intArg(1, "dim"));
  TP_TRY(Value * index, l.asTensor(l.input(2)));
  l.setOutput(0, l.op("GatherElements", {x, index}).attr("axis", dim).type(tensorType(dtypeOf(x), shapeOf(index))));
  return Status::ok();
}

// scatter(self, dim, index, src|value) | scatter_add(self, dim, index, src)
Status lowerScatter(Lowering& l, bool add) {
  TP_RETURN_IF_ERROR(l.needInputs(4));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(int64_t dim, l.intArg(1, "dim"));
  TP_TRY(Value * index, l.asTensor(l.input(2)));
  Value* updates = nullptr;
  if (isStaticScalar(l.input(3)) || rankOf(l.input(3)) == 0) {
    TP_TRY(Value * value, l.castLike(l.input(3), x));
    updates = l.op("Expand", {value, l.shape(index)}).type(tensorType(dtypeOf(x), shapeOf(index)));
  } else {
    TP_TRY(updates, l.castLike(l.input(3), x));
  }
  if (l.numInputs() > 4 && !l.isNoneArg(4)) return l.unsupported("scatter with a reduce argument");
  OpBuilder b = l.op("ScatterElements", {x, index, updates}).attr("axis", dim);
  if (add) {
    if (l.opset() < 16) return l.unsupported("scatter_add needs opset >= 16 (ScatterElements reduction='add')");
    b.attr("reduction", "add");
  }
  l.setOutput(0, b.type(sameType(x)));
  return Status::ok();
}
Status lowerScatterSet(Lowering& l) { return lowerScatter(l, false); }
Status lowerScatterAdd(Lowering& l) { return lowerScatter(l, true); }

// ---------------------------------------------------------------------------------------
// Expansion and reordering
// ---------------------------------------------------------------------------------------
// expand(self, size, implicit=False): -1 keeps the input dim; ONNX Expand broadcasts, so -1 -> 1.
Status lowerExpand(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  Value* target = nullptr;
  if (auto sizes = staticInts(l.input(1))) {
    std::vector<int64_t> onnxSizes = *sizes;
    for (int64_t& s : onnxSizes)
      if (s == -1) s = 1;
    target = l.i64s(onnxSizes);
  } else {
    TP_TRY(Value * list, l.asI64List(l.input(1)));
    Value* isKeep = l.op("Equal", {list, l.i64(-1)}).type(tensorType(DType::Bool, shapeOf(list)));
    target = l.op("Where", {isKeep, l.i64(1), list}).type(tensorType(DType::I64, shapeOf(list)));
  }
  std::optional<std::vector<Dim>> outShape;
  if (auto known = knownListDims(l.input(1))) {
    auto s = shapeOf(x);
    const size_t n = known->size();
    std::vector<Dim> dims;
    for (size_t i = 0; i < n; ++i) {
      const KnownInt& k = (*known)[i];
      const size_t lead = s && s->size() <= n ? n - s->size() : n;
      if (k.value == -1) dims.push_back(s && i >= lead ? (*s)[i - lead] : Dim::unknown());
      else dims.push_back(k.asDim());
    }
    outShape = dims;
  }
  l.setOutput(0, l.op("Expand", {x, target}).type(tensorType(dtypeOf(x), outShape)));
  return Status::ok();
}

Status lowerExpandAs(Lowering& l) {  // expand_as(self, other)
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(Value * other, l.asTensor(l.input(1)));
  l.setOutput(0, l.op("Expand", {x, l.shape(other)}).type(tensorType(dtypeOf(x), shapeOf(other))));
  return Status::ok();
}

// repeat(self, repeats): x is first viewed with len(repeats) dims (leading 1s), then tiled.
Status lowerRepeat(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(Value * repeats, l.asI64List(l.input(1)));
  auto count = staticDimOf(repeats, 0);
  if (!count) return l.unsupported("repeat with a repeats list of unknown length");
  auto rank = rankOf(x);
  if (rank && *rank > *count) return l.invalid("repeat: fewer repeat counts than tensor dims");
  Value* base = x;
  if (!rank || *rank < *count) {
    // Expand to ones(count) broadcasts x to the padded rank without changing its data.
    base = l.op("Expand", {x, l.i64s(std::vector<int64_t>(static_cast<size_t>(*count), 1))})
               .type(tensorTypeOfRank(dtypeOf(x), *count));
    if (rank) {
      std::vector<Dim> dims(static_cast<size_t>(*count - *rank), Dim::known(1));
      auto s = *shapeOf(x);
      dims.insert(dims.end(), s.begin(), s.end());
      base->setType(tensorType(dtypeOf(x), dims));
    }
  }
  std::optional<std::vector<Dim>> outShape;
  if (auto s = shapeOf(base); s && staticInts(repeats)) {
    auto r = *staticInts(repeats);
    std::vector<Dim> dims;
    for (size_t i = 0; i < s->size(); ++i)
      dims.push_back((*s)[i].isKnown() ? Dim::known((*s)[i].size() * r[i]) : (r[i] == 1 ? (*s)[i] : Dim::unknown()));
    outShape = dims;
  } else {
    outShape = std::vector<Dim>(static_cast<size_t>(*count));
  }
  l.setOutput(0, l.op("Tile", {base, repeats}).type(tensorType(dtypeOf(x), outShape)));
  return Status::ok();
}

// tile(self, dims): like repeat, but fewer dims than the rank are padded with leading 1s.
Status lowerTile(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(std::vector<int64_t> dims, l.intsArg(1, "dims"));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  auto rank = rankOf(x);
  if (!rank) return l.unsupported("tile needs the input rank");
  while (static_cast<int64_t>(dims.size()) < *rank) dims.insert(dims.begin(), 1);
  Value* base = x;
  if (*rank < static_cast<int64_t>(dims.size()))
    base = l.op("Expand", {x, l.i64s(std::vector<int64_t>(dims.size(), 1))}).type(tensorTypeOfRank(dtypeOf(x), static_cast<int64_t>(dims.size())));
  l.setOutput(0, l.op("Tile", {base, l.i64s(dims)}).type(tensorTypeOfRank(dtypeOf(x), static_cast<int64_t>(dims.size()))));
  return Status::ok();
}

Status lowerFlip(Lowering& l) {  // flip(self, dims)
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(std::vector<int64_t> dims, l.intsArg(1, "dims"));
  if (dims.empty()) {
    l.passThrough(0, x);
    return Status::ok();
  }
  std::vector<int64_t> starts(dims.size(), -1), ends(dims.size(), kInt64Min), steps(dims.size(), -1);
  l.setOutput(0, l.op("Slice", {x, l.i64s(starts), l.i64s(ends), l.i64s(dims), l.i64s(steps)}).type(sameType(x)));
  return Status::ok();
}

// roll(self, shifts, dims=[]): per dim, Concat(x[-s:], x[:-s]).
Status lowerRoll(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(std::vector<int64_t> shifts, l.intsArg(1, "shifts"));
  std::vector<int64_t> dims;
  if (!l.isNoneArg(2)) {
    TP_TRY(dims, l.intsArg(2, "dims"));
  }
  Value* y = x;
  Value* originalShape = nullptr;
  if (dims.empty()) {
    if (shifts.size() != 1) return l.invalid("roll without dims takes exactly one shift");
    originalShape = l.shape(x);
    y = l.reshape(x, l.i64s({-1}));
    dims = {0};
  }
  if (dims.size() != shifts.size()) return l.invalid("roll: shifts and dims must have the same length");
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t s = shifts[i];
    if (auto size = staticDimOf(y, dims[i]); size && *size > 0) s = ((s % *size) + *size) % *size;
    if (s == 0) continue;
    Value* tail = l.slice(y, dims[i], -s, kInt64Max);
    Value* head = l.slice(y, dims[i], 0, -s);
    y = l.op("Concat", {tail, head}).attr("axis", dims[i]).type(sameType(y));
  }
  if (originalShape != nullptr) y = l.op("Reshape", {y, originalShape}).type(sameType(x));
  l.passThrough(0, y);
  return Status::ok();
}

// ---------------------------------------------------------------------------------------
// Padding
// ---------------------------------------------------------------------------------------
// PyTorch pads list the last dim first: [l_last, r_last, l_prev, r_prev, ...].
Expected<Value*> onnxPads(Lowering& l, Value* x, const std::vector<int64_t>& torchPads) {
  auto rank = rankOf(x);
  if (!rank) return Status(l.unsupported("padding needs the input rank; declare input shapes"));
  if (torchPads.size() % 2 != 0 || static_cast<int64_t>(torchPads.size()) > 2 * *rank)
    return Status(l.invalid("pad list " + formatInts(torchPads) + " does not fit a rank-" + std::to_string(*rank) + " input"));
  std::vector<int64_t> pads(static_cast<size_t>(2 * *rank), 0);
  for (size_t i = 0; i < torchPads.size() / 2; ++i) {
    const size_t axis = static_cast<size_t>(*rank) - 1 - i;
    pads[axis] = torchPads[2 * i];
    pads[axis + static_cast<size_t>(*rank)] = torchPads[2 * i + 1];
  }
  return l.i64s(pads);
}

std::optional<std::vector<Dim>> paddedShape(Value* x, const std::vector<int64_t>& torchPads) {
  auto s = shapeOf(x);
  if (!s) return std::nullopt;
  for (size_t i = 0; i < torchPads.size() / 2 && i < s->size(); ++i) {
    Dim& d = (*s)[s->size() - 1 - i];
    d = d.isKnown() ? Dim::known(d.size() + torchPads[2 * i] + torchPads[2 * i + 1]) : Dim::unknown();
  }
  return s;
}

Status emitPad(Lowering& l, Value* x, const std::vector<int64_t>& torchPads, const std::string& mode, double value) {
  TP_TRY(Value * pads, onnxPads(l, x, torchPads));
  std::vector<Value*> inputs{x, pads};
  if (mode == "constant") {
    TP_TRY(Value * v, l.castLike(l.staticFloatValue(value), x));
    inputs.push_back(v);
  }
  l.setOutput(0, l.op("Pad", std::span<Value* const>(inputs)).attr("mode", mode).type(tensorType(dtypeOf(x), paddedShape(x, torchPads))));
  return Status::ok();
}

Status lowerConstantPad(Lowering& l) {  // constant_pad_nd(self, pad, value=0)
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(std::vector<int64_t> pads, l.intsArg(1, "pad"));
  TP_TRY(double value, l.floatArgOr(2, "value", 0.0));
  return emitPad(l, x, pads, "constant", value);
}

Status lowerPad(Lowering& l) {  // pad(self, pad, mode='constant', value=None)
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(std::vector<int64_t> pads, l.intsArg(1, "pad"));
  TP_TRY(std::string mode, l.stringArgOr(2, "mode", "constant"));
  TP_TRY(double value, l.floatArgOr(3, "value", 0.0));
  if (mode == "replicate") mode = "edge";
  if (mode == "circular") return l.unsupported("circular padding (ONNX Pad 'wrap' needs opset 19)");
  if (mode != "constant" && mode != "reflect" && mode != "edge") return l.invalid("unknown padding mode '" + mode + "'");
  return emitPad(l, x, pads, mode, value);
}

Status lowerModePad(Lowering& l, const char* mode) {  // reflection_pad2d(self, padding)
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(std::vector<int64_t> pads, l.intsArg(1, "padding"));
  return emitPad(l, x, pads, mode, 0.0);
}
Status lowerReflectionPad(Lowering& l) { return lowerModePad(l, "reflect"); }
Status lowerReplicationPad(Lowering& l) { return lowerModePad(l, "edge"); }

// ---------------------------------------------------------------------------------------
// triu / tril and topk
// ---------------------------------------------------------------------------------------
Status lowerTriangular14(Lowering& l, bool upper) {  // triu(self, diagonal=0)
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  std::vector<Value*> inputs{x};
  if (!l.isNoneArg(1)) {
    TP_TRY(Value * k, l.asI64Scalar(l.input(1)));
    inputs.push_back(k);
  }
  l.setOutput(0, l.op("Trilu", std::span<Value* const>(inputs)).attr("upper", upper ? 1 : 0).type(sameType(x)));
  return Status::ok();
}

// Before Trilu (opset 14): Where(col - row >= k (triu) / <= k (tril), x, 0).
Status lowerTriangular13(Lowering& l, bool upper) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(int64_t k, l.intArgOr(1, "diagonal", 0));
  Value* rows = l.op("Range", {l.i64(0), l.dimSize(x, -2), l.i64(1)}).type(tensorType(DType::I64, std::vector<Dim>{Dim::unknown()}));
  Value* cols = l.op("Range", {l.i64(0), l.dimSize(x, -1), l.i64(1)}).type(tensorType(DType::I64, std::vector<Dim>{Dim::unknown()}));
  Value* diff = l.op("Sub", {l.unsqueeze(cols, {0}), l.unsqueeze(rows, {1})}).type(tensorTypeOfRank(DType::I64, 2));
  Value* keep = l.op(upper ? "GreaterOrEqual" : "LessOrEqual", {diff, l.i64(k)}).type(tensorTypeOfRank(DType::Bool, 2));
  TP_TRY(Value * zero, l.castLike(l.staticFloatValue(0.0), x));
  TP_TRY(Value * y, l.where(keep, x, zero, sameType(x)));
  l.setOutput(0, y);
  return Status::ok();
}
Status lowerTriu13(Lowering& l) { return lowerTriangular13(l, true); }
Status lowerTril13(Lowering& l) { return lowerTriangular13(l, false); }
Status lowerTriu14(Lowering& l) { return lowerTriangular14(l, true); }
Status lowerTril14(Lowering& l) { return lowerTriangular14(l, false); }

// topk(self, k, dim=-1, largest=True, sorted=True) -> (values, indices)
Status lowerTopk(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(2));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(Value * k, l.asI64List(l.input(1)));
  TP_TRY(int64_t dim, l.intArgOr(2, "dim", -1));
  TP_TRY(bool largest, l.boolArgOr(3, "largest", true));
  TP_TRY(bool sorted, l.boolArgOr(4, "sorted", true));
  std::optional<std::vector<Dim>> outShape = shapeOf(x);
  if (outShape && !outShape->empty()) {
    TP_TRY(int64_t a, l.normalizeAxis(dim, static_cast<int64_t>(outShape->size()), "dim"));
    auto kv = staticInt(l.input(1));
    (*outShape)[static_cast<size_t>(a)] = kv ? Dim::known(*kv) : Dim::unknown();
  }
  OpBuilder topk = l.op("TopK", {x, k}, 2)
                       .attr("axis", dim)
                       .attr("largest", largest ? 1 : 0)
                       .attr("sorted", sorted ? 1 : 0)
                       .type(tensorType(dtypeOf(x), outShape), 0)
                       .type(tensorType(DType::I64, outShape), 1);
  l.setOutput(0, topk.out(0));
  if (l.node().numOutputs() > 1) l.setOutput(1, topk.out(1));
  return Status::ok();
}

// sort(self, dim=-1, descending=False) -> (values, indices) | argsort: TopK over the whole dim.
Status lowerSortLike(Lowering& l, bool indicesOnly) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  // sort.stable(self, *, stable, dim, descending) has a bool second; the common overload an int.
  size_t dimIndex = 1, descendingIndex = 2;
  if (l.numInputs() >= 2 && l.input(1)->type().kind() == Type::Kind::Bool) {
    dimIndex = 2;
    descendingIndex = 3;
  }
  TP_TRY(int64_t dim, l.intArgOr(dimIndex, "dim", -1));
  TP_TRY(bool descending, l.boolArgOr(descendingIndex, "descending", false));
  Value* k = l.unsqueeze(l.dimSize(x, dim), {0});
  // TopK keeps ties in index order only when sorted; PyTorch's default sort is not stable
  // either, so ties may order differently.
  OpBuilder topk = l.op("TopK", {x, k}, 2)
                       .attr("axis", dim)
                       .attr("largest", descending ? 1 : 0)
                       .attr("sorted", 1)
                       .type(tensorType(dtypeOf(x), shapeOf(x)), 0)
                       .type(tensorType(DType::I64, shapeOf(x)), 1);
  if (indicesOnly) {
    l.setOutput(0, topk.out(1));
    return Status::ok();
  }
  l.setOutput(0, topk.out(0));
  if (l.node().numOutputs() > 1) l.setOutput(1, topk.out(1));
  return Status::ok();
}
Status lowerSort(Lowering& l) { return lowerSortLike(l, false); }
Status lowerArgsort(Lowering& l) { return lowerSortLike(l, true); }

// one_hot(self, num_classes=-1): OneHot with depth and values [0, 1], i64 result.
Status lowerOneHot(Lowering& l) {
  TP_RETURN_IF_ERROR(l.needInputs(1));
  TP_TRY(Value * x, l.asTensor(l.input(0)));
  TP_TRY(int64_t classes, l.intArgOr(1, "num_classes", -1));
  if (classes < 0) return l.unsupported("one_hot without num_classes (it depends on the data: max + 1)");
  std::optional<std::vector<Dim>> shape = shapeOf(x);
  if (shape) shape->push_back(Dim::known(classes));
  l.setOutput(0, l.op("OneHot", {x, l.i64(classes), l.i64s({0, 1})}).attr("axis", -1).type(tensorType(DType::I64, shape)));
  return Status::ok();
}

constexpr ConverterSpec kTable[] = {
    {"aten::size", kMinOpset, kMaxOpset, "Shape, or Gather(Shape, dim) -> 0-d i64", lowerSize},
    {"aten::dim", kMinOpset, kMaxOpset, "constant rank (Size(Shape) when unknown)", lowerDim},
    {"aten::numel", kMinOpset, kMaxOpset, "Size", lowerNumel},
    {"aten::len", kMinOpset, kMaxOpset, "list length (static, Size or SequenceLength)", lowerLen},
    {"aten::__getitem__", kMinOpset, kMaxOpset, "list element: Gather (int lists), sequence element (tensor lists)", lowerGetItem},
    {"aten::view", kMinOpset, kMaxOpset, "Reshape", lowerView},
    {"aten::reshape", kMinOpset, kMaxOpset, "Reshape (0 in static shapes via allowzero, opset 14+)", lowerView},
    {"aten::_reshape_alias", kMinOpset, kMaxOpset, "Reshape", lowerView},
    {"aten::_unsafe_view", kMinOpset, kMaxOpset, "Reshape", lowerView},
    {"aten::view_as", kMinOpset, kMaxOpset, "Reshape(x, Shape(other))", lowerViewAs},
    {"aten::reshape_as", kMinOpset, kMaxOpset, "Reshape(x, Shape(other))", lowerViewAs},
    {"aten::flatten", kMinOpset, kMaxOpset, "Flatten(axis=1) or Reshape with a computed shape", lowerFlatten},
    {"aten::unflatten", kMinOpset, kMaxOpset, "Reshape with a computed shape", lowerUnflatten},
    {"aten::permute", kMinOpset, kMaxOpset, "Transpose", lowerPermute},
    {"aten::transpose", kMinOpset, kMaxOpset, "Transpose (needs the rank)", lowerTranspose},
    {"aten::swapaxes", kMinOpset, kMaxOpset, "Transpose (needs the rank)", lowerTranspose},
    {"aten::swapdims", kMinOpset, kMaxOpset, "Transpose (needs the rank)", lowerTranspose},
    {"aten::t", kMinOpset, kMaxOpset, "Transpose of a matrix", lowerT},
    {"aten::numpy_T", kMinOpset, kMaxOpset, "Transpose reversing all dims", lowerNumpyT},
    {"aten::unsqueeze", kMinOpset, kMaxOpset, "Unsqueeze (axes input)", lowerUnsqueeze},
    {"aten::unsqueeze_", kMinOpset, kMaxOpset, "Unsqueeze (axes input)", lowerUnsqueeze},
    {"aten::squeeze", kMinOpset, kMaxOpset, "Squeeze of size-1 dims (no-op on other sizes, as in PyTorch)", lowerSqueeze},
    {"aten::squeeze_", kMinOpset, kMaxOpset, "Squeeze", lowerSqueeze},
    {"aten::cat", kMinOpset, kMaxOpset, "Concat (promoted dtypes), ConcatFromSequence for dynamic lists", lowerCat},
    {"aten::concat", kMinOpset, kMaxOpset, "Concat", lowerCat},
    {"aten::concatenate", kMinOpset, kMaxOpset, "Concat", lowerCat},
    {"aten::stack", kMinOpset, kMaxOpset, "Unsqueeze + Concat", lowerStack},
    {"aten::chunk", kMinOpset, kMaxOpset, "Split (static sizes, or dynamic with ListUnpack's count)", lowerChunk},
    {"aten::unsafe_chunk", kMinOpset, kMaxOpset, "Split", lowerChunk},
    {"aten::split", kMinOpset, kMaxOpset, "Split", lowerSplit},
    {"aten::unsafe_split", kMinOpset, kMaxOpset, "Split", lowerSplit},
    {"aten::split_with_sizes", kMinOpset, kMaxOpset, "Split", lowerSplit},
    {"aten::unbind", kMinOpset, kMaxOpset, "Split into size-1 pieces + Squeeze", lowerUnbind},
    {"aten::select", kMinOpset, kMaxOpset, "Gather with a 0-d index", lowerSelect},
    {"aten::slice", kMinOpset, kMaxOpset, "Slice (static or dynamic bounds; positive steps)", lowerSlice},
    {"aten::narrow", kMinOpset, kMaxOpset, "Slice(start, start + length)", lowerNarrow},
    {"aten::index_select", kMinOpset, kMaxOpset, "Gather", lowerIndexSelect},
    {"aten::index", kMinOpset, kMaxOpset, "Gather for a single integer index tensor", lowerIndex},
    {"aten::gather", kMinOpset, kMaxOpset, "GatherElements", lowerGather},
    {"aten::scatter", kMinOpset, kMaxOpset, "ScatterElements", lowerScatterSet},
    {"aten::scatter_add", kMinOpset, kMaxOpset, "ScatterElements(reduction='add'), opset 16+", lowerScatterAdd},
    {"aten::expand", kMinOpset, kMaxOpset, "Expand (-1 keeps the input dim)", lowerExpand},
    {"aten::expand_as", kMinOpset, kMaxOpset, "Expand(x, Shape(other))", lowerExpandAs},
    {"aten::repeat", kMinOpset, kMaxOpset, "Expand to the repeat rank + Tile", lowerRepeat},
    {"aten::tile", kMinOpset, kMaxOpset, "Tile", lowerTile},
    {"aten::flip", kMinOpset, kMaxOpset, "Slice with step -1", lowerFlip},
    {"aten::roll", kMinOpset, kMaxOpset, "Slice + Concat per dim", lowerRoll},
    {"aten::constant_pad_nd", kMinOpset, kMaxOpset, "Pad(mode=constant)", lowerConstantPad},
    {"aten::pad", kMinOpset, kMaxOpset, "Pad (constant / reflect / edge)", lowerPad},
    {"aten::reflection_pad1d", kMinOpset, kMaxOpset, "Pad(mode=reflect)", lowerReflectionPad},
    {"aten::reflection_pad2d", kMinOpset, kMaxOpset, "Pad(mode=reflect)", lowerReflectionPad},
    {"aten::reflection_pad3d", kMinOpset, kMaxOpset, "Pad(mode=reflect)", lowerReflectionPad},
    {"aten::replication_pad1d", kMinOpset, kMaxOpset, "Pad(mode=edge)", lowerReplicationPad},
    {"aten::replication_pad2d", kMinOpset, kMaxOpset, "Pad(mode=edge)", lowerReplicationPad},
    {"aten::replication_pad3d", kMinOpset, kMaxOpset, "Pad(mode=edge)", lowerReplicationPad},
    {"aten::triu", 13, 13, "Where(col - row >= k, x, 0) (Trilu needs opset 14)", lowerTriu13},
    {"aten::triu", 14, kMaxOpset, "Trilu(upper=1)", lowerTriu14},
    {"aten::tril", 13, 13, "Where(col - row <= k, x, 0) (Trilu needs opset 14)", lowerTril13},
    {"aten::tril", 14, kMaxOpset, "Trilu(upper=0)", lowerTril14},
    {"aten::topk", kMinOpset, kMaxOpset, "TopK", lowerTopk},
    {"aten::sort", kMinOpset, kMaxOpset, "TopK over the whole dim", lowerSort},
    {"aten::argsort", kMinOpset, kMaxOpset, "indices of TopK over the whole dim", lowerArgsort},
    {"aten::one_hot", kMinOpset, kMaxOpset, "OneHot (num_classes required)", lowerOneHot},
};

}  // namespace

std::span<const ConverterSpec> shapeConverters() { return kTable; }

}  // namespace torchport::onnxplugin
