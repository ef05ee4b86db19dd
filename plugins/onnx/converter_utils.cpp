#include "converter_utils.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <sstream>

namespace torchport::onnxplugin {

// ---------------------------------------------------------------------------------------
// Element types
// ---------------------------------------------------------------------------------------
int64_t onnxDataType(DType dtype) {
  switch (dtype) {
    case DType::F32: return 1;
    case DType::U8: return 2;
    case DType::I8: return 3;
    case DType::U16: return 4;
    case DType::I16: return 5;
    case DType::I32: return 6;
    case DType::I64: return 7;
    case DType::Bool: return 9;
    case DType::F16: return 10;
    case DType::F64: return 11;
    case DType::U32: return 12;
    case DType::U64: return 13;
    case DType::C64: return 14;
    case DType::C128: return 15;
    case DType::BF16: return 16;
    case DType::F8E4M3: return 17;
    case DType::F8E5M2: return 19;
    case DType::Undefined: return 0;
  }
  return 0;
}

std::optional<DType> dtypeFromOnnx(int64_t code) {
  static const std::map<int64_t, DType> table = {
      {1, DType::F32}, {2, DType::U8}, {3, DType::I8}, {4, DType::U16}, {5, DType::I16},
      {6, DType::I32}, {7, DType::I64}, {9, DType::Bool}, {10, DType::F16}, {11, DType::F64},
      {12, DType::U32}, {13, DType::U64}, {14, DType::C64}, {15, DType::C128}, {16, DType::BF16},
      {17, DType::F8E4M3}, {19, DType::F8E5M2}};
  auto it = table.find(code);
  if (it == table.end()) return std::nullopt;
  return it->second;
}

std::optional<DType> dtypeFromTorchScalarType(int64_t code) {
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
    default: return std::nullopt;  // complex32, quantized types, ...
  }
}

std::optional<int64_t> torchScalarTypeOf(DType dtype) {
  switch (dtype) {
    case DType::U8: return 0;
    case DType::I8: return 1;
    case DType::I16: return 2;
    case DType::I32: return 3;
    case DType::I64: return 4;
    case DType::F16: return 5;
    case DType::F32: return 6;
    case DType::F64: return 7;
    case DType::C64: return 9;
    case DType::C128: return 10;
    case DType::Bool: return 11;
    case DType::BF16: return 15;
    default: return std::nullopt;
  }
}

namespace {
bool isComplexType(DType d) { return d == DType::C64 || d == DType::C128; }
bool isUnsigned(DType d) { return d == DType::U8 || d == DType::U16 || d == DType::U32 || d == DType::U64; }
DType signedOfSize(size_t bytes) {
  switch (bytes) {
    case 1: return DType::I8;
    case 2: return DType::I16;
    case 4: return DType::I32;
    default: return DType::I64;
  }
}
}  // namespace

DType promoteTypes(DType a, DType b) {
  if (a == DType::Undefined || b == DType::Undefined) return DType::Undefined;
  if (a == b) return a;
  if (a == DType::Bool) return b;
  if (b == DType::Bool) return a;
  if (isComplexType(a) || isComplexType(b)) {
    bool wide = a == DType::C128 || b == DType::C128 || a == DType::F64 || b == DType::F64;
    return wide ? DType::C128 : DType::C64;
  }
  const bool fa = isFloatingPoint(a), fb = isFloatingPoint(b);
  if (fa && fb) {
    if (a == DType::F64 || b == DType::F64) return DType::F64;
    if (a == DType::F32 || b == DType::F32) return DType::F32;
    return DType::F32;  // f16 with bf16 (or fp8 mixes) promote to f32, as in PyTorch
  }
  if (fa) return a;
  if (fb) return b;
  // Both integral.
  const bool ua = isUnsigned(a), ub = isUnsigned(b);
  if (ua == ub) return dtypeSize(a) >= dtypeSize(b) ? a : b;
  const DType u = ua ? a : b, s = ua ? b : a;
  if (dtypeSize(s) > dtypeSize(u)) return s;
  return signedOfSize(std::min<size_t>(dtypeSize(u) * 2, 8));
}

// ---------------------------------------------------------------------------------------
// Static values
// ---------------------------------------------------------------------------------------
const Node* constantProducer(const Value* value) {
  if (value == nullptr) return nullptr;
  const Node* producer = value->producer();
  if (producer == nullptr || producer->kind() != kConstKind) return nullptr;
  return producer;
}

bool isNone(const Value* value) {
  if (value == nullptr) return true;
  if (value->type().kind() == Type::Kind::None) return true;
  const Node* c = constantProducer(value);
  return c != nullptr && !c->hasAttribute("value") && !value->type().isTensor();
}

namespace {
const Attribute* payload(const Value* value) {
  const Node* c = constantProducer(value);
  return c == nullptr ? nullptr : c->findAttribute("value");
}
bool tensorUsable(const Tensor& t) { return t.hasData() && t.numel() >= 0; }
}  // namespace

bool isStaticScalar(const Value* value) {
  const Attribute* p = payload(value);
  if (p == nullptr) return false;
  return std::holds_alternative<int64_t>(*p) || std::holds_alternative<double>(*p);
}

std::optional<int64_t> staticInt(const Value* value) {
  const Attribute* p = payload(value);
  if (p == nullptr) return std::nullopt;
  if (auto* i = std::get_if<int64_t>(p)) return *i;
  if (auto* t = std::get_if<Tensor>(p)) {
    if (tensorUsable(*t) && t->numel() == 1 && (isInteger(t->dtype()) || t->dtype() == DType::Bool))
      return t->elementAsInt(0);
  }
  if (auto* l = std::get_if<std::vector<int64_t>>(p)) {
    // A one-element int list where an int is expected (`kernel_size=[3]` style).
    if (l->size() == 1 && !value->type().isTensor() && value->type().kind() != Type::Kind::List) return (*l)[0];
  }
  return std::nullopt;
}

