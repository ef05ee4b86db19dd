#include "pickle_reader.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <set>
#include <unordered_map>

namespace torchport::torchscript::pickle {
namespace {

using Kind = Value::Kind;

// Opcodes of the pickle protocols 0..5 that torch.save (and Python's pickle for the
// containers it writes) emits. Names as in Python's pickletools.
enum Opcode : uint8_t {
  kMark = '(', kStop = '.', kPop = '0', kPopMark = '1', kDup = '2', kFloat = 'F', kInt = 'I', kBinInt = 'J',
  kBinInt1 = 'K', kLong = 'L', kBinInt2 = 'M', kNone = 'N', kPersId = 'P', kBinPersId = 'Q', kReduce = 'R',
  kString = 'S', kBinString = 'T', kShortBinString = 'U', kUnicode = 'V', kBinUnicode = 'X', kAppend = 'a',
  kBuild = 'b', kGlobal = 'c', kDict = 'd', kEmptyDict = '}', kAppends = 'e', kGet = 'g', kBinGet = 'h',
  kLongBinGet = 'j', kList = 'l', kEmptyList = ']', kPut = 'p', kBinPut = 'q', kLongBinPut = 'r', kSetItem = 's',
  kTuple = 't', kEmptyTuple = ')', kSetItems = 'u', kBinFloat = 'G', kBinBytes = 'B', kShortBinBytes = 'C',
  kProto = 0x80, kNewObj = 0x81, kTuple1 = 0x85, kTuple2 = 0x86, kTuple3 = 0x87, kNewTrue = 0x88,
  kNewFalse = 0x89, kLong1 = 0x8a, kLong4 = 0x8b, kShortBinUnicode = 0x8c, kBinUnicode8 = 0x8d,
  kBinBytes8 = 0x8e, kEmptySet = 0x8f, kAddItems = 0x90, kFrozenSet = 0x91, kNewObjEx = 0x92,
  kStackGlobal = 0x93, kMemoize = 0x94, kFrame = 0x95, kByteArray8 = 0x96,
};

ValuePtr makeInt(int64_t v) {
  ValuePtr value = Value::make(Kind::Int);
  value->integer = v;
  return value;
}
ValuePtr makeBool(bool v) {
  ValuePtr value = Value::make(Kind::Bool);
  value->boolean = v;
  return value;
}
ValuePtr makeText(Kind kind, std::string text) {
  ValuePtr value = Value::make(kind);
  value->text = std::move(text);
  return value;
}

class Machine {
 public:
  Machine(std::span<const std::byte> bytes, std::string_view what) : bytes_(bytes), what_(what) {}

  Expected<PickleResult> run() {
    while (true) {
      if (position_ >= bytes_.size()) return fail("the pickle ends without a STOP opcode (file truncated?)");
      opcodeAt_ = position_;
      opcode_ = std::to_integer<uint8_t>(bytes_[position_++]);
      if (opcode_ == kStop) break;
      TP_RETURN_IF_ERROR(step());
    }
    if (stack_.size() != 1 || !marks_.empty()) return fail("the pickle does not leave exactly one object");
    PickleResult result;
    result.root = stack_.back();
    result.bytesRead = position_;
    result.disallowedGlobals = std::move(disallowed_);
    return result;
  }

 private:
  Status fail(std::string_view why) const {
    char opcode[8];
    std::snprintf(opcode, sizeof(opcode), "0x%02x", opcode_);
    return Status::input(std::string(what_) + ": not a readable torch.save pickle: " + std::string(why) +
                         " (opcode " + opcode + " at byte " + std::to_string(opcodeAt_) +
                         "); the file may be corrupt, or written by something other than torch.save");
  }

  // ---- reading the byte stream ----
  Expected<std::span<const std::byte>> take(uint64_t count) {
    if (count > bytes_.size() - position_) return fail("a length runs past the end of the data");
    auto span = bytes_.subspan(position_, static_cast<size_t>(count));
    position_ += static_cast<size_t>(count);
    return span;
  }
  template <class T>
  Expected<T> readLittle() {
    TP_ASSIGN_OR_RETURN(auto span, take(sizeof(T)));
    T value;
    std::memcpy(&value, span.data(), sizeof(T));
    static_assert(std::endian::native == std::endian::little, "pickle integers are little-endian");
    return value;
  }
  Expected<std::string> takeString(uint64_t count) {
    TP_ASSIGN_OR_RETURN(auto span, take(count));
    return std::string(reinterpret_cast<const char*>(span.data()), span.size());
  }
  Expected<std::string> readLine() {
    const size_t start = position_;
    while (position_ < bytes_.size() && std::to_integer<char>(bytes_[position_]) != '\n') ++position_;
    if (position_ >= bytes_.size()) return fail("a text argument has no end of line");
    std::string line(reinterpret_cast<const char*>(bytes_.data() + start), position_ - start);
    ++position_;
    return line;
  }

