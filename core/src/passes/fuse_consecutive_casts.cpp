// fuse-consecutive-casts: makes the second of two chained onnx::Cast / onnx::CastLike nodes
// read the first one's input directly when the intermediate dtype holds every value of the
// input exactly, and removes it when it then casts to the input's own dtype.
//
// Before:
//   graph @main(%x: f16[4], %i: i8[4]) -> (%z: f64[4], %j: i8[4]) {
//     %y: f32[4] = onnx::Cast(%x) {to=1}
//     %z: f64[4] = onnx::Cast(%y) {to=11}
//     %w: i32[4] = onnx::Cast(%i) {to=6}
//     %k: i8[4] = onnx::Cast(%w) {to=3}
//     %j: i8[4] = onnx::Abs(%k)
//   }
// After:
//   graph @main(%x: f16[4], %i: i8[4]) -> (%z: f64[4], %j: i8[4]) {
//     %z: f64[4] = onnx::Cast(%x) {to=11}
//     %j: i8[4] = onnx::Abs(%i)
//   }
//
// Why it is exact. A cast to B depends only on the numeric value of its input. When the
// intermediate dtype A represents every value of x's dtype S exactly, Cast(x, A) keeps the
// value, so Cast(Cast(x, A), B) == Cast(x, B) for every x (with B == S: x itself). "A holds S"
// (exactly, every value, including -0, infinities and NaN where S has them):
//   bool                 -> every integer, floating-point and float8 dtype (0 and 1)
//   iN                   -> iM (M >= N); f16, bf16 for i8; f32 for i8, i16; f64 for i8..i32
//   uN                   -> uM (M >= N), iM (M > N); f16, bf16 for u8; f32 for u8, u16;
//                           f64 for u8..u32
//   f16, bf16            -> f32, f64          f32 -> f64
//   f8e4m3fn, f8e5m2     -> f16, bf16, f32, f64
//   S                    -> S (the first cast changes nothing)
// Everything else is refused: narrowing (f32 -> f16 -> f32 rounds, f32 -> i32 -> f32
// truncates, i64 -> i32 -> i64 wraps), float -> int -> anything, int -> bool -> anything,
// i64 -> f64, f16 <-> bf16, signed -> unsigned, complex, strings and unknown codes.
//
// Fires only when (otherwise a debug note, or nothing when not the pattern):
//   - both nodes are onnx::Cast (one input, a `to` with a known ONNX dtype code) or onnx::
//     CastLike (two inputs, the second of known dtype), with one output, and the first has
//     no attribute other than to / saturate (saturate only matters for float8 targets);
//   - x's dtype S is known, the intermediate dtype A holds S (table above), and known output
//     dtypes agree with the targets.
// The second cast then reads x (keeping its attributes, output and name). When its target is
// S it is removed instead and its users read x — unless that would rename or merge graph
// inputs/outputs or make a nested graph return a value it does not compute (then the
// Cast to S stays, reading x). The first cast is erased once it has no users and is not a
// graph output. Chains collapse in one run. Works inside If/Loop bodies. aten::to /
// aten::type_as are not handled.
#include <algorithm>
#include <optional>
#include <string>

#include "../kernels/onnx_shape_kernels.h"
#include "pass_utils.h"
#include "passes.h"
#include "torchport/op_traits.h"

