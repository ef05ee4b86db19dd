// Per-op shape rules of infer-shapes; see infer_shapes_rules.h and the header comment of
// infer_shapes.cpp for what is covered. Every rule follows the ONNX spec of the op: what
// the spec leaves open or what depends on run-time data stays unknown (a dim `?` or an
// unknown rank), never guessed.
#include "infer_shapes_rules.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <span>
#include <string_view>
#include <unordered_set>

#include "../kernels/onnx_shape_kernels.h"
#include "torchport/op_traits.h"

namespace torchport::shape_rules {
namespace {

using Dims = std::vector<Dim>;

constexpr size_t kMaxDataElements = 64;  // partially known data: shape vectors, not tensors

std::optional<Dims> shapeOf(const Value* value) {
  const Type& t = value->type();
  if (!t.isTensor() || !t.hasRank()) return std::nullopt;
  return *t.shape();
}

DType dtypeOf(const Value* value) { return value->type().isTensor() ? value->type().dtype() : DType::Undefined; }

std::optional<int64_t> normalizeAxis(int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank) return std::nullopt;
  return axis < 0 ? axis + rank : axis;
}

std::optional<int64_t> checkedMul(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

Dim mulDims(const Dim& a, const Dim& b) {
  if (a.isKnown() && b.isKnown()) {
    auto r = checkedMul(a.size(), b.size());
    return r ? Dim::known(*r) : Dim::unknown();
  }
  if (a.isKnown() && a.size() == 1) return b;
  if (b.isKnown() && b.size() == 1) return a;
  if ((a.isKnown() && a.size() == 0) || (b.isKnown() && b.size() == 0)) return Dim::known(0);
  return Dim::unknown();
}

// A product of dims as coefficient * symbols (sorted multiset); invalid with an unknown dim.
struct SymProduct {
  int64_t coef = 1;
  std::vector<std::string> symbols;
  bool valid = true;
};

SymProduct productOf(std::span<const Dim> dims) {
  SymProduct p;
  for (const Dim& d : dims) {
    if (d.isKnown()) {
      auto r = checkedMul(p.coef, d.size());
      if (!r) return {1, {}, false};
      p.coef = *r;
    } else if (d.isSymbol()) {
      p.symbols.push_back(d.symbolName());
    } else {
      p.valid = false;
    }
  }
  std::sort(p.symbols.begin(), p.symbols.end());
  return p;
}

Dim productDim(const SymProduct& p) {
  if (!p.valid) return Dim::unknown();
  if (p.coef == 0) return Dim::known(0);
  if (p.symbols.empty()) return Dim::known(p.coef);
  if (p.symbols.size() == 1 && p.coef == 1) return Dim::symbol(p.symbols.front());
  return Dim::unknown();
}

// a / b when b's symbols are a sub-multiset of a's and the coefficients divide.
std::optional<SymProduct> divideProducts(const SymProduct& a, const SymProduct& b) {
  if (!a.valid || !b.valid || b.coef == 0 || a.coef % b.coef != 0) return std::nullopt;
  SymProduct q;
  q.coef = a.coef / b.coef;
  size_t j = 0;
  for (const std::string& s : a.symbols) {
    if (j < b.symbols.size() && b.symbols[j] == s) {
      ++j;
    } else {
      q.symbols.push_back(s);
    }
  }
  if (j != b.symbols.size()) return std::nullopt;
  return q;
}

// Multidirectional (numpy) broadcasting of ranked shapes.
std::optional<Dims> broadcastShapes(const std::vector<Dims>& shapes, std::string& problem) {
  size_t rank = 0;
  for (const Dims& s : shapes) rank = std::max(rank, s.size());
  Dims out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t known = -1;
    std::string symbol;
    bool unknown = false, mixedSymbols = false;
    for (const Dims& s : shapes) {
      if (i + s.size() < rank) continue;  // missing leading axis: 1
      const Dim& d = s[i + s.size() - rank];
      if (d.isKnown()) {
        if (d.size() == 1) continue;
        if (known < 0) {
          known = d.size();
        } else if (known != d.size()) {
          problem = "dims " + std::to_string(known) + " and " + std::to_string(d.size()) + " do not broadcast";
          return std::nullopt;
        }
      } else if (d.isSymbol()) {
        if (symbol.empty()) symbol = d.symbolName();
        else if (symbol != d.symbolName()) mixedSymbols = true;
      } else {
        unknown = true;
      }
    }
    if (known >= 0) out[i] = Dim::known(known);
    else if (unknown || mixedSymbols) out[i] = Dim::unknown();
    else if (!symbol.empty()) out[i] = Dim::symbol(symbol);
    else out[i] = Dim::known(1);
  }
  return out;
}

int64_t floorDiv(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
int64_t ceilDiv(int64_t a, int64_t b) { return -floorDiv(-a, b); }

class Rules {
 public:
  Rules(const Node& node, const DataLookup& lookup) : node_(node), lookup_(lookup) {
    result_.outputs.resize(node.numOutputs());
    result_.data.resize(node.numOutputs());
  }

  NodeResult run() {
    dispatch(node_.opName());
    return std::move(result_);
  }

 private:
  // ---- access ----
  bool present(size_t i) const { return i < node_.numInputs() && !isNoneValue(node_.input(i)); }
  const Value* in(size_t i) const { return node_.input(i); }
  std::optional<Dims> shape(size_t i) const { return present(i) ? shapeOf(in(i)) : std::nullopt; }
  DType dtype(size_t i) const { return present(i) ? dtypeOf(in(i)) : DType::Undefined; }

  std::optional<ShapeData> data(size_t i) const {
    if (!present(i)) return std::nullopt;
    if (auto c = constantShapeData(in(i))) return c;
    if (const ShapeData* d = lookup_(in(i))) return *d;
    return std::nullopt;
  }
  // Fully known int data of input i.
  std::optional<std::vector<int64_t>> ints(size_t i) const {
    auto d = data(i);
    if (!d) return std::nullopt;
    std::vector<int64_t> v;
    for (const SymInt& e : *d) {
      if (!e.value) return std::nullopt;
      v.push_back(*e.value);
    }
    return v;
  }
  // An int list given as attribute `attr` (older opsets) or input `index` (newer ones).
  // `absent` says neither was given; nullopt with !absent: given but not constant.
  std::optional<std::vector<int64_t>> attrOrInput(std::string_view attr, size_t index, bool& absent) const {
    absent = false;
    if (const auto* a = node_.intsAttr(attr)) return *a;
    if (present(index)) return ints(index);
    absent = true;
    return std::nullopt;
  }
  int64_t intAttr(std::string_view name, int64_t fallback) const { return node_.intAttr(name).value_or(fallback); }

  void set(size_t out, DType dtype, std::optional<Dims> dims) {
    if (out >= result_.outputs.size()) return;
    if (dtype == DType::Undefined && !dims) return;
    result_.outputs[out] = Type::tensor(dtype, std::move(dims));
  }
  void setData(size_t out, ShapeData d) {
    if (out < result_.data.size() && d.size() <= kMaxDataElements) result_.data[out] = std::move(d);
  }
  void problem(std::string message) { result_.problems.push_back(std::move(message)); }
  static Dims unknownDims(size_t rank) { return Dims(rank); }

  // ---- dispatch ----
  void dispatch(std::string_view op) {
    static const std::unordered_set<std::string_view> kSameAsInput = {
        "Abs", "Acos", "Acosh", "Asin", "Asinh", "Atan", "Atanh", "Ceil", "Celu", "Clip", "Cos", "Cosh", "CumSum",
        "Elu", "Erf", "Exp", "Floor", "Gelu", "HardSigmoid", "HardSwish", "Hardmax", "Identity",
        "InstanceNormalization", "LRN", "LeakyRelu", "Log", "LogSoftmax", "LpNormalization",
        "MeanVarianceNormalization", "Mish", "Neg", "Reciprocal", "Relu", "Round", "Selu", "Shrink", "Sigmoid",
        "Sign", "Sin", "Sinh", "Softmax", "Softplus", "Softsign", "Sqrt", "Tan", "Tanh", "ThresholdedRelu", "Trilu",
        "BitwiseNot", "Not", "PRelu", "GroupNormalization", "ReverseSequence", "ScatterND", "ScatterElements",
        "Scatter", "Dropout", "BatchNormalization", "LayerNormalization"};
    static const std::unordered_set<std::string_view> kBroadcastSameType = {
        "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Mean", "Sum", "BitShift", "BitwiseAnd",
        "BitwiseOr", "BitwiseXor"};
    static const std::unordered_set<std::string_view> kBroadcastBool = {
        "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor"};
    static const std::unordered_set<std::string_view> kReduce = {
        "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
        "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"};
    if (node_.numInputs() == 0 && op != "Constant" && op != "Range") return;
    if (kSameAsInput.count(op) != 0) return sameAsInput(op);
    if (op == "IsNaN" || op == "IsInf") return set(0, DType::Bool, shape(0));
    if (kBroadcastSameType.count(op) != 0) return broadcastOp(dtype(0), op);
    if (kBroadcastBool.count(op) != 0) return broadcastOp(DType::Bool, op);
    if (op == "Where") return where();
    if (kReduce.count(op) != 0) return reduce(false);
    if (op == "ArgMax" || op == "ArgMin") return reduce(true);
    if (op == "Cast") return cast();
    if (op == "CastLike") return set(0, dtype(1), shape(0));
    if (op == "Shape") return shapeOp();
    if (op == "Size") return sizeOp();
    if (op == "Constant") return constantOp();
    if (op == "Reshape") return reshape();
    if (op == "Flatten") return flatten();
    if (op == "Squeeze") return squeeze();
    if (op == "Unsqueeze") return unsqueeze();
    if (op == "Transpose") return transpose();
    if (op == "Concat") return concat();
    if (op == "Gather") return gather();
    if (op == "GatherElements") return set(0, dtype(0), shape(1));
    if (op == "GatherND") return gatherNd();
    if (op == "Slice") return slice();
    if (op == "Pad") return pad();
    if (op == "Expand") return expand();
    if (op == "Tile") return tile();
    if (op == "ConstantOfShape") return constantOfShape();
    if (op == "Range") return range();
    if (op == "Split") return split();
    if (op == "Resize" || op == "Upsample") return resize(op);
    if (op == "MatMul" || op == "MatMulInteger") return matmul(op == "MatMul" ? dtype(0) : DType::I32);
    if (op == "Gemm") return gemm();
    if (op == "Conv") return convPool(Kind::Conv);
    if (op == "ConvTranspose") return convPool(Kind::ConvTranspose);
    if (op == "MaxPool" || op == "AveragePool" || op == "LpPool") return convPool(Kind::Pool);
    if (op == "GlobalAveragePool" || op == "GlobalMaxPool" || op == "GlobalLpPool") return globalPool();
    if (op == "TopK") return topk();
    if (op == "NonZero") {
      auto s = shape(0);
      return set(0, DType::I64, s ? std::optional<Dims>(Dims{Dim::known(static_cast<int64_t>(s->size())), Dim()})
                                  : std::optional<Dims>(Dims{Dim(), Dim()}));
    }
    if (op == "OneHot") return oneHot();
    if (op == "DepthToSpace" || op == "SpaceToDepth") return depthSpace(op == "DepthToSpace");
    if (op == "QuantizeLinear") return quantize();
    if (op == "DequantizeLinear") return set(0, dtype(1), shape(0));
    if (op == "RNN" || op == "GRU" || op == "LSTM") return recurrent();
    if (op == "GridSample") {
      auto x = shape(0), grid = shape(1);
      if (!x || !grid || x->size() != grid->size() || x->size() < 3) return set(0, dtype(0), std::nullopt);
      Dims out{(*x)[0], (*x)[1]};
      out.insert(out.end(), grid->begin() + 1, grid->end() - 1);
      return set(0, dtype(0), out);
    }
    if (op == "EyeLike" || op == "RandomNormalLike" || op == "RandomUniformLike" || op == "Bernoulli") {
      auto to = node_.intAttr("dtype");
      return set(0, to ? dtypeFromOnnxCode(*to).value_or(DType::Undefined) : dtype(0), shape(0));
    }
  }

  // ---- element-wise ----
  void sameAsInput(std::string_view op) {
    set(0, dtype(0), shape(0));
    if (op == "Identity") {
      if (auto d = data(0)) setData(0, *d);
    } else if (op == "Dropout") {
      set(1, DType::Bool, shape(0));
    } else if (op == "BatchNormalization") {
      for (size_t i = 1; i < node_.numOutputs(); ++i) set(i, dtype(3), shape(3));
    } else if (op == "LayerNormalization") {
      auto s = shape(0);
      const DType stash = dtypeFromOnnxCode(intAttr("stash_type", 1)).value_or(DType::Undefined);
      if (s) {
        auto axis = normalizeAxis(intAttr("axis", -1), static_cast<int64_t>(s->size()));
        if (!axis) return problem("LayerNormalization axis out of range");
        for (size_t i = static_cast<size_t>(*axis); i < s->size(); ++i) (*s)[i] = Dim::known(1);
      }
      for (size_t i = 1; i < node_.numOutputs(); ++i) set(i, stash, s);
    }
  }

  void broadcastOp(DType outType, std::string_view op) {
    std::vector<Dims> shapes;
    bool ranked = true;
    for (size_t i = 0; i < node_.numInputs(); ++i) {
      auto s = shape(i);
      if (!s) {
        ranked = false;
        break;
      }
      shapes.push_back(std::move(*s));
    }
    if (shapes.empty()) ranked = false;
    std::optional<Dims> out;
    if (ranked) {
      std::string why;
      out = broadcastShapes(shapes, why);
      if (!out) problem(why);
    }
    set(0, outType, out);
    if (out && out->size() <= 1 && node_.numInputs() == 2 && isInteger(outType)) arithmeticData(op, *out);
  }

  // Integer arithmetic on partially known shape vectors: known op known (Div: exact, or both
  // operands non-negative, where truncation and flooring agree); x*1, x+0, x-0, x/1 keep a symbol.
  void arithmeticData(std::string_view op, const Dims& outShape) {
    if (op != "Add" && op != "Sub" && op != "Mul" && op != "Div") return;
    auto a = data(0), b = data(1);
    if (!a || !b) return;
    const size_t n = outShape.empty() ? 1 : (outShape[0].isKnown() ? static_cast<size_t>(outShape[0].size()) : 0);
    if (n == 0 || (a->size() != n && a->size() != 1) || (b->size() != n && b->size() != 1)) return;
    ShapeData out;
    for (size_t i = 0; i < n; ++i) {
      const SymInt& x = (*a)[a->size() == 1 ? 0 : i];
      const SymInt& y = (*b)[b->size() == 1 ? 0 : i];
      SymInt r;
      if (x.value && y.value) {
        int64_t v = 0;
        bool ok = true;
        if (op == "Add") ok = !__builtin_add_overflow(*x.value, *y.value, &v);
        else if (op == "Sub") ok = !__builtin_sub_overflow(*x.value, *y.value, &v);
        else if (op == "Mul") ok = !__builtin_mul_overflow(*x.value, *y.value, &v);
        else ok = *y.value != 0 && !(*x.value == std::numeric_limits<int64_t>::min() && *y.value == -1) &&
                  ((*x.value >= 0 && *y.value > 0) || *x.value % *y.value == 0) && ((v = *x.value / *y.value), true);
        if (ok) r = SymInt::known(v);
      } else if (y.value && ((*y.value == 0 && (op == "Add" || op == "Sub")) ||
                             (*y.value == 1 && (op == "Mul" || op == "Div")))) {
        r = x;
      } else if (x.value && ((*x.value == 0 && op == "Add") || (*x.value == 1 && op == "Mul"))) {
        r = y;
      }
      out.push_back(std::move(r));
    }
    setData(0, std::move(out));
  }

  void where() {
    std::vector<Dims> shapes;
    for (size_t i = 0; i < 3; ++i) {
      auto s = shape(i);
      if (!s) return set(0, dtype(1) != DType::Undefined ? dtype(1) : dtype(2), std::nullopt);
      shapes.push_back(std::move(*s));
    }
    std::string why;
    auto out = broadcastShapes(shapes, why);
    if (!out) problem(why);
    set(0, dtype(1) != DType::Undefined ? dtype(1) : dtype(2), out);
  }

  void cast() {
    auto to = node_.intAttr("to");
    const DType outType = to ? dtypeFromOnnxCode(*to).value_or(DType::Undefined) : DType::Undefined;
    set(0, outType, shape(0));
    if (isInteger(outType) && dtypeSize(outType) >= 4 && isInteger(dtype(0))) {
      if (auto d = data(0)) setData(0, *d);
    }
  }

  // ---- reductions ----
  void reduce(bool argStyle) {
    const DType outType = argStyle ? DType::I64 : dtype(0);
    auto s = shape(0);
    const bool keep = intAttr("keepdims", 1) != 0;
    if (!s) return set(0, outType, std::nullopt);
    const int64_t rank = static_cast<int64_t>(s->size());
    std::vector<int64_t> axes;
    if (argStyle) {
      axes.push_back(intAttr("axis", 0));
    } else {
      bool absent = false;
      auto given = attrOrInput("axes", 1, absent);
      if (!absent && !given) return set(0, outType, keep ? std::optional<Dims>(unknownDims(s->size())) : std::nullopt);
      if (given) axes = *given;
      if (axes.empty()) {
        if (intAttr("noop_with_empty_axes", 0) != 0) return set(0, outType, s);
        for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
      }
    }
    std::vector<bool> reduced(s->size(), false);
    for (int64_t a : axes) {
      auto axis = normalizeAxis(a, rank);
      if (!axis) return problem("reduction axis " + std::to_string(a) + " out of range for rank " + std::to_string(rank));
      reduced[static_cast<size_t>(*axis)] = true;
    }
    Dims out;
    for (size_t i = 0; i < s->size(); ++i) {
      if (!reduced[i]) out.push_back((*s)[i]);
      else if (keep) out.push_back(Dim::known(1));
    }
    set(0, outType, out);
  }

  // ---- shape ops ----
  void shapeOp() {
    auto s = shape(0);
    if (!s) return set(0, DType::I64, Dims{Dim()});
    auto [start, end] = onnxShapeRange(node_, static_cast<int64_t>(s->size()));
    ShapeData d;
    for (int64_t i = start; i < end; ++i) d.push_back(SymInt::fromDim((*s)[static_cast<size_t>(i)]));
    set(0, DType::I64, Dims{Dim::known(end - start)});
    setData(0, std::move(d));
  }

  void sizeOp() {
    set(0, DType::I64, Dims{});
    if (auto s = shape(0)) {
      SymProduct p = productOf(*s);
      const Dim d = productDim(p);
      if (d.isKnown() || d.isSymbol()) setData(0, {SymInt::fromDim(d)});
    }
  }

  void constantOp() {
    if (const Tensor* t = node_.tensorAttr("value")) {
      set(0, t->dtype(), [&] {
        Dims d;
        for (int64_t x : t->shape()) d.push_back(Dim::known(x));
        return d;
      }());
      if (isInteger(t->dtype()) && t->rank() <= 1 && t->hasData() && static_cast<size_t>(t->numel()) <= kMaxDataElements) {
        ShapeData d;
        for (int64_t i = 0; i < t->numel(); ++i) d.push_back(SymInt::known(t->elementAsInt(i)));
        setData(0, std::move(d));
      }
    } else if (const auto* v = node_.intsAttr("value_ints")) {
      set(0, DType::I64, Dims{Dim::known(static_cast<int64_t>(v->size()))});
      ShapeData d;
      for (int64_t x : *v) d.push_back(SymInt::known(x));
      setData(0, std::move(d));
    } else if (auto v = node_.intAttr("value_int")) {
      set(0, DType::I64, Dims{});
      setData(0, {SymInt::known(*v)});
    } else if (node_.floatAttr("value_float")) {
      set(0, DType::F32, Dims{});
    } else if (const auto* f = node_.floatsAttr("value_floats")) {
      set(0, DType::F32, Dims{Dim::known(static_cast<int64_t>(f->size()))});
    }
  }

  // The target of Reshape / Expand / ConstantOfShape: data of input `index`, or just its
  // length when only its type is known. nullopt: not even the rank.
  std::optional<ShapeData> targetShape(size_t index) const {
    if (auto d = data(index)) return d;
    auto s = shape(index);
    if (s && s->size() == 1 && (*s)[0].isKnown()) return ShapeData(static_cast<size_t>((*s)[0].size()));
    return std::nullopt;
  }

  void reshape() {
    auto target = targetShape(1);
    if (!target) return set(0, dtype(0), std::nullopt);
    auto s = shape(0);
    const bool allowZero = intAttr("allowzero", 0) != 0;
    Dims out(target->size());
    std::optional<size_t> inferred;
    for (size_t i = 0; i < target->size(); ++i) {
      const SymInt& e = (*target)[i];
      if (!e.value) {
        out[i] = e.toDim();
      } else if (*e.value == -1) {
        if (inferred) return problem("Reshape target has more than one -1");
        inferred = i;
      } else if (*e.value == 0 && !allowZero) {
        if (s && i < s->size()) out[i] = (*s)[i];
        else if (s) return problem("Reshape target copies dim " + std::to_string(i) + " of a rank-" +
                                   std::to_string(s->size()) + " input");
      } else if (*e.value < 0) {
        return problem("Reshape target has a negative dim " + std::to_string(*e.value));
      } else {
        out[i] = Dim::known(*e.value);
      }
    }
    if (inferred && s) {
      Dims others;
      for (size_t i = 0; i < out.size(); ++i)
        if (i != *inferred) others.push_back(out[i]);
      const SymProduct total = productOf(*s);
      const SymProduct rest = productOf(others);
      if (auto q = divideProducts(total, rest)) {
        out[*inferred] = productDim(*q);
      } else if (total.valid && rest.valid && total.symbols.empty() && rest.symbols.empty() && rest.coef != 0) {
        problem("Reshape of " + std::to_string(total.coef) + " elements into a shape with " +
                std::to_string(rest.coef) + " elements and a -1");
      }
    }
    set(0, dtype(0), out);
    if (out.size() <= 1) {
      if (auto d = data(0)) setData(0, *d);
    }
  }

  void flatten() {
    auto s = shape(0);
    if (!s) return set(0, dtype(0), Dims{Dim(), Dim()});
    const int64_t rank = static_cast<int64_t>(s->size());
    int64_t axis = intAttr("axis", 1);
    if (axis < -rank || axis > rank) return problem("Flatten axis out of range");
    if (axis < 0) axis += rank;
    const std::span<const Dim> all(*s);
    set(0, dtype(0), Dims{productDim(productOf(all.first(static_cast<size_t>(axis)))),
                          productDim(productOf(all.subspan(static_cast<size_t>(axis))))});
  }

  void squeeze() {
    auto s = shape(0);
    bool absent = false;
    auto axes = attrOrInput("axes", 1, absent);
    if (!s || (!absent && !axes)) return set(0, dtype(0), std::nullopt);
    const int64_t rank = static_cast<int64_t>(s->size());
    std::vector<bool> drop(s->size(), false);
    if (absent || axes->empty()) {
      for (size_t i = 0; i < s->size(); ++i) {
        if (!(*s)[i].isKnown()) return set(0, dtype(0), std::nullopt);  // might be 1
        drop[i] = (*s)[i].size() == 1;
      }
    } else {
      for (int64_t a : *axes) {
        auto axis = normalizeAxis(a, rank);
        if (!axis) return problem("Squeeze axis " + std::to_string(a) + " out of range");
        const Dim& d = (*s)[static_cast<size_t>(*axis)];
        if (d.isKnown() && d.size() != 1) return problem("Squeeze of a dim of size " + std::to_string(d.size()));
        drop[static_cast<size_t>(*axis)] = true;
      }
    }
    Dims out;
    for (size_t i = 0; i < s->size(); ++i)
      if (!drop[i]) out.push_back((*s)[i]);
    set(0, dtype(0), out);
    if (out.size() <= 1) {
      if (auto d = data(0)) setData(0, *d);
    }
  }

  void unsqueeze() {
    auto s = shape(0);
    bool absent = false;
    auto axes = attrOrInput("axes", 1, absent);
    if (!s || !axes) return set(0, dtype(0), std::nullopt);
    const int64_t outRank = static_cast<int64_t>(s->size() + axes->size());
    std::vector<bool> inserted(static_cast<size_t>(outRank), false);
    for (int64_t a : *axes) {
      auto axis = normalizeAxis(a, outRank);
      if (!axis || inserted[static_cast<size_t>(*axis)]) return problem("Unsqueeze axes invalid");
      inserted[static_cast<size_t>(*axis)] = true;
    }
    Dims out;
    size_t next = 0;
    for (int64_t i = 0; i < outRank; ++i) out.push_back(inserted[static_cast<size_t>(i)] ? Dim::known(1) : (*s)[next++]);
    set(0, dtype(0), out);
    if (out.size() <= 1) {
      if (auto d = data(0)) setData(0, *d);
    }
  }

  void transpose() {
    auto s = shape(0);
    if (!s) return set(0, dtype(0), std::nullopt);
    std::vector<int64_t> perm;
    if (const auto* p = node_.intsAttr("perm")) {
      perm = *p;
    } else {
      for (size_t i = s->size(); i-- > 0;) perm.push_back(static_cast<int64_t>(i));
    }
    if (perm.size() != s->size()) return problem("Transpose perm does not match the rank");
    std::vector<bool> seen(s->size(), false);
    Dims out;
    for (int64_t p : perm) {
      if (p < 0 || p >= static_cast<int64_t>(s->size()) || seen[static_cast<size_t>(p)])
        return problem("Transpose perm is not a permutation");
      seen[static_cast<size_t>(p)] = true;
      out.push_back((*s)[static_cast<size_t>(p)]);
    }
    set(0, dtype(0), out);
  }

  void concat() {
    auto axisAttr = node_.intAttr("axis");
    std::optional<Dims> out;
    bool ranked = true;
    for (size_t i = 0; i < node_.numInputs(); ++i) {
      auto s = shape(i);
      if (!s) {
        ranked = false;
        continue;
      }
      if (!out) {
        out = *s;
        continue;
      }
      if (s->size() != out->size()) return problem("Concat inputs of different ranks");
    }
    if (!out || !axisAttr) return set(0, dtype(0), std::nullopt);
    auto axis = normalizeAxis(*axisAttr, static_cast<int64_t>(out->size()));
    if (!axis) return problem("Concat axis out of range");
    const size_t ax = static_cast<size_t>(*axis);
    if (!ranked) {
      // Rank known from the others, dims are not.
      set(0, dtype(0), unknownDims(out->size()));
      return;
    }
    int64_t sum = 0;
    bool sumKnown = true;
    for (size_t i = 0; i < node_.numInputs(); ++i) {
      Dims s = *shape(i);
      for (size_t k = 0; k < s.size(); ++k) {
        if (k == ax) {
          if (!s[k].isKnown() || __builtin_add_overflow(sum, s[k].size(), &sum)) sumKnown = false;
          continue;
        }
        if (i == 0) continue;
        Dim& o = (*out)[k];
        const Dim& d = s[k];
        if (o.isKnown() && d.isKnown() && o.size() != d.size()) return problem("Concat inputs disagree on dim " + std::to_string(k));
        if (!o.isKnown() && d.isKnown()) o = d;
        else if (o.isSymbol() && d.isSymbol() && o.symbolName() != d.symbolName()) o = Dim::unknown();
        else if (o.isSymbol() && d.isUnknown()) o = Dim::unknown();
      }
    }
    (*out)[ax] = sumKnown ? Dim::known(sum) : Dim::unknown();
    if (node_.numInputs() == 1) (*out)[ax] = (*shape(0))[ax];
    set(0, dtype(0), out);
    if (out->size() == 1) {
      ShapeData d;
      for (size_t i = 0; i < node_.numInputs(); ++i) {
        auto part = data(i);
        if (!part) return;
        d.insert(d.end(), part->begin(), part->end());
      }
      setData(0, std::move(d));
    }
  }

  void gather() {
    auto s = shape(0), idx = shape(1);
    if (!s || !idx) return set(0, dtype(0), std::nullopt);
    auto axis = normalizeAxis(intAttr("axis", 0), static_cast<int64_t>(s->size()));
    if (!axis) return problem("Gather axis out of range");
    const size_t ax = static_cast<size_t>(*axis);
    Dims out(s->begin(), s->begin() + static_cast<ptrdiff_t>(ax));
    out.insert(out.end(), idx->begin(), idx->end());
    out.insert(out.end(), s->begin() + static_cast<ptrdiff_t>(ax) + 1, s->end());
    set(0, dtype(0), out);
    if (s->size() == 1 && idx->size() <= 1) {
      auto d = data(0);
      auto indices = ints(1);
      if (!d || !indices) return;
      ShapeData picked;
      for (int64_t i : *indices) {
        const int64_t n = static_cast<int64_t>(d->size());
        if (i < -n || i >= n) return problem("Gather index " + std::to_string(i) + " out of range");
        picked.push_back((*d)[static_cast<size_t>(i < 0 ? i + n : i)]);
      }
      setData(0, std::move(picked));
    }
  }

  void gatherNd() {
    auto s = shape(0), idx = shape(1);
    if (!s || !idx || idx->empty() || !idx->back().isKnown()) return set(0, dtype(0), std::nullopt);
    const int64_t b = intAttr("batch_dims", 0);
    const int64_t k = idx->back().size();
    if (b < 0 || b + k > static_cast<int64_t>(s->size())) return problem("GatherND index depth too large");
    Dims out(idx->begin(), idx->end() - 1);
    out.insert(out.end(), s->begin() + b + k, s->end());
    set(0, dtype(0), out);
  }

  // Length of data[start:end:step] along a dim of `size` (the spec's clamping).
  static int64_t sliceLength(int64_t size, int64_t start, int64_t end, int64_t step) {
    if (size == 0) return 0;
    step = std::clamp<int64_t>(step, -size, size);  // any larger step takes one element
    if (start < 0) start += size;
    if (end < 0) end += size;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, size);
      end = std::clamp<int64_t>(end, 0, size);
      return end > start ? (end - start - 1) / step + 1 : 0;
    }
    start = std::clamp<int64_t>(start, 0, size - 1);
    end = std::clamp<int64_t>(end, -1, size - 1);
    return start > end ? (start - end - 1) / (-step) + 1 : 0;
  }