  // ---- the stack ----
  Expected<ValuePtr> pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) return fail("the stack is empty");
    ValuePtr value = std::move(stack_.back());
    stack_.pop_back();
    return value;
  }
  Expected<ValuePtr> top() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) return fail("the stack is empty");
    return stack_.back();
  }
  Expected<std::vector<ValuePtr>> popToMark() {
    if (marks_.empty()) return fail("no MARK to pop to");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> items(std::make_move_iterator(stack_.begin() + static_cast<std::ptrdiff_t>(mark)),
                                std::make_move_iterator(stack_.end()));
    stack_.resize(mark);
    return items;
  }
  void push(ValuePtr value) { stack_.push_back(std::move(value)); }

  Status memoPut(uint64_t key) {
    TP_ASSIGN_OR_RETURN(ValuePtr value, top());
    memo_[key] = std::move(value);
    return Status::ok();
  }
  Status memoGet(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) return fail("a memo lookup of an entry that was never stored");
    push(it->second);
    return Status::ok();
  }

  Status pushInteger(std::span<const std::byte> littleEndian) {
    if (littleEndian.size() > 8) return fail("an integer wider than 64 bits");
    uint64_t raw = 0;
    for (size_t i = 0; i < littleEndian.size(); ++i) raw |= uint64_t{std::to_integer<uint8_t>(littleEndian[i])} << (8 * i);
    if (!littleEndian.empty() && littleEndian.size() < 8 && (std::to_integer<uint8_t>(littleEndian.back()) & 0x80) != 0) {
      raw |= ~uint64_t{0} << (8 * littleEndian.size());  // sign-extend
    }
    push(makeInt(static_cast<int64_t>(raw)));
    return Status::ok();
  }

  Status pushTextInteger(const std::string& line) {
    if (line == "01" || line == "00") {  // protocol 0 booleans
      push(makeBool(line == "01"));
      return Status::ok();
    }
    std::string digits = line;
    if (!digits.empty() && digits.back() == 'L') digits.pop_back();
    int64_t v = 0;
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (error != std::errc() || end != digits.data() + digits.size()) return fail("a text integer that is not a 64-bit integer");
    push(makeInt(v));
    return Status::ok();
  }

  Status pushGlobal(std::string module, std::string name) {
    ValuePtr value = Value::make(Kind::Global);
    value->global = GlobalName{std::move(module), std::move(name)};
    value->allowed = isAllowedGlobal(value->global);
    if (!value->allowed) {
      std::string qualified = value->global.qualified();
      if (std::find(disallowed_.begin(), disallowed_.end(), qualified) == disallowed_.end()) {
        disallowed_.push_back(std::move(qualified));
      }
    }
    push(std::move(value));
    return Status::ok();
  }

  static Expected<std::vector<int64_t>> intTuple(const ValuePtr& value) {
    if (value->kind != Kind::Tuple && value->kind != Kind::List) return Status::input("");
    std::vector<int64_t> ints;
    for (const ValuePtr& item : value->items) {
      if (item->kind != Kind::Int) return Status::input("");
      ints.push_back(item->integer);
    }
    return ints;
  }

  // REDUCE / NEWOBJ of `callable` with positional `args`: only allow-listed functions are
  // interpreted (as data, never run); anything else becomes an inert placeholder.
  Expected<ValuePtr> call(const ValuePtr& callable, const ValuePtr& args) {
    if (args->kind != Kind::Tuple) return fail("call arguments are not a tuple");
    const std::vector<ValuePtr>& a = args->items;
    if (callable->kind == Kind::Global && callable->allowed) {
      const std::string name = callable->global.qualified();
      if (name == "collections.OrderedDict") {
        ValuePtr dict = Value::make(Kind::Dict);
        if (!a.empty() && (a[0]->kind == Kind::List || a[0]->kind == Kind::Tuple)) {
          for (const ValuePtr& pair : a[0]->items) {
            if ((pair->kind == Kind::Tuple || pair->kind == Kind::List) && pair->items.size() == 2) {
              dict->entries.emplace_back(pair->items[0], pair->items[1]);
            }
          }
        }
        return dict;
      }
      if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor") {
        if (a.size() < 4 || a[0]->kind != Kind::PersistentId || a[1]->kind != Kind::Int) {
          return fail(name + " with arguments that are not (storage, offset, size, stride, ...)");
        }
        auto sizes = intTuple(a[2]);
        auto strides = intTuple(a[3]);
        if (!sizes || !strides || sizes->size() != strides->size()) {
          return fail(name + " with sizes/strides that are not integer tuples of the same length");
        }
        ValuePtr tensor = Value::make(Kind::Tensor);
        tensor->tensor.storage = a[0];
        tensor->tensor.storageOffset = a[1]->integer;
        tensor->tensor.sizes = std::move(*sizes);
        tensor->tensor.strides = std::move(*strides);
        return tensor;
      }
      if (name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state" ||
          name == "torch.nn.parameter.Parameter") {
        if (!a.empty() && a[0]->kind == Kind::Tensor) {
          ValuePtr parameter = std::make_shared<Value>(*a[0]);
          parameter->tensor.isParameter = true;
          return parameter;
        }
      }
      if (name == "torch.Size" && a.size() == 1 && (a[0]->kind == Kind::Tuple || a[0]->kind == Kind::List)) {
        ValuePtr tuple = Value::make(Kind::Tuple);
        tuple->items = a[0]->items;
        return tuple;
      }
      if (name == "torch.device" && !a.empty() && a[0]->kind == Kind::String) {
        std::string device = a[0]->text;
        if (a.size() > 1 && a[1]->kind == Kind::Int) device += ":" + std::to_string(a[1]->integer);
        return makeText(Kind::String, device);
      }
    }
    ValuePtr object = Value::make(Kind::Object);
    if (callable->kind == Kind::Global) {
      object->global = callable->global;
    } else if (callable->kind == Kind::Object) {
      object->global = callable->global;  // calling an object made by a class: same class family
    } else {
      object->global = GlobalName{"", "<" + callable->describe() + ">"};
    }
    object->items = a;
    return object;
  }

  Status step() {
    switch (opcode_) {
      case kProto: return take(1).status();
      case kFrame: return take(8).status();
      case kMark: marks_.push_back(stack_.size()); return Status::ok();
      case kPop: return pop().status();
      case kPopMark: return popToMark().status();
      case kDup: {
        TP_ASSIGN_OR_RETURN(ValuePtr value, top());
        push(value);
        return Status::ok();
      }
      case kNone: push(Value::make(Kind::None)); return Status::ok();
      case kNewTrue: push(makeBool(true)); return Status::ok();
      case kNewFalse: push(makeBool(false)); return Status::ok();
      case kBinInt: {
        TP_ASSIGN_OR_RETURN(int32_t v, readLittle<int32_t>());
        push(makeInt(v));
        return Status::ok();
      }
      case kBinInt1: {
        TP_ASSIGN_OR_RETURN(uint8_t v, readLittle<uint8_t>());
        push(makeInt(v));
        return Status::ok();
      }
      case kBinInt2: {
        TP_ASSIGN_OR_RETURN(uint16_t v, readLittle<uint16_t>());
        push(makeInt(v));
        return Status::ok();
      }
      case kLong1: {
        TP_ASSIGN_OR_RETURN(uint8_t count, readLittle<uint8_t>());
        TP_ASSIGN_OR_RETURN(auto span, take(count));
        return pushInteger(span);
      }
      case kLong4: {
        TP_ASSIGN_OR_RETURN(int32_t count, readLittle<int32_t>());
        if (count < 0) return fail("a negative length");
        TP_ASSIGN_OR_RETURN(auto span, take(static_cast<uint64_t>(count)));
        return pushInteger(span);
      }
      case kInt:
      case kLong: {
        TP_ASSIGN_OR_RETURN(std::string line, readLine());
        return pushTextInteger(line);
      }
      case kBinFloat: {
        TP_ASSIGN_OR_RETURN(uint64_t bigEndian, readLittle<uint64_t>());
        ValuePtr value = Value::make(Kind::Float);
        value->real = std::bit_cast<double>(__builtin_bswap64(bigEndian));
        push(std::move(value));
        return Status::ok();
      }
      case kFloat: {
        TP_ASSIGN_OR_RETURN(std::string line, readLine());
        ValuePtr value = Value::make(Kind::Float);
        auto [end, error] = std::from_chars(line.data(), line.data() + line.size(), value->real);
        if (error != std::errc() || end != line.data() + line.size()) return fail("a text float that does not parse");
        push(std::move(value));
        return Status::ok();
      }
      case kBinUnicode:
      case kBinString:
      case kBinBytes: {
        TP_ASSIGN_OR_RETURN(uint32_t count, readLittle<uint32_t>());
        TP_ASSIGN_OR_RETURN(std::string text, takeString(count));
        push(makeText(opcode_ == kBinBytes ? Kind::Bytes : Kind::String, std::move(text)));
        return Status::ok();
      }
      case kShortBinUnicode:
      case kShortBinString:
      case kShortBinBytes: {
        TP_ASSIGN_OR_RETURN(uint8_t count, readLittle<uint8_t>());
        TP_ASSIGN_OR_RETURN(std::string text, takeString(count));
        push(makeText(opcode_ == kShortBinBytes ? Kind::Bytes : Kind::String, std::move(text)));
        return Status::ok();
      }
      case kBinUnicode8:
      case kBinBytes8:
      case kByteArray8: {
        TP_ASSIGN_OR_RETURN(uint64_t count, readLittle<uint64_t>());
        TP_ASSIGN_OR_RETURN(std::string text, takeString(count));
        push(makeText(opcode_ == kBinUnicode8 ? Kind::String : Kind::Bytes, std::move(text)));
        return Status::ok();
      }
      case kEmptyDict: push(Value::make(Kind::Dict)); return Status::ok();
      case kEmptyList: push(Value::make(Kind::List)); return Status::ok();
      case kEmptyTuple: push(Value::make(Kind::Tuple)); return Status::ok();
      case kEmptySet: push(Value::make(Kind::Set)); return Status::ok();
      case kTuple1:
      case kTuple2:
      case kTuple3: {
        const size_t count = static_cast<size_t>(opcode_ - kTuple1 + 1);
        ValuePtr tuple = Value::make(Kind::Tuple);
        tuple->items.resize(count);
        for (size_t i = count; i-- > 0;) {
          TP_ASSIGN_OR_RETURN(tuple->items[i], pop());
        }
        push(std::move(tuple));
        return Status::ok();
      }
      case kTuple:
      case kList:
      case kFrozenSet: {
        ValuePtr sequence = Value::make(opcode_ == kTuple ? Kind::Tuple : opcode_ == kList ? Kind::List : Kind::Set);
        TP_ASSIGN_OR_RETURN(sequence->items, popToMark());
        push(std::move(sequence));
        return Status::ok();
      }
      case kDict: {
        TP_ASSIGN_OR_RETURN(std::vector<ValuePtr> items, popToMark());
        if (items.size() % 2 != 0) return fail("DICT with an odd number of items");
        ValuePtr dict = Value::make(Kind::Dict);
        for (size_t i = 0; i < items.size(); i += 2) dict->entries.emplace_back(items[i], items[i + 1]);
        push(std::move(dict));
        return Status::ok();
      }
      case kAppend: {
        TP_ASSIGN_OR_RETURN(ValuePtr item, pop());
        TP_ASSIGN_OR_RETURN(ValuePtr list, top());
        return appendTo(list, {std::move(item)});
      }
      case kAppends:
      case kAddItems: {
        TP_ASSIGN_OR_RETURN(std::vector<ValuePtr> items, popToMark());
        TP_ASSIGN_OR_RETURN(ValuePtr list, top());
        return appendTo(list, std::move(items));
      }
      case kSetItem: {
        TP_ASSIGN_OR_RETURN(ValuePtr value, pop());
        TP_ASSIGN_OR_RETURN(ValuePtr key, pop());
        TP_ASSIGN_OR_RETURN(ValuePtr dict, top());
        return setItems(dict, {std::move(key), std::move(value)});
      }
      case kSetItems: {
        TP_ASSIGN_OR_RETURN(std::vector<ValuePtr> items, popToMark());
        TP_ASSIGN_OR_RETURN(ValuePtr dict, top());
        return setItems(dict, std::move(items));
      }
      case kGlobal: {
        TP_ASSIGN_OR_RETURN(std::string module, readLine());
        TP_ASSIGN_OR_RETURN(std::string name, readLine());
        return pushGlobal(std::move(module), std::move(name));
      }
      case kStackGlobal: {
        TP_ASSIGN_OR_RETURN(ValuePtr name, pop());
        TP_ASSIGN_OR_RETURN(ValuePtr module, pop());
        if (!name->isString() || !module->isString()) return fail("STACK_GLOBAL of non-strings");
        return pushGlobal(module->text, name->text);
      }
      case kReduce:
      case kNewObj: {
        TP_ASSIGN_OR_RETURN(ValuePtr args, pop());
        TP_ASSIGN_OR_RETURN(ValuePtr callable, pop());
        TP_ASSIGN_OR_RETURN(ValuePtr result, call(callable, args));
        push(std::move(result));
        return Status::ok();
      }
      case kNewObjEx: {
        TP_ASSIGN_OR_RETURN(ValuePtr kwargs, pop());
        TP_ASSIGN_OR_RETURN(ValuePtr args, pop());
        TP_ASSIGN_OR_RETURN(ValuePtr callable, pop());
        TP_ASSIGN_OR_RETURN(ValuePtr result, call(callable, args));
        if (result->kind == Kind::Object) result->state = kwargs;
        push(std::move(result));
        return Status::ok();
      }
      case kBuild: {
        TP_ASSIGN_OR_RETURN(ValuePtr state, pop());
        TP_ASSIGN_OR_RETURN(ValuePtr target, top());
        // Objects keep their state (where a pickled module's tensors are); a dict's or a
        // tensor's extra attributes (a state_dict's _metadata) carry no weights.
        if (target->kind == Kind::Object) target->state = std::move(state);
        return Status::ok();
      }
      case kBinPersId: {
        TP_ASSIGN_OR_RETURN(ValuePtr id, pop());
        ValuePtr persistent = Value::make(Kind::PersistentId);
        persistent->items = id->kind == Kind::Tuple ? id->items : std::vector<ValuePtr>{id};
        push(std::move(persistent));
        return Status::ok();
      }
      case kPersId: {
        TP_ASSIGN_OR_RETURN(std::string line, readLine());
        ValuePtr persistent = Value::make(Kind::PersistentId);
        persistent->items.push_back(makeText(Kind::String, std::move(line)));
        push(std::move(persistent));
        return Status::ok();
      }
      case kBinPut: {
        TP_ASSIGN_OR_RETURN(uint8_t key, readLittle<uint8_t>());
        return memoPut(key);
      }
      case kLongBinPut: {
        TP_ASSIGN_OR_RETURN(uint32_t key, readLittle<uint32_t>());
        return memoPut(key);
      }
      case kMemoize: return memoPut(memo_.size());
      case kPut: {
        TP_ASSIGN_OR_RETURN(std::string line, readLine());
        uint64_t key = 0;
        auto [end, error] = std::from_chars(line.data(), line.data() + line.size(), key);
        if (error != std::errc() || end != line.data() + line.size()) return fail("PUT with a bad key");
        return memoPut(key);
      }
      case kBinGet: {
        TP_ASSIGN_OR_RETURN(uint8_t key, readLittle<uint8_t>());
        return memoGet(key);
      }
      case kLongBinGet: {
        TP_ASSIGN_OR_RETURN(uint32_t key, readLittle<uint32_t>());
        return memoGet(key);
      }
      case kGet: {
        TP_ASSIGN_OR_RETURN(std::string line, readLine());
        uint64_t key = 0;
        auto [end, error] = std::from_chars(line.data(), line.data() + line.size(), key);
        if (error != std::errc() || end != line.data() + line.size()) return fail("GET with a bad key");
        return memoGet(key);
      }
      default:
        return fail("an opcode torch.save does not write (protocol-0 instances, extension codes, ...)");
    }
  }

  Status appendTo(const ValuePtr& target, std::vector<ValuePtr> items) {
    if (target->kind == Kind::List || target->kind == Kind::Set) {
      for (ValuePtr& item : items) target->items.push_back(std::move(item));
      return Status::ok();
    }
    if (target->kind == Kind::Object) {  // list subclass of an unknown class: keep as its arguments
      for (ValuePtr& item : items) target->items.push_back(std::move(item));
      return Status::ok();
    }
    return fail("APPEND to a " + target->describe());
  }

  Status setItems(const ValuePtr& target, std::vector<ValuePtr> items) {
    if (items.size() % 2 != 0) return fail("SETITEMS with an odd number of items");
    ValuePtr dict = target;
    if (target->kind == Kind::Object) {  // dict subclass of an unknown class: keep the items as its state
      if (!target->state || target->state->kind != Kind::Dict) target->state = Value::make(Kind::Dict);
      dict = target->state;
    } else if (target->kind != Kind::Dict) {
      return fail("SETITEM on a " + target->describe());
    }
    for (size_t i = 0; i < items.size(); i += 2) {
      auto same = std::find_if(dict->entries.begin(), dict->entries.end(), [&](const auto& entry) {
        return entry.first->kind == items[i]->kind && entry.first->kind == Kind::String && entry.first->text == items[i]->text;
      });
      if (same != dict->entries.end()) {
        same->second = std::move(items[i + 1]);
      } else {
        dict->entries.emplace_back(std::move(items[i]), std::move(items[i + 1]));
      }
    }
    return Status::ok();
  }

  std::span<const std::byte> bytes_;
  std::string_view what_;
  size_t position_ = 0;
  size_t opcodeAt_ = 0;
  uint8_t opcode_ = 0;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, ValuePtr> memo_;
  std::vector<std::string> disallowed_;
};

}  // namespace

