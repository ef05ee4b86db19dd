// JIT graph -> torchport IR (dialect aten/prim), following the IR conventions: node kinds
// as the JIT prints them, inputs in schema order, the schema string in attribute "schema",
// prim::Constant payloads in "value" (tensors borrowed, never copied), parameter names in
// "param", prim::If / prim::Loop bodies as nested graphs that capture outer values.
#include <algorithm>
#include <set>
#include <sstream>
#include <string_view>

#include "jit_bridge.h"
#include "packed_params.h"

namespace torchport::torchscript {

namespace jit = torch::jit;

// ---------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------
std::optional<DType> dtypeFromScalarType(c10::ScalarType scalarType) {
  switch (scalarType) {
    case c10::ScalarType::Float: return DType::F32;
    case c10::ScalarType::Double: return DType::F64;
    case c10::ScalarType::Half: return DType::F16;
    case c10::ScalarType::BFloat16: return DType::BF16;
    case c10::ScalarType::Char: return DType::I8;
    case c10::ScalarType::Short: return DType::I16;
    case c10::ScalarType::Int: return DType::I32;
    case c10::ScalarType::Long: return DType::I64;
    case c10::ScalarType::Byte: return DType::U8;
    case c10::ScalarType::Bool: return DType::Bool;
    case c10::ScalarType::ComplexFloat: return DType::C64;
    case c10::ScalarType::ComplexDouble: return DType::C128;
    default: return std::nullopt;  // quantized and other exotic element types
  }
}

std::optional<c10::ScalarType> scalarTypeFromDType(DType dtype) {
  switch (dtype) {
    case DType::F32: return c10::ScalarType::Float;
    case DType::F64: return c10::ScalarType::Double;
    case DType::F16: return c10::ScalarType::Half;
    case DType::BF16: return c10::ScalarType::BFloat16;
    case DType::I8: return c10::ScalarType::Char;
    case DType::I16: return c10::ScalarType::Short;
    case DType::I32: return c10::ScalarType::Int;
    case DType::I64: return c10::ScalarType::Long;
    case DType::U8: return c10::ScalarType::Byte;
    case DType::Bool: return c10::ScalarType::Bool;
    case DType::C64: return c10::ScalarType::ComplexFloat;
    case DType::C128: return c10::ScalarType::ComplexDouble;
    default: return std::nullopt;
  }
}

Type typeFromJit(const c10::TypePtr& type) {
  if (type == nullptr) return Type::unknown();
  switch (type->kind()) {
    case c10::TypeKind::TensorType: {
      const auto tensor = type->expect<c10::TensorType>();
      DType dtype = DType::Undefined;
      if (auto scalarType = tensor->scalarType()) dtype = dtypeFromScalarType(*scalarType).value_or(DType::Undefined);
      const c10::SymbolicShape& sizes = tensor->symbolic_sizes();
      if (!sizes.rank()) return Type::tensor(dtype);
      std::vector<Dim> dims;
      for (size_t i = 0; i < *sizes.rank(); ++i) {
        const c10::ShapeSymbol& dim = sizes[i];
        dims.push_back(dim.is_static() ? Dim::known(dim.static_size()) : Dim::unknown());
      }
      return Type::tensor(dtype, std::move(dims));
    }
    case c10::TypeKind::IntType:
    case c10::TypeKind::SymIntType: return Type::scalar(Type::Kind::Int);
    case c10::TypeKind::FloatType: return Type::scalar(Type::Kind::Float);
    case c10::TypeKind::BoolType: return Type::scalar(Type::Kind::Bool);
    case c10::TypeKind::StringType: return Type::scalar(Type::Kind::String);
    case c10::TypeKind::NoneType: return Type::scalar(Type::Kind::None);
    case c10::TypeKind::DeviceObjType: return Type::scalar(Type::Kind::Device);
    case c10::TypeKind::ListType: return Type::list(typeFromJit(type->expect<c10::ListType>()->getElementType()));
    case c10::TypeKind::OptionalType:
      return Type::optional(typeFromJit(type->expect<c10::OptionalType>()->getElementType()));
    case c10::TypeKind::TupleType: {
      std::vector<Type> elements;
      for (const c10::TypePtr& element : type->expect<c10::TupleType>()->elements()) {
        elements.push_back(typeFromJit(element));
      }
      return Type::tuple(std::move(elements));
    }
    case c10::TypeKind::ClassType:
    case c10::TypeKind::InterfaceType: {
      auto named = type->cast<c10::NamedType>();
      return Type::object(named && named->name() ? named->name()->qualifiedName() : type->repr_str());
    }
    default: return Type::unknown();  // Dict, Scalar (int or float), Future, Any...
  }
}

// ---------------------------------------------------------------------------------------
// Provenance
// ---------------------------------------------------------------------------------------
namespace {

bool isSameInstance(const std::string& name) { return name.empty() || name == "SELF" || name == "self"; }

std::string modulePathOf(const jit::Node* node, const ModulePaths* paths) {
  if (auto callstack = node->callstack()) {
    if (paths != nullptr) return paths->pathOf(*callstack);
    // One entry per inlined call, outermost first; calls between methods of the same
    // instance ("SELF") and plain functions carry no new instance name.
    std::string path;
    for (const auto& entry : (*callstack)->vec()) {
      const auto& instance = std::get<2>(entry);
      if (!instance || isSameInstance(instance->instance_name())) continue;
      path += (path.empty() ? "" : ".") + instance->instance_name();
    }
    return path;
  }
  // Graphs traced in this process carry tracer scopes instead: "__module.layer1.0.conv1".
  // (Node::scope() is not const-qualified although it only reads.)
  const jit::ScopePtr scope = const_cast<jit::Node*>(node)->scope();
  if (scope != nullptr && !scope->isBlank()) {
    std::string name = scope->namesFromRoot();
    if (size_t slash = name.rfind('/'); slash != std::string::npos) name = name.substr(slash + 1);
    constexpr std::string_view kPrefix = "__module.";
    if (name.starts_with(kPrefix)) name = name.substr(kPrefix.size());
    return name;
  }
  return {};
}

std::string sourceRangeOf(const jit::Node* node) {
  jit::SourceRange range = node->sourceRange();
  // Loaded code points at the serialized code/ files; the debug records say which Python
  // source line generated it.
  if (auto original = range.findSourceRangeThatGenerated()) range = *original;
  auto fileLine = range.file_line_col();
  if (!fileLine || std::get<0>(*fileLine).empty()) return {};
  return std::get<0>(*fileLine) + ":" + std::to_string(std::get<1>(*fileLine));
}

}  // namespace

ModulePaths::ModulePaths(std::initializer_list<const jit::Module*> roots) {
  for (const jit::Module* root : roots) {
    for (const auto& child : root->named_modules()) {
      if (child.name.empty()) continue;  // the root itself
      const size_t dot = child.name.rfind('.');
      submodules_.push_back(
          {child.name, dot == std::string::npos ? child.name : child.name.substr(dot + 1), child.value.type()});
    }
  }
}

std::string ModulePaths::pathOf(const jit::InlinedCallStackPtr& callstack) const {
  auto cached = cache_.find(callstack.get());
  if (cached != cache_.end()) return cached->second;
  std::string path;
  for (const auto& entry : callstack->vec()) {
    const auto& instance = std::get<2>(entry);
    if (!instance || isSameInstance(instance->instance_name())) continue;
    const std::string& name = instance->instance_name();
    // The nearest submodule below `path` with this attribute name and class type.
    const std::string prefix = path.empty() ? std::string() : path + ".";
    const Submodule* best = nullptr;
    size_t bestDepth = 0;
    bool ambiguous = false;
    for (const Submodule& submodule : submodules_) {
      if (submodule.name != name || submodule.type != instance->class_type() || !submodule.path.starts_with(prefix)) continue;
      const size_t depth = static_cast<size_t>(std::count(submodule.path.begin() + static_cast<std::ptrdiff_t>(prefix.size()),
                                                          submodule.path.end(), '.'));
      if (best == nullptr || depth < bestDepth) {
        best = &submodule;
        bestDepth = depth;
        ambiguous = false;
      } else if (depth == bestDepth && submodule.path != best->path) {
        ambiguous = true;
      }
    }
    path = best != nullptr && !ambiguous ? best->path : prefix + name;
  }
  cache_.emplace(callstack.get(), path);
  return path;
}

Provenance provenanceOf(const jit::Node* node, const ModulePaths* paths) {
  return Provenance{modulePathOf(node, paths), sourceRangeOf(node)};
}

std::string describeJitNode(const jit::Node* node, const ModulePaths* paths) {
  Provenance provenance = provenanceOf(node, paths);
  std::string text = node->kind().toQualString();
  if (!provenance.modulePath.empty()) text += " at " + provenance.modulePath;
  if (!provenance.sourceRange.empty()) text += " (" + provenance.sourceRange + ")";
  return text;
}

std::string firstLineOf(const std::exception& error) {
  // c10::Error keeps the message without the backtrace apart.
  std::string message;
  if (const auto* c10Error = dynamic_cast<const c10::Error*>(&error)) {
    message = c10Error->msg();
  } else {
    message = error.what();
  }
  // JIT errors often start with an empty line or a bare header; take the first line
  // that says something.
  std::istringstream lines(message);
  std::string line;
  while (std::getline(lines, line)) {
    auto begin = line.find_first_not_of(" \t\r");
    if (begin == std::string::npos) continue;
    return line.substr(begin);
  }
  return "unknown LibTorch error";
}

// ---------------------------------------------------------------------------------------
// Conversion
// ---------------------------------------------------------------------------------------
namespace {

// Node kinds that mean the module was not fully frozen/inlined, or code torchport cannot
// represent as a dataflow graph.
bool isUnsupportedKind(c10::Symbol kind) {
  static const std::set<std::string_view> kinds = {
      "prim::CallMethod", "prim::CallFunction", "prim::GetAttr",       "prim::SetAttr",
      "prim::PythonOp",   "prim::fork",         "prim::awaitable",     "prim::Closure",
      "prim::CreateObject", "prim::Enter",      "prim::Exit",          "prim::DifferentiableGraph",
      "prim::FusionGroup", "prim::TensorExprGroup", "prim::CudaFusionGroup", "prim::rpc_async",
  };
  return kinds.count(kind.toQualString()) > 0;
}

std::string unsupportedKindHint(c10::Symbol kind) {
  std::string_view name = kind.toQualString();
  if (name == "prim::CallMethod" || name == "prim::CallFunction") {
    return "a call that freezing could not inline (an interface-typed submodule or a recursive call); call the "
           "concrete submodule directly in forward";
  }
  if (name == "prim::GetAttr" || name == "prim::SetAttr") {
    return "the module reads or writes an attribute that is not a constant after freezing (it is mutated in "
           "forward); compute it locally instead of storing it on self";
  }
  if (name == "prim::PythonOp") return "a Python function call (@torch.jit.ignore); script or remove it";
  if (name == "prim::fork" || name == "prim::awaitable") return "asynchronous execution (torch.jit.fork); call it directly";
  return "not representable as a dataflow graph";
}

class Converter {
 public:
  Converter(const PreparedGraph& prepared, const JitTypeMap& inferred) : prepared_(prepared), inferred_(inferred) {
    for (const std::string& name : prepared.inputNames) reserved_.insert(name);
    for (const std::string& name : prepared.outputNames) reserved_.insert(name);
  }

