// eliminate-identity: removes ops that return one of their inputs unchanged, rewiring
// their users to that input.
//
// Before:
//   graph @main(%x: f32[2,3]) -> (%out: f32[2,3]) {
//     %c: f32[2,3] = aten::contiguous(%x)
//     %one: float = prim::Constant 1.0
//     %m: f32[2,3] = aten::mul(%c, %one)
//     %out: f32[2,3] = aten::relu(%m)
//   }
// After:
//   graph @main(%x: f32[2,3]) -> (%out: f32[2,3]) {
//     %one: float = prim::Constant 1.0           # left for eliminate-dead-code
//     %out: f32[2,3] = aten::relu(%x)
//   }
//
// The rules (kIdentityRules below, one per op kind) and when each is safe. "Known" dims
// are sizes or named symbols (equal symbols are equal sizes), never `?`:
//   onnx::Identity                            always
//   aten::contiguous / detach / clone         always (memory format and autograd are not
//                                             part of an exported graph's meaning)
//   aten::dropout, feature_dropout,           the train flag is a constant false (or p a
//     alpha_dropout, feature_alpha_dropout    constant 0): dropout is the identity then
//   onnx::Dropout                             the mask output unused, and: ratio a constant
//                                             0 (input from opset 12, attribute before), or
//                                             is_test != 0 (attribute, opsets 1-6; absent
//                                             means training there, so with no is_test the
//                                             rule refuses when the `opset` option, or the
//                                             session's opset, is < 7; unknown: 7+),
//                                             or training_mode absent / none / constant false
//                                             (opset 12+; opsets 7-11 have no training mode)
//   aten::to / onnx::Cast                     source and target dtypes known and equal
//   onnx::CastLike / aten::type_as            both inputs' dtypes known and equal
//   onnx::Reshape / aten::reshape / view      input and output shapes fully known and equal
//   aten::view_as / aten::reshape_as          the two inputs' shapes fully known and equal
//   onnx::Flatten                             rank-2 input with axis 1 (or -1): the output is
//                                             [d0, d1]; or both shapes fully known and equal
//   aten::flatten(x, start, end)              rank >= 1 and start == end after wrapping
//                                             negative dims (rank 0 becomes [1]: kept)
//   onnx::Transpose / aten::permute           the permutation is the identity (Transpose
//                                             without perm reverses: rank <= 1 only)
//   aten::transpose / swapaxes / swapdims     both dims equal after wrapping (rank known)
//   aten::t                                   rank <= 1
//   onnx::Expand(x, shape)                    shape constant, rank(x) known, len(shape) <=
//                                             rank(x) (no leading dims added) and every shape
//                                             entry is 1 or equals x's known size on its
//                                             (right-aligned) axis: broadcast(d, 1) = d
//   aten::expand / broadcast_to(x, size)      len(size) == rank(x), each entry -1 (keep) or
//                                             equal to x's known size
//   aten::expand_as(x, other)                 both shapes fully known and equal
//   onnx::Slice                               starts/ends (inputs from opset 10, attributes
//                                             before), axes and steps constant, steps 1, on
//                                             every sliced axis start 0 (or <= -size, which
//                                             clamps to 0) and end >= size; starts <=
//                                             INT64_MIN/2 and ends >= INT64_MAX/2 cover any
//                                             size, others need the size known; rank known
//   aten::slice(x, dim, start, end, step)     tensor x of known rank, step 1, start None / 0 /
//                                             <= -size, end None / >= size (same bounds)
//   aten::narrow(x, dim, start, length)       start 0, length == x's known size on dim
//   onnx::Pad                                 pads all zero, whatever the mode and value
//                                             (pads input from opset 11, `pads` attribute
//                                             opsets 2-10, `paddings` opset 1); the length
//                                             must be 2 * rank (or 2 * len(axes), opset 18)
//   aten::constant_pad_nd / pad,              pad list all zero, even length <= 2 * rank
//     reflection_padNd / replication_padNd
//   aten::mul / onnx::Mul by constant 1,      broadcasting changes neither shape nor dtype:
//   aten::add / onnx::Add of constant 0,      the kept input's type and the output's type
//   aten::sub / onnx::Sub of constant 0,      are both known (no `?` dims) and equal; for
//   aten::div / onnx::Div by constant 1       aten::add/sub alpha must be a constant (1 when
//                                             the zero is the left operand), aten::div must
//                                             have no rounding mode
//
// Numerics: every rule is bit-exact except x + 0 (and 0 + x) for x = -0.0: the removed op
// gave -0.0 + 0.0 = +0.0, the rewired graph keeps -0.0 (equal under ==; only 1/x and
// copysign tell them apart). The standard trade-off, as in onnxoptimizer. x - 0, x * 1 and
// x / 1 are exact (NaN stays NaN).
//
// Option: opset (0 = the opset lower-to-onnx used in this run), read by onnx::Dropout only.
//
// Never fires when:
//   - other outputs of the node are used (e.g. onnx::Dropout's mask);
//   - the rewiring would break a graph output: the output's name must stay, so an identity
//     between a graph input and a graph output (or two graph outputs) is kept
//     (Graph::canReplaceAllUsesWith); and the value taking over a graph output must have a
//     type at least as precise as the declared output type (no dtype, rank or dim lost);
//   - input and output types are both known and disagree in dtype or rank;
//   - (aten) the input or the output is mutated in place by some user: an op that copies
//     (clone, contiguous, to, mul by 1...) separates the two tensors, removing it would let
//     the mutation reach the other one. In-place ops themselves (aten::dropout_,
//     aten::transpose_ ...) are never rules: the check would see the op mutating its own
//     input.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "../kernels/onnx_shape_kernels.h"
#include "pass_utils.h"
#include "passes.h"
#include "torchport/op_traits.h"

