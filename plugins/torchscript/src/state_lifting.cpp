#include "state_lifting.h"

#include <ATen/ATen.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/passes/constant_propagation.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>

#include <algorithm>
#include <map>
#include <set>

#include "jit_bridge.h"

namespace torchport::torchscript {

namespace jit = torch::jit;

namespace {

// Dotted path of the object a GetAttr chain ending in `object` designates, relative to
// `self`: "" for self, "a.b" for self.a.b; nullopt when the chain does not start at self.
std::optional<std::string> objectPath(const jit::Value* object, const jit::Value* self) {
  std::vector<std::string> names;
  while (object != self) {
    const jit::Node* node = object->node();
    if (node->kind() != c10::prim::GetAttr) return std::nullopt;
    names.push_back(node->s(c10::attr::name));
    object = node->input();
  }
  std::string path;
  for (auto it = names.rbegin(); it != names.rend(); ++it) path += (path.empty() ? "" : ".") + *it;
  return path;
}

std::string join(const std::string& owner, const std::string& name) { return owner.empty() ? name : owner + "." + name; }

// Path of the attribute a GetAttr / SetAttr node reads or writes.
std::optional<std::string> attributeOf(const jit::Node* node, const jit::Value* self) {
  auto owner = objectPath(node->input(0), self);
  if (!owner) return std::nullopt;
  return join(*owner, node->s(c10::attr::name));
}

void collect(jit::Block* block, c10::Symbol kind, std::vector<jit::Node*>& out) {
  for (jit::Node* node : block->nodes()) {
    if (node->kind() == kind) out.push_back(node);
    for (jit::Block* inner : node->blocks()) collect(inner, kind, out);
  }
}

// The object holding attribute `path` and the attribute's last name.
std::pair<c10::intrusive_ptr<c10::ivalue::Object>, std::string> ownerOf(const jit::Module& module,
                                                                      const std::string& path) {
  c10::intrusive_ptr<c10::ivalue::Object> object = module._ivalue();
  size_t start = 0;
  for (size_t dot = path.find('.'); dot != std::string::npos; dot = path.find('.', start)) {
    object = object->getAttr(path.substr(start, dot - start)).toObject();
    start = dot + 1;
  }
  return {object, path.substr(start)};
}

c10::IValue attributeValue(const jit::Module& module, const std::string& path) {
  auto [object, name] = ownerOf(module, path);
  return object->getAttr(name);
}

// ---- SSA renaming of attribute reads and writes ----
using Environment = std::map<std::string, jit::Value*>;

struct Renamer {
  jit::Value* self;
  const std::map<std::string, c10::TypePtr>& types;
  const ModulePaths* paths;