  Expected<std::unique_ptr<Graph>> run() {
    auto root = std::make_unique<Graph>("main");
    const jit::Graph& source = *prepared_.graph;
    for (size_t i = 0; i < source.inputs().size(); ++i) {
      values_[source.inputs()[i]] = root->addInput(prepared_.inputTypes.at(i), prepared_.inputNames.at(i));
    }
    convertBlock(source.block(), *root);
    if (!problems_.empty()) return unsupportedError();
    if (!fatal_.isOk()) return fatal_;
    TP_RETURN_IF_ERROR(bindOutputs(source, *root));
    return root;
  }

 private:
  Status unsupportedError() const {
    std::string message = prepared_.fileName + ": the TorchScript graph contains constructs torchport cannot import:";
    constexpr size_t kShown = 20;
    for (size_t i = 0; i < problems_.size() && i < kShown; ++i) message += "\n  " + problems_[i];
    if (problems_.size() > kShown) message += "\n  ... and " + std::to_string(problems_.size() - kShown) + " more";
    return Status::unsupported(message);
  }

  void unsupported(const jit::Node* node, const std::string& why) {
    problems_.push_back(describeJitNode(node, prepared_.modulePaths.get()) + ": " + why);
  }

  Provenance provenance(const jit::Node* node) const { return provenanceOf(node, prepared_.modulePaths.get()); }