namespace torchport {
namespace {

using Match = std::optional<size_t>;  // index of the input the node returns unchanged

// What a rule may need besides the node.
struct MatchContext {
  std::optional<int64_t> onnxOpset;  // the session's ONNX opset, when known
};

// Slice bounds at least this large (in magnitude) cover any axis: no tensor has 2^62 elements.
constexpr int64_t kHugeEnd = std::numeric_limits<int64_t>::max() / 2;
constexpr int64_t kHugeStart = std::numeric_limits<int64_t>::min() / 2;

// ---- type helpers ----
// Both ranks known and equal, every dim a size or symbol and equal (dtypes not compared).
bool shapesKnownAndEqual(const Type& a, const Type& b) {
  if (!a.isTensor() || !b.isTensor() || !a.hasRank() || !b.hasRank() || a.rank() != b.rank()) return false;
  for (size_t i = 0; i < a.rank(); ++i) {
    const Dim& x = (*a.shape())[i];
    const Dim& y = (*b.shape())[i];
    if (x.isUnknown() || y.isUnknown() || !(x == y)) return false;
  }
  return true;
}

bool typesKnownAndEqual(const Type& a, const Type& b) {
  if (!a.isTensor() || !b.isTensor() || a.dtype() == DType::Undefined || a.dtype() != b.dtype()) return false;
  return shapesKnownAndEqual(a, b);
}

// Known-but-different dtype or rank: the op is not an identity whatever the rule says.
bool typesContradict(const Type& a, const Type& b) {
  if (!a.isTensor() || !b.isTensor()) return false;
  if (a.dtype() != DType::Undefined && b.dtype() != DType::Undefined && a.dtype() != b.dtype()) return true;
  return a.hasRank() && b.hasRank() && a.rank() != b.rank();
}

// `kept` can stand for a graph output declared as `declared`: it knows everything the
// declaration knows (dtype, rank, each known or symbolic dim). An untyped non-input value
// is fine: it takes the declared type over.
bool keepsDeclaredType(const Type& declared, const Value* kept) {
  const Type& type = kept->type();
  if (type.isUnknown()) return !kept->isGraphInput();
  if (!declared.isTensor()) return true;
  if (!type.isTensor()) return false;
  if (declared.dtype() != DType::Undefined && type.dtype() != declared.dtype()) return false;
  if (!declared.hasRank()) return true;
  if (!type.hasRank() || type.rank() != declared.rank()) return false;
  for (size_t i = 0; i < declared.rank(); ++i) {
    const Dim& want = (*declared.shape())[i];
    if (!want.isUnknown() && !((*type.shape())[i] == want)) return false;
  }
  return true;
}

std::optional<size_t> rankOf(const Value* value) {
  if (!value->type().isTensor() || !value->type().hasRank()) return std::nullopt;
  return value->type().rank();
}

// Dim `axis` of a value of known rank (callers check the rank).
const Dim& dimOf(const Value* value, size_t axis) { return (*value->type().shape())[axis]; }

// Wraps a possibly negative axis into [0, rank); nullopt when out of range.
std::optional<size_t> wrapAxis(int64_t axis, size_t rank) {
  const auto n = static_cast<int64_t>(rank);
  if (axis < -n || axis >= n) return std::nullopt;
  return static_cast<size_t>(axis < 0 ? axis + n : axis);
}

bool allZero(const std::vector<int64_t>& values) {
  return std::all_of(values.begin(), values.end(), [](int64_t v) { return v == 0; });
}

// TorchScript ScalarType enum (c10/core/ScalarType.h).
std::optional<DType> dtypeFromScalarType(int64_t code) {
  switch (code) {
    case 0: return DType::U8;
    case 1: return DType::I8;
    case 2: return DType::I16;
    case 3: return DType::I32;
    case 4: return DType::I64;
    case 5: return DType::F16;
    case 6: return DType::F32;
    case 7: return DType::F64;
    case 9: return DType::C64;
    case 10: return DType::C128;
    case 11: return DType::Bool;
    case 15: return DType::BF16;
    default: return std::nullopt;
  }
}

std::optional<DType> knownDType(const Value* value) {
  if (value == nullptr || !value->type().isTensor() || value->type().dtype() == DType::Undefined) return std::nullopt;
  return value->type().dtype();
}

// ---- matchers ----
Match firstInput(const Node& node, const MatchContext&) { return node.numInputs() >= 1 ? Match(0) : std::nullopt; }

Match dropoutInInference(const Node& node, const MatchContext&) {
  if (node.numInputs() < 3) return std::nullopt;
  auto train = constantBool(node.input(2));
  auto p = constantNumber(node.input(1));
  if ((train && !*train) || (p && *p == 0.0)) return 0;
  return std::nullopt;
}

// onnx::Dropout across opsets: 1-6 attributes ratio and is_test (default 0: training);
// 7-11 attribute ratio, inference only; 12+ inputs ratio and training_mode (default false).
Match onnxDropoutInInference(const Node& node, const MatchContext& context) {
  if (node.numInputs() < 1) return std::nullopt;
  if (node.numInputs() >= 2) {
    auto ratio = constantNumber(node.input(1));
    if (ratio && *ratio == 0.0) return 0;  // scale 1 / (1 - 0), nothing dropped
  }
  if (auto ratio = node.floatAttr("ratio"); ratio && *ratio == 0.0) return 0;
  if (node.hasAttribute("is_test")) {
    auto isTest = node.intAttr("is_test");
    return isTest && *isTest != 0 ? Match(0) : std::nullopt;
  }
  if (context.onnxOpset && *context.onnxOpset < 7) return std::nullopt;  // is_test defaults to 0
  if (node.numInputs() < 3 || isNoneValue(node.input(2))) return 0;
  auto training = constantBool(node.input(2));
  return training && !*training ? Match(0) : std::nullopt;
}

// Target dtype of aten::to from its constant arguments (output type preferred).
std::optional<DType> atenToTarget(const Node& node) {
  if (auto dtype = knownDType(node.output(0))) return dtype;
  if (node.numInputs() < 2) return std::nullopt;
  const Value* second = node.input(1);
  if (second->type().isTensor()) return knownDType(second);  // to(Tensor self, Tensor other, ...)
  if (auto code = constantInt(second)) return dtypeFromScalarType(*code);  // to(self, ScalarType dtype, ...)
  // to(self, Device device, ScalarType dtype, ...)
  if (node.numInputs() >= 3 && (second->type().kind() == Type::Kind::Device ||
                                (constantProducer(second) != nullptr && constantProducer(second)->stringAttr("value")))) {
    if (auto code = constantInt(node.input(2))) return dtypeFromScalarType(*code);
  }
  return std::nullopt;
}

Match sameDTypeAtenTo(const Node& node, const MatchContext&) {
  if (node.numInputs() < 1) return std::nullopt;
  auto source = knownDType(node.input(0));
  auto target = atenToTarget(node);
  return source && target && *source == *target ? Match(0) : std::nullopt;
}

Match sameDTypeOnnxCast(const Node& node, const MatchContext&) {
  if (node.numInputs() < 1) return std::nullopt;
  auto source = knownDType(node.input(0));
  std::optional<DType> target = knownDType(node.output(0));
  if (auto code = node.intAttr("to")) {
    auto fromAttribute = dtypeFromOnnxCode(*code);
    if (!fromAttribute || (target && *target != *fromAttribute)) return std::nullopt;
    target = fromAttribute;
  }
  return source && target && *source == *target ? Match(0) : std::nullopt;
}

// onnx::CastLike(x, like) / aten::type_as(x, other): x converted to the second input's dtype.
Match sameDTypeAsSecond(const Node& node, const MatchContext&) {
  if (node.numInputs() < 2) return std::nullopt;
  auto source = knownDType(node.input(0));
  auto target = knownDType(node.input(1));
  return source && target && *source == *target ? Match(0) : std::nullopt;
}

Match sameShape(const Node& node, const MatchContext&) {
  if (node.numInputs() < 1) return std::nullopt;
  return typesKnownAndEqual(node.input(0)->type(), node.output(0)->type()) ? Match(0) : std::nullopt;
}

// aten::view_as / reshape_as / expand_as(x, other): x given other's shape.
Match sameShapeAsSecond(const Node& node, const MatchContext&) {
  if (node.numInputs() < 2) return std::nullopt;
  return shapesKnownAndEqual(node.input(0)->type(), node.input(1)->type()) ? Match(0) : std::nullopt;
}

// onnx::Flatten(x){axis=1}: [prod(d[0:axis]), prod(d[axis:])], so [d0, d1] for a rank-2 x
// and axis 1. Any other case only when the shapes are known to agree (a reshape then).
Match onnxNoOpFlatten(const Node& node, const MatchContext& context) {
  if (node.numInputs() < 1) return std::nullopt;
  const int64_t axis = node.hasAttribute("axis") ? node.intAttr("axis").value_or(-100) : 1;
  if (rankOf(node.input(0)) == 2u && (axis == 1 || axis == -1)) return 0;
  return sameShape(node, context);
}

// aten::flatten(x, start_dim, end_dim): returns x itself when start == end (rank >= 1);
// a rank-0 x becomes [1], any other range drops end - start dims.
Match atenNoOpFlatten(const Node& node, const MatchContext&) {
  if (node.numInputs() != 3) return std::nullopt;
  auto rank = rankOf(node.input(0));
  auto start = constantInt(node.input(1));
  auto end = constantInt(node.input(2));
  if (!rank || *rank == 0 || !start || !end) return std::nullopt;
  auto first = wrapAxis(*start, *rank);
  auto last = wrapAxis(*end, *rank);
  return first && last && *first == *last ? Match(0) : std::nullopt;
}

bool isIdentityPermutation(const std::vector<int64_t>& perm, std::optional<size_t> rank) {
  if (rank && perm.size() != *rank) return false;
  const auto n = static_cast<int64_t>(perm.size());
  for (int64_t i = 0; i < n; ++i) {
    const int64_t axis = perm[static_cast<size_t>(i)];
    if (axis != i && axis + n != i) return false;
  }
  return true;
}

Match onnxIdentityTranspose(const Node& node, const MatchContext&) {
  if (node.numInputs() < 1) return std::nullopt;
  auto rank = rankOf(node.input(0));
  if (const auto* perm = node.intsAttr("perm")) return isIdentityPermutation(*perm, rank) ? Match(0) : std::nullopt;
  return rank && *rank <= 1 ? Match(0) : std::nullopt;  // default perm reverses the axes
}

Match atenIdentityPermute(const Node& node, const MatchContext&) {
  if (node.numInputs() < 2) return std::nullopt;
  auto dims = constantInts(node.input(1));
  return dims && isIdentityPermutation(*dims, rankOf(node.input(0))) ? Match(0) : std::nullopt;
}

// aten::transpose(x, dim0, dim1) (and its aliases swapaxes / swapdims): swapping a dim with
// itself. PyTorch wraps dims of a rank-0 tensor as if it had rank 1.
Match atenSameDimTranspose(const Node& node, const MatchContext&) {
  if (node.numInputs() != 3) return std::nullopt;
  auto rank = rankOf(node.input(0));
  auto dim0 = constantInt(node.input(1));
  auto dim1 = constantInt(node.input(2));
  if (!rank || !dim0 || !dim1) return std::nullopt;
  auto a = wrapAxis(*dim0, std::max<size_t>(*rank, 1));
  auto b = wrapAxis(*dim1, std::max<size_t>(*rank, 1));
  return a && b && *a == *b ? Match(0) : std::nullopt;
}

// aten::t: transposes a matrix, returns vectors and scalars as they are.
Match atenTransposeOfVector(const Node& node, const MatchContext&) {
  if (node.numInputs() < 1) return std::nullopt;
  auto rank = rankOf(node.input(0));
  return rank && *rank <= 1 ? Match(0) : std::nullopt;
}

// onnx::Expand(x, shape): broadcast(x.shape, shape). No leading dims added, and on each
// right-aligned axis the target is 1 (broadcast(d, 1) = d, d unknown included) or d itself.
Match onnxNoOpExpand(const Node& node, const MatchContext&) {
  if (node.numInputs() < 2) return std::nullopt;
  auto rank = rankOf(node.input(0));
  auto target = constantInts(node.input(1));
  if (!rank || !target || target->size() > *rank) return std::nullopt;
  const size_t offset = *rank - target->size();
  for (size_t i = 0; i < target->size(); ++i) {
    const int64_t size = (*target)[i];
    const Dim& dim = dimOf(node.input(0), offset + i);
    if (size != 1 && !(dim.isKnown() && dim.size() == size)) return std::nullopt;
  }
  return 0;
}

// aten::expand / broadcast_to(x, size): one entry per dim of the result; -1 keeps x's dim.
Match atenNoOpExpand(const Node& node, const MatchContext&) {
  if (node.numInputs() < 2) return std::nullopt;
  auto rank = rankOf(node.input(0));
  auto size = constantInts(node.input(1));
  if (!rank || !size || size->size() != *rank) return std::nullopt;
  for (size_t i = 0; i < *rank; ++i) {
    const int64_t entry = (*size)[i];
    const Dim& dim = dimOf(node.input(0), i);
    if (entry != -1 && !(dim.isKnown() && dim.size() == entry)) return std::nullopt;
  }
  return 0;
}

// [start, end) with step 1 covers an axis of size `dim`: start clamps to 0 (0, or negative
// with start + size <= 0) and end clamps to the size. Beyond kHugeStart/kHugeEnd the size
// does not matter, otherwise it must be known.
bool coversAxis(int64_t start, int64_t end, int64_t step, const Dim& dim) {
  if (step != 1) return false;
  const bool fullStart = start == 0 || start <= kHugeStart || (dim.isKnown() && start <= -dim.size());
  const bool fullEnd = end >= kHugeEnd || (dim.isKnown() && end >= dim.size());
  return fullStart && fullEnd;
}

// An optional int-list input: absent / none gives `fallback`, a non-constant nullopt.
std::optional<std::vector<int64_t>> optionalIntsInput(const Node& node, size_t index, std::vector<int64_t> fallback) {
  if (index >= node.numInputs() || isNoneValue(node.input(index))) return fallback;
  return constantInts(node.input(index));
}

// onnx::Slice: opsets 1-9 carry starts / ends / axes as attributes, 10+ as inputs
// (data, starts, ends, axes?, steps?). Axes default to 0..n-1, steps to 1.
Match onnxNoOpSlice(const Node& node, const MatchContext&) {
  if (node.numInputs() < 1) return std::nullopt;
  auto rank = rankOf(node.input(0));
  if (!rank) return std::nullopt;
  std::optional<std::vector<int64_t>> starts, ends, axes, steps;
  if (node.numInputs() >= 3) {
    starts = constantInts(node.input(1));
    ends = constantInts(node.input(2));
    if (!starts || !ends) return std::nullopt;
    std::vector<int64_t> defaultAxes(starts->size());
    for (size_t i = 0; i < defaultAxes.size(); ++i) defaultAxes[i] = static_cast<int64_t>(i);
    axes = optionalIntsInput(node, 3, std::move(defaultAxes));
    steps = optionalIntsInput(node, 4, std::vector<int64_t>(starts->size(), 1));
  } else {
    if (node.numInputs() != 1 || node.intsAttr("starts") == nullptr || node.intsAttr("ends") == nullptr) {
      return std::nullopt;
    }
    starts = *node.intsAttr("starts");
    ends = *node.intsAttr("ends");
    if (const auto* attribute = node.intsAttr("axes")) {
      axes = *attribute;
    } else if (node.hasAttribute("axes")) {
      return std::nullopt;
    } else {
      axes = std::vector<int64_t>(starts->size());
      for (size_t i = 0; i < axes->size(); ++i) (*axes)[i] = static_cast<int64_t>(i);
    }
    steps = std::vector<int64_t>(starts->size(), 1);
  }
  if (!axes || !steps || ends->size() != starts->size() || axes->size() != starts->size() ||
      steps->size() != starts->size()) {
    return std::nullopt;
  }
  for (size_t i = 0; i < starts->size(); ++i) {
    auto axis = wrapAxis((*axes)[i], *rank);
    if (!axis || !coversAxis((*starts)[i], (*ends)[i], (*steps)[i], dimOf(node.input(0), *axis))) return std::nullopt;
  }
  return 0;
}

// aten::slice(x, dim, start?, end?, step): the aten::slice.t / .str overloads slice lists
// and strings and have no tensor input of known rank.
Match atenNoOpSlice(const Node& node, const MatchContext&) {
  if (node.numInputs() != 5) return std::nullopt;
  auto rank = rankOf(node.input(0));
  auto dim = constantInt(node.input(1));
  if (!rank || !dim) return std::nullopt;
  auto axis = wrapAxis(*dim, *rank);
  std::optional<int64_t> start = isNoneValue(node.input(2)) ? 0 : constantInt(node.input(2));
  std::optional<int64_t> end =
      isNoneValue(node.input(3)) ? std::numeric_limits<int64_t>::max() : constantInt(node.input(3));
  auto step = constantInt(node.input(4));
  if (!axis || !start || !end || !step) return std::nullopt;
  return coversAxis(*start, *end, *step, dimOf(node.input(0), *axis)) ? Match(0) : std::nullopt;
}

// aten::narrow(x, dim, start, length): x[start : start + length] on dim.
Match atenNoOpNarrow(const Node& node, const MatchContext&) {
  if (node.numInputs() != 4) return std::nullopt;
  auto rank = rankOf(node.input(0));
  auto dim = constantInt(node.input(1));
  auto start = constantInt(node.input(2));
  auto length = constantInt(node.input(3));
  if (!rank || !dim || !start || !length || *start != 0) return std::nullopt;
  auto axis = wrapAxis(*dim, *rank);
  if (!axis) return std::nullopt;
  const Dim& size = dimOf(node.input(0), *axis);
  return size.isKnown() && size.size() == *length ? Match(0) : std::nullopt;
}

// onnx::Pad: pads is input 1 from opset 11 (axes input 3 from opset 18), the `pads`
// attribute in opsets 2-10 and `paddings` in opset 1. Zero padding is the identity in every
// mode (constant, reflect, edge, wrap) whatever the constant value.
Match onnxNoOpPad(const Node& node, const MatchContext&) {
  if (node.numInputs() < 1) return std::nullopt;
  std::optional<std::vector<int64_t>> pads;
  if (node.numInputs() >= 2) {
    if (isNoneValue(node.input(1))) return std::nullopt;
    pads = constantInts(node.input(1));
  } else if (const auto* attribute = node.intsAttr("pads")) {
    pads = *attribute;
  } else if (const auto* legacy = node.intsAttr("paddings")) {
    pads = *legacy;
  }
  if (!pads || !allZero(*pads)) return std::nullopt;
  std::optional<size_t> padded = rankOf(node.input(0));  // axes covered by pads
  if (node.numInputs() >= 4 && !isNoneValue(node.input(3))) {
    auto axes = constantInts(node.input(3));
    padded = axes ? std::optional<size_t>(axes->size()) : std::nullopt;  // zeros: any axes would do
  }
  if (padded && pads->size() != 2 * *padded) return std::nullopt;
  return 0;
}

// aten::constant_pad_nd / pad / reflection_padNd / replication_padNd(x, pad, ...): pad holds
// (before, after) pairs for the last len(pad) / 2 dims.
Match atenNoOpPad(const Node& node, const MatchContext&) {
  if (node.numInputs() < 2) return std::nullopt;
  auto pads = constantInts(node.input(1));
  if (!pads || pads->empty() || pads->size() % 2 != 0 || !allZero(*pads)) return std::nullopt;
  auto rank = rankOf(node.input(0));
  return !rank || pads->size() <= 2 * *rank ? Match(0) : std::nullopt;
}

// Keeps input `kept` only if broadcasting against the constant changes nothing.
Match keepIfTypePreserved(const Node& node, size_t kept) {
  return typesKnownAndEqual(node.input(kept)->type(), node.output(0)->type()) ? Match(kept) : std::nullopt;
}

// aten::add / aten::sub carry alpha as input 2: a + alpha * b.
std::optional<double> alphaOf(const Node& node) {
  if (node.domain() != "aten" || node.numInputs() < 3) return 1.0;
  return constantNumber(node.input(2));
}

Match multiplyByOne(const Node& node, const MatchContext&) {
  if (node.numInputs() < 2) return std::nullopt;
  if (isConstantFilledWith(node.input(1), 1.0)) return keepIfTypePreserved(node, 0);
  if (isConstantFilledWith(node.input(0), 1.0)) return keepIfTypePreserved(node, 1);
  return std::nullopt;
}

// Not bit-exact for x = -0.0 (-0.0 + 0.0 = +0.0), accepted as everywhere else.
Match addZero(const Node& node, const MatchContext&) {
  if (node.numInputs() < 2) return std::nullopt;
  auto alpha = alphaOf(node);
  if (!alpha || !std::isfinite(*alpha)) return std::nullopt;
  if (isConstantFilledWith(node.input(1), 0.0)) return keepIfTypePreserved(node, 0);
  if (*alpha == 1.0 && isConstantFilledWith(node.input(0), 0.0)) return keepIfTypePreserved(node, 1);
  return std::nullopt;
}

Match subtractZero(const Node& node, const MatchContext&) {
  if (node.numInputs() < 2) return std::nullopt;
  auto alpha = alphaOf(node);
  if (!alpha || !std::isfinite(*alpha)) return std::nullopt;
  return isConstantFilledWith(node.input(1), 0.0) ? keepIfTypePreserved(node, 0) : std::nullopt;
}

Match divideByOne(const Node& node, const MatchContext&) {
  if (node.numInputs() < 2) return std::nullopt;
  if (node.domain() == "aten" && node.numInputs() >= 3 && !isNoneValue(node.input(2))) return std::nullopt;  // rounding_mode
  return isConstantFilledWith(node.input(1), 1.0) ? keepIfTypePreserved(node, 0) : std::nullopt;
}

struct IdentityRule {
  std::string_view kind;
  Match (*match)(const Node&, const MatchContext&);
};

// Ordered table of identity rules (one line per op kind).
constexpr IdentityRule kIdentityRules[] = {
    {"onnx::Identity", firstInput},
    {"aten::contiguous", firstInput},
    {"aten::detach", firstInput},
    {"aten::clone", firstInput},
    {"aten::dropout", dropoutInInference},
    {"aten::feature_dropout", dropoutInInference},
    {"aten::alpha_dropout", dropoutInInference},
    {"aten::feature_alpha_dropout", dropoutInInference},
    {"onnx::Dropout", onnxDropoutInInference},
    {"aten::to", sameDTypeAtenTo},
    {"onnx::Cast", sameDTypeOnnxCast},
    {"onnx::CastLike", sameDTypeAsSecond},
    {"aten::type_as", sameDTypeAsSecond},
    {"onnx::Reshape", sameShape},
    {"aten::reshape", sameShape},
    {"aten::view", sameShape},
    {"aten::view_as", sameShapeAsSecond},
    {"aten::reshape_as", sameShapeAsSecond},
    {"onnx::Flatten", onnxNoOpFlatten},
    {"aten::flatten", atenNoOpFlatten},
    {"onnx::Transpose", onnxIdentityTranspose},
    {"aten::permute", atenIdentityPermute},
    {"aten::transpose", atenSameDimTranspose},
    {"aten::swapaxes", atenSameDimTranspose},
    {"aten::swapdims", atenSameDimTranspose},
    {"aten::t", atenTransposeOfVector},
    {"onnx::Expand", onnxNoOpExpand},
    {"aten::expand", atenNoOpExpand},
    {"aten::broadcast_to", atenNoOpExpand},
    {"aten::expand_as", sameShapeAsSecond},
    {"onnx::Slice", onnxNoOpSlice},
    {"aten::slice", atenNoOpSlice},
    {"aten::narrow", atenNoOpNarrow},
    {"onnx::Pad", onnxNoOpPad},
    {"aten::constant_pad_nd", atenNoOpPad},
    {"aten::pad", atenNoOpPad},
    {"aten::reflection_pad1d", atenNoOpPad},
    {"aten::reflection_pad2d", atenNoOpPad},
    {"aten::reflection_pad3d", atenNoOpPad},
    {"aten::replication_pad1d", atenNoOpPad},
    {"aten::replication_pad2d", atenNoOpPad},
    {"aten::replication_pad3d", atenNoOpPad},
    {"aten::mul", multiplyByOne},
    {"onnx::Mul", multiplyByOne},
    {"aten::add", addZero},
    {"onnx::Add", addZero},
    {"aten::sub", subtractZero},
    {"onnx::Sub", subtractZero},
    {"aten::div", divideByOne},
    {"onnx::Div", divideByOne},
};

bool mutatedInPlace(const Value* value) {
  for (const Use& use : value->uses()) {
    if (mutatesInput(*use.user)) return true;
  }
  return false;
}

class IdentityElimination {
 public:
  explicit IdentityElimination(PassContext& context) : context_(context) {
    for (const IdentityRule& rule : kIdentityRules) rules_.emplace(rule.kind, &rule);
    matchContext_.onnxOpset = targetOnnxOpset(context);
  }

