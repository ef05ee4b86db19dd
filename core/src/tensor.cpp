// Element types, shapes, types, storages and tensors of the IR (see ir.h).
//
// Storage keeps weights where they already are: an owned vector, a read-only mmap'ed file
// region (unmapped when the last tensor viewing it goes away), or memory borrowed from a
// foreign owner (at::Tensor, protobuf string) kept alive by a type-erased handle.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>

#include "torchport/ir.h"

namespace torchport {

// ---------------------------------------------------------------------------------------
// DType
// ---------------------------------------------------------------------------------------
namespace {

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  size_t size;
};

// Explicit table: the textual name is what the textual IR prints.
constexpr DTypeInfo kDTypes[] = {
    {DType::Undefined, "?", 0},  {DType::F32, "f32", 4},       {DType::F64, "f64", 8},
    {DType::F16, "f16", 2},      {DType::BF16, "bf16", 2},     {DType::I8, "i8", 1},
    {DType::I16, "i16", 2},      {DType::I32, "i32", 4},       {DType::I64, "i64", 8},
    {DType::U8, "u8", 1},        {DType::U16, "u16", 2},       {DType::U32, "u32", 4},
    {DType::U64, "u64", 8},      {DType::Bool, "bool", 1},     {DType::C64, "c64", 8},
    {DType::C128, "c128", 16},   {DType::F8E4M3, "f8e4m3", 1}, {DType::F8E5M2, "f8e5m2", 1},
};

// Spellings users write in configs (`dtype: float32`) besides the IR names. "float" and
// "int" are deliberately absent: in the textual IR they are scalar types.
struct DTypeAlias {
  std::string_view alias;
  DType dtype;
};
constexpr DTypeAlias kDTypeAliases[] = {
    {"float32", DType::F32}, {"float64", DType::F64},   {"double", DType::F64},
    {"float16", DType::F16}, {"half", DType::F16},      {"bfloat16", DType::BF16},
    {"int8", DType::I8},     {"int16", DType::I16},     {"int32", DType::I32},
    {"int64", DType::I64},   {"long", DType::I64},      {"uint8", DType::U8},
    {"uint16", DType::U16},  {"uint32", DType::U32},    {"uint64", DType::U64},
    {"complex64", DType::C64}, {"complex128", DType::C128},
};

const DTypeInfo& infoOf(DType dtype) {
  for (const DTypeInfo& info : kDTypes) {
    if (info.dtype == dtype) return info;
  }
  return kDTypes[0];
}

}  // namespace

std::string_view dtypeName(DType dtype) { return infoOf(dtype).name; }

std::optional<DType> parseDType(std::string_view name) {
  for (const DTypeInfo& info : kDTypes) {
    if (info.name == name) return info.dtype;
  }
  for (const DTypeAlias& alias : kDTypeAliases) {
    if (alias.alias == name) return alias.dtype;
  }
  return std::nullopt;
}

size_t dtypeSize(DType dtype) { return infoOf(dtype).size; }

bool isFloatingPoint(DType dtype) {
  switch (dtype) {
    case DType::F32: case DType::F64: case DType::F16: case DType::BF16:
    case DType::F8E4M3: case DType::F8E5M2:
      return true;
    default:
      return false;
  }
}

bool isInteger(DType dtype) {
  switch (dtype) {
    case DType::I8: case DType::I16: case DType::I32: case DType::I64:
    case DType::U8: case DType::U16: case DType::U32: case DType::U64:
      return true;
    default:
      return false;
  }
}

// IEEE binary16 -> binary32 is exact: every half is a float.
float float16BitsToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);  // inf / NaN (payload kept)
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal half: normalize into a float exponent
    uint32_t shift = 0;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      ++shift;
    }
    mantissa &= 0x3ffu;
    bits = sign | ((113 - shift) << 23) | (mantissa << 13);
  }
  return std::bit_cast<float>(bits);
}