  Type typeOf(const jit::Value* value) const {
    auto it = inferred_.find(value);
    return it != inferred_.end() ? it->second : typeFromJit(value->type());
  }

  // A name for a new value: the JIT debug name when it has one, never one of the graph's
  // input/output names (those are assigned explicitly).
  std::string freshName(Graph& graph, std::string hint) {
    std::string name = graph.uniqueName(hint);
    while (reserved_.count(name) > 0) {
      hint += '_';
      name = graph.uniqueName(hint);
    }
    return name;
  }

  std::string hintFor(const jit::Value* value) const {
    auto param = prepared_.paramNames.find(value);
    if (param != prepared_.paramNames.end()) return param->second;
    return value->hasDebugName() ? value->debugName() : std::string();
  }

  Value* addOutput(Node* node, const jit::Value* source, Type type) {
    Value* value = node->addOutput(std::move(type), freshName(*node->owningGraph(), hintFor(source)));
    values_[source] = value;
    return value;
  }

  Value* lookup(const jit::Value* value) {
    auto it = values_.find(value);
    return it == values_.end() ? nullptr : it->second;
  }

  void convertBlock(const jit::Block* block, Graph& target) {
    for (const jit::Node* node : block->nodes()) {
      convertNode(node, target);
      if (!fatal_.isOk()) return;
    }
  }

