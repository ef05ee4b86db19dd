// torchport IR -> torch::jit::Module (see ir_to_jit.h). Ops with a recorded JIT schema are
// emitted through Graph::insert (LibTorch's own overload matching, which also types the
// outputs); the structural prim ops (lists, tuples, If, Loop, casts) are built directly.
#include "ir_to_jit.h"

#include <ATen/ops/empty.h>
#include <torch/csrc/jit/frontend/function_schema_parser.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/runtime/operator.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>

#include "jit_bridge.h"

namespace torchport::torchscript {

namespace jit = torch::jit;

namespace {

constexpr size_t kModulePathsShown = 3;
constexpr size_t kProblemsShown = 20;

// JIT type of a torchport type; nullptr when TorchScript has no equivalent (unknown, objects).
c10::TypePtr jitTypeOf(const Type& type) {
  switch (type.kind()) {
    case Type::Kind::Tensor: return c10::TensorType::get();
    case Type::Kind::Int: return c10::IntType::get();
    case Type::Kind::Float: return c10::FloatType::get();
    case Type::Kind::Bool: return c10::BoolType::get();
    case Type::Kind::String: return c10::StringType::get();
    case Type::Kind::None: return c10::NoneType::get();
    case Type::Kind::Device: return c10::DeviceObjType::get();
    case Type::Kind::List: {
      c10::TypePtr element = type.elements().empty() ? nullptr : jitTypeOf(type.elements()[0]);
      return element ? c10::ListType::create(element) : nullptr;
    }
    case Type::Kind::Optional: {
      c10::TypePtr element = type.elements().empty() ? nullptr : jitTypeOf(type.elements()[0]);
      return element ? c10::OptionalType::create(element) : nullptr;
    }
    case Type::Kind::Tuple: {
      std::vector<c10::TypePtr> elements;
      for (const Type& element : type.elements()) {
        c10::TypePtr mapped = jitTypeOf(element);
        if (!mapped) return nullptr;
        elements.push_back(std::move(mapped));
      }
      return c10::TupleType::create(std::move(elements));
    }
    default: return nullptr;
  }
}

// Attribute and argument names must be Python identifiers in the saved code.
std::string identifierFor(std::string_view name) {
  static const std::set<std::string_view> kReserved = {
      "self", "training", "forward", "and", "as", "assert", "break", "class", "continue", "def", "del", "elif",
      "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
      "not", "or", "pass", "raise", "return", "try", "while", "with", "yield", "None", "True", "False"};
  std::string out;
  for (char c : name) out += std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' ? c : '_';
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0])) != 0) out = "_" + out;
  if (kReserved.count(out) > 0) out += "_";
  return out;
}

// BatchNorm statistics are buffers in PyTorch; so is anything that cannot carry a gradient.
bool isBufferName(std::string_view param) {
  const size_t dot = param.rfind('.');
  const std::string_view last = dot == std::string_view::npos ? param : param.substr(dot + 1);
  return last == "running_mean" || last == "running_var" || last == "num_batches_tracked";
}

template <class Visit>
void forEachNodeDeep(const Graph& graph, const Visit& visit) {
  for (const Node* node : graph.nodes()) {
    visit(*node);
    for (const auto& [name, attribute] : node->attributes()) {
      if (const auto* nested = std::get_if<GraphPtr>(&attribute); nested != nullptr && *nested != nullptr) {
        forEachNodeDeep(**nested, visit);
      }
    }
  }
}

bool hasJitOperators(const std::string& kind) {
  try {
    return !jit::getAllOperatorsFor(c10::Symbol::fromQualString(kind)).empty();
  } catch (const std::exception&) {
    return false;  // not a well-formed qualified name for the JIT
  }
}

bool isEmittable(const Node& node) {
  if (node.isConstant()) return true;
  const std::string_view domain = node.domain();
  if (domain == "aten" || domain == "prim") return true;
  if (domain == "onnx") return false;  // the JIT knows onnx:: symbols but cannot run them
  return hasJitOperators(node.kind());
}

