#include "argument_binding.h"

#include <torch/csrc/jit/ir/constants.h>

#include <algorithm>
#include <set>

namespace torchport::torchscript {

namespace jit = torch::jit;

Expected<jit::Module> findSubmodule(const jit::Module& root, const std::string& path, const std::string& file) {
  jit::Module current = root;
  std::string walked;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t dot = path.find('.', start);
    const std::string name = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const std::string here = walked.empty() ? std::string("the module") : "submodule '" + walked + "'";
    if (name.empty() || !current.hasattr(name) || !current.attr(name).isModule()) {
      std::string children;
      for (const auto& child : current.named_children()) children += (children.empty() ? "" : ", ") + child.name;
      return Status::input(file + ": input: submodule: " + here + " has no submodule '" + name +
                           "' (its submodules: " + (children.empty() ? std::string("none") : children) +
                           "); give a dotted path of submodule attributes, e.g. _model or encoder.0");
    }
    current = current.attr(name).toModule();
    walked += (walked.empty() ? "" : ".") + name;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return current;
}

namespace {

// The IValue an option value stands for, if it fits `type` (Optional[T] accepts null).
std::optional<c10::IValue> valueForArgument(const OptionValue& value, const c10::TypePtr& type) {
  c10::TypePtr target = type;
  if (auto optional = type->cast<c10::OptionalType>()) {
    if (value.isNull()) return c10::IValue();
    target = optional->getElementType();
  }
  switch (target->kind()) {
    case c10::TypeKind::IntType:
      if (value.isInt()) return c10::IValue(value.asInt());
      return std::nullopt;
    case c10::TypeKind::FloatType:
      if (value.isInt() || value.isFloat()) return c10::IValue(value.asFloat());
      return std::nullopt;
    case c10::TypeKind::BoolType:
      if (value.isBool()) return c10::IValue(value.asBool());
      return std::nullopt;
    case c10::TypeKind::StringType:
      if (value.isString()) return c10::IValue(value.asString());
      return std::nullopt;
    case c10::TypeKind::NumberType:  // `Scalar`
      if (value.isInt()) return c10::IValue(value.asInt());
      if (value.isFloat()) return c10::IValue(value.asFloat());
      if (value.isBool()) return c10::IValue(value.asBool());
      return std::nullopt;
    case c10::TypeKind::NoneType:
      if (value.isNull()) return c10::IValue();
      return std::nullopt;
    default: return std::nullopt;
  }
}

std::string argumentList(const c10::FunctionSchema& schema) {
  std::string names;
  for (size_t i = 1; i < schema.arguments().size(); ++i) {
    const c10::Argument& argument = schema.arguments()[i];
    names += (names.empty() ? "" : ", ") + argument.name() + ": " + argument.type()->repr_str();
  }
  return names.empty() ? std::string("none") : names;
}

}  // namespace

Status bindConstantArguments(jit::Graph& graph, const c10::FunctionSchema& schema,
                             const std::vector<std::pair<std::string, OptionValue>>& constants,
                             const std::string& file) {
  if (constants.empty()) return Status::ok();
  const auto& arguments = schema.arguments();
  if (arguments.size() != graph.inputs().size()) {
    return Status::internal(file + ": method " + schema.name() + " has " + std::to_string(arguments.size()) +
                            " arguments but its graph " + std::to_string(graph.inputs().size()) + " inputs");
  }
  // Positions first, then erase from the back so earlier positions stay valid.
  std::vector<std::pair<size_t, c10::IValue>> bound;
  std::set<size_t> seen;
  for (const auto& [name, value] : constants) {
    const std::string where = (value.where().line > 0 ? value.where().toString() + ": " : std::string()) +
                              "input: constants." + name + ": ";
    size_t position = 0;
    for (size_t i = 1; i < arguments.size(); ++i) {
      if (arguments[i].name() == name) position = i;
    }
    if (position == 0) {
      return Status::input(where + "method " + schema.name() + " of " + file + " has no argument '" + name +
                           "' (its arguments: " + argumentList(schema) + ")");
    }
    const c10::TypePtr& type = arguments[position].type();
    if (type->kind() == c10::TypeKind::TensorType) {
      return Status::input(where + "argument '" + name + "' is a tensor; only int, float, bool, string and "
                           "Optional arguments can be bound to a constant (declare tensors under inputs:)");
    }
    std::optional<c10::IValue> constant = valueForArgument(value, type);
    if (!constant) {
      return Status::input(where + "argument '" + name + "' is " + type->repr_str() + ", the value " +
                           value.toString() + " (" + value.typeName() + ") does not fit it");
    }
    if (seen.insert(position).second) bound.emplace_back(position, *constant);
  }
  std::sort(bound.begin(), bound.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (const auto& [position, constant] : bound) {
    jit::Value* input = graph.inputs()[position];
    jit::WithInsertPoint insertPoint(graph.block()->nodes().front());
    jit::Value* replacement = graph.insertConstant(constant);
    input->replaceAllUsesWith(replacement);
    graph.eraseInput(position);
  }
  return Status::ok();
}

size_t flattenDictInputs(jit::Graph& graph, Diagnostics& diagnostics) {
  const c10::Symbol getItem = c10::Symbol::fromQualString("aten::__getitem__");
  size_t flattened = 0;
  for (size_t index = 1; index < graph.inputs().size(); ++index) {
    jit::Value* dict = graph.inputs()[index];
    auto dictType = dict->type()->cast<c10::DictType>();
    if (!dictType || dictType->getKeyType()->kind() != c10::TypeKind::StringType) continue;
    const std::string name = dict->hasDebugName() ? dict->debugNameBase() : "input_" + std::to_string(index - 1);
    // Keys in the order they are first read; every use must be a constant-key read.
    std::vector<std::string> keys;
    std::vector<std::pair<jit::Node*, std::string>> reads;
    if (dict->uses().empty()) continue;
    bool onlyConstantReads = true;
    for (const jit::Use& use : dict->uses()) {
      std::optional<c10::IValue> key;
      if (use.user->kind() == getItem && use.offset == 0) key = jit::toIValue(use.user->input(1));
      if (!key || !key->isString()) {
        onlyConstantReads = false;
        break;
      }
      reads.emplace_back(use.user, key->toStringRef());
    }
    if (!onlyConstantReads) {
      diagnostics.warn("torchscript: dict input '" + name + "' is used other than by d[\"constant key\"] reads; it "
                       "stays one dict input (ONNX has no dict inputs)");
      continue;
    }
    std::sort(reads.begin(), reads.end(), [](const auto& a, const auto& b) { return a.first->isBefore(b.first); });
    for (const auto& read : reads) {
      if (std::find(keys.begin(), keys.end(), read.second) == keys.end()) keys.push_back(read.second);
    }
    std::vector<jit::Value*> inputs;
    for (size_t k = 0; k < keys.size(); ++k) {
      jit::Value* input = graph.insertInput(index + k);
      input->setType(dictType->getValueType());
      input->setDebugName(name + "." + keys[k]);
      inputs.push_back(input);
    }
    for (const auto& [node, key] : reads) {
      const auto position = std::find(keys.begin(), keys.end(), key) - keys.begin();
      node->output()->replaceAllUsesWith(inputs[static_cast<size_t>(position)]);
      node->destroy();
    }
    graph.eraseInput(index + keys.size());
    index += keys.size() - 1;  // keys is not empty: the dict has uses
    ++flattened;
  }
  return flattened;
}

}  // namespace torchport::torchscript