  void convertNode(const jit::Node* node, Graph& target) {
    const c10::Symbol kind = node->kind();
    if (kind == c10::prim::Constant) {
      convertConstant(node, target);
      return;
    }
    if (isUnsupportedKind(kind)) {
      unsupported(node, unsupportedKindHint(kind));
      return;
    }
    std::vector<Value*> inputs;
    for (const jit::Value* input : node->inputs()) {
      Value* mapped = lookup(input);
      // An input made by an unsupported construct: skip the node and go on collecting
      // problems (the import fails anyway).
      if (mapped == nullptr && !problems_.empty()) return;
      if (mapped == nullptr) {
        fatal_ = Status::internal("torchscript importer: input %" + input->debugName() + " of " +
                                  describeJitNode(node, prepared_.modulePaths.get()) +
                                  " was not converted before its use");
        return;
      }
      inputs.push_back(mapped);
    }
    Node* converted = target.appendNode(kind.toQualString(), inputs, 0);
    converted->setProvenance(provenance(node));
    for (const jit::Value* output : node->outputs()) addOutput(converted, output, typeOf(output));
    if (const c10::FunctionSchema* schema = node->maybeSchema()) {
      std::ostringstream text;
      text << *schema;
      converted->setAttribute("schema", text.str());
    }
    copyAttributes(node, converted);

    if (kind == c10::prim::If) {
      convertIf(node, converted, target);
    } else if (kind == c10::prim::Loop) {
      convertLoop(node, converted, target);
    } else if (!node->blocks().empty()) {
      unsupported(node, "a node with nested blocks other than prim::If / prim::Loop");
    }
  }

  void copyAttributes(const jit::Node* node, Node* converted) {
    for (const c10::Symbol& name : node->attributeNames()) {
      const std::string key = name.toUnqualString();
      switch (node->kindOf(name)) {
        case jit::AttributeKind::i: converted->setAttribute(key, node->i(name)); break;
        case jit::AttributeKind::f: converted->setAttribute(key, node->f(name)); break;
        case jit::AttributeKind::s: converted->setAttribute(key, node->s(name)); break;
        case jit::AttributeKind::is: converted->setAttribute(key, node->is(name)); break;
        case jit::AttributeKind::fs: converted->setAttribute(key, node->fs(name)); break;
        case jit::AttributeKind::ss: converted->setAttribute(key, node->ss(name)); break;
        case jit::AttributeKind::t: {
          auto tensor = borrowTensor(node->t(name), node);
          if (tensor) converted->setAttribute(key, std::move(tensor).value());
          break;
        }
        default:
          unsupported(node, "attribute '" + key + "' of kind " + jit::toString(node->kindOf(name)) +
                                " has no torchport equivalent");
      }
    }
  }