Expected<at::Tensor> toAtTensor(const Tensor& tensor, const Node& node) {
  if (!tensor.hasData()) {
    return Status::input(node.describe() + ": the tensor constant has no data (elided textual IR); load the model "
                         "with its weights to write TorchScript");
  }
  const auto scalarType = scalarTypeFromDType(tensor.dtype());
  if (!scalarType) {
    return Status::unsupported(node.describe() + ": element type " + std::string(dtypeName(tensor.dtype())) +
                               " has no LibTorch 1.13 equivalent");
  }
  at::Tensor out = at::empty(tensor.shape(), at::TensorOptions().dtype(*scalarType));
  const size_t bytes = tensor.nbytes();
  if (tensor.bytes().size() < bytes) {
    return Status::input(node.describe() + ": the tensor constant holds fewer bytes than its shape needs");
  }
  if (bytes > 0) std::memcpy(out.data_ptr(), tensor.bytes().data(), bytes);
  return out;
}

class Emitter {
 public:
  Emitter(const Graph& source, bool trainable) : source_(source), trainable_(trainable) {}

  Expected<JitModuleBuild> run() {
    auto unit = std::make_shared<jit::CompilationUnit>();
    JitModuleBuild build;
    build.module = jit::Module(c10::QualifiedName("__torch__.TorchportModule"), unit, /*shouldMangle=*/true);
    build.module.register_attribute("training", c10::BoolType::get(), false);
    module_ = &build.module;
    graph_ = std::make_shared<jit::Graph>();
    self_ = graph_->addInput("self");
    self_->setType(build.module.type());
    for (Value* input : source_.inputs()) {
      c10::TypePtr type = jitTypeOf(input->type());
      if (!type) {
        problems_.push_back("graph input %" + input->name() + " has type " + input->type().toString() +
                            ", which a TorchScript forward cannot take (declare it under input: inputs:)");
        continue;
      }
      jit::Value* value = graph_->addInput(identifierFor(input->name()));
      value->setType(type);
      values_[input] = value;
    }
    emitBlock(source_, graph_->block());
    if (source_.outputs().empty()) problems_.push_back("the graph has no outputs");
    std::vector<jit::Value*> outputs;
    for (Value* output : source_.outputs()) {
      auto it = values_.find(output);
      if (it == values_.end()) {
        if (problems_.empty()) problems_.push_back("graph output %" + output->name() + " was not emitted");
        continue;
      }
      outputs.push_back(it->second);
      build.outputNames.push_back(output->name());
    }
    if (!problems_.empty()) return error();
    if (outputs.size() == 1) {
      graph_->registerOutput(outputs[0]);
    } else {
      jit::WithInsertPoint end(graph_->block());
      graph_->registerOutput(graph_->insertNode(graph_->createTuple(outputs))->output());
    }
    jit::Function* forward =
        unit->create_function(c10::QualifiedName(*build.module.type()->name(), "forward"), graph_);
    build.module.type()->addMethod(forward);
    for (const auto& [param, attributes] : parameters_) build.parameterNames.push_back(param);
    return build;
  }

 private:
  struct ParameterAttribute {
    std::string name;
    Tensor source;
  };

  Status error() const {
    std::string message = "save-torchscript: " + std::to_string(problems_.size()) + " problem" +
                          (problems_.size() == 1 ? "" : "s") + " writing the graph as TorchScript:";
    for (size_t i = 0; i < problems_.size() && i < kProblemsShown; ++i) message += "\n  " + problems_[i];
    if (problems_.size() > kProblemsShown) {
      message += "\n  ... and " + std::to_string(problems_.size() - kProblemsShown) + " more";
    }
    return Status::unsupported(message);
  }

  void problem(const Node& node, const std::string& why) { problems_.push_back(node.describe() + ": " + why); }

  void emitBlock(const Graph& graph, jit::Block* block) {
    for (const Node* node : graph.nodes()) emitNode(*node, block);
  }