std::optional<double> staticFloat(const Value* value) {
  const Attribute* p = payload(value);
  if (p == nullptr) return std::nullopt;
  if (auto* d = std::get_if<double>(p)) return *d;
  if (auto* i = std::get_if<int64_t>(p)) return static_cast<double>(*i);
  if (auto* t = std::get_if<Tensor>(p)) {
    if (tensorUsable(*t) && t->numel() == 1) return t->elementAsDouble(0);
  }
  return std::nullopt;
}

std::optional<bool> staticBool(const Value* value) {
  auto i = staticInt(value);
  if (!i) return std::nullopt;
  return *i != 0;
}

const std::string* staticString(const Value* value) {
  const Attribute* p = payload(value);
  if (p == nullptr) return nullptr;
  return std::get_if<std::string>(p);
}

std::optional<std::vector<int64_t>> staticInts(const Value* value) {
  const Attribute* p = payload(value);
  if (p == nullptr) return std::nullopt;
  if (auto* l = std::get_if<std::vector<int64_t>>(p)) return *l;
  if (auto* t = std::get_if<Tensor>(p)) {
    if (!tensorUsable(*t) || t->rank() > 1 || !(isInteger(t->dtype()) || t->dtype() == DType::Bool)) return std::nullopt;
    std::vector<int64_t> out(static_cast<size_t>(t->numel()));
    for (int64_t i = 0; i < t->numel(); ++i) out[static_cast<size_t>(i)] = t->elementAsInt(i);
    return out;
  }
  return std::nullopt;
}

std::optional<std::vector<double>> staticFloats(const Value* value) {
  const Attribute* p = payload(value);
  if (p == nullptr) return std::nullopt;
  if (auto* l = std::get_if<std::vector<double>>(p)) return *l;
  if (auto* l = std::get_if<std::vector<int64_t>>(p)) return std::vector<double>(l->begin(), l->end());
  if (auto* t = std::get_if<Tensor>(p)) {
    if (!tensorUsable(*t) || t->rank() > 1) return std::nullopt;
    std::vector<double> out(static_cast<size_t>(t->numel()));
    for (int64_t i = 0; i < t->numel(); ++i) out[static_cast<size_t>(i)] = t->elementAsDouble(i);
    return out;
  }
  return std::nullopt;
}

const Tensor* staticTensor(const Value* value) {
  const Attribute* p = payload(value);
  if (p == nullptr) return nullptr;
  return std::get_if<Tensor>(p);
}

// ---------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------
DType dtypeOf(const Value* value) {
  if (value == nullptr) return DType::Undefined;
  const Type& t = value->type();
  switch (t.kind()) {
    case Type::Kind::Tensor:
      if (t.dtype() != DType::Undefined) return t.dtype();
      break;
    case Type::Kind::Int: return DType::I64;
    case Type::Kind::Float: return DType::F32;
    case Type::Kind::Bool: return DType::Bool;
    default: break;
  }
  if (const Attribute* p = payload(value)) {
    if (auto* tensor = std::get_if<Tensor>(p)) return tensor->dtype();
    if (std::holds_alternative<int64_t>(*p)) return t.kind() == Type::Kind::Bool ? DType::Bool : DType::I64;
    if (std::holds_alternative<double>(*p)) return DType::F32;
    if (std::holds_alternative<std::vector<int64_t>>(*p)) return DType::I64;
    if (std::holds_alternative<std::vector<double>>(*p)) return DType::F32;
  }
  return DType::Undefined;
}

std::optional<std::vector<Dim>> shapeOf(const Value* value) {
  if (value == nullptr) return std::nullopt;
  const Type& t = value->type();
  if (t.isTensor() && t.hasRank()) return t.shape();
  switch (t.kind()) {
    case Type::Kind::Int:
    case Type::Kind::Float:
    case Type::Kind::Bool:
      return std::vector<Dim>{};
    default: break;
  }
  if (const Attribute* p = payload(value)) {
    if (auto* tensor = std::get_if<Tensor>(p)) return knownDims(tensor->shape());
    if (std::holds_alternative<int64_t>(*p) || std::holds_alternative<double>(*p)) return std::vector<Dim>{};
    if (auto* l = std::get_if<std::vector<int64_t>>(p)) return knownDims({static_cast<int64_t>(l->size())});
    if (auto* l = std::get_if<std::vector<double>>(p)) return knownDims({static_cast<int64_t>(l->size())});
  }
  return std::nullopt;
}

std::optional<int64_t> rankOf(const Value* value) {
  auto s = shapeOf(value);
  if (!s) return std::nullopt;
  return static_cast<int64_t>(s->size());
}

Dim dimOf(const Value* value, int64_t axis) {
  auto s = shapeOf(value);
  if (!s) return Dim::unknown();
  const int64_t rank = static_cast<int64_t>(s->size());
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return Dim::unknown();
  return (*s)[static_cast<size_t>(axis)];
}

std::optional<int64_t> staticDimOf(const Value* value, int64_t axis) {
  Dim d = dimOf(value, axis);
  if (!d.isKnown()) return std::nullopt;
  return d.size();
}