  void convertIf(const jit::Node* node, Node* converted, Graph& target) {
    static constexpr const char* kBranchNames[] = {"then", "else"};
    if (node->blocks().size() != 2) {
      unsupported(node, "prim::If with " + std::to_string(node->blocks().size()) + " blocks");
      return;
    }
    for (size_t b = 0; b < 2; ++b) {
      const jit::Block* block = node->blocks()[b];
      GraphPtr branch = target.createSubgraph(kBranchNames[b]);
      convertBlock(block, *branch);
      if (!fatal_.isOk()) return;
      if (!problems_.empty()) continue;  // keep collecting problems in the other branch
      for (const jit::Value* output : block->outputs()) branch->addOutput(lookup(output));
      converted->setAttribute(kBranchNames[b], branch);
    }
  }

  void convertLoop(const jit::Node* node, Node* converted, Graph& target) {
    const jit::Block* block = node->blocks().at(0);
    GraphPtr body = target.createSubgraph("body");
    for (const jit::Value* input : block->inputs()) {
      values_[input] = body->addInput(typeOf(input), freshName(*body, hintFor(input)));
    }
    convertBlock(block, *body);
    if (!fatal_.isOk() || !problems_.empty()) return;  // the import fails anyway
    for (const jit::Value* output : block->outputs()) body->addOutput(lookup(output));
    converted->setAttribute("body", body);
  }

  // ---- constants ----
  Expected<Tensor> borrowTensor(const at::Tensor& source, const jit::Node* node) {
    auto fail = [&](const std::string& why) -> Status {
      unsupported(node, why);
      return Status::unsupported(why);
    };
    if (!source.defined()) return fail("an undefined tensor constant");
    if (source.is_quantized()) {
      return fail("a quantized tensor constant (" + std::string(c10::toString(source.scalar_type())) +
                  "); quantized models are not supported yet");
    }
    if (source.layout() != c10::kStrided || source.is_mkldnn()) return fail("a sparse or MKL-DNN tensor constant");
    auto dtype = dtypeFromScalarType(source.scalar_type());
    if (!dtype) return fail("a tensor constant of element type " + std::string(c10::toString(source.scalar_type())));
    at::Tensor tensor = source;
    if (!tensor.device().is_cpu()) tensor = tensor.to(c10::kCPU);  // torch::jit::load mapped to CPU already
    if (tensor.is_conj()) tensor = tensor.resolve_conj();
    if (tensor.is_neg()) tensor = tensor.resolve_neg();
    // torchport tensors are dense row-major: only strided views need a copy.
    if (!tensor.is_contiguous()) tensor = tensor.contiguous();
    auto keepAlive = std::make_shared<const at::Tensor>(tensor);
    const void* data = tensor.numel() == 0 ? nullptr : tensor.data_ptr();
    std::vector<int64_t> shape(tensor.sizes().begin(), tensor.sizes().end());
    return Tensor(*dtype, std::move(shape), Storage::borrowed(data, tensor.nbytes(), std::move(keepAlive)));
  }

  Node* newConstant(Graph& target, const jit::Node* origin) {
    Node* constant = target.appendNode(kConstKind, {}, 0);
    if (origin != nullptr) constant->setProvenance(provenance(origin));
    return constant;
  }

  void convertConstant(const jit::Node* node, Graph& target) {
    const jit::Value* output = node->output();
    std::optional<c10::IValue> value = jit::toIValue(output);
    if (!value) {
      unsupported(node, "a constant without a value");
      return;
    }
    Value* converted = emitConstant(*value, output->type(), target, node, hintFor(output));
    if (converted == nullptr) return;
    values_[output] = converted;
    auto param = prepared_.paramNames.find(output);
    if (param != prepared_.paramNames.end() && converted->producer() != nullptr) {
      converted->producer()->setAttribute("param", param->second);
    }
  }