  void slice() {
    auto s = shape(0);
    if (!s) return set(0, dtype(0), std::nullopt);
    const int64_t rank = static_cast<int64_t>(s->size());
    const bool attrForm = node_.hasAttribute("starts");
    std::optional<std::vector<int64_t>> starts, ends, axes, steps;
    bool axesGiven = false, stepsGiven = false;
    if (attrForm) {
      if (const auto* v = node_.intsAttr("starts")) starts = *v;
      if (const auto* v = node_.intsAttr("ends")) ends = *v;
      if (const auto* v = node_.intsAttr("axes")) axes = *v, axesGiven = true;
    } else {
      starts = ints(1);
      ends = ints(2);
      axesGiven = present(3);
      if (axesGiven) axes = ints(3);
      stepsGiven = present(4);
      if (stepsGiven) steps = ints(4);
    }
    if ((axesGiven && !axes)) return set(0, dtype(0), unknownDims(s->size()));
    size_t count = starts ? starts->size() : ends ? ends->size() : 0;
    if (!starts || !ends || (stepsGiven && !steps)) {
      // Which axes are sliced is known, not by how much.
      if (!axes) return set(0, dtype(0), unknownDims(s->size()));
      Dims out = *s;
      for (int64_t a : *axes) {
        auto axis = normalizeAxis(a, rank);
        if (!axis) return problem("Slice axis out of range");
        out[static_cast<size_t>(*axis)] = Dim::unknown();
      }
      return set(0, dtype(0), out);
    }
    if (ends->size() != count || (axes && axes->size() != count) || (steps && steps->size() != count))
      return problem("Slice starts/ends/axes/steps differ in length");
    Dims out = *s;
    std::vector<bool> seen(s->size(), false);
    std::vector<int64_t> sliceStart(s->size(), 0), sliceStep(s->size(), 1), sliceEnd(s->size(), 0);
    for (size_t i = 0; i < count; ++i) {
      const int64_t a = axes ? (*axes)[i] : static_cast<int64_t>(i);
      auto axis = normalizeAxis(a, rank);
      if (!axis || seen[static_cast<size_t>(*axis)]) return problem("Slice axes invalid");
      const size_t ax = static_cast<size_t>(*axis);
      seen[ax] = true;
      const int64_t step = steps ? (*steps)[i] : 1;
      if (step == 0) return problem("Slice step 0");
      const int64_t start = (*starts)[i], end = (*ends)[i];
      sliceStart[ax] = start, sliceEnd[ax] = end, sliceStep[ax] = step;
      Dim& d = out[ax];
      if (d.isKnown()) {
        d = Dim::known(sliceLength(d.size(), start, end, step));
      } else if (!(step == 1 && start == 0 && end >= std::numeric_limits<int32_t>::max())) {
        d = Dim::unknown();  // a symbol stays only for the full range
      }
    }
    set(0, dtype(0), out);
    if (s->size() == 1) {
      auto d = data(0);
      if (!d || !seen[0]) return;
      const int64_t n = static_cast<int64_t>(d->size());
      int64_t start = sliceStart[0], end = sliceEnd[0];
      const int64_t step = std::clamp<int64_t>(sliceStep[0], -std::max<int64_t>(n, 1), std::max<int64_t>(n, 1));
      if (start < 0) start += n;
      if (end < 0) end += n;
      ShapeData picked;
      if (n == 0) {
        // nothing to pick
      } else if (step > 0) {
        start = std::clamp<int64_t>(start, 0, n);
        end = std::clamp<int64_t>(end, 0, n);
        for (int64_t i = start; i < end; i += step) picked.push_back((*d)[static_cast<size_t>(i)]);
      } else {
        start = std::clamp<int64_t>(start, 0, n - 1);
        end = std::clamp<int64_t>(end, -1, n - 1);
        for (int64_t i = start; i > end; i += step) picked.push_back((*d)[static_cast<size_t>(i)]);
      }
      setData(0, std::move(picked));
    }
  }

