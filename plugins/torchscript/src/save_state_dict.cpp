// The `save-state-dict` exporter (see state_dict_formats.h). Writes torch.save's zip
// format: `archive/data.pkl` (a protocol-2 pickle of a plain dict whose values are
// torch._utils._rebuild_tensor_v2 over typed storages, exactly what torch.save emits and
// torch.load(weights_only=True) accepts; the plugin tests check that with Python) and one
// `archive/data/<i>` record per tensor. LibTorch's torch::pickle_save is not used: it tags
// typed dicts with torch.jit._pickle.restore_type_tag, which weights_only refuses.
#include <caffe2/serialize/inline_container.h>
#include <torch/script.h>

#include <cstring>
#include <ostream>

#include <map>

#include "jit_bridge.h"
#include "state_dict_formats.h"
#include "torchport/files.h"

namespace torchport::torchscript {

namespace {

std::optional<std::string> storageClassOf(c10::ScalarType type) {
  switch (type) {
    case c10::kFloat: return "FloatStorage";
    case c10::kDouble: return "DoubleStorage";
    case c10::kHalf: return "HalfStorage";
    case c10::kBFloat16: return "BFloat16Storage";
    case c10::kChar: return "CharStorage";
    case c10::kShort: return "ShortStorage";
    case c10::kInt: return "IntStorage";
    case c10::kLong: return "LongStorage";
    case c10::kByte: return "ByteStorage";
    case c10::kBool: return "BoolStorage";
    case c10::kComplexFloat: return "ComplexFloatStorage";
    case c10::kComplexDouble: return "ComplexDoubleStorage";
    default: return std::nullopt;
  }
}

// The few pickle opcodes a torch.save state_dict needs (protocol 2, no memo).
class PickleWriter {
 public:
  void begin() { bytes_ += "\x80\x02"; }
  void end() { bytes_ += '.'; }
  void emptyDict() { bytes_ += '}'; }
  void mark() { bytes_ += '('; }
  void setItems() { bytes_ += 'u'; }
  void tuple() { bytes_ += 't'; }
  void emptyTuple() { bytes_ += ')'; }
  void reduce() { bytes_ += 'R'; }
  void persistentId() { bytes_ += 'Q'; }
  void boolean(bool value) { bytes_ += value ? '\x88' : '\x89'; }
  void global(std::string_view module, std::string_view name) {
    bytes_ += 'c';
    bytes_ += module;
    bytes_ += '\n';
    bytes_ += name;
    bytes_ += '\n';
  }
  void string(std::string_view text) {
    bytes_ += 'X';
    appendLittle(static_cast<uint32_t>(text.size()));
    bytes_ += text;
  }
  void integer(int64_t value) {
    if (value >= INT32_MIN && value <= INT32_MAX) {
      bytes_ += 'J';
      appendLittle(static_cast<int32_t>(value));
    } else {
      bytes_ += "\x8a\x08";  // LONG1, 8 bytes two's complement
      appendLittle(value);
    }
  }
  const std::string& bytes() const { return bytes_; }

