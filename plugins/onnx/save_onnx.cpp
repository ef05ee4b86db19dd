#include "save_onnx.h"

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include "converter_utils.h"
#include "lower_to_onnx.h"
#include "torchport/files.h"

// Exported by libonnx 1.12 but not declared in its checker.h: check_model with a context,
// which lets external-data locations resolve against a directory of our choice.
namespace onnx::checker {
void check_model(const ModelProto& model, CheckerContext& ctx);
}  // namespace onnx::checker

#ifndef TORCHPORT_ONNX_VERSION
#define TORCHPORT_ONNX_VERSION "0.1.0"
#endif

namespace torchport::onnxplugin {
namespace {

constexpr uint64_t kProtobufLimit = (uint64_t{1} << 31) - 1;
// `auto` keeps a margin for the graph itself below protobuf's hard limit.
constexpr uint64_t kAutoExternalLimit = kProtobufLimit - (uint64_t{64} << 20);
constexpr uint64_t kExternalAlignment = 4096;
constexpr int kCheckerMaxOpset = 17;

OptionValue listValue(OptionValue::List v = {}) { return OptionValue(OptionValue::Data(std::in_place_type<OptionValue::List>, std::move(v))); }
OptionValue mapValue(OptionValue::Map v = {}) { return OptionValue(OptionValue::Data(std::in_place_type<OptionValue::Map>, std::move(v))); }

// ---------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------
using AxisMap = std::map<int64_t, std::string>;

struct Settings {
  std::filesystem::path path;
  std::vector<std::string> inputNames, outputNames;
  std::map<std::string, AxisMap> dynamicAxes;
  std::string externalData = "auto";
  int64_t externalThreshold = 1024;
  std::string producerName, producerVersion, docString;
  int64_t modelVersion = 0;
  std::vector<std::pair<std::string, std::string>> metadata;
  bool check = true;
};

std::string where(const OptionValue& v) {
  const std::string w = v.where().toString();
  return w.empty() || w == "<pipeline>" ? std::string("save-onnx") : "save-onnx (" + w + ")";
}

Expected<std::map<std::string, AxisMap>> parseDynamicAxes(const OptionValue* value) {
  std::map<std::string, AxisMap> out;
  if (value == nullptr || value->isNull()) return out;
  if (!value->isMap())
    return Status::usage(where(*value) + ": dynamic_axes must be a map {name: {axis: symbol}} or {name: [axes]}, got " +
                         value->typeName());
  for (const auto& [name, axes] : value->asMap()) {
    AxisMap& target = out[name];
    if (axes.isList()) {
      for (const OptionValue& a : axes.asList()) {
        if (!a.isInt() || a.asInt() < 0)
          return Status::usage(where(a) + ": dynamic_axes." + name + " must list non-negative axis indices, got " + a.toString());
        target[a.asInt()] = name + "_dynamic_axis_" + std::to_string(a.asInt());
      }
    } else if (axes.isMap()) {
      for (const auto& [axisText, symbol] : axes.asMap()) {
        int64_t axis = -1;
        try {
          size_t used = 0;
          axis = std::stoll(axisText, &used);
          if (used != axisText.size()) axis = -1;
        } catch (const std::exception&) {
          axis = -1;
        }
        if (axis < 0)
          return Status::usage(where(symbol) + ": dynamic_axes." + name + " key '" + axisText +
                               "' is not a non-negative axis index");
        if (!symbol.isString() || symbol.asString().empty())
          return Status::usage(where(symbol) + ": dynamic_axes." + name + "." + axisText + " must be a symbol name, got " +
                               symbol.toString());
        target[axis] = symbol.asString();
      }
    } else {
      return Status::usage(where(axes) + ": dynamic_axes." + name + " must be {axis: symbol} or a list of axes, got " +
                           axes.typeName());
    }
  }
  return out;
}

Expected<Settings> readSettings(const Options& options, const PassContext* context) {
  Settings s;
  const std::string path = options.getString("path");
  if (path.empty()) return Status::usage("save-onnx: option 'path' is required (the .onnx file to write)");
  s.path = context != nullptr ? context->resolvePath(path) : std::filesystem::path(path);
  s.inputNames = options.getStringList("input_names");
  s.outputNames = options.getStringList("output_names");
  TP_TRY(s.dynamicAxes, parseDynamicAxes(options.get("dynamic_axes")));
  s.externalData = options.getString("external_data", "auto");
  if (s.externalData != "auto" && s.externalData != "always" && s.externalData != "never")
    return Status::usage("save-onnx: external_data must be auto, always or never, got '" + s.externalData + "'");
  s.externalThreshold = options.getInt("external_data_threshold", 1024);
  if (s.externalThreshold < 0) return Status::usage("save-onnx: external_data_threshold must be >= 0");
  s.producerName = options.getString("producer_name", "torchport");
  s.producerVersion = options.getString("producer_version", TORCHPORT_ONNX_VERSION);
  s.docString = options.getString("doc_string");
  s.modelVersion = options.getInt("model_version", 0);
  s.check = options.getBool("check", true);
  if (const OptionValue* m = options.get("metadata"); m != nullptr && !m->isNull()) {
    if (!m->isMap()) return Status::usage(where(*m) + ": metadata must be a map of string keys to values");
    for (const auto& [key, value] : m->asMap()) {
      if (value.isMap() || value.isList())
        return Status::usage(where(value) + ": metadata." + key + " must be a scalar (string, number or bool)");
      s.metadata.emplace_back(key, value.isString() ? value.asString() : value.toString());
    }
  }
  auto duplicates = [](const std::vector<std::string>& names) -> std::string {
    std::set<std::string> seen;
    for (const auto& n : names)
      if (!seen.insert(n).second) return n;
    return {};
  };
  if (auto d = duplicates(s.inputNames); !d.empty()) return Status::usage("save-onnx: input_names lists '" + d + "' twice");
  if (auto d = duplicates(s.outputNames); !d.empty()) return Status::usage("save-onnx: output_names lists '" + d + "' twice");
  for (const auto& n : s.inputNames)
    if (n.empty()) return Status::usage("save-onnx: input_names contains an empty name");
  for (const auto& n : s.outputNames)
    if (n.empty()) return Status::usage("save-onnx: output_names contains an empty name");
  return s;
}

// ---------------------------------------------------------------------------------------
// Conversions to protobuf
// ---------------------------------------------------------------------------------------
Status fillTensor(const Tensor& tensor, onnx::TensorProto* out, const std::string& what) {
  const int64_t code = onnxDataType(tensor.dtype());
  if (code == 0)
    return Status::unsupported("save-onnx: " + what + " has dtype " + std::string(dtypeName(tensor.dtype())) +
                               ", which ONNX cannot store");
  if (!tensor.hasData() && tensor.numel() != 0)
    return Status::input("save-onnx: " + what + " has no data (its values were elided, e.g. in textual IR); "
                         "bind the weights (input.weights) or load the real model before saving");
  out->set_data_type(static_cast<int32_t>(code));
  for (int64_t d : tensor.shape()) out->add_dims(d);
  auto bytes = tensor.bytes();
  out->set_raw_data(bytes.data(), bytes.size());
  return Status::ok();
}

Tensor tensorFromScalarPayload(const Attribute& payload, const Type& type, bool& ok) {
  ok = true;
  if (auto* i = std::get_if<int64_t>(&payload)) {
    if (type.kind() == Type::Kind::Bool)
      return Tensor::fromVector(DType::Bool, {}, std::vector<uint8_t>{static_cast<uint8_t>(*i != 0)});
    return Tensor::fromVector(DType::I64, {}, std::vector<int64_t>{*i});
  }
  if (auto* d = std::get_if<double>(&payload)) return Tensor::fromVector(DType::F32, {}, std::vector<float>{static_cast<float>(*d)});
  if (auto* l = std::get_if<std::vector<int64_t>>(&payload))
    return Tensor::fromVector(DType::I64, {static_cast<int64_t>(l->size())}, *l);
  if (auto* l = std::get_if<std::vector<double>>(&payload)) {
    std::vector<float> f(l->begin(), l->end());
    return Tensor::fromVector(DType::F32, {static_cast<int64_t>(f.size())}, f);
  }
  ok = false;
  return {};
}

// Nodes that are not ONNX: aten/prim ops (constants aside).
void collectForeign(const Graph& graph, std::map<std::string, size_t>& kinds) {
  for (Node* node : graph.nodes()) {
    if (!node->isConstant() && (node->domain() == "aten" || node->domain() == "prim" || node->domain().empty()))
      ++kinds[node->kind()];
    for (const auto& [name, attribute] : node->attributes())
      if (const auto* g = std::get_if<GraphPtr>(&attribute); g != nullptr && *g != nullptr) collectForeign(**g, kinds);
  }
}

struct ExternalTensor {
  Tensor tensor;
  uint64_t offset;
};

class ModelBuilder {
 public:
  ModelBuilder(const Graph& graph, const Settings& settings) : graph_(graph), settings_(settings) {}