  // Emits the constant `value` (of JIT type `type`); lists and tuples of values that have no
  // attribute form (tensors, nested containers) become element constants plus a
  // prim::ListConstruct / prim::TupleConstruct. Returns nullptr after recording a problem.
  Value* emitConstant(const c10::IValue& value, const c10::TypePtr& type, Graph& target, const jit::Node* origin,
                      const std::string& hint) {
    auto scalar = [&](Attribute attribute, Type valueType) {
      Node* constant = newConstant(target, origin);
      constant->setAttribute("value", std::move(attribute));
      return constant->addOutput(std::move(valueType), freshName(target, hint));
    };
    if (value.isTensor()) {
      // Top-level constants are named by convertConstant; elements of list/tuple
      // constants by the parameter whose memory they share.
      const std::string* param = findParameterByData(prepared_.parametersByData, value.toTensor());
      auto tensor = borrowTensor(value.toTensor(), origin);
      if (!tensor) return nullptr;
      Type tensorType = Type::tensor(tensor->dtype(), tensor->shape());
      Node* constant = newConstant(target, origin);
      constant->setAttribute("value", std::move(tensor).value());
      if (param != nullptr) constant->setAttribute("param", *param);
      return constant->addOutput(std::move(tensorType), freshName(target, param != nullptr ? *param : hint));
    }
    if (value.isNone()) {
      Node* constant = newConstant(target, origin);
      return constant->addOutput(Type::scalar(Type::Kind::None), freshName(target, hint));
    }
    if (value.isBool()) return scalar(int64_t{value.toBool() ? 1 : 0}, Type::scalar(Type::Kind::Bool));
    if (value.isInt()) return scalar(value.toInt(), Type::scalar(Type::Kind::Int));
    if (value.isDouble()) return scalar(value.toDouble(), Type::scalar(Type::Kind::Float));
    if (value.isString()) return scalar(value.toStringRef(), Type::scalar(Type::Kind::String));
    if (value.isDevice()) return scalar(value.toDevice().str(), Type::scalar(Type::Kind::Device));
    if (value.isIntList()) {
      auto list = value.toIntVector();
      return scalar(std::vector<int64_t>(list.begin(), list.end()), Type::list(Type::scalar(Type::Kind::Int)));
    }
    if (value.isDoubleList()) {
      auto list = value.toDoubleVector();
      return scalar(std::vector<double>(list.begin(), list.end()), Type::list(Type::scalar(Type::Kind::Float)));
    }
    if (value.isBoolList()) {
      std::vector<int64_t> ints;
      for (bool element : value.toBoolList()) ints.push_back(element ? 1 : 0);
      return scalar(std::move(ints), Type::list(Type::scalar(Type::Kind::Bool)));
    }
    if (value.isList() && type->kind() == c10::TypeKind::ListType &&
        type->expect<c10::ListType>()->getElementType()->kind() == c10::TypeKind::StringType) {
      std::vector<std::string> strings;
      for (const c10::IValue& element : value.toListRef()) strings.push_back(element.toStringRef());
      return scalar(std::move(strings), Type::list(Type::scalar(Type::Kind::String)));
    }
    if (value.isList() || value.isTuple()) {
      std::vector<Value*> elements;
      std::vector<c10::TypePtr> elementTypes;
      if (value.isList()) {
        c10::TypePtr elementType = type->kind() == c10::TypeKind::ListType
                                       ? type->expect<c10::ListType>()->getElementType()
                                       : value.toList().elementType();
        for (const c10::IValue& element : value.toListRef()) {
          Value* converted = emitConstant(element, elementType, target, origin, hint + ".item");
          if (converted == nullptr) return nullptr;
          elements.push_back(converted);
        }
      } else {
        const auto& tupleElements = value.toTupleRef().elements();
        auto tupleType = type->cast<c10::TupleType>();
        for (size_t i = 0; i < tupleElements.size(); ++i) {
          c10::TypePtr elementType = tupleType && i < tupleType->elements().size() ? tupleType->elements()[i]
                                                                                    : tupleElements[i].type();
          Value* converted = emitConstant(tupleElements[i], elementType, target, origin, hint + "." + std::to_string(i));
          if (converted == nullptr) return nullptr;
          elements.push_back(converted);
        }
      }
      Node* construct = target.appendNode(value.isList() ? "prim::ListConstruct" : "prim::TupleConstruct", elements, 0);
      if (origin != nullptr) construct->setProvenance(provenance(origin));
      Type constructType = typeFromJit(type);
      if (value.isTuple()) {
        std::vector<Type> elementTypes;
        for (Value* element : elements) elementTypes.push_back(element->type());
        constructType = Type::tuple(std::move(elementTypes));
      }
      return construct->addOutput(std::move(constructType), freshName(target, hint));
    }
    if (value.isObject()) {
      // Quantized packed params become a tuple of tensors (packed_params.h).
      std::string packedProblem;
      if (std::optional<c10::IValue> unpacked = unpackQuantizedParams(value, packedProblem)) {
        return emitConstant(*unpacked, unpacked->type(), target, origin, hint);
      }
      // Name the op that takes the object: the constant itself has no useful provenance.
      auto named = value.type()->cast<c10::NamedType>();
      const std::string className = named && named->name() ? named->name()->qualifiedName() : value.type()->repr_str();
      const jit::Node* user = origin;
      if (origin != nullptr && origin->outputs().size() == 1 && !origin->output()->uses().empty()) {
        user = origin->output()->uses().front().user;
      }
      if (!packedProblem.empty()) {
        unsupported(user, "takes a constant object that " + packedProblem);
        return nullptr;
      }
      unsupported(user, "takes a constant object of class " + className +
                            "; custom-class objects (quantized packed params, user classes) cannot be imported. "
                            "Export the float model before quantization, or replace the object by tensors");
      return nullptr;
    }
    unsupported(origin, "a constant of type " + value.tagKind() + " (" + type->repr_str() + ")");
    return nullptr;
  }