KnownInt knownIntValue(const Value* value) {
  if (auto v = staticInt(value)) return {*v, std::nullopt};
  const Node* p = value->producer();
  if (p == nullptr) return {};
  if (p->kind() == "onnx::Gather" && p->numInputs() == 2 && p->input(0)->producer() != nullptr &&
      p->input(0)->producer()->kind() == "onnx::Shape" && p->input(0)->producer()->numInputs() == 1 &&
      !p->input(0)->producer()->hasAttribute("start") && !p->input(0)->producer()->hasAttribute("end")) {
    auto index = staticInt(p->input(1));
    const Tensor* t = staticTensor(p->input(1));
    if (index && (t == nullptr || t->rank() == 0)) {
      Dim d = dimOf(p->input(0)->producer()->input(0), *index);
      if (d.isKnown()) return {d.size(), d};
      if (d.isSymbol()) return {std::nullopt, d};
    }
  }
  if ((p->kind() == "onnx::Cast" || p->kind() == "onnx::Identity") && p->numInputs() >= 1) return knownIntValue(p->input(0));
  const std::string& k = p->kind();
  if ((k == "onnx::Add" || k == "onnx::Sub" || k == "onnx::Mul" || k == "onnx::Div" || k == "onnx::Mod") &&
      p->numInputs() == 2 && dtypeOf(value) == DType::I64) {
    // Shape arithmetic on known sizes (channel counts in channel shuffles, head sizes...).
    const KnownInt a = knownIntValue(p->input(0)), b = knownIntValue(p->input(1));
    if (a.value && b.value) {
      const int64_t x = *a.value, y = *b.value;
      if (k == "onnx::Add") return {x + y, std::nullopt};
      if (k == "onnx::Sub") return {x - y, std::nullopt};
      if (k == "onnx::Mul") return {x * y, std::nullopt};
      if (y != 0 && k == "onnx::Div") return {x / y, std::nullopt};  // integer Div truncates
      if (y != 0 && k == "onnx::Mod" && p->intAttr("fmod").value_or(0) == 0) {
        int64_t r = x % y;
        if (r != 0 && ((r < 0) != (y < 0))) r += y;
        return {r, std::nullopt};
      }
    }
    return {};
  }
  if (p->kind() == "onnx::Squeeze" || p->kind() == "onnx::Reshape") {
    // A one-element list squeezed to a scalar.
    auto dims = knownListDims(p->input(0));
    if (dims && dims->size() == 1) return (*dims)[0];
  }
  return {};
}

std::optional<std::vector<KnownInt>> knownListDims(const Value* value) {
  if (auto v = staticInts(value)) {
    std::vector<KnownInt> out;
    for (int64_t x : *v) out.push_back({x, std::nullopt});
    return out;
  }
  const Node* p = value->producer();
  if (p == nullptr) return std::nullopt;
  if (p->kind() == "onnx::Shape" && !p->hasAttribute("start") && !p->hasAttribute("end")) {
    auto s = shapeOf(p->input(0));
    if (!s) return std::nullopt;
    std::vector<KnownInt> out;
    for (const Dim& d : *s) {
      KnownInt k;
      if (d.isKnown()) k.value = d.size();
      if (!d.isUnknown()) k.dim = d;
      out.push_back(k);
    }
    return out;
  }
  if (p->kind() == "onnx::Unsqueeze" && p->numInputs() == 2) {
    if (rankOf(p->input(0)) == 0) return std::vector<KnownInt>{knownIntValue(p->input(0))};
    return std::nullopt;
  }
  if (p->kind() == "onnx::Slice" && p->numInputs() >= 3) {
    // Static slices of a known list (shape[a:b]).
    auto whole = knownListDims(p->input(0));
    auto starts = staticInts(p->input(1));
    auto ends = staticInts(p->input(2));
    std::vector<int64_t> steps{1};
    if (p->numInputs() >= 5) {
      auto st = staticInts(p->input(4));
      if (!st) return std::nullopt;
      steps = *st;
    }
    if (!whole || !starts || !ends || starts->size() != 1 || ends->size() != 1 || steps.size() != 1 || steps[0] != 1)
      return std::nullopt;
    const int64_t n = static_cast<int64_t>(whole->size());
    int64_t s = (*starts)[0] < 0 ? std::max<int64_t>((*starts)[0] + n, 0) : std::min((*starts)[0], n);
    int64_t e = (*ends)[0] < 0 ? std::max<int64_t>((*ends)[0] + n, 0) : std::min((*ends)[0], n);
    std::vector<KnownInt> out;
    for (int64_t i = s; i < e; ++i) out.push_back((*whole)[static_cast<size_t>(i)]);
    return out;
  }
  if (p->kind() == "onnx::Concat") {
    std::vector<KnownInt> out;
    for (Value* in : p->inputs()) {
      auto part = knownListDims(in);
      if (!part) {
        auto r = shapeOf(in);
        if (!r || r->size() != 1 || !(*r)[0].isKnown()) return std::nullopt;
        for (int64_t i = 0; i < (*r)[0].size(); ++i) out.push_back({});
        continue;
      }
      out.insert(out.end(), part->begin(), part->end());
    }
    return out;
  }
  if (p->kind() == "onnx::Cast" || p->kind() == "onnx::Identity") return knownListDims(p->input(0));
  return std::nullopt;
}

std::optional<std::vector<Dim>> broadcastShapes(const std::optional<std::vector<Dim>>& a,
                                                const std::optional<std::vector<Dim>>& b) {
  if (!a || !b) return std::nullopt;
  const size_t rank = std::max(a->size(), b->size());
  std::vector<Dim> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const bool hasA = i < a->size(), hasB = i < b->size();
    const Dim da = hasA ? (*a)[a->size() - 1 - i] : Dim::known(1);
    const Dim db = hasB ? (*b)[b->size() - 1 - i] : Dim::known(1);
    Dim r;
    if (da.isKnown() && da.size() == 1) r = db;
    else if (db.isKnown() && db.size() == 1) r = da;
    else if (da == db) r = da;
    else if (da.isKnown() && !db.isKnown()) r = da;  // db must be 1 or equal
    else if (db.isKnown() && !da.isKnown()) r = db;
    else r = Dim::unknown();
    out[rank - 1 - i] = r;
  }
  return out;
}

Type tensorType(DType dtype, std::optional<std::vector<Dim>> shape) { return Type::tensor(dtype, std::move(shape)); }

Type tensorTypeOfRank(DType dtype, std::optional<int64_t> rank) {
  if (!rank) return Type::tensor(dtype);
  return Type::tensor(dtype, std::vector<Dim>(static_cast<size_t>(*rank)));
}

std::vector<Dim> knownDims(const std::vector<int64_t>& sizes) {
  std::vector<Dim> out;
  out.reserve(sizes.size());
  for (int64_t s : sizes) out.push_back(s >= 0 ? Dim::known(s) : Dim::unknown());
  return out;
}

std::string formatInts(std::span<const int64_t> values) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < values.size(); ++i) os << (i ? ", " : "") << values[i];
  os << ']';
  return os.str();
}