  Status build(onnx::ModelProto& model, int64_t opset, const std::map<std::string, int64_t>& domainVersions);

  size_t initializerCount() const { return initializers_.size(); }
  size_t deduplicated() const { return deduplicated_; }
  uint64_t initializerBytes() const { return initializerBytes_; }
  const std::vector<ExternalTensor>& externals() const { return externals_; }
  bool relaxedShapes() const { return relax_; }
  // Main-graph outputs whose dtype or rank the lowering could not tell.
  const std::vector<std::string>& untypedOutputs() const { return untypedOutputs_; }

 private:
  struct Initializer {
    Tensor tensor;
    std::string name;
  };

  Status assignNames();
  Status collectConstants(const Graph& graph);
  Status buildGraph(const Graph& graph, onnx::GraphProto* out, bool isMain);
  Status fillNode(const Node& node, onnx::NodeProto* out);
  Status fillAttribute(const std::string& name, const Attribute& value, onnx::AttributeProto* out, const Node& node);
  Status fillValueInfo(const Value* value, const std::string& name, onnx::ValueInfoProto* out, bool requireType,
                       const AxisMap* axes, bool keepKnownDims);
  std::string uniqueName(const std::string& hint);
  const std::string& nameOf(const Value* value) const;

  const Graph& graph_;
  const Settings& settings_;
  std::unordered_map<const Value*, std::string> names_;
  std::set<std::string> used_;
  std::vector<Initializer> initializers_;
  std::unordered_map<uint64_t, std::vector<size_t>> byHash_;
  std::set<std::string> domains_;
  std::vector<ExternalTensor> externals_;
  size_t nodeCounter_ = 0;
  size_t deduplicated_ = 0;
  uint64_t initializerBytes_ = 0;
  bool relax_ = false;
  std::vector<std::string> untypedOutputs_;
};

std::string ModelBuilder::uniqueName(const std::string& hint) {
  std::string base = hint.empty() ? std::string("value") : hint;
  if (used_.insert(base).second) return base;
  for (size_t i = 1;; ++i) {
    std::string candidate = base + "_" + std::to_string(i);
    if (used_.insert(candidate).second) return candidate;
  }
}

const std::string& ModelBuilder::nameOf(const Value* value) const {
  static const std::string empty;
  auto it = names_.find(value);
  return it == names_.end() ? empty : it->second;
}

namespace {
template <class Visit>
void forEachValueDeep(const Graph& graph, const Visit& visit) {
  for (Value* in : graph.inputs()) visit(in);
  for (Node* node : graph.nodes()) {
    for (const auto& [name, attribute] : node->attributes())
      if (const auto* g = std::get_if<GraphPtr>(&attribute); g != nullptr && *g != nullptr) forEachValueDeep(**g, visit);
    for (Value* out : node->outputs()) visit(out);
  }
}
}  // namespace

Status ModelBuilder::assignNames() {
  const auto inputs = graph_.inputs();
  const auto outputs = graph_.outputs();
  if (settings_.inputNames.size() > inputs.size())
    return Status::usage("save-onnx: input_names has " + std::to_string(settings_.inputNames.size()) +
                         " names but the graph has " + std::to_string(inputs.size()) + " inputs");
  if (settings_.outputNames.size() > outputs.size())
    return Status::usage("save-onnx: output_names has " + std::to_string(settings_.outputNames.size()) +
                         " names but the graph has " + std::to_string(outputs.size()) + " outputs");
  // Requested names are reserved first; other values keep theirs unless they collide.
  for (const auto& n : settings_.inputNames) used_.insert(n);
  for (const auto& n : settings_.outputNames) used_.insert(n);
  for (size_t i = 0; i < settings_.inputNames.size(); ++i) names_[inputs[i]] = settings_.inputNames[i];
  for (size_t i = 0; i < settings_.outputNames.size(); ++i) {
    const Value* v = outputs[i];
    if (names_.count(v) == 0 && !v->isGraphInput()) names_[v] = settings_.outputNames[i];
  }
  Status status = Status::ok();
  forEachValueDeep(graph_, [&](const Value* v) {
    if (names_.count(v) != 0) return;
    if (v->producer() != nullptr && v->producer()->isConstant()) return;  // named with the initializers
    names_[v] = uniqueName(v->name());
  });
  return status;
}

Status ModelBuilder::collectConstants(const Graph& graph) {
  for (Node* node : graph.nodes()) {
    for (const auto& [name, attribute] : node->attributes())
      if (const auto* g = std::get_if<GraphPtr>(&attribute); g != nullptr && *g != nullptr)
        TP_RETURN_IF_ERROR(collectConstants(**g));
    if (!node->isConstant()) continue;
    const Value* out = node->output();
    if (!out->hasUses() && !out->isGraphOutput()) continue;
    const Attribute* payload = node->findAttribute("value");
    if (payload == nullptr) {
      names_[out] = "";  // None: an omitted optional input
      continue;
    }
    Tensor tensor;
    if (const Tensor* t = std::get_if<Tensor>(payload)) {
      tensor = *t;
    } else {
      bool ok = false;
      tensor = tensorFromScalarPayload(*payload, out->type(), ok);
      if (!ok)
        return Status::unsupported("save-onnx: constant %" + out->name() + " (" + std::string(attributeKindName(attributeKind(*payload))) +
                                   ") is used by " + (out->hasUses() ? out->uses().front().user->describe() : std::string("a graph output")) +
                                   " but has no ONNX tensor form");
    }
    const std::string what = "constant %" + out->name();
    if (!tensor.hasData() && tensor.numel() != 0)
      return Status::input("save-onnx: " + what + " has no data (its values were elided, e.g. in textual IR); "
                           "bind the weights (input.weights) or load the real model before saving");
    // Identical contents are stored once.
    const uint64_t hash = tensor.contentHash();
    auto& candidates = byHash_[hash];
    bool merged = false;
    for (size_t index : candidates) {
      if (initializers_[index].tensor.contentEquals(tensor)) {
        names_[out] = initializers_[index].name;
        ++deduplicated_;
        merged = true;
        break;
      }
    }
    if (merged) continue;
    const std::string* param = node->stringAttr("param");
    std::string name = uniqueName(param != nullptr && !param->empty() ? *param : out->name());
    names_[out] = name;
    candidates.push_back(initializers_.size());
    initializerBytes_ += tensor.nbytes();
    initializers_.push_back({std::move(tensor), name});
  }
  return Status::ok();
}

Status ModelBuilder::fillValueInfo(const Value* value, const std::string& name, onnx::ValueInfoProto* out,
                                   bool requireType, const AxisMap* axes, bool keepKnownDims) {
  out->set_name(name);
  const Type& t = value->type();
  auto fillTensorType = [&](const Type& tensorType, onnx::TypeProto_Tensor* tt) -> Status {
    DType dt = tensorType.dtype();
    const int64_t code = onnxDataType(dt);
    if (code == 0) {
      if (requireType)
        return Status::unsupported("save-onnx: graph input %" + value->name() + " ('" + name +
                                   "') has an unknown or unsupported dtype (" + tensorType.toString() +
                                   "); declare the input types (input.inputs, or --inputs name=f32[batch,3,224,224])");
      return Status::ok();
    }
    tt->set_elem_type(static_cast<int32_t>(code));
    if (!tensorType.hasRank()) {
      if (axes != nullptr && !axes->empty())
        return Status::usage("save-onnx: dynamic_axes for '" + name + "' need its rank, which is unknown");
      if (requireType)
        return Status::unsupported("save-onnx: graph input %" + value->name() + " ('" + name +
                                   "') has an unknown rank; ONNX graph inputs need one: declare the input shapes "
                                   "(input.inputs, or --inputs name=f32[batch,3,224,224])");
      return Status::ok();
    }
    auto* shape = tt->mutable_shape();
    const auto& dims = *tensorType.shape();
    if (axes != nullptr)
      for (const auto& [axis, symbol] : *axes)
        if (axis >= static_cast<int64_t>(dims.size()))
          return Status::usage("save-onnx: dynamic_axes." + name + " names axis " + std::to_string(axis) + " but '" + name +
                               "' has rank " + std::to_string(dims.size()));
    for (size_t i = 0; i < dims.size(); ++i) {
      auto* d = shape->add_dim();
      if (axes != nullptr) {
        auto it = axes->find(static_cast<int64_t>(i));
        if (it != axes->end()) {
          d->set_dim_param(it->second);
          continue;
        }
      }
      const Dim& dim = dims[i];
      if (dim.isKnown() && keepKnownDims) d->set_dim_value(dim.size());
      else if (dim.isSymbol()) d->set_dim_param(dim.symbolName());
    }
    return Status::ok();
  };
  switch (t.kind()) {
    case Type::Kind::Tensor:
      return fillTensorType(t, out->mutable_type()->mutable_tensor_type());
    case Type::Kind::Int:
      return fillTensorType(Type::tensor(DType::I64, std::vector<Dim>{}), out->mutable_type()->mutable_tensor_type());
    case Type::Kind::Float:
      return fillTensorType(Type::tensor(DType::F32, std::vector<Dim>{}), out->mutable_type()->mutable_tensor_type());
    case Type::Kind::Bool:
      return fillTensorType(Type::tensor(DType::Bool, std::vector<Dim>{}), out->mutable_type()->mutable_tensor_type());
    case Type::Kind::List:
      if (!t.elements().empty() && t.elements()[0].isTensor() && t.elements()[0].dtype() != DType::Undefined) {
        return fillTensorType(t.elements()[0],
                              out->mutable_type()->mutable_sequence_type()->mutable_elem_type()->mutable_tensor_type());
      }
      [[fallthrough]];
    default:
      if (requireType)
        return Status::unsupported("save-onnx: graph input/output %" + value->name() + " has type " + t.toString() +
                                   ", which has no ONNX form here");
      out->clear_type();
      return Status::ok();
  }
}

Status ModelBuilder::fillAttribute(const std::string& name, const Attribute& value, onnx::AttributeProto* out, const Node& node) {
  out->set_name(name);
  struct Visitor {
    ModelBuilder& self;
    onnx::AttributeProto* out;
    const Node& node;
    const std::string& name;
    Status operator()(int64_t v) {
      out->set_type(onnx::AttributeProto::INT);
      out->set_i(v);
      return Status::ok();
    }
    Status operator()(double v) {
      out->set_type(onnx::AttributeProto::FLOAT);
      out->set_f(static_cast<float>(v));
      return Status::ok();
    }
    Status operator()(const std::string& v) {
      out->set_type(onnx::AttributeProto::STRING);
      out->set_s(v);
      return Status::ok();
    }
    Status operator()(const Tensor& v) {
      out->set_type(onnx::AttributeProto::TENSOR);
      return fillTensor(v, out->mutable_t(), "attribute '" + name + "' of " + node.describe());
    }
    Status operator()(const std::vector<int64_t>& v) {
      out->set_type(onnx::AttributeProto::INTS);
      for (int64_t x : v) out->add_ints(x);
      return Status::ok();
    }
    Status operator()(const std::vector<double>& v) {
      out->set_type(onnx::AttributeProto::FLOATS);
      for (double x : v) out->add_floats(static_cast<float>(x));
      return Status::ok();
    }
    Status operator()(const std::vector<std::string>& v) {
      out->set_type(onnx::AttributeProto::STRINGS);
      for (const auto& x : v) out->add_strings(x);
      return Status::ok();
    }
    Status operator()(const GraphPtr& g) {
      if (g == nullptr) return Status::internal("save-onnx: graph attribute '" + name + "' of " + node.describe() + " is null");
      out->set_type(onnx::AttributeProto::GRAPH);
      return self.buildGraph(*g, out->mutable_g(), false);
    }
  };
  return std::visit(Visitor{*this, out, node, name}, value);
}

Status ModelBuilder::fillNode(const Node& node, onnx::NodeProto* out) {
  const std::string_view domain = node.domain();
  const std::string opType(node.opName());
  out->set_op_type(opType);
  if (domain != "onnx") {
    out->set_domain(std::string(domain));
    domains_.insert(std::string(domain));
  }
  const std::string& path = node.provenance().modulePath;
  std::string nodeName = (path.empty() ? std::string() : path + "/") + opType + "_" + std::to_string(nodeCounter_++);
  out->set_name(nodeName);
  for (const Value* in : node.inputs()) {
    auto it = names_.find(in);
    if (it == names_.end())
      return Status::internal("save-onnx: input %" + in->name() + " of " + node.describe() + " has no exported name");
    out->add_input(it->second);
  }
  for (const Value* o : node.outputs()) out->add_output(nameOf(o));
  // Trailing omitted optional inputs are dropped ("" only where needed in the middle).
  while (out->input_size() > 0 && out->input(out->input_size() - 1).empty()) out->mutable_input()->RemoveLast();
  for (const auto& [name, attribute] : node.attributes()) TP_RETURN_IF_ERROR(fillAttribute(name, attribute, out->add_attribute(), node));
  return Status::ok();
}

Status ModelBuilder::buildGraph(const Graph& graph, onnx::GraphProto* out, bool isMain) {
  out->set_name(graph.name());
  std::set<const Value*> ioValues;
  for (const Value* in : graph.inputs()) {
    const AxisMap* axes = nullptr;
    if (isMain) {
      auto it = settings_.dynamicAxes.find(nameOf(in));
      if (it != settings_.dynamicAxes.end()) axes = &it->second;
    }
    TP_RETURN_IF_ERROR(fillValueInfo(in, nameOf(in), out->add_input(), isMain, axes, true));
    ioValues.insert(in);
  }
  for (Node* node : graph.nodes()) {
    if (node->isConstant()) continue;
    TP_RETURN_IF_ERROR(fillNode(*node, out->add_node()));
  }
  const auto outputs = graph.outputs();
  std::set<std::string> outputNamesSoFar;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Value* v = outputs[i];
    std::string name = nameOf(v);
    std::string wanted = isMain && i < settings_.outputNames.size() ? settings_.outputNames[i] : name;
    if (wanted != name || outputNamesSoFar.count(name) != 0 || name.empty()) {
      // Same value exported twice, a renamed input, or a constant: an Identity gives the output its own name.
      if (wanted == name || wanted.empty()) wanted = uniqueName(v->name() + "_output");
      auto* identity = out->add_node();
      identity->set_op_type("Identity");
      identity->set_name("output_identity_" + std::to_string(nodeCounter_++));
      identity->add_input(name);
      identity->add_output(wanted);
      name = wanted;
    }
    outputNamesSoFar.insert(name);
    const AxisMap* axes = nullptr;
    if (isMain) {
      auto it = settings_.dynamicAxes.find(name);
      if (it != settings_.dynamicAxes.end()) axes = &it->second;
    }
    onnx::ValueInfoProto* info = out->add_output();
    TP_RETURN_IF_ERROR(fillValueInfo(v, name, info, false, axes, !relax_));
    if (isMain && (!info->type().has_tensor_type() || !info->type().tensor_type().has_elem_type() ||
                   !info->type().tensor_type().has_shape()) && !info->type().has_sequence_type())
      untypedOutputs_.push_back(name);
    ioValues.insert(v);
  }
  // value_info for intermediate values with a known dtype.
  for (Node* node : graph.nodes()) {
    if (node->isConstant()) continue;
    for (const Value* o : node->outputs()) {
      if (ioValues.count(o) != 0 || nameOf(o).empty()) continue;
      const Type& t = o->type();
      const bool typed = (t.isTensor() && onnxDataType(t.dtype()) != 0) ||
                         (t.kind() == Type::Kind::List && !t.elements().empty() && t.elements()[0].isTensor() &&
                          onnxDataType(t.elements()[0].dtype()) != 0);
      if (!typed) continue;
      TP_RETURN_IF_ERROR(fillValueInfo(o, nameOf(o), out->add_value_info(), false, nullptr, !relax_));
    }
  }
  return Status::ok();
}

Status ModelBuilder::build(onnx::ModelProto& model, int64_t opset, const std::map<std::string, int64_t>& domainVersions) {
  // Names in use by dynamic_axes must exist.
  TP_RETURN_IF_ERROR(assignNames());
  TP_RETURN_IF_ERROR(collectConstants(graph_));
  std::set<std::string> ioNames;
  for (const Value* in : graph_.inputs()) ioNames.insert(nameOf(in));
  for (size_t i = 0; i < graph_.outputs().size(); ++i)
    ioNames.insert(i < settings_.outputNames.size() ? settings_.outputNames[i] : nameOf(graph_.outputs()[i]));
  for (const auto& [name, axes] : settings_.dynamicAxes) {
    if (ioNames.count(name) == 0) {
      std::string known;
      for (const auto& n : ioNames) known += (known.empty() ? "" : ", ") + n;
      return Status::usage("save-onnx: dynamic_axes names '" + name + "', which is not a graph input or output (they are: " +
                           known + ")");
    }
    // A dim fixed in the graph made dynamic here: intermediate shapes derived from it would
    // contradict the new symbol, so intermediate value_info keeps dtype and rank only.
    const Value* v = nullptr;
    for (const Value* in : graph_.inputs())
      if (nameOf(in) == name) v = in;
    if (v != nullptr && v->type().hasRank()) {
      for (const auto& [axis, symbol] : axes)
        if (axis < static_cast<int64_t>(v->type().rank()) && (*v->type().shape())[static_cast<size_t>(axis)].isKnown()) relax_ = true;
    }
  }

  model.set_ir_version(irVersionForOpset(opset));
  model.set_producer_name(settings_.producerName);
  model.set_producer_version(settings_.producerVersion);
  model.set_model_version(settings_.modelVersion);
  if (!settings_.docString.empty()) model.set_doc_string(settings_.docString);
  for (const auto& [key, value] : settings_.metadata) {
    auto* entry = model.add_metadata_props();
    entry->set_key(key);
    entry->set_value(value);
  }
  onnx::GraphProto* graph = model.mutable_graph();
  TP_RETURN_IF_ERROR(buildGraph(graph_, graph, true));

  // Initializers (after the graph, so their order is stable: first use order of constants).
  const bool external = settings_.externalData == "always" ||
                        (settings_.externalData == "auto" && initializerBytes_ > kAutoExternalLimit);
  if (settings_.externalData == "never" && initializerBytes_ > kAutoExternalLimit)
    return Status::unsupported("save-onnx: the weights take " + std::to_string(initializerBytes_ >> 20) +
                               " MiB, beyond protobuf's 2 GiB limit; use external_data: auto (or always)");
  const std::string dataName = settings_.path.stem().string() + ".data";
  uint64_t offset = 0;
  for (const Initializer& init : initializers_) {
    onnx::TensorProto* t = graph->add_initializer();
    t->set_name(init.name);
    if (external && init.tensor.nbytes() >= static_cast<size_t>(settings_.externalThreshold) && init.tensor.nbytes() > 0) {
      const int64_t code = onnxDataType(init.tensor.dtype());
      if (code == 0) return Status::unsupported("save-onnx: initializer '" + init.name + "' has a dtype ONNX cannot store");
      t->set_data_type(static_cast<int32_t>(code));
      for (int64_t d : init.tensor.shape()) t->add_dims(d);
      offset = (offset + kExternalAlignment - 1) / kExternalAlignment * kExternalAlignment;
      t->set_data_location(onnx::TensorProto::EXTERNAL);
      auto add = [&](const char* key, std::string value) {
        auto* e = t->add_external_data();
        e->set_key(key);
        e->set_value(std::move(value));
      };
      add("location", dataName);
      add("offset", std::to_string(offset));
      add("length", std::to_string(init.tensor.nbytes()));
      externals_.push_back({init.tensor, offset});
      offset += init.tensor.nbytes();
    } else {
      TP_RETURN_IF_ERROR(fillTensor(init.tensor, t, "initializer '" + init.name + "'"));
    }
  }

  auto* def = model.add_opset_import();
  def->set_domain("");
  def->set_version(opset);
  for (const std::string& domain : domains_) {
    auto* imp = model.add_opset_import();
    imp->set_domain(domain);
    auto it = domainVersions.find(domain);
    imp->set_version(it != domainVersions.end() ? it->second : (domain == "ai.onnx.ml" ? 3 : 1));
  }
  return Status::ok();
}

// ---------------------------------------------------------------------------------------
// Checking and writing
// ---------------------------------------------------------------------------------------
Status checkModel(onnx::ModelProto& model, bool external, const std::string& dataName) {
  try {
    onnx::checker::CheckerContext checkerContext;
    ScratchDirectory scratch("torchport-onnx-check-");
    if (external) {
      if (scratch.path().empty()) return Status::internal("save-onnx: cannot create a scratch directory to check the model");
      std::ofstream placeholder(scratch.path() / dataName);
      checkerContext.set_model_dir(scratch.path().string());
    }
    onnx::checker::check_model(model, checkerContext);
  } catch (const std::exception& error) {
    return Status::internal(std::string("save-onnx: the ONNX checker rejected the model (a torchport bug; please report it): ") +
                            error.what());
  }
  try {
    onnx::ShapeInferenceOptions options(/*check_type=*/true, /*error_mode=*/1, /*enable_data_propagation=*/false);
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(), options);
  } catch (const std::exception& error) {
    return Status::internal(std::string("save-onnx: ONNX shape inference (strict) rejected the model (a torchport bug; "
                                        "please report it): ") +
                            error.what());
  }
  return Status::ok();
}

