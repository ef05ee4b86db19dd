// Printer of the textual IR. The grammar is documented in sdk/include/torchport/text_ir.h;
// the parser (text_ir_parser.cpp) reads back exactly what this file writes, so any change
// to a spelling here must be mirrored there.
#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "torchport/text_ir.h"

namespace torchport {
namespace {

// ---------------------------------------------------------------------------------------
// Lexical helpers shared by every printed name. They decide when a name may be printed
// bare; everything else is quoted, so any string round-trips.
// ---------------------------------------------------------------------------------------
bool isWordStart(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isWordChar(char c) { return isWordStart(c) || isDigit(c) || c == '.'; }
bool isNameChar(char c) { return isWordChar(c) || c == '/' || c == '-'; }

// True when every char satisfies `allowed` except colons, which must come in "::" pairs
// (a single ':' ends a token for the lexer: it starts a type annotation).
template <class Pred>
bool onlyCharsWithColonPairs(std::string_view s, Pred allowed) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == ':') {
      if (i + 1 >= s.size() || s[i + 1] != ':') return false;
      ++i;
    } else if (!allowed(s[i])) {
      return false;
    }
  }
  return true;
}

// A word is what the lexer reads as one identifier: [A-Za-z_][A-Za-z0-9_.]* with "::"
// allowed inside (aten::conv2d), not ending with ':'.
bool isBareWord(std::string_view s) {
  if (s.empty() || !isWordStart(s.front()) || s.back() == ':') return false;
  return onlyCharsWithColonPairs(s, isWordChar);
}

// Value, graph and module-path names: [A-Za-z0-9_./-]+ with "::" allowed, not ending
// with ':' (onnx::Conv_12, /layer1/conv/Conv_output_0, input.1).
bool isBareName(std::string_view s) {
  if (s.empty() || s.back() == ':') return false;
  return onlyCharsWithColonPairs(s, isNameChar);
}

void appendQuoted(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (char c : s) {
    auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (byte < 0x20 || byte == 0x7f) {
          out += "\\x";
          out += kHex[byte >> 4];
          out += kHex[byte & 0xf];
        } else {
          out += c;  // bytes >= 0x80 pass through unchanged (UTF-8 stays readable)
        }
    }
  }
  out += '"';
}

void appendValueName(std::string& out, std::string_view name) {
  out += '%';
  if (isBareName(name)) out += name;
  else appendQuoted(out, name);
}

void appendSigil(std::string& out, char sigil, std::string_view name) {
  out += sigil;
  if (isBareName(name)) out += name;
  else appendQuoted(out, name);
}

void appendWordOrQuoted(std::string& out, std::string_view s) {
  if (isBareWord(s)) out += s;
  else appendQuoted(out, s);
}

// ---------------------------------------------------------------------------------------
// Numbers. Floats use the shortest representation that round-trips (std::to_chars) and
// always look like floats (".0" appended), so int and float attributes stay distinct.
// NaNs other than the default quiet NaN print their bit pattern: nan(0x7fc00001).
// ---------------------------------------------------------------------------------------
void appendInt(std::string& out, int64_t v) {
  char buffer[32];
  auto result = std::to_chars(buffer, buffer + sizeof buffer, v);
  out.append(buffer, result.ptr);
}

void appendUnsigned(std::string& out, uint64_t v) {
  char buffer[32];
  auto result = std::to_chars(buffer, buffer + sizeof buffer, v);
  out.append(buffer, result.ptr);
}

void appendHexBits(std::string& out, uint64_t bits, int hexDigits) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "0x";
  for (int i = hexDigits - 1; i >= 0; --i) out += kHex[(bits >> (4 * i)) & 0xf];
}

void appendFiniteFloatText(std::string& out, const char* begin, const char* end) {
  std::string_view text(begin, static_cast<size_t>(end - begin));
  out += text;
  if (text.find_first_of(".eE") == std::string_view::npos) out += ".0";
}

// `bits`/`hexDigits` describe the value in its storage format (for NaN payloads);
// `positiveNan`/`negativeNan` are that format's default quiet NaNs.
bool appendSpecialFloat(std::string& out, double value, uint64_t bits, int hexDigits,
                        uint64_t positiveNan, uint64_t negativeNan) {
  if (std::isnan(value)) {
    if (bits == positiveNan) out += "nan";
    else if (bits == negativeNan) out += "-nan";
    else {
      out += "nan(";
      appendHexBits(out, bits, hexDigits);
      out += ')';
    }
    return true;
  }
  if (std::isinf(value)) {
    out += value < 0 ? "-inf" : "inf";
    return true;
  }
  return false;
}