  void emitNode(const Node& node, jit::Block* block) {
    std::vector<jit::Value*> inputs;
    for (Value* input : node.inputs()) {
      auto it = values_.find(input);
      if (it == values_.end()) {
        // Its producer failed (already reported); anything else is a broken graph.
        if (problems_.empty()) problem(node, "input %" + input->name() + " is not defined before its use");
        return;
      }
      inputs.push_back(it->second);
    }
    jit::WithInsertPoint insertPoint(block);
    std::optional<std::vector<jit::Value*>> outputs;
    try {
      outputs = emitOp(node, inputs);
    } catch (const std::exception& error) {
      problem(node, "LibTorch rejected it: " + firstLineOf(error));
      return;
    }
    if (!outputs) return;
    if (outputs->size() != node.numOutputs()) {
      problem(node, "LibTorch's op gives " + std::to_string(outputs->size()) + " output(s), the node has " +
                        std::to_string(node.numOutputs()));
      return;
    }
    for (size_t i = 0; i < outputs->size(); ++i) values_[node.output(i)] = (*outputs)[i];
  }

  using Outputs = std::optional<std::vector<jit::Value*>>;

  Outputs emitOp(const Node& node, const std::vector<jit::Value*>& inputs) {
    const std::string& kind = node.kind();
    if (node.isConstant()) {
      jit::Value* constant = emitConstant(node);
      if (constant == nullptr) return std::nullopt;
      return std::vector<jit::Value*>{constant};
    }
    if (kind == "prim::ListConstruct") return emitList(node, inputs);
    if (kind == "prim::TupleConstruct") return single(graph_->insertNode(graph_->createTuple(inputs)));
    if (kind == "prim::TupleUnpack" && inputs.size() == 1) {
      if (inputs[0]->type()->kind() != c10::TypeKind::TupleType) {
        problem(node, "unpacks a value of type " + inputs[0]->type()->repr_str() + ", not a tuple");
        return std::nullopt;
      }
      return all(graph_->insertNode(graph_->createTupleUnpack(inputs[0])));
    }
    if (kind == "prim::ListUnpack" && inputs.size() == 1) {
      return all(graph_->insertNode(graph_->createListUnpack(inputs[0], node.numOutputs())));
    }
    if (kind == "prim::TupleIndex" && inputs.size() == 2) return emitTupleIndex(node, inputs);
    if (kind == "prim::unchecked_cast" && inputs.size() == 1 && node.numOutputs() == 1) {
      c10::TypePtr type = jitTypeOf(node.output()->type());
      if (!type) {
        if (auto optional = inputs[0]->type()->cast<c10::OptionalType>()) type = optional->getElementType();
      }
      if (!type) {
        problem(node, "casts to type " + node.output()->type().toString() + ", which TorchScript cannot express");
        return std::nullopt;
      }
      return std::vector<jit::Value*>{graph_->insertUncheckedCast(inputs[0], type)};
    }
    if (kind == "prim::Uninitialized" && node.numOutputs() == 1) {
      c10::TypePtr type = jitTypeOf(node.output()->type());
      if (!type) {
        problem(node, "has type " + node.output()->type().toString() + ", which TorchScript cannot express");
        return std::nullopt;
      }
      return single(graph_->insertNode(graph_->createUninitialized(type)));
    }
    if (kind == "prim::If") return emitIf(node, inputs);
    if (kind == "prim::Loop") return emitLoop(node, inputs);
    return emitCall(node, inputs);
  }

  static Outputs single(jit::Node* node) { return std::vector<jit::Value*>{node->output()}; }
  static Outputs all(jit::Node* node) { return std::vector<jit::Value*>(node->outputs().begin(), node->outputs().end()); }