// Graph outputs whose type the lowering could not derive get ONNX shape inference's
// (libonnx knows opsets <= 17); an output still without dtype and rank is an error.
Status completeOutputTypes(onnx::ModelProto& model, int64_t opset, const std::vector<std::string>& names) {
  if (opset <= kCheckerMaxOpset) {
    try {
      onnx::ShapeInferenceOptions options(/*check_type=*/false, /*error_mode=*/0, /*enable_data_propagation=*/true);
      onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(), options);
    } catch (const std::exception&) {
      // The strict check below reports problems properly.
    }
  }
  std::string missing;
  for (const auto& output : model.graph().output()) {
    if (std::find(names.begin(), names.end(), output.name()) == names.end()) continue;
    const auto& t = output.type();
    const bool typed = t.has_sequence_type() ||
                       (t.has_tensor_type() && t.tensor_type().has_elem_type() && t.tensor_type().elem_type() != 0 &&
                        (t.tensor_type().has_shape() || opset > kCheckerMaxOpset));
    if (!typed) missing += (missing.empty() ? "" : ", ") + output.name();
  }
  if (!missing.empty())
    return Status::unsupported("save-onnx: the type of graph output(s) " + missing +
                               " is unknown after lowering and ONNX shape inference; declare the input shapes "
                               "(input.inputs, or --inputs) so types propagate");
  return Status::ok();
}