  Status run(Graph& root) {
    return forEachNodeDeep(root, [this](Graph& graph, Node* node) {
      return visit(graph, *node);
    });
  }

  size_t removed() const { return removed_; }

 private:
  Status visit(Graph& graph, Node& node) {
    auto rule = rules_.find(node.kind());
    if (rule == rules_.end() || node.numOutputs() == 0) return Status::ok();
    Match match = rule->second->match(node, matchContext_);
    if (!match || *match >= node.numInputs() || node.input(*match) == nullptr) return Status::ok();

    Value* from = node.output(0);
    Value* to = node.input(*match);
    for (size_t i = 1; i < node.numOutputs(); ++i) {
      if (node.output(i)->hasUses() || node.output(i)->isGraphOutput()) return Status::ok();  // e.g. a used mask
    }
    if (typesContradict(from->type(), to->type())) return Status::ok();
    if (node.domain() == "aten" && (mutatedInPlace(from) || mutatedInPlace(to))) {
      context_.diag().debug("eliminate-identity: kept " + node.describe() + ": a user mutates it in place");
      return Status::ok();
    }
    if (from->isGraphOutput() && !producedInside(graph, to)) {
      // ONNX (and ONNX Runtime) require a subgraph's outputs to be computed inside it: an
      // If branch returning an outer-scope value or a constant keeps its Identity.
      context_.diag().debug("eliminate-identity: kept " + node.describe() +
                            ": its input is not computed in the graph that returns it");
      return Status::ok();
    }
    if (from->isGraphOutput() && !keepsDeclaredType(from->type(), to)) {
      context_.diag().debug("eliminate-identity: kept " + node.describe() +
                            ": its input's type is less precise than the graph output's");
      return Status::ok();
    }
    if (!graph.canReplaceAllUsesWith(from, to)) {
      context_.diag().debug("eliminate-identity: kept " + node.describe() +
                            ": removing it would rename or merge graph inputs/outputs");
      return Status::ok();
    }
    if (to->type().isUnknown() && !to->isGraphInput()) to->setType(from->type());
    TP_RETURN_IF_ERROR(graph.replaceAllUsesWith(from, to));
    TP_RETURN_IF_ERROR(graph.eraseNode(&node));
    ++removed_;
    return Status::ok();
  }