// ---------------------------------------------------------------------------------------
// OpBuilder
// ---------------------------------------------------------------------------------------
OpBuilder& OpBuilder::attr(std::string_view name, Attribute value) {
  node_->setAttribute(name, std::move(value));
  return *this;
}

OpBuilder& OpBuilder::type(Type type, size_t output) {
  node_->output(output)->setType(std::move(type));
  return *this;
}

// ---------------------------------------------------------------------------------------
// Lowering: node facts and arguments
// ---------------------------------------------------------------------------------------
bool Lowering::outputUsed(size_t i) const {
  if (i >= node().numOutputs()) return false;
  const Value* v = node().output(i);
  return v->hasUses() || v->isGraphOutput();
}

std::vector<std::string> Lowering::schemaArgNames() const {
  std::vector<std::string> names;
  const std::string* schema = node().stringAttr("schema");
  if (schema == nullptr) return names;
  const size_t open = schema->find('(');
  if (open == std::string::npos) return names;
  int depth = 0;
  std::string current;
  auto flush = [&] {
    std::string arg = current;
    current.clear();
    const size_t eq = arg.find('=');
    if (eq != std::string::npos) arg = arg.substr(0, eq);
    while (!arg.empty() && std::isspace(static_cast<unsigned char>(arg.back()))) arg.pop_back();
    const size_t space = arg.find_last_of(" \t");
    std::string name = space == std::string::npos ? arg : arg.substr(space + 1);
    if (!name.empty() && name != "*") names.push_back(name);
  };
  for (size_t i = open + 1; i < schema->size(); ++i) {
    const char c = (*schema)[i];
    if (c == '(' || c == '[') ++depth;
    if ((c == ')' || c == ']') && depth > 0) {
      --depth;
      current += c;
      continue;
    }
    if (c == ')' && depth == 0) {
      flush();
      break;
    }
    if (c == ',' && depth == 0) {
      flush();
      continue;
    }
    current += c;
  }
  return names;
}

std::string Lowering::overloadName() const {
  const std::string* schema = node().stringAttr("schema");
  if (schema == nullptr) return {};
  const size_t open = schema->find('(');
  const size_t colons = schema->find("::");
  if (open == std::string::npos || colons == std::string::npos || colons > open) return {};
  const size_t dot = schema->find('.', colons);
  if (dot == std::string::npos || dot > open) return {};
  return schema->substr(dot + 1, open - dot - 1);
}

Status Lowering::needInputs(size_t minCount) const {
  if (numInputs() >= minCount) return Status::ok();
  return invalid("expected at least " + std::to_string(minCount) + " inputs, got " + std::to_string(numInputs()));
}

namespace {
std::string describeValue(const Value* v) { return "%" + v->name(); }
}  // namespace

Expected<int64_t> Lowering::intArg(size_t i, std::string_view what) const {
  if (i >= numInputs()) return invalid("missing argument '" + std::string(what) + "' (input " + std::to_string(i) + ")");
  if (auto v = staticInt(input(i))) return *v;
  return unsupported("argument '" + std::string(what) + "' (" + describeValue(input(i)) +
                     ") must be a constant int; make it static before lowering (e.g. run fold-constants)");
}

Expected<double> Lowering::floatArg(size_t i, std::string_view what) const {
  if (i >= numInputs()) return invalid("missing argument '" + std::string(what) + "' (input " + std::to_string(i) + ")");
  if (auto v = staticFloat(input(i))) return *v;
  return unsupported("argument '" + std::string(what) + "' (" + describeValue(input(i)) +
                     ") must be a constant number; make it static before lowering");
}

Expected<bool> Lowering::boolArg(size_t i, std::string_view what) const {
  if (i >= numInputs()) return invalid("missing argument '" + std::string(what) + "' (input " + std::to_string(i) + ")");
  if (auto v = staticBool(input(i))) return *v;
  return unsupported("argument '" + std::string(what) + "' (" + describeValue(input(i)) +
                     ") must be a constant bool; make it static before lowering");
}

Expected<std::vector<int64_t>> Lowering::intsArg(size_t i, std::string_view what) const {
  if (i >= numInputs()) return invalid("missing argument '" + std::string(what) + "' (input " + std::to_string(i) + ")");
  if (auto v = staticInts(input(i))) return *v;
  if (auto v = staticInt(input(i))) return std::vector<int64_t>{*v};
  return unsupported("argument '" + std::string(what) + "' (" + describeValue(input(i)) +
                     ") must be a constant int list; make it static before lowering");
}

Expected<int64_t> Lowering::intArgOr(size_t i, std::string_view what, int64_t fallback) const {
  if (isNoneArg(i)) return fallback;
  return intArg(i, what);
}

Expected<double> Lowering::floatArgOr(size_t i, std::string_view what, double fallback) const {
  if (isNoneArg(i)) return fallback;
  return floatArg(i, what);
}

Expected<bool> Lowering::boolArgOr(size_t i, std::string_view what, bool fallback) const {
  if (isNoneArg(i)) return fallback;
  return boolArg(i, what);
}

Expected<std::string> Lowering::stringArgOr(size_t i, std::string_view what, std::string fallback) const {
  if (isNoneArg(i)) return fallback;
  if (const std::string* s = staticString(input(i))) return *s;
  return unsupported("argument '" + std::string(what) + "' (" + describeValue(input(i)) + ") must be a constant string");
}

Expected<std::optional<DType>> Lowering::dtypeArg(size_t i) const {
  if (isNoneArg(i)) return std::optional<DType>();
  auto code = staticInt(input(i));
  if (!code) return unsupported("dtype argument " + describeValue(input(i)) + " must be a constant ScalarType");
  auto dtype = dtypeFromTorchScalarType(*code);
  if (!dtype) return unsupported("dtype with c10::ScalarType code " + std::to_string(*code) + " has no ONNX equivalent");
  return std::optional<DType>(*dtype);
}