Status writeExternalData(const std::filesystem::path& path, const std::vector<ExternalTensor>& tensors) {
  return writeFileAtomically(path, [&](std::ostream& os) -> Status {
    uint64_t position = 0;
    static const char zeros[kExternalAlignment] = {};
    for (const ExternalTensor& t : tensors) {
      if (t.offset < position) return Status::internal("save-onnx: external data offsets out of order");
      os.write(zeros, static_cast<std::streamsize>(t.offset - position));
      auto bytes = t.tensor.bytes();
      os.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
      position = t.offset + bytes.size();
      if (!os) return Status::input("save-onnx: writing " + path.string() + " failed (disk full?)");
    }
    return Status::ok();
  });
}

void appendFileReport(PassContext& context, const std::filesystem::path& path, const char* kind) {
  OptionValue::List files;
  const auto& entries = context.reportEntries();
  if (auto it = entries.find("files"); it != entries.end() && it->second.isList()) files = it->second.asList();
  files.push_back(mapValue({{"path", stringValue(path.string())}, {"kind", stringValue(kind)}}));
  context.report("files", listValue(std::move(files)));
}

}  // namespace

int64_t irVersionForOpset(int64_t opset) {
  // onnx.helper.VERSION_TABLE: 1.8/1.9 (opset 13/14) -> IR 7; 1.10..1.13 (opset 15..18) -> IR 8.
  if (opset <= 12) return opset <= 8 ? 3 : (opset <= 11 ? 6 : 7);
  if (opset <= 14) return 7;
  if (opset <= 18) return 8;
  return 9;
}