  void pad() {
    auto s = shape(0);
    if (!s) return set(0, dtype(0), std::nullopt);
    const int64_t rank = static_cast<int64_t>(s->size());
    bool absent = false;
    auto pads = attrOrInput("pads", 1, absent);
    std::vector<int64_t> axes;
    if (present(3)) {
      auto a = ints(3);
      if (!a) return set(0, dtype(0), unknownDims(s->size()));
      axes = *a;
    } else {
      for (int64_t i = 0; i < rank; ++i) axes.push_back(i);
    }
    if (!pads) return set(0, dtype(0), unknownDims(s->size()));
    if (pads->size() != 2 * axes.size()) return problem("Pad pads length does not match");
    Dims out = *s;
    for (size_t i = 0; i < axes.size(); ++i) {
      auto axis = normalizeAxis(axes[i], rank);
      if (!axis) return problem("Pad axis out of range");
      Dim& d = out[static_cast<size_t>(*axis)];
      int64_t total = 0, padded = 0;
      if (__builtin_add_overflow((*pads)[i], (*pads)[i + axes.size()], &total) ||
          (d.isKnown() && __builtin_add_overflow(total, d.size(), &padded))) {
        d = Dim::unknown();
      } else if (d.isKnown()) {
        if (padded < 0) return problem("Pad removes more than the dim");
        d = Dim::known(padded);
      } else if (total != 0) {
        d = Dim::unknown();  // a symbol stays only when the pads cancel out
      }
    }
    set(0, dtype(0), out);
  }