  // ---- operators ----
  Outputs emitCall(const Node& node, const std::vector<jit::Value*>& inputs) {
    const c10::Symbol symbol = c10::Symbol::fromQualString(node.kind());
    if (jit::getAllOperatorsFor(symbol).empty()) {
      if (node.domain() == "prim") return emitRaw(node, symbol, inputs);
      problem(node, "LibTorch has no operator of this name; it cannot be written as TorchScript");
      return std::nullopt;
    }
    // Inputs follow the schema's argument order; keyword-only ones (alpha=, dtype=) must
    // be passed by name for the schema matcher.
    std::vector<jit::NamedValue> args, kwargs;
    std::optional<c10::FunctionSchema> schema;
    if (const std::string* text = node.stringAttr("schema")) schema = jit::parseSchema(*text);
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (schema && i < schema->arguments().size() && schema->arguments()[i].kwarg_only()) {
        kwargs.emplace_back(schema->arguments()[i].name(), inputs[i]);
      } else {
        args.emplace_back(inputs[i]);
      }
    }
    jit::Value* result = graph_->insert(symbol, args, kwargs);
    if (node.numOutputs() == 1) return std::vector<jit::Value*>{result};
    // Ops with several (or no) results come back packed in a tuple made for the purpose.
    jit::Node* packed = result->node();
    if (packed->kind() != c10::prim::TupleConstruct) return std::vector<jit::Value*>{result};
    std::vector<jit::Value*> outputs(packed->inputs().begin(), packed->inputs().end());
    packed->destroy();
    return outputs;
  }

  // prim ops without a registered operator: the node as is, outputs typed from the IR.
  Outputs emitRaw(const Node& node, c10::Symbol symbol, const std::vector<jit::Value*>& inputs) {
    std::vector<c10::TypePtr> types;
    for (const Value* output : node.outputs()) {
      c10::TypePtr type = jitTypeOf(output->type());
      if (!type) {
        problem(node, "output %" + output->name() + " has type " + output->type().toString() +
                          ", which TorchScript cannot express");
        return std::nullopt;
      }
      types.push_back(std::move(type));
    }
    jit::Node* created = graph_->insertNode(graph_->create(symbol, inputs, 0));
    for (const c10::TypePtr& type : types) created->addOutput()->setType(type);
    return all(created);
  }

  Outputs emitList(const Node& node, const std::vector<jit::Value*>& inputs) {
    // The IR's element type when it fits every element (Tensor?[] for index lists: JIT
    // lists are invariant, so List[Tensor] would not match such a schema), else the
    // elements' unified type.
    c10::TypePtr element;
    if (c10::TypePtr declared = jitTypeOf(node.output()->type())) {
      element = declared->expect<c10::ListType>()->getElementType();
      for (const jit::Value* input : inputs) {
        if (!input->type()->isSubtypeOf(*element)) element = nullptr;
        if (!element) break;
      }
    }
    if (!element && !inputs.empty()) {
      std::vector<c10::TypePtr> types;
      for (const jit::Value* input : inputs) types.push_back(input->type());
      std::ostringstream whyNot;
      if (auto unified = c10::unifyTypeList(types, whyNot)) element = *unified;
    }
    if (!element) {
      problem(node, "cannot tell the element type of this list (type " + node.output()->type().toString() + ")");
      return std::nullopt;
    }
    return single(graph_->insertNode(graph_->createList(element, inputs)));
  }

  Outputs emitTupleIndex(const Node& node, const std::vector<jit::Value*>& inputs) {
    c10::TypePtr type;
    auto tuple = inputs[0]->type()->cast<c10::TupleType>();
    auto index = jit::toIValue(inputs[1]);
    if (tuple && index && index->isInt()) {
      int64_t i = index->toInt();
      const auto count = static_cast<int64_t>(tuple->elements().size());
      if (i < 0) i += count;
      if (i >= 0 && i < count) type = tuple->elements()[static_cast<size_t>(i)];
    }
    if (!type) type = jitTypeOf(node.output()->type());
    if (!type) {
      problem(node, "cannot tell the type of the indexed tuple element");
      return std::nullopt;
    }
    return single(graph_->insertNode(graph_->createTupleIndex(inputs[0], inputs[1], type)));
  }

  // ---- control flow ----
  Outputs emitIf(const Node& node, const std::vector<jit::Value*>& inputs) {
    GraphPtr branches[] = {node.graphAttr("then"), node.graphAttr("else")};
    if (inputs.size() != 1 || !branches[0] || !branches[1]) {
      problem(node, "prim::If needs one condition and graph attributes 'then' and 'else'");
      return std::nullopt;
    }
    jit::Node* created = graph_->insertNode(graph_->create(c10::prim::If, inputs, 0));
    for (const GraphPtr& branch : branches) {
      if (branch->outputs().size() != node.numOutputs()) {
        problem(node, "branch '" + branch->name() + "' returns " + std::to_string(branch->outputs().size()) +
                          " value(s), the node has " + std::to_string(node.numOutputs()) + " output(s)");
        return std::nullopt;
      }
      jit::Block* block = created->addBlock();
      emitBlock(*branch, block);
      for (Value* output : branch->outputs()) {
        auto it = values_.find(output);
        if (it == values_.end()) {
          if (problems_.empty()) problem(node, "branch output %" + output->name() + " is not defined in the branch");
          return std::nullopt;  // else reported inside the branch
        }
        block->registerOutput(it->second);
      }
    }
    for (size_t i = 0; i < node.numOutputs(); ++i) {
      auto unified = c10::unifyTypes(created->blocks()[0]->outputs()[i]->type(), created->blocks()[1]->outputs()[i]->type());
      c10::TypePtr type = unified ? *unified : jitTypeOf(node.output(i)->type());
      if (!type) {
        problem(node, "the branches return different types for output %" + node.output(i)->name());
        return std::nullopt;
      }
      created->addOutput()->setType(type);
    }
    return all(created);
  }

  Outputs emitLoop(const Node& node, const std::vector<jit::Value*>& inputs) {
    GraphPtr body = node.graphAttr("body");
    const size_t carried = inputs.size() < 2 ? 0 : inputs.size() - 2;
    if (!body || inputs.size() < 2 || body->inputs().size() != carried + 1 || body->outputs().size() != carried + 1 ||
        node.numOutputs() != carried) {
      problem(node, "prim::Loop needs (max_trip, cond, carried...) with a 'body' graph taking (iter, carried...) and "
                    "returning (cond, carried...)");
      return std::nullopt;
    }
    jit::Node* created = graph_->insertNode(graph_->create(c10::prim::Loop, inputs, 0));
    jit::Block* block = created->addBlock();
    jit::Value* iteration = block->addInput(identifierFor(body->inputs()[0]->name()));
    iteration->setType(c10::IntType::get());
    values_[body->inputs()[0]] = iteration;
    for (size_t i = 0; i < carried; ++i) {
      jit::Value* value = block->addInput();
      value->setType(inputs[2 + i]->type());
      values_[body->inputs()[i + 1]] = value;
    }
    emitBlock(*body, block);
    for (Value* output : body->outputs()) {
      auto it = values_.find(output);
      if (it == values_.end()) {
        if (problems_.empty()) problem(node, "body output %" + output->name() + " is not defined in the body");
        return std::nullopt;  // else reported inside the body
      }
      block->registerOutput(it->second);
    }
    for (size_t i = 0; i < carried; ++i) created->addOutput()->setType(inputs[2 + i]->type());
    return all(created);
  }

  // ---- constants ----
  jit::Value* emitConstant(const Node& node) {
    if (node.numOutputs() != 1) {
      problem(node, "a constant must have exactly one output");
      return nullptr;
    }
    const Type& type = node.output()->type();
    const torchport::Attribute* value = node.findAttribute("value");
    if (value == nullptr) return graph_->insertConstant(c10::IValue());
    if (const auto* tensor = std::get_if<Tensor>(value)) {
      Expected<at::Tensor> converted = toAtTensor(*tensor, node);
      if (!converted) {
        problems_.push_back(converted.status().message());
        return nullptr;
      }
      if (const std::string* param = node.stringAttr("param")) return readParameter(*param, *tensor, *converted);
      return graph_->insertConstant(*converted);
    }
    if (const auto* integer = std::get_if<int64_t>(value)) {
      if (type.kind() == Type::Kind::Bool) return graph_->insertConstant(*integer != 0);
      if (type.kind() == Type::Kind::Float) return graph_->insertConstant(static_cast<double>(*integer));
      return graph_->insertConstant(*integer);
    }
    if (const auto* real = std::get_if<double>(value)) return graph_->insertConstant(*real);
    if (const auto* text = std::get_if<std::string>(value)) {
      if (type.kind() == Type::Kind::Device) return graph_->insertConstant(c10::Device(*text));
      return graph_->insertConstant(*text);
    }
    if (const auto* ints = std::get_if<std::vector<int64_t>>(value)) {
      const bool bools = type.kind() == Type::Kind::List && !type.elements().empty() &&
                         type.elements()[0].kind() == Type::Kind::Bool;
      if (bools) {
        c10::List<bool> list;
        for (int64_t element : *ints) list.push_back(element != 0);
        return graph_->insertConstant(list);
      }
      return graph_->insertConstant(*ints);
    }
    if (const auto* floats = std::get_if<std::vector<double>>(value)) return graph_->insertConstant(*floats);
    if (const auto* strings = std::get_if<std::vector<std::string>>(value)) {
      c10::List<std::string> list;
      for (const std::string& element : *strings) list.push_back(element);
      return graph_->insertConstant(list);
    }
    problem(node, "a constant whose value attribute has no TorchScript form");
    return nullptr;
  }

  // A parameter becomes a module attribute read from `self`. Constants naming the same
  // parameter share it unless a pass changed one of them (then each gets its own).
  jit::Value* readParameter(const std::string& param, const Tensor& source, at::Tensor tensor) {
    std::vector<ParameterAttribute>& known = parameters_[param];
    const ParameterAttribute* attribute = nullptr;
    for (const ParameterAttribute& candidate : known) {
      const bool sameView = candidate.source.storage() == source.storage() &&
                            candidate.source.byteOffset() == source.byteOffset() &&
                            candidate.source.shape() == source.shape() && candidate.source.dtype() == source.dtype();
      if (sameView || candidate.source.contentEquals(source)) {
        attribute = &candidate;
        break;
      }
    }
    if (attribute == nullptr) {
      std::string name = identifierFor(param);
      for (int suffix = 1; usedAttributes_.count(name) > 0; ++suffix) name = identifierFor(param) + "_" + std::to_string(suffix);
      usedAttributes_.insert(name);
      const bool buffer = isBufferName(param) || !tensor.is_floating_point();
      if (trainable_ && !buffer) tensor.set_requires_grad(true);
      module_->register_parameter(name, tensor, buffer);
      known.push_back({name, source});
      attribute = &known.back();
    }
    return graph_->insertNode(graph_->createGetAttr(self_, attribute->name))->output();
  }

  const Graph& source_;
  bool trainable_;
  jit::Module* module_ = nullptr;
  std::shared_ptr<jit::Graph> graph_;
  jit::Value* self_ = nullptr;
  std::unordered_map<const Value*, jit::Value*> values_;
  std::map<std::string, std::vector<ParameterAttribute>> parameters_;
  std::set<std::string> usedAttributes_ = {"training"};
  std::vector<std::string> problems_;
};

}  // namespace