Expected<std::vector<int64_t>> Lowering::intsArgExpanded(size_t i, std::string_view what, size_t count) const {
  TP_TRY(std::vector<int64_t> values, intsArg(i, what));
  if (values.size() == 1 && count > 1) values.assign(count, values[0]);
  if (values.size() != count)
    return invalid("argument '" + std::string(what) + "' has " + std::to_string(values.size()) + " values " +
                   formatInts(values) + ", expected " + std::to_string(count));
  return values;
}

// ---------------------------------------------------------------------------------------
// Emission and constants
// ---------------------------------------------------------------------------------------
OpBuilder Lowering::op(std::string_view onnxOp, std::initializer_list<Value*> inputs, size_t numOutputs) {
  std::vector<Value*> v(inputs);
  return op(onnxOp, std::span<Value* const>(v), numOutputs);
}

OpBuilder Lowering::op(std::string_view onnxOp, std::span<Value* const> inputs, size_t numOutputs) {
  std::string kind = "onnx::";
  kind += onnxOp;
  return OpBuilder(ctx_.emit(kind, inputs, numOutputs));
}

Node* Lowering::emitRaw(std::string_view kind, std::span<Value* const> inputs, size_t numOutputs) {
  return ctx_.emit(kind, inputs, numOutputs);
}

Value* Lowering::constant(Tensor tensor) {
  Type type = tensorType(tensor.dtype(), knownDims(tensor.shape()));
  Value* v = ctx_.constant(std::move(tensor));
  v->setType(std::move(type));
  return v;
}

Value* Lowering::i64s(const std::vector<int64_t>& values) {
  return constant(Tensor::fromVector(DType::I64, {static_cast<int64_t>(values.size())}, values));
}

Value* Lowering::i64(int64_t value) { return constant(Tensor::fromVector(DType::I64, {}, std::vector<int64_t>{value})); }

namespace {
uint16_t floatToHalfBits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  int32_t exponent = static_cast<int32_t>((x >> 23) & 0xff) - 127 + 15;
  uint32_t mantissa = x & 0x7fffffu;
  if (((x >> 23) & 0xff) == 0xff) return static_cast<uint16_t>(sign | 0x7c00u | (mantissa ? 0x200u : 0u));
  if (exponent >= 0x1f) return static_cast<uint16_t>(sign | 0x7c00u);
  if (exponent <= 0) {
    if (exponent < -10) return static_cast<uint16_t>(sign);
    mantissa |= 0x800000u;
    const uint32_t shift = static_cast<uint32_t>(14 - exponent);
    uint32_t half = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1);
    const uint32_t halfway = 1u << (shift - 1);
    if (rest > halfway || (rest == halfway && (half & 1u))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = (static_cast<uint32_t>(exponent) << 10) | (mantissa >> 13);
  const uint32_t rest = mantissa & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;
  return static_cast<uint16_t>(sign | half);
}

uint16_t floatToBf16Bits(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if (std::isnan(f)) return 0x7fc0;
  const uint32_t rounding = 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>((x + rounding) >> 16);
}

template <class T>
Tensor filledTensor(DType dtype, const std::vector<int64_t>& shape, T value) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return Tensor::fromVector(dtype, shape, std::vector<T>(static_cast<size_t>(n), value));
}
}  // namespace

Value* Lowering::filled(double value, DType dtype, const std::vector<int64_t>& shape) {
  switch (dtype) {
    case DType::F32: return constant(filledTensor<float>(dtype, shape, static_cast<float>(value)));
    case DType::F64: return constant(filledTensor<double>(dtype, shape, value));
    case DType::F16: return constant(filledTensor<uint16_t>(dtype, shape, floatToHalfBits(static_cast<float>(value))));
    case DType::BF16: return constant(filledTensor<uint16_t>(dtype, shape, floatToBf16Bits(static_cast<float>(value))));
    case DType::I8: return constant(filledTensor<int8_t>(dtype, shape, static_cast<int8_t>(value)));
    case DType::I16: return constant(filledTensor<int16_t>(dtype, shape, static_cast<int16_t>(value)));
    case DType::I32: return constant(filledTensor<int32_t>(dtype, shape, static_cast<int32_t>(value)));
    case DType::I64: return constant(filledTensor<int64_t>(dtype, shape, static_cast<int64_t>(value)));
    case DType::U8: return constant(filledTensor<uint8_t>(dtype, shape, static_cast<uint8_t>(value)));
    case DType::U16: return constant(filledTensor<uint16_t>(dtype, shape, static_cast<uint16_t>(value)));
    case DType::U32: return constant(filledTensor<uint32_t>(dtype, shape, static_cast<uint32_t>(value)));
    case DType::U64: return constant(filledTensor<uint64_t>(dtype, shape, static_cast<uint64_t>(value)));
    case DType::Bool: return constant(filledTensor<uint8_t>(dtype, shape, static_cast<uint8_t>(value != 0.0)));
    default:
      // Not representable as a simple fill (complex, fp8): fall back to f32 + Cast.
      {
        Value* f = constant(filledTensor<float>(DType::F32, shape, static_cast<float>(value)));
        return op("Cast", {f}).attr("to", onnxDataType(dtype)).type(tensorType(dtype, knownDims(shape)));
      }
  }
}

Value* Lowering::scalar(double value, DType dtype) {
  if (dtype == DType::I64) {
    // Keep large int64 values exact (double cannot hold all of them).
    return i64(static_cast<int64_t>(value));
  }
  return filled(value, dtype, {});
}

Value* Lowering::absent() {
  Node* c = emitRaw(kConstKind, {}, 1);
  c->output()->setType(Type::scalar(Type::Kind::None));
  return c->output();
}

Value* Lowering::staticIntValue(int64_t value) {
  Node* c = emitRaw(kConstKind, {}, 1);
  c->setAttribute("value", value);
  c->output()->setType(Type::scalar(Type::Kind::Int));
  return c->output();
}