  void expand() {
    auto s = shape(0);
    auto target = targetShape(1);
    if (!s || !target) return set(0, dtype(0), std::nullopt);
    Dims t;
    for (const SymInt& e : *target) t.push_back(e.toDim());
    std::string why;
    auto out = broadcastShapes({*s, t}, why);
    if (!out) problem("Expand: " + why);
    set(0, dtype(0), out);
  }

  void tile() {
    auto s = shape(0);
    if (!s) return set(0, dtype(0), std::nullopt);
    auto reps = data(1);
    if (!reps) return set(0, dtype(0), unknownDims(s->size()));
    if (reps->size() != s->size()) return problem("Tile repeats length does not match the rank");
    Dims out;
    for (size_t i = 0; i < s->size(); ++i) out.push_back(mulDims((*s)[i], (*reps)[i].toDim()));
    set(0, dtype(0), out);
  }

  void constantOfShape() {
    DType outType = DType::F32;
    const Tensor* value = node_.tensorAttr("value");
    if (value != nullptr) outType = value->dtype();
    auto target = targetShape(0);
    if (!target) return set(0, outType, std::nullopt);
    Dims out;
    for (const SymInt& e : *target) {
      if (e.value && *e.value < 0) return problem("ConstantOfShape with a negative dim");
      out.push_back(e.toDim());
    }
    set(0, outType, out);
    if (out.size() == 1 && out[0].isKnown() && static_cast<size_t>(out[0].size()) <= kMaxDataElements &&
        value != nullptr && isInteger(value->dtype()) && value->hasData() && value->numel() == 1) {
      setData(0, ShapeData(static_cast<size_t>(out[0].size()), SymInt::known(value->elementAsInt(0))));
    }
  }