 private:
  template <class T>
  void appendLittle(T value) {
    char raw[sizeof(T)];
    std::memcpy(raw, &value, sizeof(T));
    bytes_.append(raw, sizeof(T));
  }
  std::string bytes_;
};

struct NamedParameter {
  const Node* node;
  const Tensor* tensor;
};

void collectParameters(const Graph& graph, std::vector<std::pair<std::string, NamedParameter>>& found,
                       std::map<std::string, size_t>& index) {
  for (const Node* node : graph.nodes()) {
    if (node->kind() == kConstKind) {
      const std::string* name = node->stringAttr("param");
      const Tensor* tensor = node->tensorAttr("value");
      if (name != nullptr && tensor != nullptr && index.emplace(*name, found.size()).second) {
        found.emplace_back(*name, NamedParameter{node, tensor});
      }
    }
    for (const auto& [attributeName, attribute] : node->attributes()) {
      if (const auto* body = std::get_if<GraphPtr>(&attribute); body != nullptr && *body) {
        collectParameters(**body, found, index);
      }
    }
  }
}

}  // namespace

PassInfo saveStateDictInfo() {
  PassInfo info;
  info.name = "save-state-dict";
  info.kind = StepKind::Export;
  info.summary = "Write the graph's named parameters as a .pth state_dict (torch.load(path, weights_only=True) reads it)";
  info.description =
      "Collects every constant that carries a parameter name (attribute \"param\": the model's parameters and "
      "buffers, e.g. layer1.0.conv1.weight) and writes them with torch.save's zip format as a dict {name: tensor}. "
      "Passes that rewrite weights (fuse-conv-batchnorm...) change what is saved. The write is atomic.";
  OptionSpec path;
  path.name = "path";
  path.type = OptionType::String;
  path.required = true;
  path.doc = "the .pth file to write (relative to the config file)";
  info.options.push_back(std::move(path));
  return info;
}

Status runSaveStateDict(const Graph& graph, PassContext& context) {
  const std::filesystem::path path = context.resolvePath(context.options().getString("path"));
  std::vector<std::pair<std::string, NamedParameter>> parameters;
  std::map<std::string, size_t> index;
  collectParameters(graph, parameters, index);
  if (parameters.empty()) {
    return Status::input("save-state-dict " + path.string() +
                         ": the graph has no named parameters (constants with a \"param\" attribute) to save; import "
                         "a TorchScript model or a state_dict first");
  }
  // {name: torch._utils._rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())}
  // with storage = persistent id ('storage', torch.<Type>Storage, '<i>', 'cpu', numel).
  PickleWriter pickle;
  pickle.begin();
  pickle.emptyDict();
  pickle.mark();
  std::vector<const Tensor*> records;
  for (const auto& [name, parameter] : parameters) {
    const Tensor& tensor = *parameter.tensor;
    auto type = scalarTypeFromDType(tensor.dtype());
    auto storageClass = type ? storageClassOf(*type) : std::nullopt;
    if (!storageClass) {
      return Status::unsupported("save-state-dict: parameter '" + name + "' of " + parameter.node->describe() +
                                 " has element type " + std::string(dtypeName(tensor.dtype())) +
                                 " that PyTorch tensors cannot hold; convert it first");
    }
    if (!tensor.hasData()) {
      return Status::input("save-state-dict: parameter '" + name + "' of " + parameter.node->describe() +
                           " has no data (elided textual IR); import the model from a file that holds its weights");
    }
    pickle.string(name);
    pickle.global("torch._utils", "_rebuild_tensor_v2");
    pickle.mark();
    pickle.mark();
    pickle.string("storage");
    pickle.global("torch", *storageClass);
    pickle.string(std::to_string(records.size()));
    pickle.string("cpu");
    pickle.integer(tensor.numel());
    pickle.tuple();
    pickle.persistentId();
    pickle.integer(0);
    std::vector<int64_t> strides(tensor.shape().size(), 1);
    for (size_t i = strides.size(); i-- > 1;) strides[i - 1] = strides[i] * std::max<int64_t>(tensor.shape()[i], 1);
    pickle.mark();
    for (int64_t size : tensor.shape()) pickle.integer(size);
    pickle.tuple();
    pickle.mark();
    for (int64_t stride : strides) pickle.integer(stride);
    pickle.tuple();
    pickle.boolean(false);
    pickle.global("collections", "OrderedDict");
    pickle.emptyTuple();
    pickle.reduce();
    pickle.tuple();
    pickle.reduce();
    records.push_back(&tensor);
  }
  pickle.setItems();
  pickle.end();

  TP_RETURN_IF_ERROR(writeFileAtomically(path, [&](std::ostream& out) -> Status {
    try {
      caffe2::serialize::PyTorchStreamWriter writer([&out](const void* data, size_t size) -> size_t {
        out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
        return out ? size : 0;
      });
      writer.writeRecord("data.pkl", pickle.bytes().data(), pickle.bytes().size());
      writer.writeRecord("byteorder", "little", 6);
      for (size_t i = 0; i < records.size(); ++i) {
        auto bytes = records[i]->bytes();
        writer.writeRecord("data/" + std::to_string(i), bytes.data(), bytes.size());
      }
      writer.writeEndOfFile();
    } catch (const std::exception& error) {
      return Status::input("save-state-dict " + path.string() + ": writing the archive failed: " + error.what());
    }
    return out ? Status::ok() : Status::input("save-state-dict " + path.string() + ": writing failed (disk full?)");
  }));
  context.diag().info("save-state-dict: wrote " + std::to_string(parameters.size()) + " tensors to " + path.string());
  return Status::ok();
}

}  // namespace torchport::torchscript