Value::~Value() {
  std::vector<ValuePtr> pending;
  auto release = [&pending](Value& value) {
    for (ValuePtr& item : value.items) pending.push_back(std::move(item));
    for (auto& [key, item] : value.entries) {
      pending.push_back(std::move(key));
      pending.push_back(std::move(item));
    }
    pending.push_back(std::move(value.state));
    pending.push_back(std::move(value.tensor.storage));
    value.items.clear();
    value.entries.clear();
  };
  release(*this);
  while (!pending.empty()) {
    ValuePtr value = std::move(pending.back());
    pending.pop_back();
    // Only the last owner takes the children; the value then dies without any.
    if (value && value.use_count() == 1) release(*value);
  }
}

std::string Value::describe() const {
  switch (kind) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Set: return "set";
    case Kind::Global: return "reference to " + global.qualified();
    case Kind::Object: return global.qualified() + " object";
    case Kind::Tensor: return "tensor";
    case Kind::PersistentId: return "storage reference";
  }
  return "value";
}

bool isAllowedGlobal(const GlobalName& global) {
  // torch/_weights_only_unpickler.py's allow-list (PyTorch 1.13 .. 2.x), minus nothing:
  // every entry is a plain data constructor. Storage and dtype names are matched by
  // pattern (torch.FloatStorage ... torch.BFloat16Storage; torch.float32 ...).
  static const std::set<std::string, std::less<>> exact = {
      "collections.OrderedDict",
      "torch.nn.parameter.Parameter",
      "torch.serialization._get_layout",
      "torch.Size",
      "torch.Tensor",
      "torch.device",
      "torch._utils._rebuild_parameter",
      "torch._utils._rebuild_parameter_with_state",
      "torch._utils._rebuild_tensor",
      "torch._utils._rebuild_tensor_v2",
      "torch._utils._rebuild_sparse_tensor",
      "torch._utils._rebuild_meta_tensor_no_storage",
      "torch._utils._rebuild_sparse_csr_tensor",
      "torch.storage.UntypedStorage",
      "torch.storage._LegacyStorage",
      "torch.storage.TypedStorage",
  };
  const std::string qualified = global.qualified();
  if (exact.count(qualified) > 0) return true;
  if (global.module == "torch" && global.name.ends_with("Storage") && global.name.find('.') == std::string::npos) return true;
  if (global.module == "torch" && global.name.ends_with("Tensor") && global.name.find('.') == std::string::npos) return true;
  static const std::set<std::string, std::less<>> dtypes = {"complex32", "complex64", "complex128", "float16", "float32",
                                                            "float64",   "int8",      "int16",      "int32",   "int64",
                                                            "bfloat16",  "uint8",     "bool"};
  return global.module == "torch" && dtypes.count(global.name) > 0;
}

Expected<PickleResult> readPickle(std::span<const std::byte> bytes, std::string_view what) {
  Machine machine(bytes, what);
  return machine.run();
}

}  // namespace torchport::torchscript::pickle