  void range() {
    if (node_.numInputs() != 3) return;
    const DType outType = dtype(0);
    auto start = constantNumber(in(0)), limit = constantNumber(in(1)), delta = constantNumber(in(2));
    if (!start || !limit || !delta || *delta == 0) return set(0, outType, Dims{Dim()});
    const double n = std::ceil((*limit - *start) / *delta);
    if (!(n < 9.0e18)) return set(0, outType, Dims{Dim()});
    const int64_t count = n > 0 ? static_cast<int64_t>(n) : 0;
    set(0, outType, Dims{Dim::known(count)});
    constexpr double kExact = 9.0e15;  // integers a double holds exactly
    if (isInteger(outType) && static_cast<size_t>(count) <= kMaxDataElements && std::abs(*start) < kExact &&
        std::abs(*delta) < kExact) {
      ShapeData d;
      for (int64_t i = 0; i < count; ++i)
        d.push_back(SymInt::known(static_cast<int64_t>(*start) + i * static_cast<int64_t>(*delta)));
      setData(0, std::move(d));
    }
  }

  void split() {
    auto s = shape(0);
    const size_t outputs = node_.numOutputs();
    if (!s) {
      for (size_t i = 0; i < outputs; ++i) set(i, dtype(0), std::nullopt);
      return;
    }
    auto axis = normalizeAxis(intAttr("axis", 0), static_cast<int64_t>(s->size()));
    if (!axis) return problem("Split axis out of range");
    const size_t ax = static_cast<size_t>(*axis);
    bool absent = false;
    auto sizes = attrOrInput("split", 1, absent);
    std::vector<Dim> parts(outputs);
    const Dim& d = (*s)[ax];
    if (!absent) {
      if (sizes) {
        if (sizes->size() != outputs) return problem("Split sizes do not match the number of outputs");
        int64_t sum = 0;
        for (size_t i = 0; i < outputs; ++i) {
          if ((*sizes)[i] < 0) return problem("Split with a negative size");
          parts[i] = Dim::known((*sizes)[i]);
          if (__builtin_add_overflow(sum, (*sizes)[i], &sum)) return problem("Split sizes overflow");
        }
        if (d.isKnown() && d.size() != sum) return problem("Split sizes do not add up to the dim");
      }
    } else if (d.isKnown() && outputs > 0) {
      const int64_t n = static_cast<int64_t>(outputs);
      if (node_.hasAttribute("num_outputs")) {
        // opset 18: ceil(d / n) each, the last one gets the rest.
        const int64_t chunk = ceilDiv(d.size(), n);
        for (size_t i = 0; i < outputs; ++i) {
          const int64_t left = d.size() - chunk * static_cast<int64_t>(i);
          parts[i] = Dim::known(std::clamp<int64_t>(left, 0, chunk));
        }
      } else if (d.size() % n == 0) {
        for (size_t i = 0; i < outputs; ++i) parts[i] = Dim::known(d.size() / n);
      } else {
        return problem("Split of " + std::to_string(d.size()) + " into " + std::to_string(n) + " equal parts");
      }
    } else if (outputs == 1) {
      parts[0] = d;
    }
    for (size_t i = 0; i < outputs; ++i) {
      Dims out = *s;
      out[ax] = parts[i];
      set(i, dtype(0), out);
    }
  }

