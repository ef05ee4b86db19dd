#include "torch_save_reader.h"

#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <unordered_set>

#include "jit_bridge.h"
#include "torchport/files.h"

namespace torchport::torchscript {

namespace fs = std::filesystem;
using pickle::Value;
using pickle::ValuePtr;
using Kind = Value::Kind;

namespace {

// torch/serialization.py MAGIC_NUMBER (0x1950a86a20f9469cfc6c) pickled as LONG1: the
// first bytes of every legacy torch.save file.
constexpr unsigned char kLegacyMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                          0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, '.'};

std::optional<c10::ScalarType> scalarTypeOfStorage(const std::string& name) {
  static const std::map<std::string, c10::ScalarType, std::less<>> types = {
      {"FloatStorage", c10::kFloat},          {"DoubleStorage", c10::kDouble},
      {"HalfStorage", c10::kHalf},            {"BFloat16Storage", c10::kBFloat16},
      {"LongStorage", c10::kLong},            {"IntStorage", c10::kInt},
      {"ShortStorage", c10::kShort},          {"CharStorage", c10::kChar},
      {"ByteStorage", c10::kByte},            {"BoolStorage", c10::kBool},
      {"ComplexFloatStorage", c10::kComplexFloat}, {"ComplexDoubleStorage", c10::kComplexDouble},
  };
  auto it = types.find(name);
  if (it == types.end()) return std::nullopt;
  return it->second;
}

struct StorageRef {
  std::string key;      // root storage key (zip: data/<key>)
  c10::ScalarType type;
  std::string location;
  int64_t numel = 0;
  int64_t viewOffset = 0;  // legacy views into a root storage, in elements
  int64_t viewNumel = -1;
};

Expected<StorageRef> parseStorageId(const Value& id, const std::string& file) {
  const auto bad = [&](const std::string& why) {
    return Status::input(file + ": a tensor storage reference " + why +
                         "; the file is not a torch.save file this reader understands");
  };
  const auto& items = id.items;
  if (items.size() < 5 || !items[0]->isString() || items[0]->text != "storage") {
    return bad("is not ('storage', type, key, location, size)");
  }
  if (items[1]->kind != Kind::Global) return bad("has no storage type");
  StorageRef ref;
  const std::string& typeName = items[1]->global.name;
  auto type = items[1]->global.module == "torch" ? scalarTypeOfStorage(typeName) : std::nullopt;
  if (!type) {
    return Status::unsupported(file + ": tensors stored as " + items[1]->global.qualified() +
                               " are not supported (quantized or untyped storage); save plain float/int tensors");
  }
  ref.type = *type;
  if (!items[2]->isString() || !items[3]->isString() || items[4]->kind != Kind::Int || items[4]->integer < 0) {
    return bad("has a malformed key, location or size");
  }
  ref.key = items[2]->text;
  ref.location = items[3]->text;
  ref.numel = items[4]->integer;
  if (items.size() >= 6 && items[5]->kind == Kind::Tuple) {  // legacy view: (view_key, offset, view_size)
    const auto& view = items[5]->items;
    if (view.size() != 3 || view[1]->kind != Kind::Int || view[2]->kind != Kind::Int || view[1]->integer < 0 ||
        view[2]->integer < 0 || view[1]->integer + view[2]->integer > ref.numel) {
      return bad("describes a storage view out of range");
    }
    ref.viewOffset = view[1]->integer;
    ref.viewNumel = view[2]->integer;
  }
  return ref;
}

// Every value reachable from `root`, each once (pickles can share and even cycle).
template <class Visit>
void forEachValue(const ValuePtr& root, Visit&& visit) {
  std::unordered_set<const Value*> seen;
  std::vector<const Value*> pending = {root.get()};
  while (!pending.empty()) {
    const Value* value = pending.back();
    pending.pop_back();
    if (value == nullptr || !seen.insert(value).second) continue;
    visit(*value);
    for (const ValuePtr& item : value->items) pending.push_back(item.get());
    for (const auto& [key, item] : value->entries) {
      pending.push_back(key.get());
      pending.push_back(item.get());
    }
    pending.push_back(value->state.get());
    pending.push_back(value->tensor.storage.get());
  }
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

void noteStructure(TorchSaveFile& file) {
  forEachValue(file.root, [&](const Value& value) {
    if (value.kind == Kind::Object && file.modelClass.empty() && value.state && value.state->kind == Kind::Dict) {
      for (const auto& [key, item] : value.state->entries) {
        if (key->isString() && (key->text == "_modules" || key->text == "_parameters")) {
          file.modelClass = value.global.qualified();
          break;
        }
      }
    }
  });
}

Expected<pickle::PickleResult> readPickleAt(std::span<const std::byte> bytes, size_t& offset, const std::string& what) {
  if (offset > bytes.size()) return Status::input(what + ": the file ends early (truncated?)");
  TP_ASSIGN_OR_RETURN(pickle::PickleResult result, pickle::readPickle(bytes.subspan(offset), what));
  offset += result.bytesRead;
  return result;
}

Expected<std::vector<std::byte>> readWholeFile(const fs::path& path) {
  std::ifstream stream(path, std::ios::binary);
  if (!stream) return Status::input(path.string() + ": cannot open the file for reading; check the path and permissions");
  std::vector<char> chars((std::istreambuf_iterator<char>(stream)), std::istreambuf_iterator<char>());
  std::vector<std::byte> bytes(chars.size());
  if (!chars.empty()) std::memcpy(bytes.data(), chars.data(), chars.size());
  return bytes;
}

Status addStorage(TorchSaveFile& file, const StorageRef& ref, const void* data, size_t size, const std::string& where) {
  const size_t elementSize = c10::elementSize(ref.type);
  if (ref.numel < 0 || static_cast<uint64_t>(ref.numel) > size / elementSize) {
    return Status::input(file.path.string() + ": " + where + " holds " + std::to_string(size) + " bytes, fewer than the " +
                         std::to_string(ref.numel) + " " + std::string(c10::toString(ref.type)) +
                         " elements its tensors need (file truncated or corrupt)");
  }
  at::Tensor storage = at::empty({ref.numel}, at::TensorOptions().dtype(ref.type));
  if (ref.numel > 0) std::memcpy(storage.data_ptr(), data, static_cast<size_t>(ref.numel) * elementSize);
  file.storages[ref.key] = std::move(storage);
  return Status::ok();
}

std::vector<StorageRef> storageRefsOf(const TorchSaveFile& file, std::vector<Status>& errors) {
  std::vector<StorageRef> refs;
  forEachValue(file.root, [&](const Value& value) {
    if (value.kind != Kind::PersistentId) return;
    auto ref = parseStorageId(value, file.path.string());
    if (!ref) {
      errors.push_back(ref.status());
      return;
    }
    refs.push_back(std::move(*ref));
  });
  return refs;
}

void noteDevices(TorchSaveFile& file, const std::vector<StorageRef>& refs) {
  for (const StorageRef& ref : refs) {
    if (lowercase(ref.location) == "cpu") continue;
    if (std::find(file.acceleratorDevices.begin(), file.acceleratorDevices.end(), ref.location) ==
        file.acceleratorDevices.end()) {
      file.acceleratorDevices.push_back(ref.location);
    }
  }
}

Status readZip(TorchSaveFile& file) {
  const std::string name = file.path.string();
  std::string pickleBytes;
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  try {
    reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(name);
    if (!reader->hasRecord("data.pkl")) {
      return Status::input(name + ": is a zip archive without data.pkl, so not a torch.save file");
    }
    if (reader->hasRecord("byteorder")) {
      auto [data, size] = reader->getRecord("byteorder");
      if (std::string(static_cast<const char*>(data.get()), size) != "little") {
        return Status::unsupported(name + ": was saved on a big-endian machine; re-save it on a little-endian one");
      }
    }
    auto [data, size] = reader->getRecord("data.pkl");
    pickleBytes.assign(static_cast<const char*>(data.get()), size);
  } catch (const std::exception& error) {
    return Status::input(name + ": is not a readable torch.save archive: " + firstLineOf(error));
  }
  TP_ASSIGN_OR_RETURN(pickle::PickleResult result,
                      pickle::readPickle(std::as_bytes(std::span(pickleBytes)), name + ": data.pkl"));
  file.root = result.root;
  file.disallowedGlobals = std::move(result.disallowedGlobals);
  std::vector<Status> errors;
  const std::vector<StorageRef> refs = storageRefsOf(file, errors);
  if (!errors.empty()) return errors.front();
  noteDevices(file, refs);
  for (const StorageRef& ref : refs) {
    if (file.storages.count(ref.key) > 0) continue;
    const std::string record = "data/" + ref.key;
    try {
      if (!reader->hasRecord(record)) {
        return Status::input(name + ": the archive has no record " + record + " for a tensor it references (corrupt?)");
      }
      auto [data, size] = reader->getRecord(record);
      TP_RETURN_IF_ERROR(addStorage(file, ref, data.get(), size, "record " + record));
    } catch (const std::exception& error) {
      return Status::input(name + ": reading record " + record + " failed: " + firstLineOf(error));
    }
  }
  return Status::ok();
}

Status readLegacy(TorchSaveFile& file, std::span<const std::byte> bytes) {
  const std::string name = file.path.string();
  size_t offset = sizeof(kLegacyMagic);
  TP_ASSIGN_OR_RETURN(auto protocol, readPickleAt(bytes, offset, name + ": protocol version"));
  if (protocol.root->kind != Kind::Int || protocol.root->integer != 1001) {
    return Status::unsupported(name + ": legacy torch.save protocol version other than 1001 is not supported; re-save "
                               "the file with a current PyTorch (torch.save(torch.load(f), f2))");
  }
  TP_ASSIGN_OR_RETURN(auto systemInfo, readPickleAt(bytes, offset, name + ": system info"));
  if (systemInfo.root->kind == Kind::Dict) {
    for (const auto& [key, value] : systemInfo.root->entries) {
      if (key->isString() && key->text == "little_endian" && value->kind == Kind::Bool && !value->boolean) {
        return Status::unsupported(name + ": was saved on a big-endian machine; re-save it on a little-endian one");
      }
    }
  }
  TP_ASSIGN_OR_RETURN(auto main, readPickleAt(bytes, offset, name + ": object pickle"));
  file.root = main.root;
  file.disallowedGlobals = std::move(main.disallowedGlobals);
  TP_ASSIGN_OR_RETURN(auto keys, readPickleAt(bytes, offset, name + ": storage list"));
  if (keys.root->kind != Kind::List) return Status::input(name + ": the legacy storage list is not a list (corrupt?)");

  std::vector<Status> errors;
  const std::vector<StorageRef> refs = storageRefsOf(file, errors);
  if (!errors.empty()) return errors.front();
  noteDevices(file, refs);
  std::map<std::string, const StorageRef*> byKey;
  for (const StorageRef& ref : refs) byKey.emplace(ref.key, &ref);
  // After the pickles: for each key in list order, int64 element count then the raw bytes.
  for (const ValuePtr& key : keys.root->items) {
    if (!key->isString()) return Status::input(name + ": a legacy storage key is not a string (corrupt?)");
    auto ref = byKey.find(key->text);
    if (ref == byKey.end()) return Status::input(name + ": storage '" + key->text + "' is listed but never used (corrupt?)");
    int64_t count = 0;
    if (offset + sizeof(count) > bytes.size()) return Status::input(name + ": the file ends inside the tensor data (truncated?)");
    std::memcpy(&count, bytes.data() + offset, sizeof(count));
    offset += sizeof(count);
    const size_t elementSize = c10::elementSize(ref->second->type);
    if (count < 0 || static_cast<uint64_t>(count) > (bytes.size() - offset) / elementSize) {
      return Status::input(name + ": the file ends inside the tensor data (truncated?)");
    }
    StorageRef root = *ref->second;
    root.numel = count;
    const size_t size = static_cast<size_t>(count) * elementSize;
    TP_RETURN_IF_ERROR(addStorage(file, root, bytes.data() + offset, size, "storage " + key->text));
    offset += size;
  }
  return Status::ok();
}

bool isModuleBookkeeping(const std::string& key) { return key == "_modules" || key == "_parameters" || key == "_buffers"; }

struct Collector {
  const TorchSaveFile& file;
  std::vector<SavedTensor> tensors;
  std::unordered_set<const Value*> onPath;  // cycle guard
  Status error;

  static std::string join(const std::string& prefix, const std::string& name) {
    return prefix.empty() ? name : name.empty() ? prefix : prefix + "." + name;
  }

  void visit(const ValuePtr& value, const std::string& name, int depth) {
    if (!error.isOk() || !value) return;
    if (depth > 256) {
      error = Status::input(file.path.string() + ": objects nested more than 256 levels deep at '" + name + "'");
      return;
    }
    if (value->kind == Kind::Tensor) {
      auto tensor = materialize(*value, name);
      if (!tensor) {
        error = tensor.status();
        return;
      }
      tensors.push_back(std::move(*tensor));
      return;
    }
    if (!onPath.insert(value.get()).second) return;
    switch (value->kind) {
      case Kind::Dict:
        for (const auto& [key, item] : value->entries) {
          std::string keyName = key->isString() ? key->text : key->kind == Kind::Int ? std::to_string(key->integer) : "?";
          visit(item, join(name, keyName), depth + 1);
        }
        break;
      case Kind::Tuple:
      case Kind::List:
      case Kind::Set:
        for (size_t i = 0; i < value->items.size(); ++i) visit(value->items[i], join(name, std::to_string(i)), depth + 1);
        break;
      case Kind::Object:
        for (size_t i = 0; i < value->items.size(); ++i) visit(value->items[i], join(name, std::to_string(i)), depth + 1);
        if (value->state && value->state->kind == Kind::Dict) {
          for (const auto& [key, item] : value->state->entries) {
            if (!key->isString()) continue;
            visit(item, isModuleBookkeeping(key->text) ? name : join(name, key->text), depth + 1);
          }
        } else if (value->state) {
          visit(value->state, name, depth + 1);
        }
        break;
      default:
        break;
    }
    onPath.erase(value.get());
  }

  Expected<SavedTensor> materialize(const Value& value, const std::string& name) {
    const std::string where = file.path.string() + ": tensor '" + name + "'";
    if (!value.tensor.storage) return Status::input(where + " has no storage");
    TP_ASSIGN_OR_RETURN(StorageRef ref, parseStorageId(*value.tensor.storage, file.path.string()));
    auto storage = file.storages.find(ref.key);
    if (storage == file.storages.end()) return Status::input(where + " refers to storage '" + ref.key + "' that is missing");
    at::Tensor flat = storage->second;
    if (ref.viewNumel >= 0) {
      if (ref.viewOffset + ref.viewNumel > flat.numel()) return Status::input(where + " views past its storage (corrupt?)");
      flat = flat.narrow(0, ref.viewOffset, ref.viewNumel);
    }
    const auto& sizes = value.tensor.sizes;
    const auto& strides = value.tensor.strides;
    // Bounds: the last element addressed must lie inside the storage.
    int64_t last = value.tensor.storageOffset;
    bool empty = false;
    for (size_t i = 0; i < sizes.size(); ++i) {
      if (sizes[i] < 0 || strides[i] < 0) return Status::input(where + " has a negative size or stride (corrupt?)");
      if (sizes[i] == 0) empty = true;
      if (sizes[i] > 0 && strides[i] > 0 && (sizes[i] - 1) > (INT64_MAX - last) / strides[i]) {
        return Status::input(where + " has sizes/strides that overflow (corrupt?)");
      }
      if (sizes[i] > 0) last += (sizes[i] - 1) * strides[i];
    }
    if (value.tensor.storageOffset < 0 || (!empty && last >= flat.numel())) {
      return Status::input(where + " addresses elements past the end of its storage (corrupt?)");
    }
    SavedTensor saved;
    saved.name = name;
    saved.savedDevice = ref.location;
    saved.tensor = empty ? at::empty(sizes, flat.options()) : flat.as_strided(sizes, strides, value.tensor.storageOffset);
    return saved;
  }
};

}  // namespace

bool looksLikeLegacyTorchSave(std::span<const std::byte> head) {
  return head.size() >= sizeof(kLegacyMagic) && std::memcmp(head.data(), kLegacyMagic, sizeof(kLegacyMagic)) == 0;
}

Expected<TorchSaveFile> readTorchSaveFile(const fs::path& path) {
  TorchSaveFile file;
  file.path = path;
  TP_ASSIGN_OR_RETURN(std::vector<std::byte> head, readFileHead(path, 64));
  const bool isZip = head.size() >= 4 && std::to_integer<char>(head[0]) == 'P' && std::to_integer<char>(head[1]) == 'K' &&
                     std::to_integer<int>(head[2]) == 3 && std::to_integer<int>(head[3]) == 4;
  if (isZip) {
    file.format = "zip";
    TP_RETURN_IF_ERROR(readZip(file));
  } else if (looksLikeLegacyTorchSave(head)) {
    file.format = "legacy";
    TP_ASSIGN_OR_RETURN(std::vector<std::byte> bytes, readWholeFile(path));
    TP_RETURN_IF_ERROR(readLegacy(file, bytes));
  } else {
    return Status::input(path.string() + ": is not a torch.save file (neither a zip archive with data.pkl nor the "
                         "legacy pickle format); save weights with torch.save(model.state_dict(), \"model.pth\")");
  }
  noteStructure(file);
  return file;
}

Expected<std::vector<SavedTensor>> collectTensors(const TorchSaveFile& file, const ValuePtr& value,
                                                 const std::string& prefix) {
  Collector collector{file, {}, {}, Status::ok()};
  collector.visit(value, prefix, 0);
  if (!collector.error.isOk()) return collector.error;
  return std::move(collector.tensors);
}

Status refuseUnlessWeightsOnly(const TorchSaveFile& file) {
  if (file.weightsOnly()) return Status::ok();
  std::string globals;
  for (const std::string& global : file.disallowedGlobals) globals += (globals.empty() ? "" : ", ") + global;
  const std::string name = file.path.string();
  if (!file.modelClass.empty()) {
    return Status::input(
        name + ": is a whole model pickled with torch.save(model) (class " + file.modelClass +
        "), not a state_dict. Loading it would need the model's Python class definitions and would run pickled code, "
        "and such files break across PyTorch versions, so torchport refuses it (nothing in it was executed). Fix: "
        "save TorchScript instead, torch.jit.script(model).save(\"model.pt\") or torch.jit.trace(model, "
        "example_input).save(\"model.pt\"), or save the weights with torch.save(model.state_dict(), \"model.pth\") "
        "and bind them with input: weights:. Globals it needs: " + globals);
  }
  return Status::input(name + ": refused: it references Python globals that torch.load(weights_only=True) does not "
                       "allow: " + globals + ". A weights file may only hold tensors, containers (dict, list, tuple, "
                       "OrderedDict) and numbers/strings; loading anything else would run code from the file "
                       "(nothing was executed). Save plain tensors, e.g. torch.save(model.state_dict(), \"model.pth\")");
}

}  // namespace torchport::torchscript