PassInfo saveOnnxInfo() {
  PassInfo info;
  info.name = "save-onnx";
  info.summary = "Write the graph as an ONNX model (checked with onnx::checker for opset <= 17)";
  info.description =
      "Writes an ONNX-dialect graph (run lower-to-onnx first) as a ModelProto: constants become initializers "
      "(named by parameter, identical contents stored once), intermediate types become value_info, graph I/O can "
      "be renamed and given dynamic axes. For opset <= 17 the in-memory model passes onnx::checker and strict "
      "shape inference before anything is written; opset 18 is beyond libonnx 1.12 and is written unchecked. "
      "external_data moves weights to '<model stem>.data' (4096-byte aligned) when the model would exceed "
      "protobuf's 2 GiB limit (auto), always, or never. The write is atomic.";
  OptionSpec path = optionSpec("path", OptionType::String, {}, "the .onnx file to write (relative to the config file)");
  path.required = true;
  info.options.push_back(std::move(path));
  info.options.push_back(optionSpec("input_names", OptionType::StringList, listValue(), "rename graph inputs, in order"));
  info.options.push_back(optionSpec("output_names", OptionType::StringList, listValue(), "rename graph outputs, in order"));
  info.options.push_back(optionSpec("dynamic_axes", OptionType::Any, mapValue(),
                              "{name: {axis: symbol}} or {name: [axes]} for graph inputs/outputs (after renaming)"));
  OptionSpec external = optionSpec("external_data", OptionType::String, stringValue("auto"),
                             "auto (only beyond 2 GiB), always or never: weights in '<model stem>.data'");
  external.choices = {"auto", "always", "never"};
  info.options.push_back(std::move(external));
  OptionSpec threshold = optionSpec("external_data_threshold", OptionType::Int, intValue(1024),
                              "tensors smaller than this many bytes stay inside the model");
  threshold.minInt = 0;
  info.options.push_back(std::move(threshold));
  info.options.push_back(optionSpec("producer_name", OptionType::String, stringValue("torchport"), "ModelProto.producer_name"));
  info.options.push_back(optionSpec("producer_version", OptionType::String, stringValue(TORCHPORT_ONNX_VERSION),
                              "ModelProto.producer_version"));
  info.options.push_back(optionSpec("model_version", OptionType::Int, intValue(0), "ModelProto.model_version"));
  info.options.push_back(optionSpec("doc_string", OptionType::String, stringValue(""), "ModelProto.doc_string"));
  info.options.push_back(optionSpec("metadata", OptionType::Any, mapValue(), "metadata_props: {key: value}"));
  info.options.push_back(optionSpec("check", OptionType::Bool, boolValue(true),
                              "run onnx::checker and strict shape inference before writing (opset <= 17)"));
  info.kind = StepKind::Export;
  return info;
}