// Round-to-nearest-even through float arithmetic (Maratyszcza's FP16 method): scaling by
// 2^112 then 2^-110 makes the FPU do the rounding, including into subnormals.
uint16_t floatToFloat16Bits(float value) {
  const float scaleToInf = std::bit_cast<float>(0x77800000u);   // 2^112
  const float scaleToZero = std::bit_cast<float>(0x08800000u);  // 2^-110
  float base = (std::fabs(value) * scaleToInf) * scaleToZero;
  const uint32_t w = std::bit_cast<uint32_t>(value);
  const uint32_t shl1W = w + w;
  const uint32_t sign = w & 0x80000000u;
  uint32_t bias = shl1W & 0xff000000u;
  if (bias < 0x71000000u) bias = 0x71000000u;
  base = std::bit_cast<float>((bias >> 1) + 0x07800000u) + base;
  const uint32_t bits = std::bit_cast<uint32_t>(base);
  const uint32_t exponentBits = (bits >> 13) & 0x00007c00u;
  const uint32_t mantissaBits = bits & 0x00000fffu;
  const uint32_t nonSign = exponentBits + mantissaBits;
  return static_cast<uint16_t>((sign >> 16) | (shl1W > 0xff000000u ? 0x7e00u : nonSign));
}

float bfloat16BitsToFloat(uint16_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }

uint16_t floatToBfloat16Bits(float value) {
  uint32_t bits = std::bit_cast<uint32_t>(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x0040u);  // quiet NaN
  uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

namespace {

// ONNX FLOAT8E4M3FN: bias 7, no infinities, S.1111.111 is NaN.
double float8E4M3ToDouble(uint8_t bits) {
  double sign = (bits & 0x80) != 0 ? -1.0 : 1.0;
  int exponent = (bits >> 3) & 0xf;
  int mantissa = bits & 0x7;
  if (exponent == 0xf && mantissa == 0x7) return std::numeric_limits<double>::quiet_NaN();
  if (exponent == 0) return sign * std::ldexp(mantissa / 8.0, -6);
  return sign * std::ldexp(1.0 + mantissa / 8.0, exponent - 7);
}

// ONNX FLOAT8E5M2: IEEE-like, bias 15, with infinities and NaNs.
double float8E5M2ToDouble(uint8_t bits) {
  double sign = (bits & 0x80) != 0 ? -1.0 : 1.0;
  int exponent = (bits >> 2) & 0x1f;
  int mantissa = bits & 0x3;
  if (exponent == 0x1f) return mantissa == 0 ? sign * std::numeric_limits<double>::infinity()
                                             : std::numeric_limits<double>::quiet_NaN();
  if (exponent == 0) return sign * std::ldexp(mantissa / 4.0, -14);
  return sign * std::ldexp(1.0 + mantissa / 4.0, exponent - 15);
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Dim / Type
// ---------------------------------------------------------------------------------------
std::string Dim::toString() const {
  if (isKnown()) return std::to_string(size_);
  if (isSymbol()) return symbol_;
  return "?";
}

Type Type::tensor(DType dtype, std::optional<std::vector<Dim>> shape) {
  Type t;
  t.kind_ = Kind::Tensor;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  return t;
}

Type Type::tensor(DType dtype, const std::vector<int64_t>& knownShape) {
  std::vector<Dim> dims;
  dims.reserve(knownShape.size());
  for (int64_t size : knownShape) dims.push_back(Dim::known(size));
  return tensor(dtype, std::move(dims));
}

Type Type::scalar(Kind kind) {
  Type t;
  t.kind_ = kind;
  return t;
}

Type Type::list(Type element) {
  Type t;
  t.kind_ = Kind::List;
  t.elements_.push_back(std::move(element));
  return t;
}

Type Type::tuple(std::vector<Type> elements) {
  Type t;
  t.kind_ = Kind::Tuple;
  t.elements_ = std::move(elements);
  return t;
}

Type Type::optional(Type element) {
  Type t;
  t.kind_ = Kind::Optional;
  t.elements_.push_back(std::move(element));
  return t;
}

Type Type::object(std::string className) {
  Type t;
  t.kind_ = Kind::Object;
  t.className_ = std::move(className);
  return t;
}

std::optional<std::vector<int64_t>> Type::staticShape() const {
  if (kind_ != Kind::Tensor || !shape_) return std::nullopt;
  std::vector<int64_t> sizes;
  sizes.reserve(shape_->size());
  for (const Dim& dim : *shape_) {
    if (!dim.isKnown()) return std::nullopt;
    sizes.push_back(dim.size());
  }
  return sizes;
}

// Same spelling as the textual IR printer (text_ir.h), so messages read like the IR.
std::string Type::toString() const {
  switch (kind_) {
    case Kind::Unknown: return "unknown";
    case Kind::Tensor: {
      std::string out(dtype_ == DType::Undefined ? std::string_view("?") : dtypeName(dtype_));
      out += '[';
      if (!shape_) {
        out += '*';
      } else {
        for (size_t i = 0; i < shape_->size(); ++i) {
          if (i > 0) out += ',';
          out += (*shape_)[i].toString();
        }
      }
      out += ']';
      return out;
    }
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::Bool: return "bool";
    case Kind::String: return "str";
    case Kind::None: return "none";
    case Kind::Device: return "device";
    case Kind::List:
    case Kind::Optional: {
      std::string out = kind_ == Kind::List ? "list<" : "optional<";
      out += elements_.empty() ? std::string("unknown") : elements_.front().toString();
      return out + '>';
    }
    case Kind::Tuple: {
      std::string out = "tuple<";
      for (size_t i = 0; i < elements_.size(); ++i) {
        if (i > 0) out += ", ";
        out += elements_[i].toString();
      }
      return out + '>';
    }
    case Kind::Object: return "obj<" + className_ + ">";
  }
  return "unknown";
}

bool operator==(const Type& a, const Type& b) {
  return a.kind_ == b.kind_ && a.dtype_ == b.dtype_ && a.shape_ == b.shape_ && a.elements_ == b.elements_ &&
         a.className_ == b.className_;
}

// ---------------------------------------------------------------------------------------
// Storage
// ---------------------------------------------------------------------------------------
// Storage's constructor is private (only these factories build one), so std::make_shared
// cannot reach it; the object is owned by the shared_ptr from the first instruction.
std::shared_ptr<const Storage> Storage::owned(std::vector<std::byte> bytes) {
  std::shared_ptr<Storage> storage(new Storage());
  storage->kind_ = Kind::Owned;
  storage->owned_ = std::move(bytes);
  storage->data_ = storage->owned_.data();
  storage->size_ = storage->owned_.size();
  return storage;
}

std::shared_ptr<const Storage> Storage::borrowed(const void* data, size_t size,
                                                 std::shared_ptr<const void> keepAlive) {
  std::shared_ptr<Storage> storage(new Storage());
  storage->kind_ = Kind::Borrowed;
  storage->data_ = static_cast<const std::byte*>(data);
  storage->size_ = data == nullptr ? 0 : size;
  storage->keepAlive_ = std::move(keepAlive);
  return storage;
}

namespace {

// Closes a file descriptor on every path out of mapFile.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

Expected<std::shared_ptr<const Storage>> Storage::mapFile(const std::filesystem::path& path, size_t offset,
                                                          size_t size) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    return Status::input("cannot open " + path.string() + " for mapping: " + std::strerror(errno));
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) {
    return Status::input("cannot stat " + path.string() + ": " + std::strerror(errno));
  }
  if (!S_ISREG(info.st_mode)) {
    return Status::input("cannot map " + path.string() + ": not a regular file");
  }
  const auto fileSize = static_cast<size_t>(info.st_size);
  if (offset > fileSize) {
    return Status::input("cannot map " + path.string() + ": offset " + std::to_string(offset) +
                         " is past the end of the file (" + std::to_string(fileSize) +
                         " bytes); the file is truncated or the offset is wrong");
  }
  if (size == static_cast<size_t>(-1)) size = fileSize - offset;
  if (size > fileSize - offset) {
    return Status::input("cannot map " + path.string() + ": range [" + std::to_string(offset) + ", " +
                         std::to_string(offset) + "+" + std::to_string(size) + ") exceeds the file size (" +
                         std::to_string(fileSize) + " bytes); the file is truncated or the offset is wrong");
  }

  std::shared_ptr<Storage> storage(new Storage());
  storage->kind_ = Kind::Mapped;
  if (size == 0) return std::shared_ptr<const Storage>(std::move(storage));  // mmap rejects length 0

  // mmap offsets must be page aligned: map from the page start and point into it.
  const auto pageSize = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t alignedOffset = offset - offset % pageSize;
  const size_t lead = offset - alignedOffset;
  void* base = ::mmap(nullptr, size + lead, PROT_READ, MAP_PRIVATE, fd.get(), static_cast<off_t>(alignedOffset));
  if (base == MAP_FAILED) {
    return Status::input("cannot map " + std::to_string(size) + " bytes of " + path.string() + ": " +
                         std::strerror(errno));
  }
  storage->mapBase_ = base;
  storage->mapLength_ = size + lead;
  storage->data_ = static_cast<const std::byte*>(base) + lead;
  storage->size_ = size;
  return std::shared_ptr<const Storage>(std::move(storage));
}

Storage::~Storage() {
  if (mapBase_ != nullptr) ::munmap(mapBase_, mapLength_);
}

// ---------------------------------------------------------------------------------------
// Tensor
// ---------------------------------------------------------------------------------------
Tensor::Tensor(DType dtype, std::vector<int64_t> shape, std::shared_ptr<const Storage> storage, size_t byteOffset)
    : dtype_(dtype), shape_(std::move(shape)), storage_(std::move(storage)), byteOffset_(byteOffset) {}

Tensor Tensor::zeros(DType dtype, std::vector<int64_t> shape) {
  Tensor shapeOnly(dtype, shape, nullptr);
  std::vector<std::byte> bytes(shapeOnly.nbytes());
  return Tensor(dtype, std::move(shape), Storage::owned(std::move(bytes)));
}

Tensor Tensor::scalarI64(int64_t v) { return fromVector<int64_t>(DType::I64, {}, {v}); }
Tensor Tensor::scalarF32(float v) { return fromVector<float>(DType::F32, {}, {v}); }

// Saturates instead of overflowing: shapes come from untrusted files.
int64_t Tensor::numel() const {
  int64_t count = 1;
  for (int64_t size : shape_) {
    if (size <= 0) return 0;
    if (__builtin_mul_overflow(count, size, &count)) return std::numeric_limits<int64_t>::max();
  }
  return count;
}

// The viewed bytes, clamped to what the storage holds (a malformed tensor never reads
// past its storage).
std::span<const std::byte> Tensor::bytes() const {
  if (storage_ == nullptr) return {};
  auto all = storage_->bytes();
  if (byteOffset_ >= all.size()) return {};
  size_t wanted = nbytes();
  return all.subspan(byteOffset_, std::min(wanted, all.size() - byteOffset_));
}

namespace {

template <class T>
T load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));  // storage may be unaligned (mmap'ed file offsets)
  return v;
}