  Status rename(jit::Block* block, Environment& environment) {
    for (auto it = block->nodes().begin(); it != block->nodes().end();) {
      jit::Node* node = *it++;
      if (node->kind() == c10::prim::GetAttr) {
        auto path = attributeOf(node, self);
        if (!path || types.count(*path) == 0) continue;
        node->output()->replaceAllUsesWith(environment.at(*path));
        node->destroy();
        continue;
      }
      if (node->kind() == c10::prim::SetAttr) {
        auto path = attributeOf(node, self);
        if (!path || types.count(*path) == 0) continue;
        environment[*path] = node->input(1);
        node->destroy();
        continue;
      }
      if (node->blocks().empty()) continue;
      if (node->kind() == c10::prim::If) {
        const Environment before = environment;
        Environment thenEnd = before, elseEnd = before;
        TP_RETURN_IF_ERROR(rename(node->blocks()[0], thenEnd));
        TP_RETURN_IF_ERROR(rename(node->blocks()[1], elseEnd));
        for (const auto& [path, value] : before) {
          jit::Value* fromThen = thenEnd.at(path);
          jit::Value* fromElse = elseEnd.at(path);
          if (fromThen == value && fromElse == value) continue;
          node->blocks()[0]->registerOutput(fromThen);
          node->blocks()[1]->registerOutput(fromElse);
          jit::Value* merged = node->addOutput();
          merged->setType(fromThen->type() == fromElse->type() ? fromThen->type() : types.at(path));
          environment[path] = merged;
        }
        continue;
      }
      // Loops and other nested blocks may read the state (captured values) but not assign it.
      for (jit::Block* inner : node->blocks()) {
        Environment local = environment;
        TP_RETURN_IF_ERROR(rename(inner, local));
        for (const auto& [path, value] : local) {
          if (environment.at(path) != value) {
            return Status::unsupported(describeJitNode(node, paths) + " assigns self." + path +
                                       " inside a loop body; explicit state supports assignments at the top level "
                                       "and in if/else branches only. Use input: state: frozen to keep its "
                                       "current value, or move the assignment out of the loop");
          }
        }
      }
    }
    return Status::ok();
  }
};

// ---- example run, to learn the state's shapes ----
struct ExampleArguments {
  std::vector<c10::IValue> first, second;  // symbols at sizes 2 and 3
  std::map<std::string, std::pair<int64_t, int64_t>> symbolSizes;
};

std::optional<ExampleArguments> exampleArguments(const c10::FunctionSchema& schema, const ImportSettings& settings,
                                                 std::string& why) {
  ExampleArguments examples;
  size_t declared = 0;
  at::manual_seed(0);
  for (size_t i = 1; i < schema.arguments().size(); ++i) {
    const c10::Argument& argument = schema.arguments()[i];
    auto bound = std::find_if(settings.constants.begin(), settings.constants.end(),
                              [&](const auto& entry) { return entry.first == argument.name(); });
    if (bound != settings.constants.end()) {
      const OptionValue& value = bound->second;
      c10::IValue constant;
      if (value.isInt()) constant = value.asInt();
      if (value.isFloat()) constant = value.asFloat();
      if (value.isBool()) constant = value.asBool();
      if (value.isString()) constant = value.asString();
      if (argument.type()->kind() == c10::TypeKind::FloatType && value.isInt()) constant = value.asFloat();
      examples.first.push_back(constant);
      examples.second.push_back(constant);
      continue;
    }
    const InputDeclaration* declaration = declared < settings.inputs.size() ? &settings.inputs[declared] : nullptr;
    ++declared;
    const auto kind = argument.type()->kind();
    if (kind == c10::TypeKind::TensorType) {
      if (declaration == nullptr || !declaration->shape) {
        why = "argument '" + argument.name() + "' has no declared shape under input: inputs";
        return std::nullopt;
      }
      std::vector<int64_t> first, second;
      for (const Dim& dim : *declaration->shape) {
        if (dim.isKnown()) {
          first.push_back(dim.size());
          second.push_back(dim.size());
        } else if (dim.isSymbol()) {
          examples.symbolSizes[dim.symbolName()] = {2, 3};
          first.push_back(2);
          second.push_back(3);
        } else {
          why = "argument '" + argument.name() + "' has a dimension of unknown size ('?')";
          return std::nullopt;
        }
      }
      const DType dtype = declaration->dtype.value_or(DType::F32);
      auto make = [&](const std::vector<int64_t>& sizes) {
        at::Tensor tensor = at::randn(sizes);
        if (dtype == DType::F64) return tensor.to(at::kDouble);
        if (dtype == DType::F16) return tensor.to(at::kHalf);
        if (dtype != DType::F32) return at::zeros(sizes, at::kLong).to(dtype == DType::Bool ? at::kBool : at::kLong);
        return tensor;
      };
      examples.first.push_back(make(first));
      examples.second.push_back(make(second));
    } else if (declaration != nullptr && declaration->value) {
      const OptionValue& value = *declaration->value;
      c10::IValue scalar = value.isBool() ? c10::IValue(value.asBool())
                           : value.isInt() && kind != c10::TypeKind::FloatType ? c10::IValue(value.asInt())
                                                                               : c10::IValue(value.asFloat());
      examples.first.push_back(scalar);
      examples.second.push_back(scalar);
    } else if (argument.default_value()) {
      examples.first.push_back(*argument.default_value());
      examples.second.push_back(*argument.default_value());
    } else {
      why = "argument '" + argument.name() + "' has no example value (declare it under input: inputs, or bind it "
            "under input: constants)";
      return std::nullopt;
    }
  }
  if (declared < settings.inputs.size()) {
    why = "input: inputs declares more entries than the method's unbound arguments";
    return std::nullopt;
  }
  return examples;
}

bool sameValue(const c10::IValue& a, const c10::IValue& b) {
  if (a.isTensor() && b.isTensor()) {
    const at::Tensor& x = a.toTensor();
    const at::Tensor& y = b.toTensor();
    if (!x.sizes().equals(y.sizes()) || x.scalar_type() != y.scalar_type()) return false;
    if (x.is_floating_point()) return at::allclose(x, y, 1e-6, 1e-7);
    return at::equal(x, y);
  }
  if (a.isTuple() && b.isTuple()) {
    const auto& x = a.toTupleRef().elements();
    const auto& y = b.toTupleRef().elements();
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i) {
      if (!sameValue(x[i], y[i])) return false;
    }
    return true;
  }
  if (a.isInt() && b.isInt()) return a.toInt() == b.toInt();
  if (a.isDouble() && b.isDouble()) return a.toDouble() == b.toDouble();
  if (a.isBool() && b.isBool()) return a.toBool() == b.toBool();
  if (a.isString() && b.isString()) return a.toStringRef() == b.toStringRef();
  if (a.isNone() && b.isNone()) return true;
  return false;
}

struct StateShapes {
  std::map<std::string, at::Tensor> initial;       // replacement initial values (zeros of the steady shape)
  std::map<std::string, std::vector<Dim>> dims;    // static or symbolic dims of each tensor state
};

// Runs the method from the module's state and from the candidate zero states; see the header.
std::optional<StateShapes> learnStateShapes(const jit::Module& module, const std::string& method,
                                            const std::vector<std::string>& tensorStates,
                                            const ExampleArguments& examples, std::string& why) {
  auto runFrom = [&](const std::map<std::string, at::Tensor>& overrides, const std::vector<c10::IValue>& arguments,
                     std::map<std::string, c10::IValue>& after) {
    jit::Module copy = module.deepcopy();
    for (const auto& [path, value] : overrides) {
      auto [object, name] = ownerOf(copy, path);
      object->setAttr(name, value);
    }
    c10::IValue output = copy.get_method(method)(arguments);
    for (const std::string& path : tensorStates) after[path] = attributeValue(copy, path);
    return output;
  };
  std::map<std::string, c10::IValue> afterFirst, afterSecond, afterCandidate;
  const c10::IValue output = runFrom({}, examples.first, afterFirst);
  runFrom({}, examples.second, afterSecond);

  StateShapes shapes;
  for (const std::string& path : tensorStates) {
    const c10::IValue initial = attributeValue(module, path);
    const c10::IValue& first = afterFirst.at(path);
    const c10::IValue& second = afterSecond.at(path);
    if (!initial.isTensor() || !first.isTensor() || !second.isTensor() ||
        first.toTensor().dim() != second.toTensor().dim()) {
      why = "self." + path + " is not a tensor of a fixed rank after one call";
      return std::nullopt;
    }
    const at::Tensor& a = first.toTensor();
    const at::Tensor& b = second.toTensor();
    std::vector<Dim> dims;
    for (int64_t d = 0; d < a.dim(); ++d) {
      if (a.size(d) == b.size(d)) {
        dims.push_back(Dim::known(a.size(d)));
        continue;
      }
      std::optional<std::string> symbol;
      for (const auto& [name, sizes] : examples.symbolSizes) {
        if (sizes.first == a.size(d) && sizes.second == b.size(d)) symbol = symbol ? std::string() : name;
      }
      dims.push_back(symbol && !symbol->empty() ? Dim::symbol(*symbol) : Dim::unknown());
    }
    shapes.dims[path] = std::move(dims);
    const at::Tensor& start = initial.toTensor();
    if (!start.sizes().equals(a.sizes())) shapes.initial[path] = at::zeros(a.sizes(), a.options());
  }
  if (shapes.initial.empty()) return shapes;
  const c10::IValue candidateOutput = runFrom(shapes.initial, examples.first, afterCandidate);
  if (!sameValue(output, candidateOutput)) {
    why = "starting from zeros of the shapes the state has after one call gives different outputs than starting from "
          "the module's own initial state";
    return std::nullopt;
  }
  for (const std::string& path : tensorStates) {
    if (!sameValue(afterFirst.at(path), afterCandidate.at(path))) {
      why = "starting from zeros of the steady shapes gives a different self." + path + " after one call";
      return std::nullopt;
    }
  }
  return shapes;
}

std::string describeInitial(const c10::IValue& value, const std::vector<Dim>* dims) {
  if (value.isTensor()) {
    const at::Tensor& tensor = value.toTensor();
    std::string shape;
    if (dims != nullptr) {
      for (const Dim& dim : *dims) shape += (shape.empty() ? "" : ",") + dim.toString();
    } else {
      for (int64_t size : tensor.sizes()) shape += (shape.empty() ? "" : ",") + std::to_string(size);
    }
    const bool zeros = tensor.numel() == 0 || at::equal(tensor, at::zeros_like(tensor));
    const auto dtype = dtypeFromScalarType(tensor.scalar_type());
    return std::string(zeros ? "zeros " : "tensor ") + (dtype ? std::string(dtypeName(*dtype)) : "?") + "[" + shape +
           "]";
  }
  if (value.isInt()) return "int " + std::to_string(value.toInt());
  if (value.isDouble()) return "float " + std::to_string(value.toDouble());
  if (value.isBool()) return std::string("bool ") + (value.toBool() ? "true" : "false");
  return value.tagKind() + " value";
}

OptionValue optionFrom(const c10::IValue& value) {
  if (value.isBool()) return boolValue(value.toBool());
  if (value.isInt()) return intValue(value.toInt());
  return floatValue(value.toDouble());
}

// aten::len / dim / size(t, d) of a state input with static dims become constants.
void foldStateSizes(jit::Graph& graph, jit::Value* input, const std::vector<Dim>& dims) {
  std::vector<jit::Node*> users;
  for (const jit::Use& use : input->uses()) {
    if (use.offset == 0) users.push_back(use.user);
  }
  const auto rank = static_cast<int64_t>(dims.size());
  for (jit::Node* user : users) {
    const std::string kind = user->kind().toQualString();
    std::optional<c10::IValue> constant;
    if (kind == "aten::dim" && user->inputs().size() == 1) constant = rank;
    if (kind == "aten::len" && user->inputs().size() == 1 && rank > 0 && dims[0].isKnown()) constant = dims[0].size();
    if (kind == "aten::size" && user->inputs().size() == 2) {
      if (auto dim = jit::toIValue(user->input(1)); dim && dim->isInt()) {
        int64_t d = dim->toInt();
        if (d < 0) d += rank;
        if (d >= 0 && d < rank && dims[static_cast<size_t>(d)].isKnown()) constant = dims[static_cast<size_t>(d)].size();
      }
    }
    if (kind == "aten::size" && user->inputs().size() == 1 &&
        std::all_of(dims.begin(), dims.end(), [](const Dim& dim) { return dim.isKnown(); })) {
      std::vector<int64_t> sizes;
      for (const Dim& dim : dims) sizes.push_back(dim.size());
      constant = c10::IValue(sizes);
    }
    if (!constant) continue;
    jit::WithInsertPoint insertPoint(user);
    user->output()->replaceAllUsesWith(graph.insertConstant(*constant));
    user->destroy();
  }
}

// list[i] and len(list) on constant int lists (ConstantPropagationImmutableTypes leaves
// them: lists are mutable types), e.g. x.size()[0] once x.size() is known.
void foldConstantListReads(jit::Graph& graph, jit::Block* block) {
  for (auto it = block->nodes().begin(); it != block->nodes().end();) {
    jit::Node* node = *it++;
    for (jit::Block* inner : node->blocks()) foldConstantListReads(graph, inner);
    const std::string_view kind = node->kind().toQualString();
    if (kind != "aten::__getitem__" && kind != "aten::len") continue;
    std::optional<c10::IValue> list = jit::toIValue(node->input(0));
    if (!list || !list->isIntList()) continue;
    const std::vector<int64_t> values = list->toIntVector();
    std::optional<c10::IValue> folded;
    if (kind == "aten::len" && node->inputs().size() == 1) folded = static_cast<int64_t>(values.size());
    if (kind == "aten::__getitem__" && node->inputs().size() == 2) {
      if (auto index = jit::toIValue(node->input(1)); index && index->isInt()) {
        int64_t i = index->toInt();
        if (i < 0) i += static_cast<int64_t>(values.size());
        if (i >= 0 && i < static_cast<int64_t>(values.size())) folded = values[static_cast<size_t>(i)];
      }
    }
    if (!folded) continue;
    jit::WithInsertPoint insertPoint(node);
    node->output()->replaceAllUsesWith(graph.insertConstant(*folded));
    node->destroy();
  }
}

// Folds size queries on the declared inputs and the state inputs, then constants, twice
// (an `if` on the input's rank folds, and sizes of what it returned become foldable).
// Outputs are given by index: folding may replace the values that produce them.
void foldKnownSizes(std::shared_ptr<jit::Graph>& graph, const std::vector<std::pair<jit::Value*, std::vector<Dim>>>& known,
                    const std::vector<std::pair<size_t, std::vector<Dim>>>& knownOutputs) {
  for (int round = 0; round < 2; ++round) {
    for (const auto& [input, dims] : known) foldStateSizes(*graph, input, dims);
    for (const auto& [index, dims] : knownOutputs) foldStateSizes(*graph, graph->outputs()[index], dims);
    foldConstantListReads(*graph, graph->block());
    jit::ConstantPropagationImmutableTypes(graph);
    jit::EliminateDeadCode(graph);
  }
}

// Scalar states whose new value is a constant (silero's _last_sr = sr, with sr bound) take
// only two values in a call sequence: the initial one, then that constant. When both give
// the same graph (the "did it change since the last call?" test folds the same way), the
// state is no state: it is bound to the constant and leaves the interface. Returns the
// paths dropped.
std::vector<std::string> dropTrackingStates(std::shared_ptr<jit::Graph>& graph, const std::vector<std::string>& paths,
                                            std::map<std::string, jit::Value*>& inputs,
                                            const std::map<std::string, c10::IValue>& initialValues,
                                            size_t firstStateOutput) {
  struct Candidate {
    std::string path;
    size_t inputIndex;
    size_t outputIndex;
    c10::IValue initial, steady;
  };
  std::vector<Candidate> candidates;
  for (size_t i = 0; i < paths.size(); ++i) {
    jit::Value* input = inputs.at(paths[i]);
    const size_t outputIndex = firstStateOutput + i;
    if (input->type()->kind() == c10::TypeKind::TensorType) continue;
    std::optional<c10::IValue> steady = jit::toIValue(graph->outputs()[outputIndex]);
    const c10::IValue& initial = initialValues.at(paths[i]);
    if (!steady || !(steady->isInt() || steady->isDouble() || steady->isBool())) continue;
    candidates.push_back({paths[i], input->offset(), outputIndex, initial, *steady});
  }
  if (candidates.empty()) return {};
  auto specialized = [&](bool useInitial) {
    std::shared_ptr<jit::Graph> copy = graph->copy();
    for (const Candidate& candidate : candidates) {
      jit::Value* input = copy->inputs()[candidate.inputIndex];
      jit::WithInsertPoint insertPoint(copy->block()->nodes().front());
      input->replaceAllUsesWith(copy->insertConstant(useInitial ? candidate.initial : candidate.steady));
    }
    jit::ConstantPropagationImmutableTypes(copy);
    jit::EliminateDeadCode(copy);
    return copy->toString(false);
  };
  if (specialized(true) != specialized(false)) return {};
  std::vector<std::string> dropped;
  // Erase from the back so that earlier indices stay valid.
  std::sort(candidates.begin(), candidates.end(),
            [](const Candidate& a, const Candidate& b) { return a.inputIndex > b.inputIndex; });
  for (const Candidate& candidate : candidates) {
    jit::Value* input = graph->inputs()[candidate.inputIndex];
    jit::WithInsertPoint insertPoint(graph->block()->nodes().front());
    input->replaceAllUsesWith(graph->insertConstant(candidate.steady));
    graph->eraseInput(candidate.inputIndex);
    graph->eraseOutput(candidate.outputIndex);
    inputs.erase(candidate.path);
    dropped.push_back(candidate.path);
  }
  jit::ConstantPropagationImmutableTypes(graph);
  jit::EliminateDeadCode(graph);
  return dropped;
}

}  // namespace