std::vector<std::string> findNonTorchScriptOps(const Graph& graph) {
  struct Seen {
    size_t count = 0;
    std::vector<std::string> paths;
  };
  std::map<std::string, Seen> byKind;
  forEachNodeDeep(graph, [&](const Node& node) {
    if (isEmittable(node)) return;
    Seen& seen = byKind[node.kind()];
    ++seen.count;
    const std::string& path = node.provenance().modulePath;
    if (!path.empty() && seen.paths.size() < kModulePathsShown &&
        std::find(seen.paths.begin(), seen.paths.end(), path) == seen.paths.end()) {
      seen.paths.push_back(path);
    }
  });
  std::vector<std::string> lines;
  for (const auto& [kind, seen] : byKind) {
    std::string line = kind + " x" + std::to_string(seen.count);
    if (!seen.paths.empty()) {
      line += " (at ";
      for (size_t i = 0; i < seen.paths.size(); ++i) line += (i > 0 ? ", " : "") + seen.paths[i];
      if (seen.count > seen.paths.size()) line += ", ...";
      line += ")";
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

Expected<JitModuleBuild> buildJitModule(const Graph& graph, bool trainable) {
  try {
    return Emitter(graph, trainable).run();
  } catch (const std::exception& error) {
    return Status::internal("save-torchscript: building the TorchScript module failed in LibTorch: " +
                            firstLineOf(error));
  }
}

}  // namespace torchport::torchscript