// Saturating float -> int64 (a plain cast of an out-of-range double is undefined).
int64_t saturatingToInt(double v) {
  if (std::isnan(v)) return 0;
  if (v >= 9223372036854775807.0) return std::numeric_limits<int64_t>::max();
  if (v <= -9223372036854775808.0) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

}  // namespace

double Tensor::elementAsDouble(int64_t i) const {
  const size_t size = dtypeSize(dtype_);
  auto b = bytes();
  if (i < 0 || size == 0 || static_cast<size_t>(i) >= b.size() / size) return 0.0;
  const std::byte* p = b.data() + static_cast<size_t>(i) * size;
  switch (dtype_) {
    case DType::F32: return load<float>(p);
    case DType::F64: return load<double>(p);
    case DType::F16: return float16BitsToFloat(load<uint16_t>(p));
    case DType::BF16: return bfloat16BitsToFloat(load<uint16_t>(p));
    case DType::I8: return load<int8_t>(p);
    case DType::I16: return load<int16_t>(p);
    case DType::I32: return load<int32_t>(p);
    case DType::I64: return static_cast<double>(load<int64_t>(p));
    case DType::U8: return load<uint8_t>(p);
    case DType::U16: return load<uint16_t>(p);
    case DType::U32: return load<uint32_t>(p);
    case DType::U64: return static_cast<double>(load<uint64_t>(p));
    case DType::Bool: return load<uint8_t>(p) != 0 ? 1.0 : 0.0;
    case DType::C64: return load<float>(p);  // real part
    case DType::C128: return load<double>(p);
    case DType::F8E4M3: return float8E4M3ToDouble(load<uint8_t>(p));
    case DType::F8E5M2: return float8E5M2ToDouble(load<uint8_t>(p));
    case DType::Undefined: return 0.0;
  }
  return 0.0;
}