void appendDouble(std::string& out, double v) {
  if (appendSpecialFloat(out, v, std::bit_cast<uint64_t>(v), 16, 0x7ff8000000000000ull,
                         0xfff8000000000000ull))
    return;
  char buffer[64];
  auto result = std::to_chars(buffer, buffer + sizeof buffer, v);
  appendFiniteFloatText(out, buffer, result.ptr);
}

// A float that came from `bits` of a narrower format (f32, f16, bf16).
void appendFloat(std::string& out, float v, uint64_t bits, int hexDigits, uint64_t positiveNan,
                 uint64_t negativeNan) {
  if (appendSpecialFloat(out, v, bits, hexDigits, positiveNan, negativeNan)) return;
  char buffer[64];
  auto result = std::to_chars(buffer, buffer + sizeof buffer, v);
  appendFiniteFloatText(out, buffer, result.ptr);
}

// IEEE binary16 -> binary32, exact (every half is a float).
float halfToFloat(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exponent = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ff;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000 | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal half: normalize
    int shift = 0;
    while ((mantissa & 0x400) == 0) {
      mantissa <<= 1;
      ++shift;
    }
    mantissa &= 0x3ff;
    bits = sign | (static_cast<uint32_t>(113 - shift) << 23) | (mantissa << 13);
  }
  return std::bit_cast<float>(bits);
}

