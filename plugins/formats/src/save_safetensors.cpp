// save-safetensors: the graph's weights in the safetensors format
// (https://github.com/huggingface/safetensors), readable by `safetensors.torch.load_file`.
//
// File layout:
//   8 bytes      N, little-endian u64: size of the JSON header
//   N bytes      JSON header, UTF-8, padded with spaces so that 8 + N is a multiple of 8
//                {"__metadata__": {"k": "v", ...},
//                 "<name>": {"dtype": "F32", "shape": [64, 3], "data_offsets": [begin, end]}, ...}
//   the rest     the byte buffer: every tensor's little-endian row-major bytes, offsets
//                relative to the buffer's start, contiguous (no holes, no overlap)
// Tensors are laid out by decreasing element size, then by name, so that with the padded
// header every tensor starts at a multiple of its element size (8-byte aligned for 8-byte
// types) without holes, as the reference implementation does.
//
// Which constants are weights: prim::Constant nodes with a Tensor value and a "param"
// attribute (the state_dict key), named by it. A graph without any such constant (e.g. a
// textual-IR file written by hand) falls back to every tensor constant, named by its value.
#include <algorithm>
#include <cstring>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "formats.h"

namespace torchport::formats {
namespace {


// safetensors dtype names; empty for dtypes the format cannot store.
std::string_view safetensorsDType(DType dtype) {
  switch (dtype) {
    case DType::F64: return "F64";
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::I16: return "I16";
    case DType::I8: return "I8";
    case DType::U64: return "U64";
    case DType::U32: return "U32";
    case DType::U16: return "U16";
    case DType::U8: return "U8";
    case DType::Bool: return "BOOL";
    case DType::F8E4M3: return "F8_E4M3";
    case DType::F8E5M2: return "F8_E5M2";
    default: return {};
  }
}

struct Weight {
  std::string name;
  Tensor tensor;
  const Node* node;
};

void collectConstants(const Graph& graph, bool byParam, std::vector<Weight>& weights) {
  for (const Node* node : graph.nodes()) {
    if (node->isConstant()) {
      const Tensor* tensor = node->tensorAttr("value");
      const std::string* param = node->stringAttr("param");
      if (tensor != nullptr && (byParam ? param != nullptr && !param->empty() : true)) {
        weights.push_back({byParam ? *param : node->output()->name(), *tensor, node});
      }
    }
    for (const auto& [name, attribute] : node->attributes()) {
      if (const auto* nested = std::get_if<GraphPtr>(&attribute); nested != nullptr && *nested != nullptr) {
        collectConstants(**nested, byParam, weights);
      }
    }
  }
}

// The weights to write, unique by name, in file order.
Expected<std::vector<Weight>> collectWeights(const Graph& graph, bool& byParam) {
  std::vector<Weight> all;
  byParam = true;
  collectConstants(graph, true, all);
  if (all.empty()) {
    byParam = false;
    collectConstants(graph, false, all);
  }
  std::map<std::string, Weight> unique;
  for (Weight& weight : all) {
    if (weight.name == "__metadata__") {
      return Status::input("save-safetensors: " + weight.node->describe() +
                           " is named __metadata__, which safetensors reserves for the metadata; rename the parameter");
    }
    if (!weight.tensor.hasData()) {
      return Status::input("save-safetensors: tensor '" + weight.name + "' of " + weight.node->describe() +
                           " has no data (elided in textual IR); export from a model that carries its weights");
    }
    if (safetensorsDType(weight.tensor.dtype()).empty()) {
      return Status::unsupported("save-safetensors: tensor '" + weight.name + "' has dtype " +
                                 std::string(dtypeName(weight.tensor.dtype())) +
                                 ", which safetensors cannot store (it has no complex or undefined types)");
    }
    auto [it, inserted] = unique.emplace(weight.name, weight);
    // The same parameter may be shared by several constants (e.g. after inlining); one copy.
    if (!inserted && !it->second.tensor.contentEquals(weight.tensor)) {
      return Status::input("save-safetensors: two different tensors are both named '" + weight.name + "' (" +
                           it->second.node->describe() + " and " + weight.node->describe() +
                           "); safetensors names must be unique");
    }
  }
  std::vector<Weight> ordered;
  for (auto& [name, weight] : unique) ordered.push_back(std::move(weight));
  std::stable_sort(ordered.begin(), ordered.end(), [](const Weight& a, const Weight& b) {
    return dtypeSize(a.tensor.dtype()) > dtypeSize(b.tensor.dtype());
  });
  return ordered;
}

}  // namespace

std::string jsonString(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static const char* const hex = "0123456789abcdef";
          out += "\\u00";
          out += hex[(c >> 4) & 0xF];
          out += hex[c & 0xF];
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

PassInfo saveSafetensorsInfo() {
  PassInfo info;
  info.name = "save-safetensors";
  info.summary = "Write the graph's weights as a .safetensors file (Hugging Face safetensors format)";
  info.description =
      "Writes every constant that carries a parameter name (`param`, the state_dict key) under that name; a graph "
      "without named parameters writes every tensor constant under its value name. Header: JSON with dtype "
      "(F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL, ...), shape and data_offsets per tensor, plus "
      "__metadata__ (format=pt, producer=torchport, and the `metadata` option's entries), padded to 8 bytes. "
      "Loadable with safetensors.torch.load_file. Written atomically.";
  info.kind = StepKind::Export;
  OptionSpec path;
  path.name = "path";
  path.type = OptionType::String;
  path.required = true;
  path.doc = "output file (relative paths resolve against the config file's directory)";
  OptionSpec metadata;
  metadata.name = "metadata";
  metadata.type = OptionType::Any;
  metadata.doc = "extra __metadata__ entries: a map of strings";
  info.options = {std::move(path), std::move(metadata)};
  return info;
}

Status validateSaveSafetensors(const Options& options) {
  const OptionValue* metadata = options.get("metadata");
  if (metadata == nullptr || metadata->isNull()) return Status::ok();
  const std::string where = metadata->where().line > 0 ? metadata->where().toString() + ": " : std::string();
  if (!metadata->isMap()) return Status::input(where + "metadata must be a map of strings, got " + metadata->typeName());
  for (const auto& [key, value] : metadata->asMap()) {
    if (!value.isString() && !value.isInt() && !value.isFloat() && !value.isBool()) {
      return Status::input(where + "metadata '" + key + "' must be a string (safetensors metadata holds strings), got " +
                           value.typeName());
    }
  }
  return Status::ok();
}

Status saveSafetensors(const Graph& graph, PassContext& context) {
  const std::filesystem::path path = context.resolvePath(context.options().getString("path"));
  bool byParam = true;
  TP_ASSIGN_OR_RETURN(std::vector<Weight> weights, collectWeights(graph, byParam));
  if (weights.empty()) {
    context.diag().warn("save-safetensors: the graph has no tensor constants; writing a file without tensors");
  } else if (!byParam) {
    context.diag().info("save-safetensors: no constant names a parameter; tensors are named by their values");
  }

  std::map<std::string, std::string> metadata = {{"format", "pt"}, {"producer", "torchport"}};
  if (const OptionValue* extra = context.options().get("metadata"); extra != nullptr && extra->isMap()) {
    for (const auto& [key, value] : extra->asMap()) metadata[key] = value.isString() ? value.asString() : value.toString();
  }

  std::string header = "{\"__metadata__\":{";
  bool first = true;
  for (const auto& [key, value] : metadata) {
    header += (first ? "" : ",") + jsonString(key) + ":" + jsonString(value);
    first = false;
  }
  header += "}";
  uint64_t offset = 0;
  for (const Weight& weight : weights) {
    header += "," + jsonString(weight.name) + ":{\"dtype\":\"" + std::string(safetensorsDType(weight.tensor.dtype())) +
              "\",\"shape\":[";
    for (size_t i = 0; i < weight.tensor.shape().size(); ++i) {
      header += (i > 0 ? "," : "") + std::to_string(weight.tensor.shape()[i]);
    }
    const uint64_t end = offset + weight.tensor.nbytes();
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(end) + "]}";
    offset = end;
  }
  header += "}";
  while ((8 + header.size()) % 8 != 0) header += ' ';

  const Status written = writeFileAtomically(path, [&](std::ostream& out) -> Status {
    uint64_t size = header.size();
    unsigned char length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(size >> (8 * i));  // little-endian
    out.write(reinterpret_cast<const char*>(length), sizeof length);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    for (const Weight& weight : weights) {
      const auto bytes = weight.tensor.bytes();
      out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    }
    return out ? Status::ok() : Status::input("write error");
  });
  TP_RETURN_IF_ERROR(written.withContext("save-safetensors: cannot write " + path.string()));
  context.report("safetensors.path", stringValue(path.string()));
  context.report("safetensors.tensors", intValue(static_cast<int64_t>(weights.size())));
  context.report("safetensors.bytes", intValue(static_cast<int64_t>(8 + header.size() + offset)));
  context.diag().info("save-safetensors: wrote " + std::to_string(weights.size()) + " tensors to " + path.string());
  return Status::ok();
}

}  // namespace torchport::formats
