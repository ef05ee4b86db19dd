// The generic aten kernel (aten_kernel.h): overload resolution against LibTorch's JIT
// operator registry, IValue conversion of constant inputs and results, purity checks.
#include "aten_kernel.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/jit/runtime/operator.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <string_view>

#include "jit_bridge.h"
#include "torchport/op_traits.h"

namespace torchport::torchscript {
namespace {

namespace jit = torch::jit;

// What a node input is, from its declared type (and, for undeclared types, the tensor
// fold-constants made of it). Drives overload matching and conversion.
enum class InputKind : uint8_t { Tensor, Int, Float, Bool, None, IntList, FloatList, BoolList, TensorList, Other };

std::string_view inputKindName(InputKind kind) {
  switch (kind) {
    case InputKind::Tensor: return "Tensor";
    case InputKind::Int: return "int";
    case InputKind::Float: return "float";
    case InputKind::Bool: return "bool";
    case InputKind::None: return "None";
    case InputKind::IntList: return "int[]";
    case InputKind::FloatList: return "float[]";
    case InputKind::BoolList: return "bool[]";
    case InputKind::TensorList: return "Tensor[]";
    case InputKind::Other: break;
  }
  return "?";
}

InputKind kindOfType(const Type& type, const Tensor& tensor) {
  switch (type.kind()) {
    case Type::Kind::Tensor: return InputKind::Tensor;
    case Type::Kind::Int: return InputKind::Int;
    case Type::Kind::Float: return InputKind::Float;
    case Type::Kind::Bool: return InputKind::Bool;
    case Type::Kind::None: return InputKind::None;
    case Type::Kind::List: {
      if (type.elements().empty()) return InputKind::Other;
      switch (type.elements().front().kind()) {
        case Type::Kind::Int: return InputKind::IntList;
        case Type::Kind::Float: return InputKind::FloatList;
        case Type::Kind::Bool: return InputKind::BoolList;
        case Type::Kind::Tensor: return InputKind::TensorList;
        default: return InputKind::Other;
      }
    }
    case Type::Kind::Optional:
      if (tensor.dtype() == DType::Undefined) return InputKind::None;
      return type.elements().empty() ? InputKind::Other : kindOfType(type.elements().front(), tensor);
    case Type::Kind::Unknown:
      return tensor.dtype() == DType::Undefined ? InputKind::None : InputKind::Other;
    default: return InputKind::Other;
  }
}

// How well a JIT argument type takes an input: 0 exact, larger = looser (Scalar, type
// variables, int for float, one int for int[N]), -1 not at all. `type` is the argument's
// "fake" type (ScalarType, Layout, MemoryFormat and SymInt are int there).
int matchCost(const c10::TypePtr& type, c10::optional<int32_t> n, InputKind kind) {
  using c10::TypeKind;
  switch (type->kind()) {
    case TypeKind::OptionalType:
      if (kind == InputKind::None) return 0;
      return matchCost(type->expect<c10::OptionalType>()->getElementType(), n, kind);
    case TypeKind::TensorType: return kind == InputKind::Tensor ? 0 : -1;
    case TypeKind::IntType: return kind == InputKind::Int ? 0 : -1;
    case TypeKind::FloatType: return kind == InputKind::Float ? 0 : kind == InputKind::Int ? 2 : -1;
    case TypeKind::BoolType: return kind == InputKind::Bool ? 0 : -1;
    case TypeKind::NumberType:
      return kind == InputKind::Int || kind == InputKind::Float ? 1 : kind == InputKind::Bool ? 2 : -1;
    case TypeKind::VarType:
      return kind == InputKind::Int || kind == InputKind::Float || kind == InputKind::Bool || kind == InputKind::Tensor
                 ? 1
                 : -1;
    case TypeKind::ListType: {
      const c10::TypePtr& element = type->expect<c10::ListType>()->getElementType();
      switch (element->kind()) {
        case TypeKind::IntType: return kind == InputKind::IntList ? 0 : kind == InputKind::Int && n ? 1 : -1;
        case TypeKind::FloatType: return kind == InputKind::FloatList ? 0 : -1;
        case TypeKind::BoolType: return kind == InputKind::BoolList ? 0 : -1;
        case TypeKind::TensorType: return kind == InputKind::TensorList ? 0 : -1;
        case TypeKind::OptionalType:
          return kind == InputKind::TensorList &&
                         element->expect<c10::OptionalType>()->getElementType()->kind() == TypeKind::TensorType
                     ? 1
                     : -1;
        case TypeKind::VarType:
          return kind == InputKind::IntList || kind == InputKind::FloatList || kind == InputKind::BoolList ||
                         kind == InputKind::TensorList
                     ? 1
                     : -1;
        default: return -1;
      }
    }
    default: return -1;
  }
}

// How well a JIT return type fits the declared type of a node output (-1: not at all).
int returnCost(const c10::TypePtr& type, const Type& declared) {
  using c10::TypeKind;
  if (declared.kind() == Type::Kind::Unknown) return 0;
  switch (type->kind()) {
    case TypeKind::TensorType: return declared.isTensor() ? 0 : -1;
    case TypeKind::IntType: return declared.kind() == Type::Kind::Int ? 0 : -1;
    case TypeKind::FloatType: return declared.kind() == Type::Kind::Float ? 0 : -1;
    case TypeKind::BoolType: return declared.kind() == Type::Kind::Bool ? 0 : -1;
    case TypeKind::NumberType:
      return declared.kind() == Type::Kind::Int || declared.kind() == Type::Kind::Float ? 1 : -1;
    case TypeKind::VarType: return 1;
    case TypeKind::ListType: return declared.kind() == Type::Kind::List ? 0 : -1;
    default: return 1;  // refused later with a precise message, if it gets that far
  }
}

std::string schemaText(const c10::FunctionSchema& schema) {
  std::ostringstream text;
  text << schema;
  return text.str();
}

// Schemas we never run: varargs (their operation needs the JIT node), writes to arguments
// (in-place and out= variants).
bool runnableSchema(const jit::Operator& op) {
  const c10::FunctionSchema& schema = op.schema();
  return !schema.is_vararg() && !schema.is_varret() && !schema.is_mutable() && op.hasOperation();
}

struct Overload {
  std::shared_ptr<jit::Operator> op;
  std::string error;  // set when none was found
};

// The overload the node's "schema" attribute names ("aten::add.Tensor(Tensor self, ...").
Overload overloadFromSchema(const Node& node, const std::string& schema,
                            const std::vector<std::shared_ptr<jit::Operator>>& operators) {
  const std::string name = schema.substr(0, schema.find('('));
  if (name.compare(0, node.kind().size(), node.kind()) != 0 ||
      (name.size() > node.kind().size() && name[node.kind().size()] != '.')) {
    return {nullptr, "its schema attribute names another op: " + schema};
  }
  const std::string overloadName = name.size() > node.kind().size() ? name.substr(node.kind().size() + 1) : "";
  std::vector<std::shared_ptr<jit::Operator>> named;
  for (const auto& op : operators) {
    if (op->schema().overload_name() == overloadName) named.push_back(op);
  }
  if (named.size() > 1) {
    // Same overload name twice (JIT-only and dispatcher ops): the full text decides.
    named.erase(std::remove_if(named.begin(), named.end(), [&](const auto& op) { return schemaText(op->schema()) != schema; }),
                named.end());
  }
  if (named.empty()) return {nullptr, "this LibTorch has no overload " + name + " (schema: " + schema + ")"};
  if (named.size() > 1) return {nullptr, "LibTorch has several operators for schema " + schema};
  return {named.front(), {}};
}

// The best-fitting overload for a node without a schema attribute.
Overload overloadFromTypes(const Node& node, std::span<const InputKind> kinds,
                           const std::vector<std::shared_ptr<jit::Operator>>& operators) {
  int bestCost = -1;
  std::vector<std::shared_ptr<jit::Operator>> best;
  for (const auto& op : operators) {
    if (!runnableSchema(*op)) continue;
    const c10::FunctionSchema& schema = op->schema();
    const auto& arguments = schema.arguments();
    if (kinds.size() > arguments.size() || schema.returns().size() != node.numOutputs()) continue;
    int cost = 0;
    for (size_t i = 0; i < arguments.size() && cost >= 0; ++i) {
      if (i >= kinds.size()) {
        cost = arguments[i].default_value() ? cost + 1 : -1;  // filled-in defaults: a small penalty
        continue;
      }
      const int c = matchCost(arguments[i].type(), arguments[i].N(), kinds[i]);
      cost = c < 0 ? -1 : cost + c;
    }
    for (size_t i = 0; i < schema.returns().size() && cost >= 0; ++i) {
      const int c = returnCost(schema.returns()[i].type(), node.output(i)->type());
      cost = c < 0 ? -1 : cost + c;
    }
    if (cost < 0) continue;
    if (best.empty() || cost < bestCost) {
      best = {op};
      bestCost = cost;
    } else if (cost == bestCost) {
      best.push_back(op);
    }
  }
  std::string signature;
  for (InputKind kind : kinds) signature += (signature.empty() ? "" : ", ") + std::string(inputKindName(kind));
  if (best.empty()) return {nullptr, "no overload of " + node.kind() + " takes (" + signature + ")"};
  if (best.size() > 1) {
    std::string names;
    for (const auto& op : best) names += "\n  " + schemaText(op->schema());
    return {nullptr, "ambiguous: several overloads of " + node.kind() + " take (" + signature + "):" + names};
  }
  return {best.front(), {}};
}

bool isComplexOrExotic(DType dtype) {
  return dtype == DType::C64 || dtype == DType::C128 || dtype == DType::F8E4M3 || dtype == DType::F8E5M2;
}

// An at::Tensor viewing `tensor`'s bytes (no copy; the op does not write: runnableSchema),
// or an aligned copy when the bytes are not aligned for the element type.
Expected<at::Tensor> toAtTensor(const Tensor& tensor) {
  std::optional<c10::ScalarType> scalarType = scalarTypeFromDType(tensor.dtype());
  if (!scalarType || isComplexOrExotic(tensor.dtype())) {
    return Status::unsupported("a " + std::string(dtypeName(tensor.dtype())) + " input");
  }
  const size_t size = dtypeSize(tensor.dtype());
  if (!tensor.hasData() || static_cast<uint64_t>(tensor.numel()) > tensor.bytes().size() / size) {
    return Status::unsupported("an input without data (elided)");
  }
  const auto options = at::TensorOptions().dtype(*scalarType);
  if (tensor.numel() == 0) return at::empty(tensor.shape(), options);
  const std::byte* data = tensor.bytes().data();
  if (reinterpret_cast<uintptr_t>(data) % size != 0) {
    at::Tensor copy = at::empty(tensor.shape(), options);
    std::memcpy(copy.data_ptr(), data, tensor.nbytes());
    return copy;
  }
  return at::from_blob(const_cast<std::byte*>(data), tensor.shape(), options);
}

// A result tensor as a torchport tensor with storage of its own (never a view of an input).
Expected<Tensor> fromAtTensor(const at::Tensor& result) {
  if (!result.defined()) return Status::unsupported("an undefined tensor result");
  if (result.is_quantized() || result.layout() != c10::kStrided || !result.device().is_cpu()) {
    return Status::unsupported("a quantized, sparse or non-CPU tensor result");
  }
  std::optional<DType> dtype = dtypeFromScalarType(result.scalar_type());
  if (!dtype || isComplexOrExotic(*dtype)) {
    return Status::unsupported("a result of element type " + std::string(c10::toString(result.scalar_type())));
  }
  std::vector<int64_t> shape(result.sizes().begin(), result.sizes().end());
  std::vector<std::byte> bytes(result.nbytes());
  if (!bytes.empty()) {
    at::from_blob(bytes.data(), result.sizes(), at::TensorOptions().dtype(result.scalar_type())).copy_(result);
  }
  return Tensor(*dtype, std::move(shape), Storage::owned(std::move(bytes)));
}

Expected<int64_t> scalarInt(const Tensor& tensor) {
  if (tensor.numel() != 1 || !(isInteger(tensor.dtype()) || tensor.dtype() == DType::Bool)) {
    return Status::unsupported("an int argument that is not one integer");
  }
  return tensor.elementAsInt(0);
}

Expected<double> scalarDouble(const Tensor& tensor) {
  if (tensor.numel() != 1 || isComplexOrExotic(tensor.dtype()) || dtypeSize(tensor.dtype()) == 0) {
    return Status::unsupported("a float argument that is not one number");
  }
  return tensor.elementAsDouble(0);
}

// Tensor[] / Tensor?[] arguments: the elements of the node's prim::ListConstruct, all
// tensor constants with data.
Expected<c10::IValue> tensorList(const Value* value, bool optionalElements) {
  const Node* construct = value->producer();
  if (construct == nullptr || construct->kind() != "prim::ListConstruct") {
    return Status::unsupported("a Tensor[] argument that is not a prim::ListConstruct of constants");
  }
  c10::List<at::Tensor> tensors;
  c10::List<c10::optional<at::Tensor>> optionals;
  for (const Value* element : construct->inputs()) {
    if (optionalElements && isNoneValue(element)) {
      optionals.push_back(c10::nullopt);
      continue;
    }
    const Tensor* data = constantTensorData(element);
    if (data == nullptr) return Status::unsupported("a Tensor[] argument with an element that is not a constant with data");
    Expected<at::Tensor> tensor = toAtTensor(*data);
    if (!tensor) return tensor.status();
    if (optionalElements) {
      optionals.push_back(*tensor);
    } else {
      tensors.push_back(*tensor);
    }
  }
  return optionalElements ? c10::IValue(std::move(optionals)) : c10::IValue(std::move(tensors));
}

template <class T, class Get>
Expected<c10::IValue> listOf(const Tensor& tensor, Get get) {
  if (tensor.rank() > 1 || dtypeSize(tensor.dtype()) == 0) return Status::unsupported("a list argument of rank > 1");
  c10::List<T> list;
  list.reserve(static_cast<size_t>(tensor.numel()));
  for (int64_t i = 0; i < tensor.numel(); ++i) list.push_back(static_cast<T>(get(tensor, i)));
  return c10::IValue(std::move(list));
}

int64_t intAt(const Tensor& t, int64_t i) { return t.elementAsInt(i); }
double doubleAt(const Tensor& t, int64_t i) { return t.elementAsDouble(i); }
bool boolAt(const Tensor& t, int64_t i) { return t.elementAsInt(i) != 0; }

// Input `index` as the IValue that argument type `type` takes.
Expected<c10::IValue> toIValue(const c10::TypePtr& type, c10::optional<int32_t> n, InputKind kind, const Tensor& tensor,
                               const Value* value) {
  using c10::TypeKind;
  if (type->kind() == TypeKind::OptionalType) {
    if (kind == InputKind::None) return c10::IValue();
    return toIValue(type->expect<c10::OptionalType>()->getElementType(), n, kind, tensor, value);
  }
  if (kind == InputKind::None) return Status::unsupported("None for a non-optional argument");
  switch (type->kind()) {
    case TypeKind::TensorType: {
      Expected<at::Tensor> converted = toAtTensor(tensor);
      if (!converted) return converted.status();
      return c10::IValue(std::move(converted).value());
    }
    case TypeKind::IntType: {
      Expected<int64_t> v = scalarInt(tensor);
      if (!v) return v.status();
      return c10::IValue(*v);
    }
    case TypeKind::FloatType: {
      Expected<double> v = scalarDouble(tensor);
      if (!v) return v.status();
      return c10::IValue(*v);
    }
    case TypeKind::BoolType: {
      Expected<int64_t> v = scalarInt(tensor);
      if (!v) return v.status();
      return c10::IValue(*v != 0);
    }
    case TypeKind::NumberType:
    case TypeKind::VarType: {
      if (kind == InputKind::Tensor) return toIValue(c10::TensorType::get(), n, kind, tensor, value);
      if (kind == InputKind::Bool) return toIValue(c10::BoolType::get(), n, kind, tensor, value);
      if (kind == InputKind::Float) return toIValue(c10::FloatType::get(), n, kind, tensor, value);
      return toIValue(c10::IntType::get(), n, kind, tensor, value);
    }
    case TypeKind::ListType: {
      const c10::TypePtr& element = type->expect<c10::ListType>()->getElementType();
      InputKind listKind = kind;
      if (element->kind() == TypeKind::IntType) listKind = InputKind::IntList;
      if (element->kind() == TypeKind::FloatType) listKind = InputKind::FloatList;
      if (element->kind() == TypeKind::BoolType) listKind = InputKind::BoolList;
      if (element->kind() == TypeKind::TensorType) listKind = InputKind::TensorList;
      if (element->kind() == TypeKind::OptionalType) return tensorList(value, /*optionalElements=*/true);
      switch (listKind) {
        case InputKind::IntList:
          if (kind == InputKind::Int && n && tensor.numel() == 1) {  // int[2] given as one int
            const std::vector<int64_t> repeated(static_cast<size_t>(*n), tensor.elementAsInt(0));
            return c10::IValue(c10::List<int64_t>(c10::ArrayRef<int64_t>(repeated)));
          }
          if (!isInteger(tensor.dtype()) && tensor.dtype() != DType::Bool) {
            return Status::unsupported("an int[] argument of element type " + std::string(dtypeName(tensor.dtype())));
          }
          return listOf<int64_t>(tensor, intAt);
        case InputKind::FloatList: return listOf<double>(tensor, doubleAt);
        case InputKind::BoolList: return listOf<bool>(tensor, boolAt);
        case InputKind::TensorList: return tensorList(value, /*optionalElements=*/false);
        default: break;
      }
      break;
    }
    default: break;
  }
  return Status::unsupported("an argument of type " + type->repr_str());
}

// Tensor / int / float / bool / int[] / float[] results, checked against the declared type.
Expected<Tensor> fromIValue(const c10::IValue& value, const Type& declared) {
  const Type::Kind kind = declared.kind();
  const bool unknown = kind == Type::Kind::Unknown;
  if (value.isTensor()) {
    if (!unknown && kind != Type::Kind::Tensor) return Status::unsupported("a tensor result for an output declared " + declared.toString());
    return fromAtTensor(value.toTensor());
  }
  // Scalars and lists become constants of the declared kind: it must say which.
  if (value.isInt() && kind == Type::Kind::Int) return Tensor::scalarI64(value.toInt());
  if (value.isDouble() && kind == Type::Kind::Float) return Tensor::fromVector<double>(DType::F64, {}, {value.toDouble()});
  if (value.isBool() && kind == Type::Kind::Bool) return Tensor::fromVector<uint8_t>(DType::Bool, {}, {value.toBool()});
  const bool intList = kind == Type::Kind::List && !declared.elements().empty() &&
                       declared.elements().front().kind() == Type::Kind::Int;
  const bool floatList = kind == Type::Kind::List && !declared.elements().empty() &&
                         declared.elements().front().kind() == Type::Kind::Float;
  if (value.isIntList() && intList) {
    std::vector<int64_t> list = value.toIntVector();
    return Tensor::fromVector<int64_t>(DType::I64, {static_cast<int64_t>(list.size())}, list);
  }
  if (value.isDoubleList() && floatList) {
    std::vector<double> list = value.toDoubleVector();
    return Tensor::fromVector<double>(DType::F64, {static_cast<int64_t>(list.size())}, list);
  }
  if (value.isInt() || value.isDouble() || value.isBool() || value.isIntList() || value.isDoubleList()) {
    return Status::unsupported("a " + value.tagKind() + " result for an output declared " + declared.toString());
  }
  return Status::unsupported("a result of type " + value.type()->repr_str() +
                             " (only tensors, int, float, bool, int[] and float[] become constants)");
}

// Random ops, checked on the name before looking anything up.
bool randomByName(std::string_view name) {
  static constexpr std::string_view kPrefixes[] = {"rand", "empty", "new_empty", "_empty", "normal", "bernoulli",
                                                   "multinomial", "poisson", "uniform", "exponential", "cauchy",
                                                   "geometric", "log_normal", "_sample_dirichlet", "_standard_gamma"};
  return std::any_of(std::begin(kPrefixes), std::end(kPrefixes), [&](std::string_view p) { return name.starts_with(p); });
}

bool takesGenerator(const c10::FunctionSchema& schema) {
  for (const c10::Argument& argument : schema.arguments()) {
    c10::TypePtr type = argument.real_type();
    if (type->kind() == c10::TypeKind::OptionalType) type = type->expect<c10::OptionalType>()->getElementType();
    if (type->kind() == c10::TypeKind::GeneratorType) return true;
  }
  return false;
}

// nondeterministic_seeded ops (dropout, rrelu...) are deterministic with train=false.
bool seededRandom(const jit::Operator& op, const jit::Stack& stack) {
  const auto tags = op.getTags();
  if (std::find(tags.begin(), tags.end(), at::Tag::nondeterministic_seeded) == tags.end()) return false;
  const auto& arguments = op.schema().arguments();
  for (size_t i = 0; i < arguments.size() && i < stack.size(); ++i) {
    if (arguments[i].name() == "train" || arguments[i].name() == "training") {
      return !(stack[i].isBool() && !stack[i].toBool());
    }
  }
  return true;
}

Status unsupported(std::string_view what, std::string_view why) {
  return Status::unsupported("aten kernel: " + std::string(what) + ": " + std::string(why));
}

}  // namespace

Expected<std::vector<Tensor>> evaluateAtenNode(const Node& node, std::span<const Tensor> inputs) {
  const std::string& kind = node.kind();
  if (node.domain() != "aten") return unsupported(kind, "not an aten op");
  if (inputs.size() != node.numInputs()) {
    return Status::internal("aten kernel: " + kind + " got " + std::to_string(inputs.size()) + " inputs for " +
                            std::to_string(node.numInputs()));
  }
  // Defensive: fold-constants asks op_traits first, but this kernel must not run side
  // effects or randomness whoever calls it.
  const std::string_view name = node.opName();
  if (mutatesInput(node)) return unsupported(kind, "in-place / mutating op");
  if (!isPure(node) || randomByName(name)) return unsupported(kind, "side effects or random results");

  std::vector<InputKind> kinds;
  kinds.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const InputKind inputKind = kindOfType(node.input(i)->type(), inputs[i]);
    if (inputKind == InputKind::Other) {
      return unsupported(kind, "input %" + node.input(i)->name() + " of type " + node.input(i)->type().toString());
    }
    if (inputs[i].dtype() != DType::Undefined) {
      if (isComplexOrExotic(inputs[i].dtype())) {
        return unsupported(kind, std::string(dtypeName(inputs[i].dtype())) + " input %" + node.input(i)->name());
      }
      const size_t size = dtypeSize(inputs[i].dtype());
      if (!inputs[i].hasData() || static_cast<uint64_t>(inputs[i].numel()) > inputs[i].bytes().size() / size) {
        return unsupported(kind, "input %" + node.input(i)->name() + " has no data (elided)");
      }
    }
    kinds.push_back(inputKind);
  }

