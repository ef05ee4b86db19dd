// A restricted Python pickle reader for the files torch.save writes (protocols 2..5).
//
// It NEVER calls anything: GLOBAL opcodes become inert `Global` values, REDUCE / NEWOBJ /
// BUILD on them become inert `Object` placeholders (class + arguments + state). Only the
// globals that torch.load(weights_only=True) accepts are given meaning (OrderedDict,
// torch.Size, torch._utils._rebuild_tensor_v2 and friends, storage classes); every other
// global is recorded in `PickleResult::disallowedGlobals`, and the caller decides (refuse
// when loading weights, list the tensors anyway when inspecting). Persistent ids (how
// torch.save refers to tensor storages) are kept as `PersistentId` values for the caller.
//
// No LibTorch here: tensors are described (storage id, offset, sizes, strides); the
// torch.save reader (torch_save_reader.h) materialises them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "torchport/status.h"

namespace torchport::torchscript::pickle {

struct Value;
using ValuePtr = std::shared_ptr<Value>;

struct GlobalName {
  std::string module;
  std::string name;
  std::string qualified() const { return module + "." + name; }
};

// A tensor as torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...) describes it.
struct TensorRecord {
  ValuePtr storage;  // a PersistentId value
  int64_t storageOffset = 0;
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
  bool isParameter = false;  // came through torch._utils._rebuild_parameter / nn.Parameter
};

struct Value {
  enum class Kind : uint8_t {
    None, Bool, Int, Float, String, Bytes, Tuple, List, Dict, Set,
    Global,        // a class or function reference (inert)
    Object,        // REDUCE / NEWOBJ of a global we do not interpret (inert placeholder)
    Tensor,        // an interpreted tensor rebuild
    PersistentId,  // BINPERSID argument (torch.save: ('storage', type, key, location, numel))
  };
  Kind kind = Kind::None;
  bool boolean = false;
  int64_t integer = 0;
  double real = 0.0;
  std::string text;                                    // String, Bytes
  std::vector<ValuePtr> items;                         // Tuple, List, Set; Object's arguments; PersistentId's tuple items
  std::vector<std::pair<ValuePtr, ValuePtr>> entries;  // Dict, in insertion order
  GlobalName global;                                   // Global; Object's class
  bool allowed = false;                                // Global: on the weights_only allow-list
  ValuePtr state;                                      // Object: BUILD state
  TensorRecord tensor;                                 // Tensor

  Value() = default;
  Value(const Value&) = default;
  Value& operator=(const Value&) = default;
  // Iterative: a hostile pickle can nest a million tuples in a few megabytes, which a
  // recursive destructor chain would turn into a stack overflow.
  ~Value();

  static ValuePtr make(Kind kind) {
    auto value = std::make_shared<Value>();
    value->kind = kind;
    return value;
  }
  bool isString() const { return kind == Kind::String; }
  // "dict", "tuple", "torch._utils._rebuild_tensor_v2 result"...: for error messages.
  std::string describe() const;
};

struct PickleResult {
  ValuePtr root;
  size_t bytesRead = 0;                        // where STOP was (legacy files chain pickles)
  std::vector<std::string> disallowedGlobals;  // module.name, in first-use order, unique
};

// The globals torch.load(weights_only=True) accepts (as "module.name"), that this reader
// interprets or keeps as inert values.
bool isAllowedGlobal(const GlobalName& global);

// Reads one pickle from the start of `bytes` (up to its STOP). Errors (Status::input)
// give the byte offset and the opcode; `what` names the source in messages ("x.pth: data.pkl").
Expected<PickleResult> readPickle(std::span<const std::byte> bytes, std::string_view what);

}  // namespace torchport::torchscript::pickle