  void resize(std::string_view op) {
    auto s = shape(0);
    if (!s) return set(0, dtype(0), std::nullopt);
    const size_t rank = s->size();
    std::optional<std::vector<double>> scales;
    std::optional<ShapeData> sizes;
    bool dataGiven = false;
    auto floats = [&](size_t i) -> std::optional<std::vector<double>> {
      const Tensor* t = constantTensorData(in(i));
      if (t == nullptr || !isFloatingPoint(t->dtype()) || t->rank() != 1) return std::nullopt;
      std::vector<double> v;
      for (int64_t k = 0; k < t->numel(); ++k) v.push_back(t->elementAsDouble(k));
      return v;
    };
    if (op == "Upsample" || (node_.numInputs() == 2 && present(1) && shape(1) && shape(1)->size() == 1 &&
                             (*shape(1))[0].isKnown() && (*shape(1))[0].size() == static_cast<int64_t>(rank))) {
      if (const auto* a = node_.floatsAttr("scales")) {
        scales = *a;
      } else if (present(1)) {
        scales = floats(1);
      }
      dataGiven = true;
    } else {
      if (present(3)) {
        dataGiven = true;
        sizes = data(3);
      } else if (present(2)) {
        auto scaleShape = shape(2);
        const bool empty = scaleShape && scaleShape->size() == 1 && (*scaleShape)[0].isKnown() && (*scaleShape)[0].size() == 0;
        if (!empty) {
          dataGiven = true;
          scales = floats(2);
        }
      }
    }
    if (!dataGiven) return set(0, dtype(0), unknownDims(rank));
    std::vector<int64_t> axes;
    if (const auto* a = node_.intsAttr("axes")) {
      for (int64_t x : *a) {
        auto axis = normalizeAxis(x, static_cast<int64_t>(rank));
        if (!axis) return problem("Resize axis out of range");
        axes.push_back(*axis);
      }
    } else {
      for (size_t i = 0; i < rank; ++i) axes.push_back(static_cast<int64_t>(i));
    }
    Dims out = *s;
    const size_t n = axes.size();
    const std::string* policy = node_.stringAttr("keep_aspect_ratio_policy");
    const std::string* mode = node_.stringAttr("coordinate_transformation_mode");
    const bool crop = mode != nullptr && *mode == "tf_crop_and_resize";
    for (size_t i = 0; i < n; ++i) {
      Dim& d = out[static_cast<size_t>(axes[i])];
      if (sizes) {
        if (sizes->size() != n) return problem("Resize sizes length does not match");
        d = (policy == nullptr || *policy == "stretch") ? (*sizes)[i].toDim() : Dim::unknown();
      } else if (scales) {
        if (scales->size() != n) return problem("Resize scales length does not match");
        const double scale = (*scales)[i];
        if (scale == 1.0 && !crop) continue;
        if (d.isKnown() && !crop && scale > 0) {
          // Float arithmetic, as the ONNX reference and runtimes compute it.
          const double scaled = std::floor(static_cast<float>(d.size()) * static_cast<float>(scale));
          d = scaled < 9.0e18 ? Dim::known(static_cast<int64_t>(scaled)) : Dim::unknown();
        } else {
          d = Dim::unknown();
        }
      } else {
        d = Dim::unknown();
      }
    }
    set(0, dtype(0), out);
  }