  static bool producedInside(const Graph& graph, const Value* value) {
    if (const Node* producer = value->producer()) return producer->owningGraph() == &graph && !producer->isConstant();
    const auto inputs = graph.inputs();
    return std::find(inputs.begin(), inputs.end(), value) != inputs.end();
  }

  PassContext& context_;
  MatchContext matchContext_;
  std::unordered_map<std::string_view, const IdentityRule*> rules_;
  size_t removed_ = 0;
};

}  // namespace

PassInfo eliminateIdentityInfo() {
  PassInfo info;
  info.name = "eliminate-identity";
  info.summary = "Remove ops that return their input unchanged (Identity, contiguous, eval-mode dropout, x*1 ...)";
  info.description =
      "Rewires the users of an identity op to its input and removes it. Rules (\"known\" dims are sizes or "
      "named symbols, never ?):\n"
      "  - onnx::Identity; aten::contiguous, aten::detach, aten::clone.\n"
      "  - aten::dropout (and feature/alpha variants) with a constant false train flag or p 0; onnx::Dropout "
      "with an unused mask and ratio 0, or is_test=1 (opsets 1-6; without is_test it is kept when the opset "
      "option is below 7), or training_mode absent/none/constant false (opset 12+).\n"
      "  - aten::to / onnx::Cast to the same dtype; onnx::CastLike / aten::type_as with both dtypes known and "
      "equal.\n"
      "  - onnx::Reshape / aten::reshape / aten::view to the same fully known shape; aten::view_as / reshape_as / "
      "expand_as with both shapes fully known and equal; onnx::Flatten of a rank-2 input with axis 1 (or to the "
      "same known shape); aten::flatten with start_dim == end_dim (rank >= 1).\n"
      "  - onnx::Transpose / aten::permute with the identity permutation; aten::transpose / swapaxes / swapdims of "
      "a dim with itself; aten::t of rank <= 1.\n"
      "  - onnx::Expand to a constant shape that adds no dim and is 1 or the input's known size on every axis; "
      "aten::expand / broadcast_to with one entry per dim, each -1 or the known size.\n"
      "  - onnx::Slice (attribute or input form) and aten::slice with step 1, start 0 (or <= -size) and end >= "
      "size on every sliced axis (ends >= INT64_MAX/2 need no size); aten::narrow(x, d, 0, size of d).\n"
      "  - onnx::Pad (any mode, pads input or attribute) and aten::constant_pad_nd / pad / reflection_padNd / "
      "replication_padNd with all-zero pads.\n"
      "  - mul/div by a constant 1 and add/sub of a constant 0 when broadcasting changes neither shape nor dtype "
      "(both types known). x + 0 turns -0.0 into +0.0 (accepted, as in onnxoptimizer); the other rules are "
      "bit-exact.\n"
      "Before:\n"
      "  %c: f32[2,3] = aten::contiguous(%x)\n"
      "  %s: f32[2,3] = aten::slice(%c, %dim0, %none, %none, %step1)   # x[:], all of axis 0\n"
      "  %out: f32[2,3] = aten::relu(%s)\n"
      "After:\n"
      "  %out: f32[2,3] = aten::relu(%x)\n"
      "Never fires when it would rename or merge graph inputs/outputs (an identity between a graph input and a "
      "graph output stays), when the input's type is less precise than a graph output's declared type, when other "
      "outputs of the op are used, or (aten) when a user mutates the input or output in place. In-place variants "
      "(aten::dropout_, aten::transpose_ ...) are never removed.\n"
      "Option opset (int, default 0): the ONNX opset of the graph's onnx ops, 0 = the opset lower-to-onnx used in "
      "this run (unknown: opset 7+ semantics). Only onnx::Dropout reads it: below opset 7 a Dropout without is_test "
      "is in training mode and stays.";
  info.options = {targetOpsetOption()};
  info.kind = StepKind::Transform;
  return info;
}

Status runEliminateIdentity(Graph& graph, PassContext& context) {
  IdentityElimination elimination(context);
  TP_RETURN_IF_ERROR(elimination.run(graph));
  if (elimination.removed() > 0) {
    context.setChanged();
    context.diag().debug("eliminate-identity: removed " + std::to_string(elimination.removed()) + " node" +
                         (elimination.removed() == 1 ? "" : "s"));
  }
  return Status::ok();
}

}  // namespace torchport