Value* Lowering::staticBoolValue(bool value) {
  Node* c = emitRaw(kConstKind, {}, 1);
  c->setAttribute("value", static_cast<int64_t>(value ? 1 : 0));
  c->output()->setType(Type::scalar(Type::Kind::Bool));
  return c->output();
}

Value* Lowering::staticFloatValue(double value) {
  Node* c = emitRaw(kConstKind, {}, 1);
  c->setAttribute("value", value);
  c->output()->setType(Type::scalar(Type::Kind::Float));
  return c->output();
}

// ---------------------------------------------------------------------------------------
// Materializing
// ---------------------------------------------------------------------------------------
Expected<Value*> Lowering::asTensor(Value* value) {
  if (isNone(value)) return invalid("expected a tensor but got None (" + describeValue(value) + ")");
  const Attribute* p = payload(value);
  if (p == nullptr) return value;
  if (std::holds_alternative<Tensor>(*p)) return value;
  if (auto* i = std::get_if<int64_t>(p)) {
    if (value->type().kind() == Type::Kind::Bool) return scalar(static_cast<double>(*i != 0), DType::Bool);
    return i64(*i);
  }
  if (auto* d = std::get_if<double>(p)) return scalar(*d, DType::F32);
  if (auto* l = std::get_if<std::vector<int64_t>>(p)) return i64s(*l);
  if (auto* l = std::get_if<std::vector<double>>(p)) {
    std::vector<float> f(l->begin(), l->end());
    return constant(Tensor::fromVector(DType::F32, {static_cast<int64_t>(f.size())}, f));
  }
  return unsupported("constant " + describeValue(value) + " (a string or list of strings) has no ONNX tensor form here");
}

Expected<Value*> Lowering::asI64List(Value* value) {
  if (isNone(value)) return invalid("expected an int list but got None (" + describeValue(value) + ")");
  if (auto v = staticInts(value)) {
    const Tensor* t = staticTensor(value);
    if (t != nullptr && t->rank() == 1 && t->dtype() == DType::I64) return value;
    return i64s(*v);
  }
  if (auto v = staticInt(value)) return i64s({*v});
  Value* v = value;
  if (dtypeOf(v) != DType::I64 && dtypeOf(v) != DType::Undefined) {
    TP_TRY(v, castTo(v, DType::I64));
  }
  if (rankOf(v) == 0) v = unsqueeze(v, {0});
  return v;
}

Expected<Value*> Lowering::asI64Scalar(Value* value) {
  if (isNone(value)) return invalid("expected an int but got None (" + describeValue(value) + ")");
  if (auto v = staticInt(value)) {
    const Tensor* t = staticTensor(value);
    if (t == nullptr || t->rank() != 0 || t->dtype() != DType::I64) return i64(*v);
    return value;
  }
  Value* v = value;
  if (dtypeOf(v) != DType::I64) {
    TP_TRY(v, castTo(v, DType::I64));
  }
  if (rankOf(v) && *rankOf(v) == 1 && staticDimOf(v, 0) == 1) v = squeeze(v, {0});
  return v;
}

Expected<Value*> Lowering::castTo(Value* value, DType dtype) {
  if (dtype == DType::Undefined) return value;
  const int64_t code = onnxDataType(dtype);
  if (code == 0) return unsupported("dtype " + std::string(dtypeName(dtype)) + " has no ONNX equivalent");
  if (isStaticScalar(value)) {
    auto d = staticFloat(value);
    auto i = staticInt(value);
    if (isInteger(dtype) && i) return scalar(static_cast<double>(*i), dtype);
    if (dtype == DType::I64 && d) return i64(static_cast<int64_t>(*d));
    if (d) return scalar(*d, dtype);
  }
  TP_TRY(Value * v, asTensor(value));
  if (dtypeOf(v) == dtype) return v;
  return static_cast<Value*>(op("Cast", {v}).attr("to", code).type(tensorType(dtype, shapeOf(v))));
}

Expected<Value*> Lowering::castLike(Value* value, Value* like) {
  const DType target = dtypeOf(like);
  if (target != DType::Undefined) return castTo(value, target);
  if (opset() < 15)
    return unsupported("the dtype of " + describeValue(like) +
                       " is unknown and CastLike needs opset >= 15; declare input dtypes or use opset 15+");
  TP_TRY(Value * v, asTensor(value));
  return static_cast<Value*>(op("CastLike", {v, like}).type(tensorType(DType::Undefined, shapeOf(v))));
}

// ---------------------------------------------------------------------------------------
// Type promotion (c10::result_type)
// ---------------------------------------------------------------------------------------
OperandClass Lowering::operandClass(const Value* value) const {
  if (isStaticScalar(value)) return OperandClass::Wrapped;
  switch (value->type().kind()) {
    case Type::Kind::Int:
    case Type::Kind::Float:
    case Type::Kind::Bool:
      return OperandClass::Wrapped;
    default: break;
  }
  if (rankOf(value) == 0) return OperandClass::ZeroDim;
  return OperandClass::Dimensioned;
}

namespace {
DType combineCategories(DType higher, DType lower) {
  if (higher == DType::Undefined) return lower;
  if (lower == DType::Undefined) return higher;
  if (isComplexType(higher)) return higher;
  if (isComplexType(lower)) return isFloatingPoint(higher) ? (higher == DType::F64 ? DType::C128 : DType::C64) : lower;
  if (isFloatingPoint(higher)) return higher;
  if (higher == DType::Bool || isFloatingPoint(lower)) return promoteTypes(higher, lower);
  return higher;
}
}  // namespace

DType Lowering::resultType(std::span<Value* const> operands) const {
  DType dimResult = DType::Undefined, zeroResult = DType::Undefined, wrappedResult = DType::Undefined;
  for (Value* v : operands) {
    DType d = dtypeOf(v);
    if (d == DType::Undefined) return DType::Undefined;
    switch (operandClass(v)) {
      case OperandClass::Dimensioned:
        dimResult = dimResult == DType::Undefined ? d : promoteTypes(dimResult, d);
        break;
      case OperandClass::ZeroDim:
        zeroResult = zeroResult == DType::Undefined ? d : promoteTypes(zeroResult, d);
        break;
      case OperandClass::Wrapped:
        // Python floats take the default dtype (f32); ints are i64; bools stay bool.
        if (isFloatingPoint(d)) d = DType::F32;
        wrappedResult = wrappedResult == DType::Undefined ? d : promoteTypes(wrappedResult, d);
        break;
    }
  }
  return combineCategories(dimResult, combineCategories(zeroResult, wrappedResult));
}