  // ---- linear algebra ----
  void matmul(DType outType) {
    auto a = shape(0), b = shape(1);
    if (!a || !b || a->empty() || b->empty()) return set(0, outType, std::nullopt);
    const bool aVector = a->size() == 1, bVector = b->size() == 1;
    if (aVector) a->insert(a->begin(), Dim::known(1));
    if (bVector) b->push_back(Dim::known(1));
    const Dim& ka = (*a)[a->size() - 1];
    const Dim& kb = (*b)[b->size() - 2];
    if (ka.isKnown() && kb.isKnown() && ka.size() != kb.size())
      return problem("MatMul inner dims " + ka.toString() + " and " + kb.toString() + " differ");
    std::string why;
    auto batch = broadcastShapes({Dims(a->begin(), a->end() - 2), Dims(b->begin(), b->end() - 2)}, why);
    if (!batch) return problem("MatMul batch dims: " + why);
    Dims out = *batch;
    if (!aVector) out.push_back((*a)[a->size() - 2]);
    if (!bVector) out.push_back(b->back());
    set(0, outType, out);
  }

  void gemm() {
    auto a = shape(0), b = shape(1);
    if (!a || !b) return set(0, dtype(0), Dims{Dim(), Dim()});
    if (a->size() != 2 || b->size() != 2) return problem("Gemm inputs must have rank 2");
    const bool ta = intAttr("transA", 0) != 0, tb = intAttr("transB", 0) != 0;
    const Dim m = (*a)[ta ? 1 : 0], ka = (*a)[ta ? 0 : 1];
    const Dim kb = (*b)[tb ? 1 : 0], n = (*b)[tb ? 0 : 1];
    if (ka.isKnown() && kb.isKnown() && ka.size() != kb.size())
      return problem("Gemm inner dims " + ka.toString() + " and " + kb.toString() + " differ");
    set(0, dtype(0), Dims{m, n});
  }

  // ---- convolution and pooling ----
  enum class Kind { Conv, ConvTranspose, Pool };

