// convert-float-to-float16: turns an ONNX-dialect graph that computes in float32 into one that
// stores weights and activations in float16 (half the weight bytes; fp16 kernels where the
// runtime has them), like onnxconverter-common's float16.convert_float_to_float16.
//
// Before (keep_io_types=true, the default):
//   graph @main(%x: f32[2,4]) -> (%y: f32[2,3]) {
//     %w = const f32[4,3] @"fc.weight"
//     %m: f32[2,3] = onnx::MatMul(%x, %w)
//     %y: f32[2,3] = onnx::Relu(%m)
//   }
// After:
//   graph @main(%x: f32[2,4]) -> (%y: f32[2,3]) {
//     %x.f16: f16[2,4] = onnx::Cast(%x) {to=10}
//     %w = const f16[4,3] @"fc.weight"
//     %m: f16[2,3] = onnx::MatMul(%x.f16, %w)
//     %y.f16: f16[2,3] = onnx::Relu(%m)
//     %y: f32[2,3] = onnx::Cast(%y.f16) {to=1}
//   }
//
// How it decides. Every value of dtype f32 (tensor type f32, or a constant whose payload is a
// float / float list, which save-onnx stores as f32) gets a storage dtype, and every use of it
// wants a dtype; where they differ, one Cast per value and direction is inserted right after
// the producer (at the start of the graph for graph inputs) and shared by all such uses.
//   - Each ONNX op has a table entry naming its inputs and outputs bound to the float type
//     variable of its schema (Conv: X, W, B -> Y; Resize: X -> Y while roi/scales stay as they
//     are; LayerNormalization: X, Scale, B -> Y while Mean/InvStdDev (type U: f32 or bf16) stay
//     f32 and stash_type (default 1: accumulate in f32) is kept;
//     BatchNormalization: all five inputs -> Y and the training outputs (T == T1 == T2 is valid
//     in every opset); Where: X, Y -> out; comparisons: A, B -> bool; Cast/Shape/Size/NonZero
//     accept any input dtype). A node is converted when one of those values is f32 and all of
//     them have a known dtype that is f32; its bound inputs then want f16 and its bound outputs
//     are stored f16. Inputs outside the bound set (Resize scales, Dropout ratio, Pad pads...)
//     keep their dtype.
//   - A node stays f32 (its inputs want their original dtype; f16 producers get a Cast to f32
//     before it and its f32 outputs a Cast to f16 for converted users) when its op is in
//     op_block_list, is not an ONNX op, has no table entry, needs a newer opset for f16 than the
//     target (CumSum < 14; opset unknown = newer needed), or when the bound values mix f32
//     with other or unknown dtypes (a debug note names it): never half-converted.
//   - Constants (initializers, onnx::Constant) are rewritten in place when every user wants
//     f16; when users disagree, the f16 users get a converted copy (`<name>.f16`) and the
//     others keep the f32 original. Values are clamped as onnxconverter-common does: finite x
//     with 0 < |x| < min_positive_val becomes sign(x) * min_positive_val, |x| > max_finite_val
//     becomes sign(x) * max_finite_val; 0, inf and NaN stay. Then x rounds to nearest even f16.
//   - Attributes carrying the float dtype of a converted node follow: Cast(to=1) -> to=10,
//     EyeLike / RandomNormalLike / RandomUniformLike / Bernoulli dtype=1 -> 10, RandomNormal /
//     RandomUniform dtype (default 1) -> 10, ConstantOfShape's value tensor (default f32 0)
//     -> f16.
//   - If / Loop: when each output (with its branch outputs, or for Loop its carried input,
//     body input, body output and scan output) is all-f32 or all-not-f32, the f32 ones become
//     f16 across the node and its bodies (body outputs want f16, Loop body inputs are f16);
//     otherwise the node's interface keeps its dtypes. Nodes inside bodies are converted by
//     their own kinds either way; captured outer values are cast in the outer graph.
//   - keep_io_types=true: main-graph inputs and outputs stay f32; outputs computed in f16 get a
//     Cast that takes over the output's name (the f16 value is renamed `<name>.f16`).
//     keep_io_types=false: f32 graph inputs and outputs become f16.
// Default op_block_list: onnxconverter-common's ONNX-domain entries (Range, CumSum, TopK, Resize,
// Upsample, Min, Max, NonMaxSuppression, RoiAlign, RandomUniformLike) plus what ONNX Runtime
// 1.30's CPU provider cannot run in f16 (session creation fails): RandomNormal and RandomUniform
// ("Could not find an implementation"), MeanVarianceNormalization (its f16 function expansion
// mixes f16 and f32), and RandomNormalLike with its uniform sibling. Every other op in the table
// loads: on x86 ORT wraps most f16 nodes in Casts to f32 itself (InsertCastTransformer).
// Accuracy (tests/e2e/check_fp16_ort.py, ONNX Runtime 1.30 CPU, f16 model vs the same model in
// f32, relative to the largest |f32 output|): 1e-4 .. 1.1e-3 on the float e2e models (conv nets,
// transformers, RNNs, If/Loop); up to 2e-3 (dynamic int8 LSTM) and 8.5e-3 (static int8 convnet)
// on quantized ones, where f16 rounding moves values across quantization steps.
// f64, f16, bf16, integer and bool values are never touched. Works on the graph as it is: run
// infer-shapes / lower-to-onnx first so values carry dtypes (unknown dtypes block conversion of
// the nodes that touch them).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "pass_utils.h"
#include "passes.h"
#include "torchport/op_traits.h"