Expected<std::vector<Value*>> Lowering::promoteOperands(std::span<Value* const> operands, DType& dtype) {
  dtype = resultType(operands);
  std::vector<Value*> out;
  out.reserve(operands.size());
  if (dtype != DType::Undefined) {
    for (Value* v : operands) {
      TP_TRY(Value * c, castTo(v, dtype));
      out.push_back(c);
    }
    return out;
  }
  // Unknown dtypes: cast static scalars like the first dynamic operand; leave tensors.
  Value* like = nullptr;
  for (Value* v : operands)
    if (!isStaticScalar(v) && operandClass(v) != OperandClass::Wrapped) {
      like = v;
      break;
    }
  for (Value* v : operands) {
    if (like != nullptr && v != like && (isStaticScalar(v) || dtypeOf(v) != dtypeOf(like))) {
      TP_TRY(Value * c, castLike(v, like));
      out.push_back(c);
    } else {
      TP_TRY(Value * c, asTensor(v));
      out.push_back(c);
    }
  }
  if (like != nullptr) dtype = dtypeOf(like);
  return out;
}

Expected<Value*> Lowering::where(Value* cond, Value* a, Value* b, const Type& type) {
  if (type.isTensor() && type.dtype() == DType::Bool) {
    TP_TRY(Value * au, castTo(a, DType::U8));
    TP_TRY(Value * bu, castTo(b, DType::U8));
    Value* w = op("Where", {cond, au, bu}).type(tensorType(DType::U8, type.shape()));
    return castTo(w, DType::Bool);
  }
  return static_cast<Value*>(op("Where", {cond, a, b}).type(type));
}

// ---------------------------------------------------------------------------------------
// Shape helpers
// ---------------------------------------------------------------------------------------
Value* Lowering::shape(Value* tensor) {
  auto r = rankOf(tensor);
  Type t = r ? tensorType(DType::I64, knownDims({*r})) : tensorType(DType::I64, std::vector<Dim>{Dim::unknown()});
  return op("Shape", {tensor}).type(std::move(t));
}

Value* Lowering::dimSize(Value* tensor, int64_t axis) {
  if (auto r = rankOf(tensor); r && axis < 0) axis += *r;
  return op("Gather", {shape(tensor), i64(axis)}).attr("axis", 0).type(tensorType(DType::I64, std::vector<Dim>{}));
}

Value* Lowering::unsqueeze(Value* tensor, const std::vector<int64_t>& axes) {
  std::optional<std::vector<Dim>> outShape;
  if (auto s = shapeOf(tensor)) {
    const int64_t outRank = static_cast<int64_t>(s->size() + axes.size());
    std::vector<int64_t> norm;
    for (int64_t a : axes) norm.push_back(a < 0 ? a + outRank : a);
    std::sort(norm.begin(), norm.end());
    std::vector<Dim> dims;
    size_t next = 0;
    for (int64_t i = 0; i < outRank; ++i) {
      if (std::binary_search(norm.begin(), norm.end(), i)) dims.push_back(Dim::known(1));
      else if (next < s->size()) dims.push_back((*s)[next++]);
    }
    if (dims.size() == static_cast<size_t>(outRank)) outShape = dims;
  }
  return op("Unsqueeze", {tensor, i64s(axes)}).type(tensorType(dtypeOf(tensor), outShape));
}

Value* Lowering::squeeze(Value* tensor, const std::vector<int64_t>& axes) {
  std::optional<std::vector<Dim>> outShape;
  if (auto s = shapeOf(tensor)) {
    const int64_t rank = static_cast<int64_t>(s->size());
    std::vector<Dim> dims;
    for (int64_t i = 0; i < rank; ++i) {
      bool drop = false;
      for (int64_t a : axes) drop = drop || (a < 0 ? a + rank : a) == i;
      if (!drop) dims.push_back((*s)[static_cast<size_t>(i)]);
    }
    outShape = dims;
  }
  return op("Squeeze", {tensor, i64s(axes)}).type(tensorType(dtypeOf(tensor), outShape));
}

namespace {
// Resolves a reshape target: known entries, -1 inferred from the input when possible.
std::optional<std::vector<Dim>> reshapeResult(const Value* input, const std::vector<KnownInt>& target) {
  std::vector<Dim> out;
  int inferIndex = -1;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i].value == -1) {
      inferIndex = static_cast<int>(i);
      out.push_back(Dim::unknown());
    } else if (target[i].value == 0) {
      out.push_back(dimOf(input, static_cast<int64_t>(i)));  // ONNX: 0 copies the input dim
    } else {
      out.push_back(target[i].asDim());
    }
  }
  if (inferIndex >= 0) {
    auto in = shapeOf(input);
    if (in) {
      // Cancel symbols present on both sides, then divide the known products.
      std::vector<std::string> symbols;
      int64_t inProduct = 1;
      bool ok = true;
      for (const Dim& d : *in) {
        if (d.isKnown()) inProduct *= d.size();
        else if (d.isSymbol()) symbols.push_back(d.symbolName());
        else ok = false;
      }
      int64_t outProduct = 1;
      for (size_t i = 0; i < out.size() && ok; ++i) {
        if (static_cast<int>(i) == inferIndex) continue;
        const Dim& d = out[i];
        if (d.isKnown()) outProduct *= d.size();
        else if (d.isSymbol()) {
          auto it = std::find(symbols.begin(), symbols.end(), d.symbolName());
          if (it == symbols.end()) ok = false;
          else symbols.erase(it);
        } else ok = false;
      }
      if (ok && symbols.empty() && outProduct > 0 && inProduct % outProduct == 0)
        out[static_cast<size_t>(inferIndex)] = Dim::known(inProduct / outProduct);
      else if (ok && symbols.size() == 1 && outProduct > 0 && inProduct == outProduct)
        out[static_cast<size_t>(inferIndex)] = Dim::symbol(symbols[0]);
    }
  }
  return out;
}
}  // namespace