int64_t Tensor::elementAsInt(int64_t i) const {
  const size_t size = dtypeSize(dtype_);
  auto b = bytes();
  if (i < 0 || size == 0 || static_cast<size_t>(i) >= b.size() / size) return 0;
  const std::byte* p = b.data() + static_cast<size_t>(i) * size;
  switch (dtype_) {
    case DType::I8: return load<int8_t>(p);
    case DType::I16: return load<int16_t>(p);
    case DType::I32: return load<int32_t>(p);
    case DType::I64: return load<int64_t>(p);
    case DType::U8: return load<uint8_t>(p);
    case DType::U16: return load<uint16_t>(p);
    case DType::U32: return load<uint32_t>(p);
    case DType::U64: {
      uint64_t v = load<uint64_t>(p);
      return v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ? std::numeric_limits<int64_t>::max()
                                                                            : static_cast<int64_t>(v);
    }
    case DType::Bool: return load<uint8_t>(p) != 0 ? 1 : 0;
    default: return saturatingToInt(elementAsDouble(i));
  }
}

bool Tensor::contentEquals(const Tensor& other) const {
  if (dtype_ != other.dtype_ || shape_ != other.shape_) return false;
  if (!hasData() || !other.hasData()) return true;  // elided: shape and dtype only
  auto a = bytes();
  auto b = other.bytes();
  if (a.size() != b.size()) return false;
  if (a.data() == b.data() || a.empty()) return true;
  return std::memcmp(a.data(), b.data(), a.size()) == 0;
}

namespace {

// XXH64 (public domain algorithm by Yann Collet): fast on multi-GB weights, good spread.
constexpr uint64_t kPrime1 = 11400714785074694791ULL;
constexpr uint64_t kPrime2 = 14029467366897019727ULL;
constexpr uint64_t kPrime3 = 1609587929392839161ULL;
constexpr uint64_t kPrime4 = 9650029242287828579ULL;
constexpr uint64_t kPrime5 = 2870177450012600261ULL;

uint64_t xxRound(uint64_t acc, uint64_t input) {
  acc += input * kPrime2;
  acc = std::rotl(acc, 31);
  return acc * kPrime1;
}

uint64_t xxMerge(uint64_t acc, uint64_t value) {
  acc ^= xxRound(0, value);
  return acc * kPrime1 + kPrime4;
}

uint64_t xxHash64(const std::byte* data, size_t length, uint64_t seed) {
  const std::byte* p = data;
  const std::byte* end = data + length;
  uint64_t h;
  if (length >= 32) {
    uint64_t v1 = seed + kPrime1 + kPrime2, v2 = seed + kPrime2, v3 = seed, v4 = seed - kPrime1;
    const std::byte* limit = end - 32;
    do {
      v1 = xxRound(v1, load<uint64_t>(p));
      v2 = xxRound(v2, load<uint64_t>(p + 8));
      v3 = xxRound(v3, load<uint64_t>(p + 16));
      v4 = xxRound(v4, load<uint64_t>(p + 24));
      p += 32;
    } while (p <= limit);
    h = std::rotl(v1, 1) + std::rotl(v2, 7) + std::rotl(v3, 12) + std::rotl(v4, 18);
    h = xxMerge(h, v1);
    h = xxMerge(h, v2);
    h = xxMerge(h, v3);
    h = xxMerge(h, v4);
  } else {
    h = seed + kPrime5;
  }
  h += static_cast<uint64_t>(length);
  while (end - p >= 8) {
    h ^= xxRound(0, load<uint64_t>(p));
    h = std::rotl(h, 27) * kPrime1 + kPrime4;
    p += 8;
  }
  if (end - p >= 4) {
    h ^= static_cast<uint64_t>(load<uint32_t>(p)) * kPrime1;
    h = std::rotl(h, 23) * kPrime2 + kPrime3;
    p += 4;
  }
  while (p < end) {
    h ^= static_cast<uint64_t>(std::to_integer<uint8_t>(*p)) * kPrime5;
    h = std::rotl(h, 11) * kPrime1;
    ++p;
  }
  h ^= h >> 33;
  h *= kPrime2;
  h ^= h >> 29;
  h *= kPrime3;
  h ^= h >> 32;
  return h;
}

}  // namespace

uint64_t Tensor::contentHash() const {
  // dtype and shape seed the hash so that equal bytes with another meaning differ.
  std::vector<int64_t> header;
  header.reserve(shape_.size() + 1);
  header.push_back(static_cast<int64_t>(dtype_));
  header.insert(header.end(), shape_.begin(), shape_.end());
  uint64_t seed = xxHash64(reinterpret_cast<const std::byte*>(header.data()), header.size() * sizeof(int64_t), 0);
  auto b = bytes();
  return xxHash64(b.data(), b.size(), seed);
}

}  // namespace torchport