namespace torchport {
namespace {

std::optional<DType> knownDType(const Value* value) {
  if (value == nullptr || !value->type().isTensor() || value->type().dtype() == DType::Undefined) return std::nullopt;
  return value->type().dtype();
}

int signedBits(DType dtype) {
  switch (dtype) {
    case DType::I8: return 8;
    case DType::I16: return 16;
    case DType::I32: return 32;
    case DType::I64: return 64;
    default: return 0;
  }
}

int unsignedBits(DType dtype) {
  switch (dtype) {
    case DType::U8: return 8;
    case DType::U16: return 16;
    case DType::U32: return 32;
    case DType::U64: return 64;
    default: return 0;
  }
}

// Significand precision (bits, implicit bit included) of the floating-point dtypes whose
// range holds every integer of that many bits: consecutive integers are exact up to 2^p.
int floatPrecision(DType dtype) {
  switch (dtype) {
    case DType::F16: return 11;
    case DType::BF16: return 8;
    case DType::F32: return 24;
    case DType::F64: return 53;
    default: return 0;
  }
}

// Every value of `from` is exactly representable in `to`.
bool holdsExactly(DType from, DType to) {
  if (from == to) return true;
  if (from == DType::Bool) return isInteger(to) || isFloatingPoint(to) || to == DType::F8E4M3 || to == DType::F8E5M2;
  if (const int bits = signedBits(from)) {
    if (signedBits(to) >= bits) return true;
    return floatPrecision(to) >= bits - 1;  // |value| <= 2^(bits-1)
  }
  if (const int bits = unsignedBits(from)) {
    if (unsignedBits(to) >= bits || signedBits(to) > bits) return true;
    return floatPrecision(to) >= bits;  // value < 2^bits
  }
  switch (from) {
    case DType::F16:
    case DType::BF16: return to == DType::F32 || to == DType::F64;
    case DType::F32: return to == DType::F64;
    case DType::F8E4M3:
    case DType::F8E5M2: return to == DType::F16 || to == DType::BF16 || to == DType::F32 || to == DType::F64;
    default: return false;
  }
}

// The target dtype of a well-formed Cast / CastLike with one output; nullopt otherwise.
std::optional<DType> castTarget(const Node& node) {
  if (node.numOutputs() != 1) return std::nullopt;
  std::optional<DType> target;
  if (node.kind() == "onnx::Cast") {
    auto code = node.intAttr("to");
    if (node.numInputs() != 1 || !code) return std::nullopt;
    target = dtypeFromOnnxCode(*code);
  } else if (node.kind() == "onnx::CastLike") {
    if (node.numInputs() != 2) return std::nullopt;
    target = knownDType(node.input(1));
  }
  if (!target) return std::nullopt;
  auto declared = knownDType(node.output());
  if (declared && *declared != *target) return std::nullopt;
  return target;
}

bool isCastKind(const Node& node) { return node.kind() == "onnx::Cast" || node.kind() == "onnx::CastLike"; }

bool producedInside(const Graph& graph, const Value* value) {
  if (const Node* producer = value->producer()) return producer->owningGraph() == &graph && !producer->isConstant();
  const auto inputs = graph.inputs();
  return std::find(inputs.begin(), inputs.end(), value) != inputs.end();
}

class CastFusion {
 public:
  explicit CastFusion(PassContext& context) : context_(context) {}

  Status run(Graph& root) {
    return forEachNodeDeep(root, [this](Graph& graph, Node* node) {
      return isCastKind(*node) ? visit(graph, *node) : Status::ok();
    });
  }

  size_t fused() const { return fused_; }
  size_t removed() const { return removed_; }

 private:
  Status skip(const Node& node, std::string_view why) {
    context_.diag().debug("fuse-consecutive-casts: not fusing " + node.describe() + ": " + std::string(why));
    return Status::ok();
  }