  std::string opName = kind;  // with the overload name once known
  try {
    c10::InferenceMode inference;  // no autograd bookkeeping for inputs, results and their copies
    const auto& operators = jit::getAllOperatorsFor(c10::Symbol::fromQualString(kind));
    if (operators.empty()) return unsupported(kind, "LibTorch has no operator of this name");
    const std::string* schemaAttr = node.stringAttr("schema");
    Overload overload = schemaAttr != nullptr ? overloadFromSchema(node, *schemaAttr, operators)
                                              : overloadFromTypes(node, kinds, operators);
    if (!overload.op) return unsupported(kind, overload.error);
    const jit::Operator& op = *overload.op;
    const c10::FunctionSchema& schema = op.schema();
    if (!schema.overload_name().empty()) opName += "." + schema.overload_name();
    if (!runnableSchema(op)) return unsupported(opName, "its schema mutates arguments or takes varargs");
    if (takesGenerator(schema)) return unsupported(opName, "random op (takes a Generator)");
    // Without arguments an op can only report process state (is_grad_enabled,
    // is_autocast_enabled...): what this process says is not what the model will see.
    if (schema.arguments().empty()) return unsupported(opName, "reads global state (takes no arguments)");
    const auto& arguments = schema.arguments();
    if (inputs.size() > arguments.size()) {
      return unsupported(opName, std::to_string(inputs.size()) + " inputs for " + std::to_string(arguments.size()) +
                                     " arguments");
    }
    if (schema.returns().size() != node.numOutputs()) {
      return unsupported(opName, std::to_string(schema.returns().size()) + " results for " +
                                     std::to_string(node.numOutputs()) + " outputs");
    }

    jit::Stack stack;
    stack.reserve(arguments.size());
    for (size_t i = 0; i < arguments.size(); ++i) {
      const c10::Argument& argument = arguments[i];
      if (i >= inputs.size()) {
        if (!argument.default_value()) return unsupported(opName, "argument '" + argument.name() + "' is missing");
        stack.push_back(*argument.default_value());
        continue;
      }
      if (matchCost(argument.type(), argument.N(), kinds[i]) < 0) {
        return unsupported(opName, "argument '" + argument.name() + "' (" + argument.type()->repr_str() + ") given %" +
                                       node.input(i)->name() + " of type " + node.input(i)->type().toString());
      }
      Expected<c10::IValue> value = toIValue(argument.type(), argument.N(), kinds[i], inputs[i], node.input(i));
      if (!value) return unsupported(opName, "argument '" + argument.name() + "': " + value.status().message());
      stack.push_back(std::move(value).value());
    }
    if (seededRandom(op, stack)) return unsupported(opName, "random op (nondeterministic_seeded, not train=false)");

    op.getOperation()(stack);
    if (stack.size() != node.numOutputs()) {
      return Status::internal("aten kernel: " + opName + " left " + std::to_string(stack.size()) + " values for " +
                              std::to_string(node.numOutputs()) + " outputs");
    }
    std::vector<Tensor> results;
    results.reserve(stack.size());
    for (size_t i = 0; i < stack.size(); ++i) {
      Expected<Tensor> result = fromIValue(stack[i], node.output(i)->type());
      if (!result) return unsupported(opName, "output %" + node.output(i)->name() + ": " + result.status().message());
      results.push_back(std::move(result).value());
    }
    return results;
  } catch (const std::exception& error) {
    const std::string message = firstLineOf(error);
    // Kernels without this dtype are a limitation, not a broken node.
    if (message.find("not implemented for") != std::string::npos) return unsupported(opName, "LibTorch: " + message);
    return Status::input("aten kernel: LibTorch's " + opName + " failed: " + message);
  }
}

KernelEntry atenKernelEntry() {
  KernelEntry entry;
  entry.opKind = "aten::*";
  entry.summary = "any pure aten op, run by LibTorch's JIT operator for the node's schema (fold-constants)";
  entry.evaluate = evaluateAtenNode;
  return entry;
}

}  // namespace torchport::torchscript