namespace torchport {
namespace {

constexpr int64_t kOnnxFloat = 1;    // TensorProto.FLOAT
constexpr int64_t kOnnxFloat16 = 10; // TensorProto.FLOAT16
constexpr double kFloat16Max = 65504.0;

// ---------------------------------------------------------------------------------------
// Op table: which inputs / outputs are bound to the float type variable that becomes f16.
// ---------------------------------------------------------------------------------------
struct Positions {
  std::vector<size_t> list;
  size_t from = SIZE_MAX;  // every index >= from (variadic)
  bool contains(size_t i) const { return i >= from || std::find(list.begin(), list.end(), i) != list.end(); }
};

struct Signature {
  Positions in;       // inputs bound to the float type
  Positions out;      // outputs bound to the float type
  Positions anyIn;    // inputs that accept any dtype (no cast ever needed)
  int64_t minOpset = 0;  // f16 allowed by the op's schema only from this opset
};

Positions at(std::initializer_list<size_t> indices) { return Positions{std::vector<size_t>(indices), SIZE_MAX}; }
Positions allFrom(size_t first) { return Positions{{}, first}; }

Signature sig(Positions in, Positions out, Positions anyIn = {}, int64_t minOpset = 0) {
  return Signature{std::move(in), std::move(out), std::move(anyIn), minOpset};
}

const std::unordered_map<std::string_view, Signature>& opTable() {
  static const std::unordered_map<std::string_view, Signature> table = [] {
    std::unordered_map<std::string_view, Signature> t;
    // X -> Y (other inputs, if any, are ints or keep their dtype).
    for (std::string_view op :
         {"Abs", "Neg", "Relu", "Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Reciprocal", "Floor", "Ceil", "Round",
          "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Erf", "Sign",
          "Softplus", "Softsign", "Elu", "Selu", "LeakyRelu", "ThresholdedRelu", "HardSigmoid", "HardSwish", "Mish",
          "Shrink", "Identity", "Softmax", "LogSoftmax", "Hardmax", "LRN", "MeanVarianceNormalization",
          "LpNormalization", "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool", "AveragePool", "LpPool",
          "MaxPool", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Expand", "Slice", "Gather",
          "GatherElements", "GatherND", "Tile", "DepthToSpace", "SpaceToDepth", "ReduceMean", "ReduceSum",
          "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
          "ReduceSumSquare", "Trilu", "ReverseSequence", "Compress", "Det", "Dropout", "TopK", "Unique",
          "Resize", "Upsample"}) {
      t.emplace(op, sig(at({0}), at({0})));
    }
    t.emplace("CumSum", sig(at({0}), at({0}), {}, 14));
    t.emplace("Gelu", sig(at({0}), at({0}), {}, 20));
    for (std::string_view op : {"Add", "Sub", "Mul", "Div", "Pow", "Mod", "PRelu", "MatMul"}) {
      t.emplace(op, sig(at({0, 1}), at({0})));
    }
    for (std::string_view op : {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"}) {
      t.emplace(op, sig(at({0, 1}), at({})));
    }
    for (std::string_view op : {"IsNaN", "ArgMax", "ArgMin"}) t.emplace(op, sig(at({0}), at({})));
    for (std::string_view op : {"Concat", "Sum", "Mean", "Max", "Min", "Einsum"}) {
      t.emplace(op, sig(allFrom(0), at({0})));
    }
    for (std::string_view op : {"Conv", "ConvTranspose", "Gemm", "Clip", "InstanceNormalization",
                                "LayerNormalization", "GroupNormalization"}) {
      t.emplace(op, sig(at({0, 1, 2}), at({0})));
    }
    t.emplace("BatchNormalization", sig(at({0, 1, 2, 3, 4}), at({0, 1, 2})));
    t.emplace("Split", sig(at({0}), allFrom(0)));
    t.emplace("Where", sig(at({1, 2}), at({0})));
    t.emplace("Pad", sig(at({0, 2}), at({0})));
    for (std::string_view op : {"ScatterElements", "ScatterND", "Scatter"}) t.emplace(op, sig(at({0, 2}), at({0})));
    t.emplace("OneHot", sig(at({2}), at({0})));
    t.emplace("LSTM", sig(at({0, 1, 2, 3, 5, 6, 7}), at({0, 1, 2})));
    for (std::string_view op : {"GRU", "RNN"}) t.emplace(op, sig(at({0, 1, 2, 3, 5}), at({0, 1})));
    for (std::string_view op : {"Shape", "Size", "NonZero"}) t.emplace(op, sig(at({}), at({}), at({0})));
    t.emplace("CastLike", sig(at({1}), at({0}), at({0})));
    t.emplace("ConstantOfShape", sig(at({}), at({0})));
    return t;
  }();
  return table;
}

// Ops whose output dtype comes from an attribute: the signature depends on it.
std::optional<Signature> signatureOf(const Node& node) {
  const std::string_view op = node.opName();
  if (op == "Cast") {
    return sig(at({}), node.intAttr("to") == kOnnxFloat ? at({0}) : at({}), at({0}));
  }
  if (op == "EyeLike" || op == "RandomNormalLike" || op == "RandomUniformLike" || op == "Bernoulli") {
    if (!node.hasAttribute("dtype")) return sig(at({0}), at({0}));           // output dtype = input dtype
    return sig(at({}), node.intAttr("dtype") == kOnnxFloat ? at({0}) : at({}), at({0}));
  }
  if (op == "RandomNormal" || op == "RandomUniform") {
    return sig(at({}), node.intAttr("dtype").value_or(kOnnxFloat) == kOnnxFloat ? at({0}) : at({}));
  }
  auto it = opTable().find(op);
  if (it == opTable().end()) return std::nullopt;
  return it->second;
}

const std::vector<std::string>& defaultBlockList() {
  static const std::vector<std::string> list = {
      // onnxconverter-common's DEFAULT_OP_BLOCK_LIST (its ONNX-domain entries; ai.onnx.ml ops are kept in f32
      // anyway: they have no table entry).
      "Range", "CumSum", "TopK", "Resize", "Upsample", "Min", "Max", "NonMaxSuppression", "RoiAlign",
      "RandomUniformLike",
      // ONNX Runtime 1.30 CPU: "Could not find an implementation" for f16 RandomNormal / RandomUniform; f16
      // MeanVarianceNormalization fails in its function expansion; RandomNormalLike like its uniform sibling.
      "RandomNormal", "RandomUniform", "RandomNormalLike", "MeanVarianceNormalization"};
  return list;
}

// ---------------------------------------------------------------------------------------
// f32 -> f16 tensors
// ---------------------------------------------------------------------------------------
struct Clamp {
  double minPositive;
  double maxFinite;
};

// The f32 tensor a constant node holds: a tensor payload, or a float / float list (what
// save-onnx stores as f32); onnx::Constant also as value_float / value_floats.
std::optional<Tensor> floatPayload(const Node& constant) {
  const bool onnxConstant = constant.kind() == "onnx::Constant";
  const Attribute* payload = constant.findAttribute("value");
  if (onnxConstant && payload == nullptr) {
    if ((payload = constant.findAttribute("value_float")) == nullptr) payload = constant.findAttribute("value_floats");
  }
  if (payload == nullptr) return std::nullopt;
  if (const auto* t = std::get_if<Tensor>(payload)) {
    if (t->dtype() != DType::F32) return std::nullopt;
    return *t;
  }
  if (const auto* d = std::get_if<double>(payload)) {
    return Tensor::fromVector(DType::F32, {}, std::vector<float>{static_cast<float>(*d)});
  }
  if (const auto* l = std::get_if<std::vector<double>>(payload)) {
    std::vector<float> f(l->begin(), l->end());
    return Tensor::fromVector(DType::F32, {static_cast<int64_t>(f.size())}, f);
  }
  return std::nullopt;
}

bool isFloatConstant(const Node& node) {
  return (node.isConstant() || node.kind() == "onnx::Constant") && node.numOutputs() == 1 &&
         floatPayload(node).has_value();
}

uint16_t toHalfBits(float x, const Clamp& clamp, size_t& clamped) {
  if (std::isfinite(x)) {
    const double a = std::fabs(static_cast<double>(x));
    double replaced = -1.0;
    if (a > 0.0 && a < clamp.minPositive) replaced = clamp.minPositive;
    else if (a > clamp.maxFinite) replaced = clamp.maxFinite;
    if (replaced >= 0.0) {
      ++clamped;
      x = static_cast<float>(std::signbit(x) ? -replaced : replaced);
    }
  }
  return floatToFloat16Bits(x);
}

// An f16 copy of an f32 tensor (elided data stays elided).
Tensor toHalf(const Tensor& tensor, const Clamp& clamp, size_t& clamped) {
  if (!tensor.hasData()) return Tensor(DType::F16, tensor.shape(), nullptr);
  std::span<const float> in = tensor.data<float>();
  std::vector<uint16_t> out(in.size());
  for (size_t i = 0; i < in.size(); ++i) out[i] = toHalfBits(in[i], clamp, clamped);
  return Tensor::fromVector<uint16_t>(DType::F16, tensor.shape(), out);
}

Type withDType(const Type& type, DType dtype, const std::vector<int64_t>& fallbackShape) {
  if (type.isTensor()) return Type::tensor(dtype, type.shape());
  return Type::tensor(dtype, fallbackShape);
}

// ---------------------------------------------------------------------------------------
// The conversion
// ---------------------------------------------------------------------------------------
enum class Mode : uint8_t { Neutral, Converted, Blocked };
enum class Want : uint8_t { Original, Half, Any };

struct NodePlan {
  Mode mode = Mode::Blocked;
  Signature signature;
  bool controlFlow = false;  // If / Loop
};

struct Settings {
  bool keepIoTypes = true;
  std::unordered_set<std::string> blocked;  // "Resize" (ONNX domain) or "domain::Name"
  Clamp clamp{1e-7, 1e4};
  std::optional<int64_t> opset;
};

class Float16Conversion {
 public:
  Float16Conversion(Graph& root, PassContext& context, Settings settings)
      : root_(root), context_(context), settings_(std::move(settings)) {}

  Status run() {
    collect(root_);
    if (f32_.empty()) {
      context_.diag().debug("convert-float-to-float16: the graph has no f32 values");
      return Status::ok();
    }
    if (!settings_.keepIoTypes) {
      for (Value* input : root_.inputs())
        if (f32_.count(input) != 0) markHalf(input);
    }
    plan(root_);
    convertConstantsInPlace(root_);
    std::vector<std::pair<Value*, std::string>> originalOutputs;
    for (Value* output : root_.outputs()) originalOutputs.emplace_back(output, output->name());
    TP_RETURN_IF_ERROR(rewire(root_));
    TP_RETURN_IF_ERROR(renameMainOutputs(originalOutputs));
    finish();
    return Status::ok();
  }

  bool changed() const { return !f16_.empty() || casts_ > 0 || copies_ > 0; }
  std::string summary() const {
    return std::to_string(f16_.size()) + " values to f16, " + std::to_string(converted_) + " nodes converted, " +
           std::to_string(blocked_) + " kept in f32, " + std::to_string(casts_) + " casts inserted, " +
           std::to_string(copies_) + " constant copies, " + std::to_string(clamped_) + " constant elements clamped";
  }

 private:
  void markHalf(Value* value) {
    if (f16_.insert(value).second) halfValues_.push_back(value);
  }

  // ---- 1. which values are f32 ----
  bool isF32Value(const Value* value) const {
    if (value->type().isTensor()) return value->type().dtype() == DType::F32;
    const Node* producer = value->producer();
    return producer != nullptr && isFloatConstant(*producer);
  }

  void collect(Graph& graph) {
    for (Value* input : graph.inputs())
      if (isF32Value(input)) f32_.insert(input);
    for (Node* node : graph.nodes()) {
      for (Value* output : node->outputs())
        if (isF32Value(output)) f32_.insert(output);
      for (const auto& [name, attribute] : node->attributes()) {
        const auto* body = std::get_if<GraphPtr>(&attribute);
        if (body == nullptr || *body == nullptr) continue;
        bodyOwner_[body->get()] = node;
        collect(**body);
      }
    }
  }

  // ---- 2. which nodes convert ----
  void note(const Node& node, std::string_view why) {
    context_.diag().debug("convert-float-to-float16: keeping " + node.describe() + " in f32: " + std::string(why));
  }

  bool touchesF32(const Node& node) const {
    for (const Value* v : node.inputs())
      if (f32_.count(v) != 0) return true;
    for (const Value* v : node.outputs())
      if (f32_.count(v) != 0) return true;
    return false;
  }

  bool isBlockListed(const Node& node) const {
    if (settings_.blocked.count(node.kind()) != 0) return true;
    return node.domain() == "onnx" && settings_.blocked.count(std::string(node.opName())) != 0;
  }

  // Counts the f32 / other-dtype / unknown-dtype values among `values` (absent optionals skipped).
  struct Census {
    size_t f32 = 0, other = 0, unknown = 0;
    void add(const Value* value, const std::unordered_set<const Value*>& f32Values) {
      if (value == nullptr || isNoneValue(value)) return;
      if (f32Values.count(value) != 0) ++f32;
      else if (value->type().isTensor() && value->type().dtype() != DType::Undefined) ++other;
      else ++unknown;
    }
  };

  NodePlan planNode(const Node& node) {
    NodePlan p;
    const bool relevant = touchesF32(node);
    if (node.domain() != "onnx") {
      if (relevant) note(node, "not an ONNX op");
      return p;
    }
    if (isBlockListed(node)) {
      if (relevant) note(node, "in op_block_list");
      return p;
    }
    if (node.opName() == "If" || node.opName() == "Loop") return planControlFlow(node);
    std::optional<Signature> signature = signatureOf(node);
    if (!signature) {
      if (relevant) note(node, "no f16 type table entry for this op");
      return p;
    }
    Census census;
    for (size_t i = 0; i < node.numInputs(); ++i)
      if (signature->in.contains(i)) census.add(node.input(i), f32_);
    for (size_t i = 0; i < node.numOutputs(); ++i)
      if (signature->out.contains(i)) census.add(node.output(i), f32_);
    p.signature = std::move(*signature);
    if (census.f32 == 0) {
      p.mode = Mode::Neutral;
      return p;
    }
    if (census.other > 0 || census.unknown > 0) {
      note(node, "its float-typed operands mix f32 with " +
                     std::string(census.unknown > 0 ? "values of unknown dtype" : "other dtypes"));
      return p;
    }
    if (p.signature.minOpset > 0 && (!settings_.opset || *settings_.opset < p.signature.minOpset)) {
      note(node, "f16 needs opset >= " + std::to_string(p.signature.minOpset) +
                     (settings_.opset ? " (target " + std::to_string(*settings_.opset) + ")" : " (target opset unknown)"));
      return p;
    }
    p.mode = Mode::Converted;
    return p;
  }

  // If / Loop: each output position must be f32 everywhere or nowhere.
  NodePlan planControlFlow(const Node& node) {
    NodePlan p;
    p.controlFlow = true;
    std::vector<std::vector<const Value*>> groups;  // one group per position that must agree
    if (node.opName() == "If") {
      GraphPtr thenBody = node.graphAttr("then_branch");
      GraphPtr elseBody = node.graphAttr("else_branch");
      const size_t n = node.numOutputs();
      if (thenBody == nullptr || elseBody == nullptr || thenBody->outputs().size() != n ||
          elseBody->outputs().size() != n) {
        if (touchesF32(node)) note(node, "malformed If");
        return p;
      }
      for (size_t k = 0; k < n; ++k) groups.push_back({node.output(k), thenBody->outputs()[k], elseBody->outputs()[k]});
    } else {
      GraphPtr body = node.graphAttr("body");
      if (body == nullptr || node.numInputs() < 2) {
        if (touchesF32(node)) note(node, "malformed Loop");
        return p;
      }
      const size_t carried = node.numInputs() - 2;
      if (body->inputs().size() != carried + 2 || body->outputs().size() < carried + 1 ||
          node.numOutputs() != body->outputs().size() - 1) {
        if (touchesF32(node)) note(node, "malformed Loop");
        return p;
      }
      for (size_t k = 0; k < carried; ++k) {
        groups.push_back({node.input(2 + k), body->inputs()[2 + k], body->outputs()[1 + k], node.output(k)});
      }
      for (size_t j = carried; j < node.numOutputs(); ++j) groups.push_back({body->outputs()[1 + j], node.output(j)});
    }
    size_t floatGroups = 0;
    for (const auto& group : groups) {
      size_t f32 = 0;
      for (const Value* v : group) f32 += f32_.count(v);
      if (f32 == 0) continue;
      if (f32 != group.size()) {
        note(node, "an output is f32 in some places (node, branch or carried value) but not in all");
        return p;
      }
      ++floatGroups;
    }
    p.mode = floatGroups > 0 ? Mode::Converted : Mode::Neutral;
    return p;
  }

  void plan(Graph& graph) {
    for (Node* node : graph.nodes()) {
      NodePlan p = (isFloatConstant(*node)) ? NodePlan{Mode::Neutral, {}, false} : planNode(*node);
      if (p.mode == Mode::Converted) {
        ++converted_;
        if (p.controlFlow) {
          for (Value* output : node->outputs())
            if (f32_.count(output) != 0) markHalf(output);
          if (node->opName() == "Loop") {
            GraphPtr body = node->graphAttr("body");
            for (size_t i = 2; i < body->inputs().size(); ++i)
              if (f32_.count(body->inputs()[i]) != 0) markHalf(body->inputs()[i]);
          }
        } else {
          for (size_t i = 0; i < node->numOutputs(); ++i)
            if (p.signature.out.contains(i) && f32_.count(node->output(i)) != 0) markHalf(node->output(i));
          convertedNodes_.push_back(node);
        }
      } else if (p.mode == Mode::Blocked && touchesF32(*node)) {
        ++blocked_;
      }
      plans_[node] = std::move(p);
      for (const auto& [name, attribute] : node->attributes()) {
        const auto* body = std::get_if<GraphPtr>(&attribute);
        if (body != nullptr && *body != nullptr) plan(**body);
      }
    }
  }

  // ---- 3. what each use wants ----
  Want wantOf(const Node* user, size_t index) const {
    auto it = plans_.find(user);
    if (it == plans_.end()) return Want::Original;
    const NodePlan& p = it->second;
    if (p.mode == Mode::Blocked) return Want::Original;
    if (p.controlFlow) {
      // Converted Loop: carried inputs (all-f32 groups, see planControlFlow) go f16.
      return p.mode == Mode::Converted && user->opName() == "Loop" && index >= 2 ? Want::Half : Want::Original;
    }
    if (p.signature.anyIn.contains(index)) return Want::Any;
    if (p.mode == Mode::Converted && p.signature.in.contains(index)) return Want::Half;
    return Want::Original;
  }

  Want outputWant(const Graph& graph, size_t index) const {
    if (&graph == &root_) return settings_.keepIoTypes ? Want::Original : Want::Half;
    auto owner = bodyOwner_.find(&graph);
    if (owner == bodyOwner_.end()) return Want::Original;
    auto it = plans_.find(owner->second);
    if (it == plans_.end() || !it->second.controlFlow || it->second.mode != Mode::Converted) return Want::Original;
    if (owner->second->opName() == "Loop" && index == 0) return Want::Original;  // the condition
    return Want::Half;
  }

  // ---- 4. constants whose every user wants f16 are converted where they are ----
  void convertConstantsInPlace(Graph& graph) {
    for (Node* node : graph.nodes()) {
      for (const auto& [name, attribute] : node->attributes()) {
        const auto* body = std::get_if<GraphPtr>(&attribute);
        if (body != nullptr && *body != nullptr) convertConstantsInPlace(**body);
      }
      if (!isFloatConstant(*node)) continue;
      Value* out = node->output();
      if (!out->hasUses() || out->isGraphOutput()) continue;
      bool anyHalf = false;
      bool allHalf = true;
      for (const Use& use : out->uses()) {
        const Want want = wantOf(use.user, use.inputIndex);
        anyHalf = anyHalf || want == Want::Half;
        allHalf = allHalf && want != Want::Original;
      }
      if (!anyHalf || !allHalf) continue;
      Tensor half = toHalf(*floatPayload(*node), settings_.clamp, clamped_);
      const std::vector<int64_t> shape = half.shape();
      node->removeAttribute("value_float");
      node->removeAttribute("value_floats");
      node->setAttribute("value", std::move(half));
      out->setType(withDType(out->type(), DType::F16, shape));
      markHalf(out);
    }
  }

  // ---- 5. casts where storage and use disagree ----
  Value* castOf(Value* value, bool toHalf16) {
    auto& slots = castCache_[value];
    Value*& slot = slots[toHalf16 ? 1 : 0];
    if (slot != nullptr) return slot;
    Node* producer = value->producer();
    if (toHalf16 && producer != nullptr && isFloatConstant(*producer)) {
      // A converted copy for the f16 users; the f32 users keep the original.
      Graph& graph = *producer->owningGraph();
      Tensor half = toHalf(*floatPayload(*producer), settings_.clamp, clamped_);
      Node* copy = graph.createConstant(std::move(half), producer, value->name() + ".f16");
      copy->setProvenance(producer->provenance());
      ++copies_;
      slot = copy->output();
      return slot;
    }
    const DType target = toHalf16 ? DType::F16 : DType::F32;
    Node* cast = nullptr;
    if (producer != nullptr) {
      cast = producer->owningGraph()->insertNodeAfter(producer, "onnx::Cast", std::vector<Value*>{value}, 0);
      cast->setProvenance(producer->provenance());
    } else {
      Graph& graph = *value->owningGraph();
      Node* first = graph.nodes().empty() ? nullptr : *graph.nodes().begin();
      cast = graph.insertNodeBefore(first, "onnx::Cast", std::vector<Value*>{value}, 0);
    }
    cast->setAttribute("to", toHalf16 ? kOnnxFloat16 : kOnnxFloat);
    std::vector<int64_t> scalarShape;
    cast->addOutput(withDType(value->type(), target, scalarShape), value->name() + (toHalf16 ? ".f16" : ".f32"));
    ++casts_;
    slot = cast->output();
    return slot;
  }

  Value* adapt(Value* value, Want want) {
    if (want == Want::Any || f32_.count(value) == 0) return value;
    const bool isHalf = f16_.count(value) != 0;
    const bool wantsHalf = want == Want::Half;
    return isHalf == wantsHalf ? value : castOf(value, wantsHalf);
  }

  Status rewire(Graph& graph) {
    for (Node* node : graph.nodeSnapshot()) {
      for (size_t i = 0; i < node->numInputs(); ++i) {
        Value* value = node->input(i);
        Value* adapted = adapt(value, wantOf(node, i));
        if (adapted != value) node->setInput(i, adapted);
      }
      for (const auto& [name, attribute] : node->attributes()) {
        const auto* body = std::get_if<GraphPtr>(&attribute);
        if (body != nullptr && *body != nullptr) TP_RETURN_IF_ERROR(rewire(**body));
      }
    }
    for (size_t k = 0; k < graph.outputs().size(); ++k) {
      Value* value = graph.outputs()[k];
      Value* adapted = adapt(value, outputWant(graph, k));
      if (adapted != value) graph.setOutput(k, adapted);
    }
    return Status::ok();
  }

  // Main-graph outputs now produced by a Cast take the original output names.
  Status renameMainOutputs(const std::vector<std::pair<Value*, std::string>>& originals) {
    for (size_t k = 0; k < originals.size(); ++k) {
      const auto& [original, name] = originals[k];
      Value* now = root_.outputs()[k];
      if (now == original || now->name() == name) continue;  // unchanged, or renamed for an earlier position
      if (original->isGraphInput()) continue;  // cannot happen: inputs and outputs follow keep_io_types alike
      TP_RETURN_IF_ERROR(root_.renameValue(original, root_.uniqueName(name + ".f16")));
      TP_RETURN_IF_ERROR(root_.renameValue(now, name));
    }
    return Status::ok();
  }

  // ---- 6. types and dtype attributes ----
  void finish() {
    std::vector<int64_t> scalarShape;
    for (Value* v : halfValues_) {
      if (!v->type().isTensor() || v->type().dtype() == DType::F32) v->setType(withDType(v->type(), DType::F16, scalarShape));
    }
    for (Node* n : convertedNodes_) {
      const std::string_view op = n->opName();
      if (op == "Cast" && n->intAttr("to") == kOnnxFloat) {
        n->setAttribute("to", kOnnxFloat16);
      } else if ((op == "EyeLike" || op == "RandomNormalLike" || op == "RandomUniformLike" || op == "Bernoulli") &&
                 n->intAttr("dtype") == kOnnxFloat) {
        n->setAttribute("dtype", kOnnxFloat16);
      } else if (op == "RandomNormal" || op == "RandomUniform") {
        n->setAttribute("dtype", kOnnxFloat16);
      } else if (op == "ConstantOfShape") {
        const Tensor* value = n->tensorAttr("value");
        Tensor half = value != nullptr ? toHalf(*value, settings_.clamp, clamped_)
                                       : Tensor::fromVector<uint16_t>(DType::F16, {1}, std::vector<uint16_t>{0});
        n->setAttribute("value", std::move(half));
      }
    }
  }

  Graph& root_;
  PassContext& context_;
  Settings settings_;
  std::unordered_set<const Value*> f32_;  // f32 before the pass
  std::unordered_set<const Value*> f16_;  // stored as f16 after it
  std::vector<Value*> halfValues_;        // f16_ in the order found
  std::vector<Node*> convertedNodes_;     // converted nodes other than If / Loop
  std::unordered_map<const Node*, NodePlan> plans_;
  std::unordered_map<const Graph*, const Node*> bodyOwner_;
  std::unordered_map<const Value*, std::array<Value*, 2>> castCache_;
  size_t converted_ = 0;
  size_t blocked_ = 0;
  size_t casts_ = 0;
  size_t copies_ = 0;
  size_t clamped_ = 0;
};

Expected<Settings> readSettings(const PassContext& context) {
  const Options& options = context.options();
  Settings s;
  s.keepIoTypes = options.getBool("keep_io_types", true);
  for (const std::string& op : options.getStringList("op_block_list")) {
    if (op.empty()) return Status::usage("convert-float-to-float16: op_block_list contains an empty op name");
    s.blocked.insert(op);
  }
  s.clamp.minPositive = options.getFloat("min_positive_val", 1e-7);
  s.clamp.maxFinite = options.getFloat("max_finite_val", 1e4);
  if (!(s.clamp.minPositive > 0.0) || !std::isfinite(s.clamp.minPositive)) {
    return Status::usage("convert-float-to-float16: min_positive_val must be a positive number, got " +
                         std::to_string(s.clamp.minPositive));
  }
  if (!(s.clamp.maxFinite > s.clamp.minPositive) || s.clamp.maxFinite > kFloat16Max) {
    return Status::usage("convert-float-to-float16: max_finite_val must be above min_positive_val and at most 65504 "
                         "(the largest f16), got " + std::to_string(s.clamp.maxFinite));
  }
  s.opset = targetOnnxOpset(context);
  return s;
}

}  // namespace

PassInfo convertFloatToFloat16Info() {
  PassInfo info;
  info.name = "convert-float-to-float16";
  info.summary = "Store an ONNX graph's float32 weights and activations as float16 (like onnxconverter-common)";
  info.description =
      "Converts f32 constants (clamped, see below) and f32 values to f16 and rewrites the dtype attributes of the "
      "converted nodes (Cast to=1 -> 10, ConstantOfShape value, EyeLike / Random* / Bernoulli dtype), inside If / "
      "Loop bodies too. A per-op table of the ONNX schemas says which inputs and outputs share the float type "
      "(Resize scales, Dropout ratio, LayerNormalization's Mean/InvStdDev keep their dtype). A node whose op is in "
      "op_block_list, is not ONNX, is not in the table, or whose float operands mix f32 with other or unknown dtypes "
      "stays f32 whole, with Casts (f16 -> f32 before, f32 -> f16 after); one Cast per value and direction.\n"
      "Before:\n"
      "  %m: f32[2,3] = onnx::MatMul(%x, %w)          # %x: graph input f32[2,4], %w: const f32[4,3]\n"
      "  %y: f32[2,3] = onnx::Relu(%m)                # graph output\n"
      "After (keep_io_types=true):\n"
      "  %x.f16: f16[2,4] = onnx::Cast(%x) {to=10}\n"
      "  %m: f16[2,3] = onnx::MatMul(%x.f16, %w)      # %w: const f16[4,3]\n"
      "  %y.f16: f16[2,3] = onnx::Relu(%m)\n"
      "  %y: f32[2,3] = onnx::Cast(%y.f16) {to=1}\n"
      "Clamping (as onnxconverter-common): finite constant elements with 0 < |x| < min_positive_val become "
      "+-min_positive_val, |x| > max_finite_val become +-max_finite_val; 0, inf, NaN stay; then round to nearest "
      "even f16. f64, f16, bf16, integer and bool values are untouched.\n"
      "Default op_block_list: onnxconverter-common's ONNX-domain entries (Range, CumSum, TopK, Resize, Upsample, Min, "
      "Max, NonMaxSuppression, RoiAlign, RandomUniformLike) plus the ops ONNX Runtime 1.30's CPU provider cannot run "
      "in f16 (RandomNormal, RandomUniform: no kernel; MeanVarianceNormalization: its function expansion fails) and "
      "RandomNormalLike.\n"
      "Accuracy observed in ONNX Runtime 1.30 CPU against the same model in f32 (tests/e2e/check_fp16_ort.py, 25 "
      "e2e models): max|out16 - out32| / max|out32| is 1e-4 to 1.1e-3 for MLPs, conv nets (resnet18/50, mobilenet, "
      "efficientnet, convnext, densenet...), transformer encoders, a GPT decoder, GRU/LSTM and If/Loop models; "
      "up to 2e-3 (dynamic int8 LSTM) and 8.5e-3 (static int8 convnet) for quantized models (f16 rounding moves "
      "values across quantization steps); "
      "the script's budget is 1e-2.";
  OptionSpec blockList = optionSpec("op_block_list", OptionType::StringList, OptionValue(OptionValue::List{}),
                                    "ops kept in f32 with Casts around them: ONNX op names (Resize) or qualified "
                                    "kinds (com.microsoft::Attention); setting it replaces the default list");
  OptionValue::List defaults;
  for (const std::string& op : defaultBlockList()) defaults.push_back(stringValue(op));
  blockList.defaultValue = OptionValue(OptionValue::Data(std::move(defaults)));
  info.options = {
      optionSpec("keep_io_types", OptionType::Bool, boolValue(true),
                 "keep the main graph's f32 inputs and outputs f32 (Casts at the boundary, output names kept); "
                 "false makes them f16"),
      std::move(blockList),
      optionSpec("min_positive_val", OptionType::Float, floatValue(1e-7),
                 "constant elements with 0 < |x| below this become +-this (onnxconverter-common's default)"),
      optionSpec("max_finite_val", OptionType::Float, floatValue(1e4),
                 "constant elements with |x| above this (and finite) become +-this; at most 65504 "
                 "(onnxconverter-common's default)"),
      targetOpsetOption(),
  };
  info.kind = StepKind::Transform;
  return info;
}

Status runConvertFloatToFloat16(Graph& graph, PassContext& context) {
  Expected<Settings> settings = readSettings(context);
  if (!settings) return settings.status();
  Float16Conversion conversion(graph, context, std::move(*settings));
  TP_RETURN_IF_ERROR(conversion.run());
  if (conversion.changed()) {
    context.setChanged();
    context.diag().debug("convert-float-to-float16: " + conversion.summary());
  }
  return Status::ok();
}

}  // namespace torchport