  Status visit(Graph& graph, Node& second) {
    if (second.numInputs() < 1) return Status::ok();
    Value* middle = second.input(0);
    Node* first = middle->producer();
    if (first == nullptr || !isCastKind(*first)) return Status::ok();  // not the pattern
    const auto target = castTarget(second);
    const auto intermediate = castTarget(*first);
    if (!target || !intermediate) return skip(second, "a cast has an unknown or inconsistent target dtype");
    for (const auto& [name, attribute] : first->attributes()) {
      if (name != "to" && name != "saturate") return skip(second, "the first cast has an unknown attribute '" + name + "'");
    }
    Value* x = first->input(0);
    const auto source = knownDType(x);
    if (!source) return skip(second, "the dtype of the first cast's input is unknown");
    if (!holdsExactly(*source, *intermediate)) {
      return skip(second, "the intermediate dtype " + std::string(dtypeName(*intermediate)) +
                              " does not hold every " + std::string(dtypeName(*source)) + " value exactly");
    }

    Value* out = second.output();
    bool removedSecond = false;
    if (*target == *source) {
      const bool nestedOutputProblem = out->isGraphOutput() && graph.parent() != nullptr && !producedInside(graph, x);
      if (!nestedOutputProblem && graph.canReplaceAllUsesWith(out, x)) {
        TP_RETURN_IF_ERROR(graph.replaceAllUsesWith(out, x));
        TP_RETURN_IF_ERROR(graph.eraseNode(&second));
        removedSecond = true;
        ++removed_;
      } else {
        context_.diag().debug("fuse-consecutive-casts: " + second.describe() +
                              " becomes a same-dtype cast: removing it would rename or merge graph inputs/outputs");
      }
    }
    if (!removedSecond) {
      second.setInput(0, x);
      ++fused_;
    }
    if (!middle->hasUses() && !middle->isGraphOutput()) {
      TP_RETURN_IF_ERROR(first->owningGraph()->eraseNode(first));
    }
    return Status::ok();
  }

  PassContext& context_;
  size_t fused_ = 0;
  size_t removed_ = 0;
};

}  // namespace

PassInfo fuseConsecutiveCastsInfo() {
  PassInfo info;
  info.name = "fuse-consecutive-casts";
  info.summary = "Skip an intermediate onnx::Cast / CastLike that widens exactly; drop round trips to the input dtype";
  info.description =
      "Rewires Cast(Cast(x, to=A), to=B) to Cast(x, to=B) when A holds every value of x's dtype S exactly (then the "
      "first cast changes no value), and removes the second cast when B == S. onnx::CastLike counts as a cast to "
      "its second input's (known) dtype, in either position.\n"
      "Before:\n"
      "  %y: f32[4] = onnx::Cast(%x) {to=1}        # %x: f16[4]\n"
      "  %z: f64[4] = onnx::Cast(%y) {to=11}\n"
      "  %w: i32[4] = onnx::Cast(%i) {to=6}        # %i: i8[4]\n"
      "  %k: i8[4] = onnx::Cast(%w) {to=3}\n"
      "After:\n"
      "  %z: f64[4] = onnx::Cast(%x) {to=11}       # users of %k read %i\n"
      "Exact widenings: bool -> any numeric; iN -> iM (M >= N), i8 -> f16/bf16, i16 -> f32, i32 -> f64; uN -> uM "
      "(M >= N), iM (M > N), u8 -> f16/bf16, u16 -> f32, u32 -> f64; f16/bf16 -> f32/f64; f32 -> f64; float8 -> "
      "f16/bf16/f32/f64; S -> S. Never fires for narrowing or lossy intermediates (f32 -> f16 -> f32 rounds, "
      "f32 -> i32 -> f32 truncates, i64 -> i32 -> i64 wraps, x -> bool -> y, i64 -> f64, f16 <-> bf16), when x's "
      "dtype is unknown, or for unknown dtype codes or attributes. A cast back to S that is a graph output whose "
      "name must stay (x a graph input or another output) is kept, reading x. The first cast is erased when "
      "nothing else uses it. Works inside If/Loop bodies.";
  info.kind = StepKind::Transform;
  return info;
}

Status runFuseConsecutiveCasts(Graph& graph, PassContext& context) {
  CastFusion fusion(context);
  TP_RETURN_IF_ERROR(fusion.run(graph));
  if (fusion.fused() + fusion.removed() > 0) {
    context.setChanged();
    context.diag().debug("fuse-consecutive-casts: rewired " + std::to_string(fusion.fused()) + " cast(s), removed " +
                         std::to_string(fusion.removed()) + " round trip(s)");
  }
  return Status::ok();
}

}  // namespace torchport
