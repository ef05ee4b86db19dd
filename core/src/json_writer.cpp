// Hand-written JSON output for reports; see torchport/host/json.h for the guarantees.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <variant>

#include "torchport/host/json.h"

namespace torchport {
namespace {

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

// Length of the well-formed UTF-8 sequence starting at text[i] (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), or 0 if it is not well formed.
size_t validUtf8SequenceLength(std::string_view text, size_t i) {
  const auto byteAt = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byteAt(i);
  size_t length = 0;
  unsigned char secondMin = 0x80, secondMax = 0xBF;
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) secondMin = 0xA0;  // overlong
    if (lead == 0xED) secondMax = 0x9F;  // UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) secondMin = 0x90;  // overlong
    if (lead == 0xF4) secondMax = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byteAt(i + 1) < secondMin || byteAt(i + 1) > secondMax) return 0;
  for (size_t k = 2; k < length; ++k) {
    if (byteAt(i + k) < 0x80 || byteAt(i + k) > 0xBF) return 0;
  }
  return length;
}

void appendNewline(std::string& out, const JsonStyle& style, int depth) {
  if (style.indent <= 0) return;
  out += '\n';
  out.append(static_cast<size_t>(style.indent) * static_cast<size_t>(depth), ' ');
}

void appendValue(std::string& out, const OptionValue& value, const JsonStyle& style, int depth) {
  std::visit(
      [&](const auto& data) {
        using T = std::decay_t<decltype(data)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          out += "null";
        } else if constexpr (std::is_same_v<T, bool>) {
          out += data ? "true" : "false";
        } else if constexpr (std::is_same_v<T, int64_t>) {
          out += std::to_string(data);
        } else if constexpr (std::is_same_v<T, double>) {
          appendJsonNumber(out, data);
        } else if constexpr (std::is_same_v<T, std::string>) {
          appendJsonString(out, data);
        } else if constexpr (std::is_same_v<T, OptionValue::List>) {
          if (data.empty()) {
            out += "[]";
            return;
          }
          out += '[';
          for (size_t i = 0; i < data.size(); ++i) {
            if (i > 0) out += ',';
            appendNewline(out, style, depth + 1);
            appendValue(out, data[i], style, depth + 1);
          }
          appendNewline(out, style, depth);
          out += ']';
        } else {
          static_assert(std::is_same_v<T, OptionValue::Map>);
          if (data.empty()) {
            out += "{}";
            return;
          }
          out += '{';
          for (size_t i = 0; i < data.size(); ++i) {
            if (i > 0) out += ',';
            appendNewline(out, style, depth + 1);
            appendJsonString(out, data[i].first);
            out += style.indent > 0 ? ": " : ":";
            appendValue(out, data[i].second, style, depth + 1);
          }
          appendNewline(out, style, depth);
          out += '}';
        }
      },
      value.data());
}

}  // namespace

void appendJsonString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    switch (byte) {
      case '"': out += "\\\""; ++i; continue;
      case '\\': out += "\\\\"; ++i; continue;
      case '\b': out += "\\b"; ++i; continue;
      case '\f': out += "\\f"; ++i; continue;
      case '\n': out += "\\n"; ++i; continue;
      case '\r': out += "\\r"; ++i; continue;
      case '\t': out += "\\t"; ++i; continue;
      default: break;
    }
    if (byte < 0x20 || byte == 0x7F) {
      out += "\\u00";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
      ++i;
      continue;
    }
    const size_t length = validUtf8SequenceLength(text, i);
    if (length == 0) {
      out += kReplacementCharacter;  // one replacement per offending byte
      ++i;
      continue;
    }
    out.append(text.substr(i, length));
    i += length;
  }
  out += '"';
}

void appendJsonNumber(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  char buffer[64];
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  if (error != std::errc()) {  // cannot happen with 64 bytes; stay valid JSON regardless
    out += "null";
    return;
  }
  const std::string_view digits(buffer, static_cast<size_t>(end - buffer));
  out += digits;
  if (digits.find_first_of(".eE") == std::string_view::npos) out += ".0";
}

std::string toJson(const OptionValue& value, const JsonStyle& style) {
  std::string out;
  appendValue(out, value, style, 0);
  return out;
}

}  // namespace torchport
