// A small JSON writer for machine-readable output (`--json`): OptionValue trees (config
// values, PassContext report entries) and the reports the CLI builds from them.
//
// Output is always valid JSON: strings are escaped per RFC 8259 (control characters as
// \u00XX), invalid UTF-8 is replaced by U+FFFD (so any file name or message is safe to
// emit), and non-finite floats (NaN, +-inf), which JSON cannot express, become null.
// Map keys keep their order (OptionValue maps are ordered as written).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "torchport/options.h"

namespace torchport {

struct JsonStyle {
  // Spaces per nesting level; 0 writes everything on one line.
  int indent = 2;
};

// The whole value as a JSON document (no trailing newline).
std::string toJson(const OptionValue& value, const JsonStyle& style = {});

// `text` as a quoted, escaped JSON string literal, appended to `out`.
void appendJsonString(std::string& out, std::string_view text);

// A double as JSON: shortest round-trip form, always with a '.' or exponent so readers
// keep it a float ("1.0", not "1"); NaN and infinities as null.
void appendJsonNumber(std::string& out, double value);

// Shorthands for building report trees without variant-conversion surprises
// (a plain `OptionValue(1)` or `OptionValue("x")` would be ambiguous or pick bool).
namespace json {
inline OptionValue null() { return OptionValue(); }
inline OptionValue boolean(bool v) { return OptionValue(OptionValue::Data(std::in_place_type<bool>, v)); }
inline OptionValue integer(int64_t v) { return OptionValue(OptionValue::Data(std::in_place_type<int64_t>, v)); }
inline OptionValue number(double v) { return OptionValue(OptionValue::Data(std::in_place_type<double>, v)); }
inline OptionValue string(std::string v) {
  return OptionValue(OptionValue::Data(std::in_place_type<std::string>, std::move(v)));
}
inline OptionValue list(OptionValue::List v = {}) {
  return OptionValue(OptionValue::Data(std::in_place_type<OptionValue::List>, std::move(v)));
}
inline OptionValue map(OptionValue::Map v = {}) {
  return OptionValue(OptionValue::Data(std::in_place_type<OptionValue::Map>, std::move(v)));
}
}  // namespace json

}  // namespace torchport