  // ---- graph outputs ----
  Status bindOutputs(const jit::Graph& source, Graph& root) {
    std::set<const Value*> bound;
    Value* none = nullptr;
    for (size_t i = 0; i < source.outputs().size(); ++i) {
      const std::string& name = prepared_.outputNames.at(i);
      Value* value = lookup(source.outputs()[i]);
      if (value == nullptr) return Status::internal("torchscript importer: graph output " + name + " was not converted");
      // Each output needs its own value (names are the interface): graph inputs and values
      // returned twice go through a copy.
      if (value->isGraphInput() || bound.count(value) > 0) {
        if (!value->type().isTensor()) {
          return Status::unsupported(prepared_.fileName + ": output '" + name + "' returns the " +
                                     (value->isGraphInput() ? "graph input" : "same value as another output") + " %" +
                                     value->name() + " of type " + value->type().toString() +
                                     "; only tensors can be passed through unchanged. Return a computed value instead.");
        }
        if (none == nullptr) {
          none = newConstant(root, nullptr)->addOutput(Type::scalar(Type::Kind::None), freshName(root, "none"));
        }
        Value* inputs[] = {value, none};
        Node* copy = root.appendNode("aten::clone", inputs, 0);
        copy->setAttribute("schema", std::string("aten::clone(Tensor self, *, MemoryFormat? memory_format=None) -> Tensor"));
        value = copy->addOutput(value->type(), freshName(root, name + "_copy"));
      }
      bound.insert(value);
      root.addOutput(value);
      TP_RETURN_IF_ERROR(root.renameValue(value, name));
    }
    return Status::ok();
  }

  const PreparedGraph& prepared_;
  const JitTypeMap& inferred_;
  std::unordered_map<const jit::Value*, Value*> values_;
  std::set<std::string, std::less<>> reserved_;
  std::vector<std::string> problems_;
  Status fatal_;
};

}  // namespace

Expected<std::unique_ptr<Graph>> convertJitGraph(const PreparedGraph& prepared, const JitTypeMap& inferred) {
  try {
    return Converter(prepared, inferred).run();
  } catch (const std::exception& error) {
    return Status::internal(prepared.fileName + ": converting the TorchScript graph failed in LibTorch: " +
                            firstLineOf(error));
  }
}

}  // namespace torchport::torchscript