std::vector<std::string> assignedAttributes(jit::Graph& graph) {
  std::set<std::string> paths;
  if (graph.inputs().empty()) return {};
  std::vector<jit::Node*> writes;
  collect(graph.block(), c10::prim::SetAttr, writes);
  for (jit::Node* write : writes) {
    if (auto path = attributeOf(write, graph.inputs()[0])) paths.insert(*path);
  }
  return {paths.begin(), paths.end()};
}

Expected<LiftedState> liftModuleState(std::shared_ptr<jit::Graph>& graphPointer, const jit::Module& module,
                                      const std::string& method, const ImportSettings& settings,
                                      const std::string& file, Diagnostics& diagnostics) {
  jit::Graph& graph = *graphPointer;
  LiftedState lifted;
  const size_t userInputs = graph.inputs().size() - 1;  // besides self
  const size_t firstStateOutput = graph.outputs().size();
  const std::vector<std::string> assigned = assignedAttributes(graph);
  if (assigned.empty()) return lifted;
  jit::Value* self = graph.inputs()[0];
  const ModulePaths paths({&module});

  std::map<std::string, c10::TypePtr> types;
  for (const std::string& path : assigned) {
    auto [object, name] = ownerOf(module, path);
    types[path] = object->type()->getAttribute(name);
  }

  if (settings.state == ImportSettings::StateMode::Frozen) {
    // Each call starts from the current values (constants); within the call, reads still
    // see earlier writes (same renaming as explicit state, without inputs and outputs).
    Environment environment;
    for (const std::string& path : assigned) {
      c10::IValue value = attributeValue(module, path);
      if (value.isTensor()) value = value.toTensor().detach();
      jit::WithInsertPoint insertPoint(graph.block()->nodes().front());
      auto constant = jit::tryInsertConstant(graph, value);
      if (!constant) {
        return Status::unsupported(file + ": state: frozen: self." + path + " (" + value.tagKind() +
                                   ") cannot be made a constant; use state: explicit");
      }
      if ((*constant)->type()->kind() == c10::TypeKind::TensorType) (*constant)->setDebugName("self." + path);
      environment[path] = *constant;
    }
    Renamer renamer{self, types, &paths};
    TP_RETURN_IF_ERROR(renamer.rename(graph.block(), environment));
    jit::EliminateDeadCode(graph.block());
    std::string list;
    for (const std::string& path : assigned) list += (list.empty() ? "" : ", ") + path;
    diagnostics.warn("torchscript: state: frozen: " + file + " assigns module attributes (" + list +
                     ") in " + method + "; every call starts from their current values (constants) and the "
                     "assignments do not carry over to the next call");
    return lifted;
  }

  // Explicit state: one graph input per assigned attribute, then SSA renaming.
  Environment environment;
  std::map<std::string, jit::Value*> inputs;
  for (const std::string& path : assigned) {
    jit::Value* input = graph.addInput();
    input->setType(types.at(path));
    input->setDebugName("state_in." + path);
    environment[path] = input;
    inputs[path] = input;
  }
  Renamer renamer{self, types, &paths};
  TP_RETURN_IF_ERROR(renamer.rename(graph.block(), environment));
  for (const std::string& path : assigned) graph.registerOutput(environment.at(path));
  jit::EliminateDeadCode(graph.block());

  // Learn the tensor states' steady shapes by running the module on example inputs.
  std::vector<std::string> tensorStates;
  for (const std::string& path : assigned) {
    if (types.at(path)->kind() == c10::TypeKind::TensorType) tensorStates.push_back(path);
  }
  std::optional<StateShapes> shapes;
  std::string why;
  if (!tensorStates.empty()) {
    const c10::FunctionSchema& schema = module.get_method(method).function().getSchema();
    if (auto examples = exampleArguments(schema, settings, why)) {
      try {
        shapes = learnStateShapes(module, method, tensorStates, *examples, why);
      } catch (const std::exception& error) {
        why = "running " + method + " on example inputs failed: " + firstLineOf(error);
      }
    }
    if (!shapes) {
      diagnostics.warn("torchscript: " + file + ": the shapes of the state tensors stay unknown (" + why +
                       "); state inputs start from the module's current values");
    }
  }

  // Sizes of declared inputs and of the states fold; then scalar states that only track
  // the last call's arguments (see dropTrackingStates) leave the interface.
  std::vector<std::pair<jit::Value*, std::vector<Dim>>> knownSizes;
  std::vector<std::pair<size_t, std::vector<Dim>>> knownOutputs;
  if (settings.inputs.size() == userInputs) {
    for (size_t i = 0; i < userInputs; ++i) {
      if (settings.inputs[i].shape) knownSizes.emplace_back(graph.inputs()[i + 1], *settings.inputs[i].shape);
    }
  }
  if (shapes) {
    // The state outputs have the states' shapes too (they are fed back as the inputs).
    for (size_t i = 0; i < assigned.size(); ++i) {
      if (shapes->dims.count(assigned[i]) == 0) continue;
      knownSizes.emplace_back(inputs.at(assigned[i]), shapes->dims.at(assigned[i]));
      knownOutputs.emplace_back(firstStateOutput + i, shapes->dims.at(assigned[i]));
    }
  }
  foldKnownSizes(graphPointer, knownSizes, knownOutputs);
  std::map<std::string, c10::IValue> initialValues;
  for (const std::string& path : assigned) initialValues[path] = attributeValue(module, path);
  const std::vector<std::string> dropped =
      dropTrackingStates(graphPointer, assigned, inputs, initialValues, firstStateOutput);
  for (const std::string& path : dropped) {
    diagnostics.info("torchscript: self." + path + " is set to the same constant by every call and the result does "
                     "not depend on whether it holds its initial value or that constant: it is bound, not state");
  }

  for (const std::string& path : assigned) {
    if (inputs.count(path) == 0) continue;
    lifted.inputNames.push_back("state_in." + path);
    lifted.outputNames.push_back("state_out." + path);
    jit::Value* input = inputs.at(path);
    InputDeclaration declaration;
    declaration.name = "state_in." + path;
    c10::IValue initial = attributeValue(module, path);
    const std::vector<Dim>* dims = nullptr;
    if (input->type()->kind() == c10::TypeKind::TensorType) {
      declaration.dtype = dtypeFromScalarType(initial.toTensor().scalar_type());
      if (shapes) {
        dims = &shapes->dims.at(path);
        declaration.shape = *dims;
        if (auto replaced = shapes->initial.find(path); replaced != shapes->initial.end()) initial = replaced->second;
        std::vector<c10::optional<int64_t>> sizes;
        for (const Dim& dim : *dims) sizes.push_back(dim.isKnown() ? c10::optional<int64_t>(dim.size()) : c10::nullopt);
        input->setType(c10::TensorType::create(initial.toTensor().scalar_type(), c10::Device(c10::kCPU),
                                               c10::SymbolicShape(sizes), c10::VaryingShape<c10::Stride>(sizes.size()),
                                               /*requires_grad=*/false));
        foldStateSizes(graph, input, *dims);
      }
    } else if (initial.isInt() || initial.isDouble() || initial.isBool()) {
      declaration.value = optionFrom(initial);
    }
    const std::string description = declaration.name + ": " + describeInitial(initial, dims);
    lifted.descriptions.push_back(description);
    lifted.declarations.push_back(std::move(declaration));
  }
  std::string list;
  for (const std::string& description : lifted.descriptions) list += "\n  " + description;
  diagnostics.info("torchscript: " + method + " assigns module attributes; they became explicit state (feed each "
                   "state_out.NAME back as state_in.NAME on the next call). Initial values:" + list);
  return lifted;
}

}  // namespace torchport::torchscript