Value* Lowering::reshape(Value* tensor, Value* shapeList) {
  std::optional<std::vector<Dim>> outShape;
  if (auto target = knownListDims(shapeList)) outShape = reshapeResult(tensor, *target);
  else if (auto r = shapeOf(shapeList); r && r->size() == 1 && (*r)[0].isKnown())
    outShape = std::vector<Dim>(static_cast<size_t>((*r)[0].size()));
  return op("Reshape", {tensor, shapeList}).type(tensorType(dtypeOf(tensor), outShape));
}

Value* Lowering::transpose(Value* tensor, const std::vector<int64_t>& perm) {
  std::optional<std::vector<Dim>> outShape;
  if (auto s = shapeOf(tensor); s && s->size() == perm.size()) {
    std::vector<Dim> dims;
    for (int64_t p : perm) dims.push_back((*s)[static_cast<size_t>(p)]);
    outShape = dims;
  }
  return op("Transpose", {tensor}).attr("perm", perm).type(tensorType(dtypeOf(tensor), outShape));
}

Value* Lowering::slice(Value* tensor, int64_t axis, int64_t start, int64_t end, int64_t step) {
  std::optional<std::vector<Dim>> outShape = shapeOf(tensor);
  if (outShape) {
    const int64_t rank = static_cast<int64_t>(outShape->size());
    const int64_t a = axis < 0 ? axis + rank : axis;
    if (a >= 0 && a < rank) {
      Dim& d = (*outShape)[static_cast<size_t>(a)];
      if (d.isKnown() && step > 0) {
        const int64_t n = d.size();
        int64_t s = start < 0 ? std::max<int64_t>(start + n, 0) : std::min(start, n);
        int64_t e = end < 0 ? std::max<int64_t>(end + n, 0) : std::min(end, n);
        d = Dim::known(e > s ? (e - s + step - 1) / step : 0);
      } else {
        d = Dim::unknown();
      }
    }
  }
  return op("Slice", {tensor, i64s({start}), i64s({end}), i64s({axis}), i64s({step})})
      .type(tensorType(dtypeOf(tensor), outShape));
}

Value* Lowering::reduce(std::string_view onnxOp, Value* tensor, const std::optional<std::vector<int64_t>>& axes,
                        bool keepdims, DType outDtype) {
  std::optional<std::vector<Dim>> outShape;
  if (auto s = shapeOf(tensor)) {
    const int64_t rank = static_cast<int64_t>(s->size());
    std::vector<Dim> dims;
    for (int64_t i = 0; i < rank; ++i) {
      bool reduced = !axes || axes->empty();
      if (axes)
        for (int64_t a : *axes) reduced = reduced || (a < 0 ? a + rank : a) == i;
      if (!reduced) dims.push_back((*s)[static_cast<size_t>(i)]);
      else if (keepdims) dims.push_back(Dim::known(1));
    }
    outShape = dims;
  }
  Type type = tensorType(outDtype == DType::Undefined ? dtypeOf(tensor) : outDtype, outShape);
  const bool axesAsInput = onnxOp == "ReduceSum" || opset() >= 18;
  std::vector<Value*> inputs{tensor};
  if (axes && !axes->empty() && axesAsInput) inputs.push_back(i64s(*axes));
  OpBuilder b = op(onnxOp, std::span<Value* const>(inputs)).attr("keepdims", keepdims ? 1 : 0);
  if (axes && !axes->empty() && !axesAsInput) b.attr("axes", *axes);
  return b.type(std::move(type));
}

Value* Lowering::concatLists(const std::vector<Value*>& lists) {
  std::vector<Value*> parts;
  std::vector<int64_t> pending;
  bool havePending = false;
  bool allStatic = true;
  auto flush = [&] {
    if (havePending) parts.push_back(i64s(pending));
    pending.clear();
    havePending = false;
  };
  for (Value* l : lists) {
    if (auto v = staticInts(l)) {
      pending.insert(pending.end(), v->begin(), v->end());
      havePending = true;
      continue;
    }
    allStatic = false;
    flush();
    parts.push_back(l);
  }
  if (allStatic) return i64s(pending);
  flush();
  if (parts.size() == 1) return parts[0];
  std::optional<int64_t> total = 0;
  for (Value* p : parts) {
    auto d = staticDimOf(p, 0);
    if (!d) total.reset();
    else if (total) *total += *d;
  }
  Type t = tensorType(DType::I64, std::vector<Dim>{total ? Dim::known(*total) : Dim::unknown()});
  return op("Concat", std::span<Value* const>(parts)).attr("axis", 0).type(std::move(t));
}

Expected<int64_t> Lowering::normalizeAxis(int64_t axis, std::optional<int64_t> rank, std::string_view what) const {
  if (axis < 0) {
    if (!rank)
      return unsupported("negative " + std::string(what) + " " + std::to_string(axis) +
                         " needs the input rank, which is unknown here; declare input shapes (input.inputs) so ranks propagate");
    axis += *rank;
  }
  if (rank && (axis < 0 || axis >= *rank))
    return invalid(std::string(what) + " " + std::to_string(axis) + " is out of range for rank " + std::to_string(*rank));
  return axis;
}

// ---------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------
void Lowering::setOutput(size_t i, Value* value) {
  const Type& old = output(i)->type();
  if (value->type().isUnknown() && old.isTensor()) value->setType(old);
  ctx_.mapOutput(i, value);
}

void Lowering::passThrough(size_t i, Value* value) {
  // lowerGraph keeps an Identity where a graph output would otherwise be a graph input or
  // another graph output, so a plain mapping is enough here.
  setOutput(i, value);
}

}  // namespace torchport::onnxplugin
