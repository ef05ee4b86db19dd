// custom-op (custom_op.h): map an op kind to a custom-domain node or to a textual-IR
// decomposition. The step's options are parsed into a CustomOpSpec twice: by the pre-run
// check (customOpValidator) and again when the step runs, so both see the same rules.
#include "custom_op.h"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "torchport/op_traits.h"
#include "torchport/text_ir.h"

namespace torchport {
namespace {

constexpr std::string_view kStep = "custom-op";
const char* const kAttributeTypes[] = {"int", "float", "string", "ints", "floats", "tensor"};


// "config.yaml:12:7: " for values written in a config; "" for defaults.
std::string at(const SourceLocation& where) { return where.line > 0 ? where.toString() + ": " : std::string(); }
std::string at(const OptionValue* value) { return value == nullptr ? std::string() : at(value->where()); }

// One attribute of the custom-domain node and where its value comes from.
struct AttributeSource {
  enum class From : uint8_t { Literal, Input, SourceAttribute };
  std::string name;
  From from = From::Literal;
  Attribute literal;
  int64_t input = -1;
  std::string sourceAttribute;
  std::string type;  // for From::Input: "" (as stored) or one of kAttributeTypes
  SourceLocation where;
};

struct CustomOpSpec {
  std::string op;
  SourceLocation where;  // of `op`, quoted by run-time errors
  std::string target;
  int64_t arity = -1;
  // Custom-domain node.
  std::string domain;
  std::string name;
  int64_t version = 1;
  bool explicitInputs = false;
  std::vector<int64_t> inputs;
  std::vector<AttributeSource> attributes;
  // Decomposition.
  std::unique_ptr<Graph> decomposition;
};

bool isQualifiedKind(std::string_view kind) {
  const size_t colons = kind.find("::");
  return colons != std::string_view::npos && colons > 0 && colons + 2 < kind.size() &&
         kind.find("::", colons + 2) == std::string_view::npos;
}

bool isDomainName(std::string_view domain) {
  return !domain.empty() && std::all_of(domain.begin(), domain.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}

bool isOpName(std::string_view name) {
  if (name.empty() || (name.front() >= '0' && name.front() <= '9')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool hasNestedGraph(const Node& node) {
  return std::any_of(node.attributes().begin(), node.attributes().end(),
                     [](const auto& entry) { return std::holds_alternative<GraphPtr>(entry.second); });
}

// A literal attribute value written in the config.
Expected<Attribute> literalAttribute(const std::string& name, const OptionValue& value) {
  const std::string where = at(value.where()) + "attribute '" + name + "': ";
  if (value.isBool()) return Attribute(int64_t{value.asBool() ? 1 : 0});
  if (value.isInt()) return Attribute(value.asInt());
  if (value.isFloat()) return Attribute(value.asFloat());
  if (value.isString()) return Attribute(value.asString());
  if (value.isList()) {
    const auto& list = value.asList();
    if (list.empty()) {
      return Status::input(where + "an empty list has no element type; write the attribute in the decomposition "
                                   "form or leave it out");
    }
    if (std::all_of(list.begin(), list.end(), [](const OptionValue& v) { return v.isInt(); })) {
      std::vector<int64_t> ints;
      for (const OptionValue& v : list) ints.push_back(v.asInt());
      return Attribute(std::move(ints));
    }
    if (std::all_of(list.begin(), list.end(), [](const OptionValue& v) { return v.isInt() || v.isFloat(); })) {
      std::vector<double> floats;
      for (const OptionValue& v : list) floats.push_back(v.asFloat());
      return Attribute(std::move(floats));
    }
    if (std::all_of(list.begin(), list.end(), [](const OptionValue& v) { return v.isString(); })) {
      std::vector<std::string> strings;
      for (const OptionValue& v : list) strings.push_back(v.asString());
      return Attribute(std::move(strings));
    }
    return Status::input(where + "a list attribute holds only ints, only numbers or only strings");
  }
  return Status::input(where + "expected a literal (int, float, string, list) or {input: N} / {attribute: NAME}, got " +
                       value.typeName());
}

Expected<AttributeSource> parseAttribute(const std::string& name, const OptionValue& value, int64_t arity) {
  AttributeSource source;
  source.name = name;
  source.where = value.where();
  if (name.empty()) return Status::input(at(value.where()) + "attribute names may not be empty");
  if (!value.isMap()) {
    TP_ASSIGN_OR_RETURN(source.literal, literalAttribute(name, value));
    return source;
  }
  const std::string where = at(value.where()) + "attribute '" + name + "': ";
  const OptionValue* input = value.find("input");
  const OptionValue* attribute = value.find("attribute");
  const OptionValue* type = value.find("type");
  for (const auto& [key, item] : value.asMap()) {
    if (key != "input" && key != "attribute" && key != "type") {
      return Status::input(at(item.where()) + "attribute '" + name + "': unknown key '" + key +
                           "'; use {input: N [, type: T]} or {attribute: NAME}");
    }
  }
  if ((input == nullptr) == (attribute == nullptr)) {
    return Status::input(where + "give exactly one of `input: N` (a constant input of the op) or `attribute: NAME` "
                                 "(an attribute of the op)");
  }
  if (input != nullptr) {
    if (!input->isInt() || input->asInt() < 0) {
      return Status::input(at(input->where()) + "attribute '" + name + "': input must be an input index >= 0, got " +
                           input->toString());
    }
    if (arity >= 0 && input->asInt() >= arity) {
      return Status::input(at(input->where()) + "attribute '" + name + "': input " + std::to_string(input->asInt()) +
                           " is out of range: the op has " + std::to_string(arity) + " input(s) (arity), indices 0.." +
                           std::to_string(arity - 1));
    }
    source.from = AttributeSource::From::Input;
    source.input = input->asInt();
  } else {
    if (!attribute->isString() || attribute->asString().empty()) {
      return Status::input(at(attribute->where()) + "attribute '" + name + "': attribute must be a non-empty name");
    }
    source.from = AttributeSource::From::SourceAttribute;
    source.sourceAttribute = attribute->asString();
  }
  if (type != nullptr) {
    if (source.from != AttributeSource::From::Input) {
      return Status::input(at(type->where()) + "attribute '" + name + "': type applies to {input: N} only");
    }
    const bool known = type->isString() && std::any_of(std::begin(kAttributeTypes), std::end(kAttributeTypes),
                                                         [&](const char* t) { return type->asString() == t; });
    if (!known) {
      return Status::input(at(type->where()) + "attribute '" + name + "': unknown type " + type->toString() +
                           "; use int, float, string, ints, floats or tensor");
    }
    source.type = type->asString();
  }
  return source;
}

// Ops a decomposition may use: the target dialect's own, constants, and ops with a
// converter to the target.
Status checkDecompositionOps(const Graph& body, const CustomOpSpec& spec, const Registry* registry,
                             const std::string& where) {
  std::set<std::string, std::less<>> convertible;
  if (registry != nullptr) {
    for (const ConverterEntry* converter : registry->converters(spec.target)) convertible.insert(converter->opKind);
  }
  for (const Node* node : body.nodes()) {
    if (hasNestedGraph(*node)) {
      return Status::input(where + node->describe() + " has a nested graph; decompositions cannot hold control flow");
    }
    if (node->kind() == spec.op) {
      return Status::input(where + "the decomposition of " + spec.op + " uses " + spec.op +
                           " itself; it must be written with other ops");
    }
    if (node->isConstant() || node->domain() == spec.target || convertible.contains(node->kind())) continue;
    return Status::input(where + "unknown op " + node->kind() + " in the decomposition of " + spec.op + ": use " +
                         spec.target + "::* ops, constants, or ops that have a converter to " + spec.target +
                         " (load the plugin that provides it; `torchport plugins` lists converters)");
  }
  return Status::ok();
}

Expected<std::unique_ptr<Graph>> parseDecomposition(const OptionValue& text, const CustomOpSpec& spec,
                                                    const Registry* registry) {
  const std::string where = at(text.where()) + "decomposition: ";
  auto parsed = parseGraph(text.asString(), "decomposition of " + spec.op);
  if (!parsed.hasValue()) return Status::input(where + parsed.status().message());
  std::unique_ptr<Graph> body = std::move(parsed).value();
  if (body->outputs().empty()) return Status::input(where + "the graph has no outputs; it must return the op's outputs");
  if (spec.arity >= 0 && static_cast<int64_t>(body->inputs().size()) != spec.arity) {
    return Status::input(where + "the graph has " + std::to_string(body->inputs().size()) + " input(s) but arity is " +
                         std::to_string(spec.arity) + "; it must take the op's inputs in order");
  }
  for (const Value* output : body->outputs()) {
    if (output->isGraphInput()) {
      return Status::input(where + "output %" + output->name() +
                           " is an input of the graph; compute it (e.g. with " + spec.target + "::Identity)");
    }
  }
  TP_RETURN_IF_ERROR(checkDecompositionOps(*body, spec, registry, where));
  return body;
}

Expected<CustomOpSpec> parseSpec(const Options& options, const Registry* registry) {
  CustomOpSpec spec;
  const OptionValue* op = options.get("op");
  if (op == nullptr || !op->isString()) return Status::input("option 'op' is required");
  spec.op = op->asString();
  spec.where = op->where();
  if (!isQualifiedKind(spec.op)) {
    return Status::input(at(op) + "op '" + spec.op + "' is not a qualified op kind; write domain::name, e.g. "
                                  "mylib::fancy_act (as `torchport inspect --ir` prints it)");
  }
  if (spec.op.starts_with("prim::Constant")) {
    return Status::input(at(op) + "op prim::Constant cannot be mapped: constants are written by the exporters");
  }
  spec.target = options.getString("target", "onnx");
  if (!isDomainName(spec.target)) {
    return Status::input(at(options.get("target")) + "target '" + spec.target + "' is not a dialect name (e.g. onnx)");
  }
  spec.arity = options.getInt("arity", -1);

  const bool domainMode = !options.getString("domain").empty() || !options.getString("name").empty();
  const OptionValue* decomposition = options.get("decomposition");
  const bool decompositionMode = decomposition != nullptr && decomposition->isString() && !decomposition->asString().empty();
  if (domainMode == decompositionMode) {
    return Status::input(at(op) + "custom-op for " + spec.op + " needs either `domain` + `name` (a custom-domain " +
                         "node) or `decomposition` (a textual-IR graph), " + (domainMode ? "not both" : "got neither"));
  }

  if (decompositionMode) {
    for (const char* key : {"inputs", "attributes"}) {
      if (options.has(key)) {
        return Status::input(at(options.get(key)) + std::string("option '") + key +
                             "' belongs to the custom-domain form; a decomposition receives every input");
      }
    }
    TP_ASSIGN_OR_RETURN(spec.decomposition, parseDecomposition(*decomposition, spec, registry));
    return spec;
  }

  spec.domain = options.getString("domain");
  spec.name = options.getString("name");
  spec.version = options.getInt("version", 1);
  if (!isDomainName(spec.domain)) {
    return Status::input(at(options.get("domain")) + "domain '" + spec.domain +
                         "' must be a non-empty domain name of letters, digits, '.', '_', '-' (e.g. com.example)");
  }
  if (spec.domain == "aten" || spec.domain == "prim") {
    return Status::input(at(options.get("domain")) + "domain '" + spec.domain +
                         "' is a source dialect; map to a custom domain such as com.example");
  }
  if (!isOpName(spec.name)) {
    return Status::input(at(options.get("name")) + "name '" + spec.name +
                         "' must be an op name of letters, digits and '_' (e.g. FancyAct)");
  }
  if (spec.domain + "::" + spec.name == spec.op) {
    return Status::input(at(options.get("name")) + "custom-op maps " + spec.op + " to itself");
  }
  spec.explicitInputs = options.has("inputs");
  if (spec.explicitInputs) {
    const OptionValue* list = options.get("inputs");
    std::set<int64_t> seen;
    for (int64_t index : options.getIntList("inputs")) {
      if (index < 0) return Status::input(at(list) + "inputs: index " + std::to_string(index) + " is negative");
      if (spec.arity >= 0 && index >= spec.arity) {
        return Status::input(at(list) + "inputs: index " + std::to_string(index) + " is out of range: the op has " +
                             std::to_string(spec.arity) + " input(s) (arity)");
      }
      if (!seen.insert(index).second) return Status::input(at(list) + "inputs: index " + std::to_string(index) + " is listed twice");
      spec.inputs.push_back(index);
    }
  }
  if (const OptionValue* attributes = options.get("attributes"); attributes != nullptr && !attributes->isNull()) {
    if (!attributes->isMap()) {
      return Status::input(at(attributes) + "attributes must be a map {name: value | {input: N} | {attribute: NAME}}, got " +
                           attributes->typeName());
    }
    for (const auto& [name, value] : attributes->asMap()) {
      TP_ASSIGN_OR_RETURN(AttributeSource source, parseAttribute(name, value, spec.arity));
      if (source.from == AttributeSource::From::Input &&
          std::find(spec.inputs.begin(), spec.inputs.end(), source.input) != spec.inputs.end()) {
        return Status::input(at(source.where) + "attribute '" + name + "' reads input " + std::to_string(source.input) +
                             ", which `inputs` also passes as a node input; pick one");
      }
      spec.attributes.push_back(std::move(source));
    }
  }
  return spec;
}

// ---------------------------------------------------------------------------------------
// Run time
// ---------------------------------------------------------------------------------------
std::string stepLabel(const CustomOpSpec& spec) {
  return std::string(kStep) + " for " + spec.op + (spec.where.line > 0 ? " (" + spec.where.toString() + ")" : "");
}

Status checkArity(const Node& node, const CustomOpSpec& spec) {
  if (spec.arity >= 0 && static_cast<int64_t>(node.numInputs()) != spec.arity) {
    return Status::input(stepLabel(spec) + ": " + node.describe() + " has " + std::to_string(node.numInputs()) +
                         " input(s) but arity is " + std::to_string(spec.arity) + "; fix `arity` or the mapping");
  }
  return Status::ok();
}

Expected<Attribute> attributeFromInput(const Node& node, const AttributeSource& source, const CustomOpSpec& spec) {
  const std::string prefix = stepLabel(spec) + ": attribute '" + source.name + "' of " + node.describe() + ": ";
  if (source.input >= static_cast<int64_t>(node.numInputs())) {
    return Status::input(prefix + "input " + std::to_string(source.input) + " does not exist (the node has " +
                         std::to_string(node.numInputs()) + ")");
  }
  const Value* value = node.input(static_cast<size_t>(source.input));
  const Node* constant = constantProducer(value);
  const Attribute* stored = constant != nullptr ? constant->findAttribute("value") : nullptr;
  if (stored == nullptr) {
    return Status::input(prefix + "input " + std::to_string(source.input) + " (%" + value->name() +
                         ") is not a constant; attributes need values known before the run (run fold-constants "
                         "first, or pass it as a node input)");
  }
  const std::string& type = source.type;
  if (type.empty()) return *stored;
  if (type == "int") {
    if (auto v = constantInt(value)) return Attribute(*v);
  } else if (type == "float") {
    if (auto v = constantNumber(value)) return Attribute(*v);
  } else if (type == "string") {
    if (const auto* s = std::get_if<std::string>(stored)) return Attribute(*s);
  } else if (type == "ints") {
    if (auto v = constantInts(value)) return Attribute(*v);
  } else if (type == "floats") {
    if (const auto* f = std::get_if<std::vector<double>>(stored)) return Attribute(*f);
    if (const auto* i = std::get_if<std::vector<int64_t>>(stored)) return Attribute(std::vector<double>(i->begin(), i->end()));
    if (const auto* t = std::get_if<Tensor>(stored); t != nullptr && t->hasData() && t->rank() <= 1 &&
                                                      (isFloatingPoint(t->dtype()) || isInteger(t->dtype()))) {
      std::vector<double> floats;
      for (int64_t i = 0; i < t->numel(); ++i) floats.push_back(t->elementAsDouble(i));
      return Attribute(std::move(floats));
    }
  } else if (type == "tensor") {
    if (const auto* t = std::get_if<Tensor>(stored)) return Attribute(*t);
  }
  return Status::input(prefix + "input " + std::to_string(source.input) + " (%" + value->name() +
                       ") holds a " + std::string(attributeKindName(attributeKind(*stored))) + " constant, not a " + type);
}

Status replaceOutputs(Graph& graph, Node& node, const std::vector<Value*>& replacements, const CustomOpSpec& spec) {
  for (size_t i = 0; i < node.numOutputs(); ++i) {
    Value* old = node.output(i);
    Value* replacement = replacements[i];
    if (replacement->type().isUnknown()) replacement->setType(old->type());
    if (!graph.canReplaceAllUsesWith(old, replacement)) {
      return Status::input(stepLabel(spec) + ": cannot rewire output %" + old->name() + " of " + node.describe() +
                           " to %" + replacement->name() + " (a graph input or another graph output)");
    }
    TP_RETURN_IF_ERROR(graph.replaceAllUsesWith(old, replacement));
  }
  return graph.eraseNode(&node);
}

Status mapToDomainNode(Graph& graph, Node& node, const CustomOpSpec& spec) {
  TP_RETURN_IF_ERROR(checkArity(node, spec));
  std::vector<Value*> inputs;
  if (spec.explicitInputs) {
    for (int64_t index : spec.inputs) {
      if (index >= static_cast<int64_t>(node.numInputs())) {
        return Status::input(stepLabel(spec) + ": inputs: index " + std::to_string(index) + " does not exist on " +
                             node.describe() + " (it has " + std::to_string(node.numInputs()) + " input(s))");
      }
      inputs.push_back(node.input(static_cast<size_t>(index)));
    }
  } else {
    for (size_t i = 0; i < node.numInputs(); ++i) {
      const bool readByAttribute = std::any_of(spec.attributes.begin(), spec.attributes.end(), [&](const AttributeSource& a) {
        return a.from == AttributeSource::From::Input && a.input == static_cast<int64_t>(i);
      });
      if (!readByAttribute) inputs.push_back(node.input(i));
    }
  }
  std::vector<std::pair<std::string, Attribute>> attributes;
  for (const AttributeSource& source : spec.attributes) {
    switch (source.from) {
      case AttributeSource::From::Literal:
        attributes.emplace_back(source.name, source.literal);
        break;
      case AttributeSource::From::Input: {
        TP_ASSIGN_OR_RETURN(Attribute value, attributeFromInput(node, source, spec));
        attributes.emplace_back(source.name, std::move(value));
        break;
      }
      case AttributeSource::From::SourceAttribute: {
        const Attribute* value = node.findAttribute(source.sourceAttribute);
        if (value == nullptr) {
          return Status::input(stepLabel(spec) + ": attribute '" + source.name + "' copies attribute '" +
                               source.sourceAttribute + "' of " + node.describe() + ", which it does not have");
        }
        attributes.emplace_back(source.name, *value);
        break;
      }
    }
  }
  Node* replacement = graph.insertNodeBefore(&node, spec.domain + "::" + spec.name, inputs, node.numOutputs());
  replacement->setProvenance(node.provenance());
  for (auto& [name, value] : attributes) replacement->setAttribute(name, std::move(value));
  std::vector<Value*> outputs(replacement->outputs().begin(), replacement->outputs().end());
  return replaceOutputs(graph, node, outputs, spec);
}

Status inlineDecomposition(Graph& graph, Node& node, const CustomOpSpec& spec) {
  TP_RETURN_IF_ERROR(checkArity(node, spec));
  const Graph& body = *spec.decomposition;
  if (body.inputs().size() != node.numInputs() || body.outputs().size() != node.numOutputs()) {
    return Status::input(stepLabel(spec) + ": the decomposition takes " + std::to_string(body.inputs().size()) +
                         " input(s) and returns " + std::to_string(body.outputs().size()) + " output(s), but " +
                         node.describe() + " has " + std::to_string(node.numInputs()) + " input(s) and " +
                         std::to_string(node.numOutputs()) + " output(s)");
  }
  std::unordered_map<const Value*, Value*> mapped;
  for (size_t i = 0; i < node.numInputs(); ++i) mapped[body.inputs()[i]] = node.input(i);
  for (const Node* original : body.nodes()) {
    std::vector<Value*> inputs;
    for (const Value* input : original->inputs()) inputs.push_back(mapped.at(input));
    Node* copy = graph.insertNodeBefore(&node, original->kind(), inputs, original->numOutputs());
    copy->setProvenance(node.provenance());
    for (const auto& [name, value] : original->attributes()) copy->setAttribute(name, value);
    for (size_t i = 0; i < original->numOutputs(); ++i) {
      copy->output(i)->setType(original->output(i)->type());
      // The body's names, made unique, keep the inlined IR readable (%gate rather than %7).
      TP_RETURN_IF_ERROR(graph.renameValue(copy->output(i), graph.uniqueName(original->output(i)->name())));
      mapped[original->output(i)] = copy->output(i);
    }
  }
  std::vector<Value*> outputs;
  for (const Value* output : body.outputs()) outputs.push_back(mapped.at(output));
  return replaceOutputs(graph, node, outputs, spec);
}

// Rewrites every node of `spec.op` in `graph` and its nested graphs; counts them.
Status rewrite(Graph& graph, const CustomOpSpec& spec, size_t& count) {
  for (Node* node : graph.nodeSnapshot()) {
    for (const auto& [name, attribute] : node->attributes()) {
      if (const auto* nested = std::get_if<GraphPtr>(&attribute); nested != nullptr && *nested != nullptr) {
        TP_RETURN_IF_ERROR(rewrite(**nested, spec, count));
      }
    }
    if (node->kind() != spec.op) continue;
    TP_RETURN_IF_ERROR(spec.decomposition ? inlineDecomposition(graph, *node, spec) : mapToDomainNode(graph, *node, spec));
    ++count;
  }
  return Status::ok();
}

// Declares the custom domain for the target: lower-to-<target> keeps its nodes, exporters
// write its version (e.g. save-onnx's opset imports).
Status declareDomain(PassContext& context, const CustomOpSpec& spec) {
  if (spec.domain == spec.target) return Status::ok();
  const std::string key = spec.target + ".domain_versions";
  auto versions = std::make_shared<std::map<std::string, int64_t>>();
  if (auto existing = context.state<std::map<std::string, int64_t>>(key)) *versions = *existing;
  auto [it, inserted] = versions->emplace(spec.domain, spec.version);
  if (!inserted && it->second != spec.version) {
    return Status::input(stepLabel(spec) + ": domain " + spec.domain + " is already used with version " +
                         std::to_string(it->second) + " by an earlier step; one model imports one version of a domain");
  }
  context.setState(key, versions);
  return Status::ok();
}

}  // namespace

PassInfo customOpInfo() {
  PassInfo info;
  info.name = std::string(kStep);
  info.summary = "Map an op kind to a custom-domain node or to a decomposition in textual IR (no C++ needed)";
  info.description =
      "Custom-domain node: every node of kind `op` becomes one `domain::name` node.\n"
      "  custom-op: {op: mylib::fancy_act, domain: com.example, name: FancyAct, version: 1,\n"
      "              attributes: {alpha: {input: 1, type: float}}}\n"
      "  Before:  %y: f32[2] = mylib::fancy_act(%x, %a)      (%a = const float 1.5)\n"
      "  After:   %y: f32[2] = com.example::FancyAct(%x) {alpha=1.5}\n"
      "Attributes are literals, constant inputs ({input: N, type: int|float|string|ints|floats|tensor}) or "
      "attributes of the op ({attribute: NAME}); `inputs` lists the op inputs passed on (default: those no "
      "attribute reads). The domain is declared for `target`, so lower-to-onnx keeps the node and save-onnx "
      "imports the domain at `version`.\n"
      "Decomposition: `decomposition` is a textual-IR graph whose inputs/outputs stand for the op's; its body "
      "replaces each node. It may use target ops (onnx::*), constants, and ops with a converter to the target.\n"
      "Checked before the run, with config line:col: op kinds, the mode, IR syntax, unknown ops in the body, "
      "input indices against `arity`. A step whose op is absent from the graph only warns.";
  OptionSpec op = optionSpec("op", OptionType::String, {}, "op kind to replace, qualified: mylib::fancy_act");
  op.required = true;
  info.options.push_back(std::move(op));
  info.options.push_back(optionSpec("domain", OptionType::String, stringValue(""), "custom domain of the new node (com.example)"));
  info.options.push_back(optionSpec("name", OptionType::String, stringValue(""), "op name of the new node (FancyAct)"));
  OptionSpec version = optionSpec("version", OptionType::Int, intValue(1), "version of the custom domain (opset import)");
  version.minInt = 1;
  info.options.push_back(std::move(version));
  info.options.push_back(optionSpec("inputs", OptionType::IntList, {},
                              "op inputs passed to the new node, in order (default: all that no attribute reads)"));
  info.options.push_back(optionSpec("attributes", OptionType::Any, {},
                              "new node's attributes: {name: literal | {input: N, type: T} | {attribute: NAME}}"));
  info.options.push_back(optionSpec("decomposition", OptionType::String, stringValue(""),
                              "textual-IR graph replacing the op (instead of domain/name)"));
  OptionSpec arity = optionSpec("arity", OptionType::Int, intValue(-1), "expected number of op inputs (-1: not checked)");
  arity.minInt = -1;
  info.options.push_back(std::move(arity));
  info.options.push_back(optionSpec("target", OptionType::String, stringValue("onnx"),
                              "dialect the custom domain belongs to (its lowering keeps the node)"));
  return info;
}

OptionsValidateFn customOpValidator(const Registry& registry) {
  const Registry* known = &registry;
  return [known](const Options& options) -> Status {
    auto spec = parseSpec(options, known);
    return spec.hasValue() ? Status::ok() : spec.status();
  };
}

Status runCustomOp(Graph& graph, PassContext& context) {
  TP_ASSIGN_OR_RETURN(CustomOpSpec spec, parseSpec(context.options(), &context.registry()));
  size_t count = 0;
  TP_RETURN_IF_ERROR(rewrite(graph, spec, count));
  if (count == 0) {
    context.diag().warn(stepLabel(spec) + ": no " + spec.op + " node in the graph; nothing to map (check the op "
                        "kind with `torchport inspect --ir`)");
    return Status::ok();
  }
  if (!spec.decomposition) TP_RETURN_IF_ERROR(declareDomain(context, spec));
  context.setChanged();
  context.report("custom-op." + spec.op, intValue(static_cast<int64_t>(count)));
  context.diag().info(stepLabel(spec) + ": mapped " + std::to_string(count) + " node(s) to " +
                      (spec.decomposition ? std::string("its decomposition") : spec.domain + "::" + spec.name));
  return Status::ok();
}

}  // namespace torchport
