#include "import_options.h"

#include <cctype>
#include <set>
#include <utility>

namespace torchport::torchscript {
namespace {


std::string at(const SourceLocation& where) { return where.toString() + ": "; }

bool isSymbolName(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front())) != 0) return false;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_') return false;
  }
  return true;
}

const SourceLocation& locationOf(const OptionValue& value, const SourceLocation& fallback) {
  return value.where().line > 0 ? value.where() : fallback;
}

Expected<std::vector<Dim>> parseShape(const std::string& input, const OptionValue& shape,
                                      const SourceLocation& fallback) {
  const SourceLocation& where = locationOf(shape, fallback);
  if (!shape.isList()) {
    return Status::input(at(where) + "inputs." + input + ".shape must be a list of sizes, e.g. [batch, 3, 224, 224] (got " +
                         shape.typeName() + " " + shape.toString() + ")");
  }
  std::vector<Dim> dims;
  for (const OptionValue& dim : shape.asList()) {
    const SourceLocation& dimWhere = locationOf(dim, where);
    if (dim.isInt()) {
      if (dim.asInt() < 0) {
        return Status::input(at(dimWhere) + "inputs." + input + ".shape: size " + std::to_string(dim.asInt()) +
                             " is negative; use a symbol name (batch) or '?' for a size that varies");
      }
      dims.push_back(Dim::known(dim.asInt()));
    } else if (dim.isNull() || (dim.isString() && dim.asString() == "?")) {
      dims.push_back(Dim::unknown());
    } else if (dim.isString() && isSymbolName(dim.asString())) {
      dims.push_back(Dim::symbol(dim.asString()));
    } else {
      return Status::input(at(dimWhere) + "inputs." + input + ".shape: '" + dim.toString() +
                           "' is not a size: use a non-negative integer, a symbol name such as batch (letters, "
                           "digits, '_'), or '?'");
    }
  }
  return dims;
}

Expected<InputDeclaration> parseDeclaration(const std::string& name, const OptionValue& entry,
                                            const SourceLocation& fallback) {
  InputDeclaration declaration;
  declaration.name = name;
  declaration.where = locationOf(entry, fallback);
  if (name.empty()) return Status::input(at(declaration.where) + "inputs: an input name is empty");
  if (entry.isNull()) return declaration;  // `x:` alone only names the input
  if (!entry.isMap()) {
    return Status::input(at(declaration.where) + "inputs." + name +
                         " must be a map such as {shape: [batch, 3, 224, 224], dtype: float32} (got " +
                         entry.typeName() + ")");
  }
  for (const auto& [key, value] : entry.asMap()) {
    const SourceLocation& where = locationOf(value, declaration.where);
    if (key == "shape") {
      TP_ASSIGN_OR_RETURN(declaration.shape, parseShape(name, value, where));
    } else if (key == "dtype") {
      if (!value.isString()) {
        return Status::input(at(where) + "inputs." + name + ".dtype must be a string such as float32 (got " +
                             value.typeName() + ")");
      }
      declaration.dtype = parseTensorDType(value.asString());
      if (!declaration.dtype) {
        return Status::input(at(where) + "inputs." + name + ".dtype: unknown element type '" + value.asString() +
                             "'; use one of float32, float16, bfloat16, float64, int64, int32, int16, int8, uint8, "
                             "bool");
      }
    } else if (key == "value") {
      if (!value.isInt() && !value.isFloat() && !value.isBool()) {
        return Status::input(at(where) + "inputs." + name +
                             ".value is the example value of a scalar argument and must be an int, float or bool "
                             "(got " + value.typeName() + ")");
      }
      declaration.value = value;
    } else {
      return Status::input(at(where) + "inputs." + name + ": unknown key '" + key +
                           "'; an input takes shape, dtype (tensors) or value (int/float/bool arguments)");
    }
  }
  if (declaration.value && declaration.describesTensor()) {
    return Status::input(at(declaration.where) + "inputs." + name +
                         ": give either shape/dtype (a tensor argument) or value (a scalar argument), not both");
  }
  return declaration;
}

}  // namespace

std::optional<DType> parseTensorDType(std::string_view name) {
  if (name.starts_with("torch.")) name.remove_prefix(6);
  if (name == "float") return DType::F32;  // torch.float
  if (name == "?") return std::nullopt;
  return parseDType(name);
}

namespace {
OptionSpec makeSpec(std::string name, OptionType type, OptionValue defaultValue, std::string doc) {
  OptionSpec spec;
  spec.name = std::move(name);
  spec.type = type;
  spec.defaultValue = std::move(defaultValue);
  spec.doc = std::move(doc);
  return spec;
}
}  // namespace