float bfloat16ToFloat(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

template <class T>
T loadElement(std::span<const std::byte> bytes, size_t index) {
  T v;
  std::memcpy(&v, bytes.data() + index * sizeof(T), sizeof(T));
  return v;
}

// ---------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------
void appendDType(std::string& out, DType dtype) {
  if (dtype == DType::Undefined) out += '?';
  else out += dtypeName(dtype);
}

void appendType(std::string& out, const Type& type) {
  switch (type.kind()) {
    case Type::Kind::Unknown: out += "unknown"; return;
    case Type::Kind::Tensor: {
      appendDType(out, type.dtype());
      out += '[';
      if (!type.hasRank()) {
        out += '*';
      } else {
        bool first = true;
        for (const Dim& dim : *type.shape()) {
          if (!first) out += ',';
          first = false;
          if (dim.isKnown()) appendInt(out, dim.size());
          else if (dim.isSymbol()) appendWordOrQuoted(out, dim.symbolName());
          else out += '?';
        }
      }
      out += ']';
      return;
    }
    case Type::Kind::Int: out += "int"; return;
    case Type::Kind::Float: out += "float"; return;
    case Type::Kind::Bool: out += "bool"; return;
    case Type::Kind::String: out += "str"; return;
    case Type::Kind::None: out += "none"; return;
    case Type::Kind::Device: out += "device"; return;
    case Type::Kind::List:
    case Type::Kind::Optional: {
      out += type.kind() == Type::Kind::List ? "list<" : "optional<";
      if (type.elements().empty()) out += "unknown";
      else appendType(out, type.elements().front());
      out += '>';
      return;
    }
    case Type::Kind::Tuple: {
      out += "tuple<";
      bool first = true;
      for (const Type& element : type.elements()) {
        if (!first) out += ',';
        first = false;
        appendType(out, element);
      }
      out += '>';
      return;
    }
    case Type::Kind::Object:
      out += "obj<";
      appendWordOrQuoted(out, type.className());
      out += '>';
      return;
  }
  out += "unknown";
}

// `%name` or `%name: type` (type omitted when unknown).
void appendTypedValue(std::string& out, const Value& value) {
  appendValueName(out, value.name());
  if (!value.type().isUnknown()) {
    out += ": ";
    appendType(out, value.type());
  }
}

// ---------------------------------------------------------------------------------------
// Tensors
// ---------------------------------------------------------------------------------------
bool isStaticTensorTypeOf(const Type& type, const Tensor& tensor) {
  if (!type.isTensor() || type.dtype() != tensor.dtype() || type.dtype() == DType::Undefined) return false;
  if (!type.hasRank() || type.rank() != tensor.shape().size()) return false;
  for (size_t i = 0; i < tensor.shape().size(); ++i) {
    const Dim& dim = (*type.shape())[i];
    if (!dim.isKnown() || dim.size() != tensor.shape()[i]) return false;
  }
  return true;
}

// Element-wise decimal printing is used for these; others (complex, f8) print raw bytes.
bool hasDecimalElements(DType dtype) {
  switch (dtype) {
    case DType::F32: case DType::F64: case DType::F16: case DType::BF16:
    case DType::I8: case DType::I16: case DType::I32: case DType::I64:
    case DType::U8: case DType::U16: case DType::U32: case DType::U64:
    case DType::Bool:
      return true;
    default:
      return false;
  }
}

void appendHexBlob(std::string& out, std::span<const std::byte> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "0x";
  for (std::byte b : bytes) {
    auto v = static_cast<unsigned>(b);
    out += kHex[v >> 4];
    out += kHex[v & 0xf];
  }
}

// Data literal of a tensor with data: `[e0, e1, ...]` (row-major, flat) or `0x<bytes>`.
void appendTensorData(std::string& out, const Tensor& tensor) {
  std::span<const std::byte> bytes = tensor.bytes();
  const DType dtype = tensor.dtype();
  const size_t elementSize = dtypeSize(dtype);
  const size_t count = elementSize == 0 ? 0 : std::min(bytes.size() / elementSize, static_cast<size_t>(std::max<int64_t>(tensor.numel(), 0)));
  bool decimal = hasDecimalElements(dtype);
  if (dtype == DType::Bool) {
    // Bytes other than 0/1 would not survive `true`/`false`: keep them exact as hex.
    for (size_t i = 0; i < count; ++i)
      if (static_cast<unsigned>(bytes[i]) > 1) decimal = false;
  }
  if (!decimal) {
    appendHexBlob(out, bytes.first(std::min(bytes.size(), count * elementSize)));
    return;
  }
  out += '[';
  for (size_t i = 0; i < count; ++i) {
    if (i != 0) out += ", ";
    switch (dtype) {
      case DType::F32: {
        auto bits = loadElement<uint32_t>(bytes, i);
        appendFloat(out, std::bit_cast<float>(bits), bits, 8, 0x7fc00000u, 0xffc00000u);
        break;
      }
      case DType::F64: appendDouble(out, loadElement<double>(bytes, i)); break;
      case DType::F16: {
        auto bits = loadElement<uint16_t>(bytes, i);
        appendFloat(out, halfToFloat(bits), bits, 4, 0x7e00u, 0xfe00u);
        break;
      }
      case DType::BF16: {
        auto bits = loadElement<uint16_t>(bytes, i);
        appendFloat(out, bfloat16ToFloat(bits), bits, 4, 0x7fc0u, 0xffc0u);
        break;
      }
      case DType::I8: appendInt(out, loadElement<int8_t>(bytes, i)); break;
      case DType::I16: appendInt(out, loadElement<int16_t>(bytes, i)); break;
      case DType::I32: appendInt(out, loadElement<int32_t>(bytes, i)); break;
      case DType::I64: appendInt(out, loadElement<int64_t>(bytes, i)); break;
      case DType::U8: appendUnsigned(out, loadElement<uint8_t>(bytes, i)); break;
      case DType::U16: appendUnsigned(out, loadElement<uint16_t>(bytes, i)); break;
      case DType::U32: appendUnsigned(out, loadElement<uint32_t>(bytes, i)); break;
      case DType::U64: appendUnsigned(out, loadElement<uint64_t>(bytes, i)); break;
      case DType::Bool: out += loadElement<uint8_t>(bytes, i) != 0 ? "true" : "false"; break;
      default: break;
    }
  }
  out += ']';
}

// ---------------------------------------------------------------------------------------
// The printer proper
// ---------------------------------------------------------------------------------------
class Printer {
 public:
  explicit Printer(const PrintOptions& options) : options_(options) {}

  std::string print(const Graph& graph) {
    appendGraph(graph, 0);
    out_ += '\n';
    return std::move(out_);
  }

 private:
  bool elides(const Tensor& tensor) const {
    if (!tensor.hasData()) return true;
    if (tensor.dtype() == DType::Undefined) return true;  // no element size: data meaningless
    return options_.elideTensorsAbove >= 0 && tensor.numel() > options_.elideTensorsAbove;
  }

  void indent(int depth) { out_.append(static_cast<size_t>(depth) * 2, ' '); }

  // `graph @name(%in: T, ...) -> (%out: T, ...) {` ... `}` (no newline after the brace).
  void appendGraph(const Graph& graph, int depth) {
    out_ += "graph ";
    appendSigil(out_, '@', graph.name());
    out_ += '(';
    bool first = true;
    for (const Value* input : graph.inputs()) {
      if (!first) out_ += ", ";
      first = false;
      appendTypedValue(out_, *input);
    }
    out_ += ") -> (";
    first = true;
    for (const Value* output : graph.outputs()) {
      if (!first) out_ += ", ";
      first = false;
      appendTypedValue(out_, *output);
    }
    out_ += ") {\n";
    for (const Node* node : graph.nodes()) appendNode(*node, depth + 1);
    indent(depth);
    out_ += '}';
  }

  void appendNode(const Node& node, int depth) {
    indent(depth);
    if (!appendConstSugar(node)) appendGenericNode(node, depth);
    appendProvenance(node.provenance());
    out_ += '\n';
  }

  void appendProvenance(const Provenance& provenance) {
    if (!options_.printProvenance || provenance.empty()) return;
    out_ += "  #";
    if (!provenance.modulePath.empty()) {
      out_ += ' ';
      if (isBareName(provenance.modulePath)) out_ += provenance.modulePath;
      else appendQuoted(out_, provenance.modulePath);
    }
    if (!provenance.sourceRange.empty()) {
      out_ += " loc(";
      appendQuoted(out_, provenance.sourceRange);
      out_ += ')';
    }
  }

  // `%x = const TYPE [@"param"] [literal]` when the node is exactly what the sugar
  // denotes: no inputs, one output whose type matches the value, attributes `value`
  // (absent for none) then optionally `param`, nothing else.
  bool appendConstSugar(const Node& node) {
    if (node.kind() != kConstKind || node.numInputs() != 0 || node.numOutputs() != 1) return false;
    const auto& attributes = node.attributes();
    const Attribute* value = nullptr;
    const std::string* param = nullptr;
    size_t index = 0;
    if (index < attributes.size() && attributes[index].first == "value") value = &attributes[index++].second;
    if (index < attributes.size() && attributes[index].first == "param") {
      param = std::get_if<std::string>(&attributes[index].second);
      if (param == nullptr) return false;
      ++index;
    }
    if (index != attributes.size()) return false;

    const Value& output = *node.output(0);
    const Type& type = output.type();
    std::string literal;
    if (!constLiteral(type, value, literal)) return false;

    appendValueName(out_, output.name());
    out_ += " = const ";
    appendType(out_, type);
    if (param != nullptr) {
      out_ += " @";
      appendQuoted(out_, *param);
    }
    if (!literal.empty()) {
      out_ += ' ';
      out_ += literal;
    }
    return true;
  }

  // The literal part of the const sugar for `value` under `type`; false when they don't
  // match (the node then prints in generic form).
  bool constLiteral(const Type& type, const Attribute* value, std::string& literal) const {
    using Kind = Type::Kind;
    auto isBoolInt = [](int64_t v) { return v == 0 || v == 1; };
    switch (type.kind()) {
      case Kind::None: return value == nullptr;
      case Kind::Tensor: {
        const auto* tensor = value ? std::get_if<Tensor>(value) : nullptr;
        if (tensor == nullptr || !isStaticTensorTypeOf(type, *tensor)) return false;
        if (!elides(*tensor)) {
          literal += "dense<";
          appendTensorData(literal, *tensor);
          literal += '>';
        }
        return true;
      }
      case Kind::Int: {
        const auto* v = value ? std::get_if<int64_t>(value) : nullptr;
        if (v == nullptr) return false;
        appendInt(literal, *v);
        return true;
      }
      case Kind::Float: {
        const auto* v = value ? std::get_if<double>(value) : nullptr;
        if (v == nullptr) return false;
        appendDouble(literal, *v);
        return true;
      }
      case Kind::Bool: {
        const auto* v = value ? std::get_if<int64_t>(value) : nullptr;
        if (v == nullptr || !isBoolInt(*v)) return false;
        literal += *v ? "true" : "false";
        return true;
      }
      case Kind::String:
      case Kind::Device: {
        const auto* v = value ? std::get_if<std::string>(value) : nullptr;
        if (v == nullptr) return false;
        appendQuoted(literal, *v);
        return true;
      }
      case Kind::List: {
        if (value == nullptr || type.elements().size() != 1) return false;
        Kind element = type.elements().front().kind();
        if (element == Kind::Int || element == Kind::Bool) {
          const auto* v = std::get_if<std::vector<int64_t>>(value);
          if (v == nullptr) return false;
          if (element == Kind::Bool && !std::all_of(v->begin(), v->end(), isBoolInt)) return false;
          if (element == Kind::Int) {
            appendIntList(literal, *v);
            return true;
          }
          literal += '[';
          for (size_t i = 0; i < v->size(); ++i) {
            if (i != 0) literal += ", ";
            literal += (*v)[i] ? "true" : "false";
          }
          literal += ']';
          return true;
        }
        if (element == Kind::Float) {
          const auto* v = std::get_if<std::vector<double>>(value);
          if (v == nullptr) return false;
          appendFloatList(literal, *v);
          return true;
        }
        if (element == Kind::String) {
          const auto* v = std::get_if<std::vector<std::string>>(value);
          if (v == nullptr) return false;
          appendStringList(literal, *v);
          return true;
        }
        return false;
      }
      default: return false;
    }
  }

  // Int lists are shape-like (strides, pads, perms): printed compact like dims, [2,2].
  static void appendIntList(std::string& out, const std::vector<int64_t>& values) {
    out += '[';
    for (size_t i = 0; i < values.size(); ++i) {
      if (i != 0) out += ',';
      appendInt(out, values[i]);
    }
    out += ']';
  }

  static void appendFloatList(std::string& out, const std::vector<double>& values) {
    out += '[';
    for (size_t i = 0; i < values.size(); ++i) {
      if (i != 0) out += ", ";
      appendDouble(out, values[i]);
    }
    out += ']';
  }

  static void appendStringList(std::string& out, const std::vector<std::string>& values) {
    out += '[';
    for (size_t i = 0; i < values.size(); ++i) {
      if (i != 0) out += ", ";
      appendQuoted(out, values[i]);
    }
    out += ']';
  }

  void appendGenericNode(const Node& node, int depth) {
    if (node.numOutputs() != 0) {
      bool first = true;
      for (const Value* output : node.outputs()) {
        if (!first) out_ += ", ";
        first = false;
        appendTypedValue(out_, *output);
      }
      out_ += " = ";
    }
    // A kind prints bare when the lexer reads it back as one word containing "::".
    if (isBareWord(node.kind()) && node.kind().find("::") != std::string::npos) out_ += node.kind();
    else appendQuoted(out_, node.kind());
    out_ += '(';
    bool first = true;
    for (const Value* input : node.inputs()) {
      if (!first) out_ += ", ";
      first = false;
      appendValueName(out_, input->name());
    }
    out_ += ')';
    if (!node.attributes().empty()) {
      out_ += " {";
      first = true;
      for (const auto& [name, attribute] : node.attributes()) {
        if (!first) out_ += ", ";
        first = false;
        appendWordOrQuoted(out_, name);
        out_ += '=';
        appendAttribute(attribute, depth);
      }
      out_ += '}';
    }
  }

  void appendAttribute(const Attribute& attribute, int depth) {
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, int64_t>) {
            appendInt(out_, v);
          } else if constexpr (std::is_same_v<T, double>) {
            appendDouble(out_, v);
          } else if constexpr (std::is_same_v<T, std::string>) {
            appendQuoted(out_, v);
          } else if constexpr (std::is_same_v<T, Tensor>) {
            out_ += "dense<";
            appendDType(out_, v.dtype());
            out_ += '[';
            for (size_t i = 0; i < v.shape().size(); ++i) {
              if (i != 0) out_ += ',';
              appendInt(out_, v.shape()[i]);
            }
            out_ += ']';
            if (!elides(v)) {
              out_ += ": ";
              appendTensorData(out_, v);
            }
            out_ += '>';
          } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
            if (v.empty()) out_ += "ints[]";
            else appendIntList(out_, v);
          } else if constexpr (std::is_same_v<T, std::vector<double>>) {
            if (v.empty()) out_ += "floats[]";
            else appendFloatList(out_, v);
          } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
            if (v.empty()) out_ += "strings[]";
            else appendStringList(out_, v);
          } else if constexpr (std::is_same_v<T, GraphPtr>) {
            if (v == nullptr) out_ += "graph<null>";  // not parseable: a broken attribute
            else appendGraph(*v, depth);
          }
        },
        attribute);
  }

  const PrintOptions& options_;
  std::string out_;
};

}  // namespace

std::string printGraph(const Graph& graph, const PrintOptions& options) {
  return Printer(options).print(graph);
}

}  // namespace torchport