Status validateSaveOnnxOptions(const Options& options) {
  auto settings = readSettings(options, nullptr);
  return settings.status();
}

Status runSaveOnnx(const Graph& graph, PassContext& context) {
  TP_TRY(Settings settings, readSettings(context.options(), &context));

  std::map<std::string, size_t> foreign;
  collectForeign(graph, foreign);
  if (!foreign.empty()) {
    size_t total = 0;
    std::string list;
    for (const auto& [kind, count] : foreign) {
      total += count;
      list += "\n  " + kind + " x" + std::to_string(count);
    }
    return Status::unsupported("save-onnx: the graph still has " + std::to_string(total) + " non-ONNX node" +
                               (total == 1 ? "" : "s") + " (" + std::to_string(foreign.size()) + " kind" +
                               (foreign.size() == 1 ? "" : "s") + "):" + list +
                               "\nRun lower-to-onnx first (e.g. pipeline: [lower-to-onnx: {opset: 17}, save-onnx: ...]).");
  }

  int64_t opset = 17;
  if (auto state = context.state<int64_t>(kOpsetStateKey)) {
    opset = *state;
  } else {
    context.diag().warn("save-onnx: no opset recorded by lower-to-onnx in this run; writing opset 17");
  }
  std::map<std::string, int64_t> domainVersions;
  if (auto versions = context.state<std::map<std::string, int64_t>>(kDomainVersionsStateKey)) domainVersions = *versions;

  onnx::ModelProto model;
  ModelBuilder builder(graph, settings);
  TP_RETURN_IF_ERROR(builder.build(model, opset, domainVersions));
  const bool external = !builder.externals().empty();
  const std::string dataName = settings.path.stem().string() + ".data";
  if (!builder.untypedOutputs().empty()) TP_RETURN_IF_ERROR(completeOutputTypes(model, opset, builder.untypedOutputs()));

  std::string checker = "skipped: disabled by check: false";
  if (settings.check) {
    if (opset <= kCheckerMaxOpset) {
      TP_RETURN_IF_ERROR(checkModel(model, external, dataName));
      checker = "passed (check_model + strict shape inference)";
    } else {
      checker = "skipped: libonnx 1.12 supports opset <= 17";
      context.diag().info("save-onnx: onnx::checker skipped for opset " + std::to_string(opset) +
                          " (libonnx 1.12 supports opset <= 17); validate with ONNX Runtime");
    }
  }

  const size_t modelBytes = model.ByteSizeLong();
  if (modelBytes > kProtobufLimit)
    return Status::unsupported("save-onnx: the model would take " + std::to_string(modelBytes >> 20) +
                               " MiB, beyond protobuf's 2 GiB limit; use external_data: auto or always");
  const std::filesystem::path dataPath = settings.path.parent_path() / dataName;
  if (external) TP_RETURN_IF_ERROR(writeExternalData(dataPath, builder.externals()));
  Status written = writeFileAtomically(settings.path, [&](std::ostream& os) -> Status {
    if (!model.SerializeToOstream(&os)) return Status::input("save-onnx: serializing the model to " + settings.path.string() + " failed");
    return Status::ok();
  });
  if (!written.isOk()) {
    if (external) {
      std::error_code ignored;
      std::filesystem::remove(dataPath, ignored);
    }
    return written;
  }

  context.report("onnx.path", stringValue(settings.path.string()));
  context.report("onnx.opset", intValue(opset));
  context.report("onnx.ir_version", intValue(model.ir_version()));
  context.report("onnx.initializers", intValue(static_cast<int64_t>(builder.initializerCount())));
  context.report("onnx.initializer_bytes", intValue(static_cast<int64_t>(builder.initializerBytes())));
  context.report("onnx.deduplicated_constants", intValue(static_cast<int64_t>(builder.deduplicated())));
  context.report("onnx.external_data", stringValue(external ? dataPath.string() : std::string()));
  context.report("onnx.checker", stringValue(checker));
  appendFileReport(context, settings.path, "onnx");
  if (external) appendFileReport(context, dataPath, "onnx-external-data");
  context.diag().info("save-onnx: wrote " + settings.path.string() + " (opset " + std::to_string(opset) + ", " +
                      std::to_string(builder.initializerCount()) + " initializers; checker " + checker + ")");
  return Status::ok();
}

}  // namespace torchport::onnxplugin