std::vector<OptionSpec> importerOptionSpecs() {
  std::vector<OptionSpec> specs;
  specs.push_back(makeSpec(
      "inputs", OptionType::Any, {},
      "Graph inputs in forward-argument order: a map name -> {shape: [sizes or symbols], dtype: "
      "float32|float16|int64|int32|bool|...} for tensors, or {value: example} for int/float/bool arguments. "
      "Names rename the arguments; tuple arguments count one entry per element. A shape without dtype means "
      "float32. Without `inputs`, names are the argument names and shapes are unknown."));
  specs.push_back(makeSpec("method", OptionType::String, stringValue("forward"),
                           "Method of the scripted module that becomes the graph."));
  specs.push_back(makeSpec("submodule", OptionType::String, stringValue(""),
                           "Dotted attribute path of a submodule (e.g. _model) whose `method` becomes the graph "
                           "instead of the top-level module's."));
  specs.push_back(makeSpec(
      "constants", OptionType::Any, {},
      "Non-tensor arguments bound to a value, e.g. {sr: 16000}: the argument disappears from the graph's inputs "
      "and the branches that test it fold. Values: int, float, bool, string or null (None)."));
  {
    OptionSpec state = makeSpec(
        "state", OptionType::String, stringValue("explicit"),
        "Module attributes the method assigns (a stateful forward): `explicit` makes each one a graph input "
        "state_in.NAME and output state_out.NAME (feed the outputs back on the next call); `frozen` takes their "
        "current values as constants and drops the assignments.");
    state.choices = {"explicit", "frozen"};
    specs.push_back(std::move(state));
  }
  specs.push_back(makeSpec(
      "infer_shapes", OptionType::Bool, boolValue(true),
      "Learn every value's shape and dtype by running the graph on shape-only (meta) tensors built from "
      "`inputs`, twice with different sizes for each symbol, so symbolic dims stay symbolic."));
  specs.push_back(makeSpec(
      "remove_exception_checks", OptionType::Bool, boolValue(true),
      "Drop input checks that raise (e.g. BatchNorm's 'expected 4D input'): the `if` keeps only the branch that "
      "does not raise, as torch.onnx does. Exported models then no longer validate their inputs."));
  specs.push_back(makeSpec(
      "weights", OptionType::String, {},
      "A state_dict file (torch.save(model.state_dict(), \"model.pth\"); zip or legacy format) bound onto the model "
      "by parameter name before anything else. Read without running code: pickled models and other classes are "
      "refused. Tensors saved on a GPU are loaded to the CPU."));
  specs.push_back(makeSpec("weights_key", OptionType::String, {},
                           "The entry of a checkpoint dictionary that holds the state_dict, e.g. model_state_dict "
                           "(dots walk nested dictionaries)."));
  specs.push_back(makeSpec(
      "strict", OptionType::Bool, boolValue(true),
      "With weights: every parameter and buffer must be in the file with the same shape and dtype, and nothing "
      "else (one error lists all differences). false binds what matches and reports the rest."));
  return specs;
}

Expected<ImportSettings> parseImportSettings(const Options& options) {
  ImportSettings settings;
  settings.method = options.getString("method", "forward");
  if (settings.method.empty()) return Status::input("input: method must name a method of the module, e.g. forward");
  settings.submodule = options.getString("submodule", "");
  const std::string state = options.getString("state", "explicit");
  if (state == "frozen") {
    settings.state = ImportSettings::StateMode::Frozen;
  } else if (state != "explicit") {
    return Status::input("input: state must be explicit or frozen (got '" + state + "')");
  }
  if (const OptionValue* constants = options.get("constants"); constants != nullptr && !constants->isNull()) {
    if (!constants->isMap()) {
      return Status::input(at(constants->where()) + "constants must be a map from argument name to value, e.g. "
                           "constants: {sr: 16000} (got " + constants->typeName() + ")");
    }
    for (const auto& [name, value] : constants->asMap()) {
      if (value.isList() || value.isMap()) {
        return Status::input(at(locationOf(value, constants->where())) + "constants." + name +
                             " must be an int, float, bool, string or null (got " + value.typeName() + ")");
      }
      settings.constants.emplace_back(name, value);
    }
  }
  settings.inferShapes = options.getBool("infer_shapes", true);
  settings.removeExceptionChecks = options.getBool("remove_exception_checks", true);
  settings.weights = options.getString("weights", "");
  settings.weightsKey = options.getString("weights_key", "");
  settings.strictWeights = options.getBool("strict", true);
  if (const OptionValue* weights = options.get("weights"); weights != nullptr) settings.weightsWhere = weights->where();
  if (settings.weights.empty() && !settings.weightsKey.empty()) {
    return Status::input("input: weights_key selects an entry of the weights file; set input: weights: too");
  }

  const OptionValue* inputs = options.get("inputs");
  if (inputs == nullptr || inputs->isNull()) return settings;
  settings.inputsWhere = inputs->where();
  if (!inputs->isMap()) {
    return Status::input(at(inputs->where()) +
                         "inputs must be a map from input name to {shape: [...], dtype: ...}, e.g. inputs: {image: "
                         "{shape: [batch, 3, 224, 224], dtype: float32}} (got " + inputs->typeName() + ")");
  }
  std::set<std::string, std::less<>> seen;
  for (const auto& [name, entry] : inputs->asMap()) {
    TP_ASSIGN_OR_RETURN(InputDeclaration declaration, parseDeclaration(name, entry, inputs->where()));
    if (!seen.insert(name).second) {
      return Status::input(at(declaration.where) + "inputs: input '" + name + "' is declared twice");
    }
    settings.inputs.push_back(std::move(declaration));
  }
  return settings;
}

Status validateImportOptions(const Options& options) { return parseImportSettings(options).status(); }

}  // namespace torchport::torchscript