  void convPool(Kind kind) {
    auto x = shape(0);
    const DType outType = dtype(0);
    if (!x || x->size() < 3) return set(0, outType, std::nullopt);
    const size_t spatial = x->size() - 2;
    std::optional<Dims> w;
    if (kind != Kind::Pool) {
      w = shape(1);
      if (!w || w->size() != x->size()) return set(0, outType, unknownDims(x->size()));
    }
    std::vector<int64_t> kernel;
    if (const auto* k = node_.intsAttr("kernel_shape")) {
      kernel = *k;
    } else if (w) {
      for (size_t i = 2; i < w->size(); ++i) kernel.push_back((*w)[i].isKnown() ? (*w)[i].size() : -1);
    }
    auto listAttr = [&](std::string_view name, size_t size, int64_t fallback) {
      const auto* v = node_.intsAttr(name);
      return v != nullptr ? *v : std::vector<int64_t>(size, fallback);
    };
    const std::vector<int64_t> strides = listAttr("strides", spatial, 1);
    const std::vector<int64_t> dilations = listAttr("dilations", spatial, 1);
    const std::vector<int64_t> pads = listAttr("pads", 2 * spatial, 0);
    const std::vector<int64_t> outputPadding = listAttr("output_padding", spatial, 0);
    const std::string* autoPadAttr = node_.stringAttr("auto_pad");
    const std::string autoPad = autoPadAttr == nullptr ? "NOTSET" : *autoPadAttr;
    const bool ceilMode = intAttr("ceil_mode", 0) != 0;
    if (kernel.size() != spatial || strides.size() != spatial || dilations.size() != spatial ||
        pads.size() != 2 * spatial || outputPadding.size() != spatial)
      return problem("kernel_shape/strides/dilations/pads do not match the spatial rank");
    Dims out;
    out.push_back((*x)[0]);
    if (kind == Kind::Conv) {
      out.push_back((*w)[0]);
    } else if (kind == Kind::ConvTranspose) {
      out.push_back(mulDims((*w)[1], Dim::known(intAttr("group", 1))));
    } else {
      out.push_back((*x)[1]);
    }
    const auto* outputShape = node_.intsAttr("output_shape");
    for (size_t i = 0; i < spatial; ++i) {
      const Dim& d = (*x)[i + 2];
      const int64_t k = kernel[i], s = strides[i], dil = dilations[i];
      if (kind == Kind::ConvTranspose && outputShape != nullptr) {
        const size_t offset = outputShape->size() == x->size() ? 2 : 0;
        if (outputShape->size() != spatial + offset) return problem("ConvTranspose output_shape length");
        out.push_back(Dim::known((*outputShape)[i + offset]));
        continue;
      }
      constexpr int64_t kLimit = int64_t{1} << 31;  // keeps every product below in int64
      const bool small = d.size() < kLimit && k < kLimit && s < kLimit && dil < kLimit &&
                         std::abs(pads[i]) < kLimit && std::abs(pads[i + spatial]) < kLimit &&
                         std::abs(outputPadding[i]) < kLimit;
      if (!d.isKnown() || k < 0 || s <= 0 || dil <= 0 || !small) {
        out.push_back(Dim::unknown());
        continue;
      }
      const int64_t in = d.size();
      const int64_t effective = dil * (k - 1) + 1;
      int64_t size = -1;
      if (kind == Kind::ConvTranspose) {
        if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") size = in * s;
        else
          size = s * (in - 1) + outputPadding[i] + effective -
                 (autoPad == "VALID" ? 0 : pads[i] + pads[i + spatial]);
      } else if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
        size = ceilDiv(in, s);
      } else if (autoPad == "VALID") {
        size = in >= effective ? (in - effective) / s + 1 : -1;
      } else {
        const int64_t padded = in + pads[i] + pads[i + spatial] - effective;
        if (padded < 0) {
          size = -1;
        } else if (kind == Kind::Pool && ceilMode) {
          const int64_t up = ceilDiv(padded, s) + 1;
          // Windows starting in the end padding are dropped by newer runtimes (and the
          // spec since opset 19) but not by older ones: unknown when that matters.
          size = (up - 1) * s >= in + pads[i] ? -2 : up;
        } else {
          size = padded / s + 1;
        }
      }
      if (size == -1) return problem("the kernel does not fit in spatial dim " + std::to_string(i));
      out.push_back(size >= 0 ? Dim::known(size) : Dim::unknown());
    }
    set(0, outType, out);
    if (kind == Kind::Pool && node_.opName() == "MaxPool") set(1, DType::I64, out);
  }

  void globalPool() {
    auto x = shape(0);
    if (!x || x->size() < 2) return set(0, dtype(0), std::nullopt);
    Dims out{(*x)[0], (*x)[1]};
    out.resize(x->size(), Dim::known(1));
    set(0, dtype(0), out);
  }

  // ---- misc ----
  void topk() {
    auto x = shape(0);
    if (!x) {
      set(0, dtype(0), std::nullopt);
      return set(1, DType::I64, std::nullopt);
    }
    auto axis = normalizeAxis(intAttr("axis", -1), static_cast<int64_t>(x->size()));
    if (!axis) return problem("TopK axis out of range");
    Dim k;
    if (auto attr = node_.intAttr("k")) {
      k = Dim::known(*attr);
    } else if (auto d = data(1); d && d->size() == 1) {
      k = (*d)[0].toDim();
    }
    Dims out = *x;
    out[static_cast<size_t>(*axis)] = k;
    set(0, dtype(0), out);
    set(1, DType::I64, out);
  }

  void oneHot() {
    auto idx = shape(0);
    const DType outType = dtype(2);
    if (!idx) return set(0, outType, std::nullopt);
    const int64_t outRank = static_cast<int64_t>(idx->size()) + 1;
    auto axis = normalizeAxis(intAttr("axis", -1), outRank);
    if (!axis) return problem("OneHot axis out of range");
    Dim depth;
    if (auto d = constantNumber(in(1)); d && *d >= 0 && *d < 9.0e18) depth = Dim::known(static_cast<int64_t>(*d));
    Dims out = *idx;
    out.insert(out.begin() + *axis, depth);
    set(0, outType, out);
  }

  void depthSpace(bool toSpace) {
    auto x = shape(0);
    const int64_t b = intAttr("blocksize", 0);
    if (!x || x->size() != 4 || b <= 0 || b > std::numeric_limits<int32_t>::max()) return set(0, dtype(0), x ? std::optional<Dims>(unknownDims(x->size())) : std::nullopt);
    Dims out = *x;
    const Dim bb = Dim::known(b * b);
    if (toSpace) {
      out[1] = (*x)[1].isKnown() && (*x)[1].size() % (b * b) == 0 ? Dim::known((*x)[1].size() / (b * b)) : Dim::unknown();
      out[2] = mulDims((*x)[2], Dim::known(b));
      out[3] = mulDims((*x)[3], Dim::known(b));
    } else {
      out[1] = mulDims((*x)[1], bb);
      for (size_t i = 2; i < 4; ++i)
        out[i] = (*x)[i].isKnown() && (*x)[i].size() % b == 0 ? Dim::known((*x)[i].size() / b) : Dim::unknown();
    }
    set(0, dtype(0), out);
  }

  // RNN / GRU / LSTM: Y [seq, dirs, batch, hidden] (layout 1: [batch, seq, dirs, hidden]),
  // Y_h / Y_c [dirs, batch, hidden] (layout 1: [batch, dirs, hidden]).
  void recurrent() {
    auto x = shape(0);
    auto hidden = node_.intAttr("hidden_size");
    const std::string* direction = node_.stringAttr("direction");
    const Dim dirs = Dim::known(direction != nullptr && *direction == "bidirectional" ? 2 : 1);
    const Dim h = hidden ? Dim::known(*hidden) : Dim::unknown();
    const bool batchFirst = intAttr("layout", 0) != 0;
    if (!x || x->size() != 3) {
      for (size_t i = 0; i < node_.numOutputs(); ++i) set(i, dtype(0), std::nullopt);
      return;
    }
    const Dim seq = (*x)[batchFirst ? 1 : 0], batch = (*x)[batchFirst ? 0 : 1];
    set(0, dtype(0), batchFirst ? Dims{batch, seq, dirs, h} : Dims{seq, dirs, batch, h});
    for (size_t i = 1; i < node_.numOutputs(); ++i) set(i, dtype(0), batchFirst ? Dims{batch, dirs, h} : Dims{dirs, batch, h});
  }

  void quantize() {
    DType outType = DType::U8;
    if (auto code = node_.intAttr("output_dtype"); code && *code != 0) {
      outType = dtypeFromOnnxCode(*code).value_or(DType::Undefined);
    } else if (present(2)) {
      outType = dtype(2);
    }
    set(0, outType, shape(0));
  }

  const Node& node_;
  const DataLookup& lookup_;
  NodeResult result_;
};

}  // namespace

std::optional<ShapeData> constantShapeData(const Value* value) {
  const Node* producer = constantProducer(value);
  if (producer == nullptr) return std::nullopt;
  if (const Tensor* t = producer->tensorAttr("value")) {
    if (!isInteger(t->dtype()) || t->rank() > 1 || static_cast<size_t>(t->numel()) > kMaxDataElements) return std::nullopt;
    const Tensor* loaded = constantTensorData(value);
    if (loaded == nullptr) return std::nullopt;
    ShapeData d;
    for (int64_t i = 0; i < loaded->numel(); ++i) d.push_back(SymInt::known(loaded->elementAsInt(i)));
    return d;
  }
  auto v = constantInts(value);
  if (!v || v->size() > kMaxDataElements) return std::nullopt;
  ShapeData d;
  for (int64_t x : *v) d.push_back(SymInt::known(x));
  return d;
}

NodeResult inferOnnxNode(const Node& node, const DataLookup& lookup) {
  if (node.domain() != "onnx") return {};
  return Rules(node, lookup).run();
}

}  // namespace torchport::shape_rules
