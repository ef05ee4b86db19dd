// Typed options for passes, exporters and importers: specs (metadata as data) and the
// generic value tree that YAML and the pipeline text grammar both parse into.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "torchport/status.h"

namespace torchport {

// Where a config value came from, for error messages ("onnx.yaml:12:7").
struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based; 0 = unknown
  int column = 0;  // 1-based
  std::string toString() const;  // "file:line:col", or "file", or "<pipeline>"
};

// A YAML-like value: null, bool, int, float, string, list, or map (ordered by key order in
// the source). Carries its source location.
class OptionValue {
 public:
  using List = std::vector<OptionValue>;
  using Map = std::vector<std::pair<std::string, OptionValue>>;
  using Data = std::variant<std::monostate, bool, int64_t, double, std::string, List, Map>;

  OptionValue() = default;
  OptionValue(Data data, SourceLocation where = {}) : data_(std::move(data)), where_(std::move(where)) {}  // NOLINT

  bool isNull() const { return std::holds_alternative<std::monostate>(data_); }
  bool isBool() const { return std::holds_alternative<bool>(data_); }
  bool isInt() const { return std::holds_alternative<int64_t>(data_); }
  bool isFloat() const { return std::holds_alternative<double>(data_); }
  bool isString() const { return std::holds_alternative<std::string>(data_); }
  bool isList() const { return std::holds_alternative<List>(data_); }
  bool isMap() const { return std::holds_alternative<Map>(data_); }

  bool asBool() const { return std::get<bool>(data_); }
  int64_t asInt() const { return std::get<int64_t>(data_); }
  // Ints widen to float.
  double asFloat() const { return isInt() ? static_cast<double>(asInt()) : std::get<double>(data_); }
  const std::string& asString() const { return std::get<std::string>(data_); }
  const List& asList() const { return std::get<List>(data_); }
  const Map& asMap() const { return std::get<Map>(data_); }
  List& asList() { return std::get<List>(data_); }
  Map& asMap() { return std::get<Map>(data_); }

  // Map lookup; nullptr when not a map or key absent.
  const OptionValue* find(std::string_view key) const;

  const Data& data() const { return data_; }
  const SourceLocation& where() const { return where_; }
  void setWhere(SourceLocation where) { where_ = std::move(where); }

  std::string toString() const;  // compact flow form: {a: 1, b: [x, y]}
  std::string typeName() const;  // "int", "map", ...

 private:
  Data data_;
  SourceLocation where_;
};

enum class OptionType : uint8_t {
  Bool, Int, Float, String,
  IntList, FloatList, StringList,
  Any,  // free-form map/list, checked by the step's own validate hook
};
std::string_view optionTypeName(OptionType type);

struct OptionSpec {
  std::string name;
  OptionType type = OptionType::String;
  OptionValue defaultValue;  // null = no default
  std::string doc;
  bool required = false;
  std::vector<std::string> choices;  // for String: allowed values (empty = any)
  std::optional<int64_t> minInt, maxInt;  // for Int: inclusive bounds
};

// Typed OptionValue factories, for defaults and report entries (an int literal would
// otherwise pick the bool alternative or be ambiguous).
inline OptionValue boolValue(bool v) { return OptionValue(OptionValue::Data(std::in_place_type<bool>, v)); }
inline OptionValue intValue(int64_t v) { return OptionValue(OptionValue::Data(std::in_place_type<int64_t>, v)); }
inline OptionValue floatValue(double v) { return OptionValue(OptionValue::Data(std::in_place_type<double>, v)); }
inline OptionValue stringValue(std::string v) {
  return OptionValue(OptionValue::Data(std::in_place_type<std::string>, std::move(v)));
}

// An option declaration in one expression: optionSpec("path", OptionType::String, {}, "file to write").
inline OptionSpec optionSpec(std::string name, OptionType type, OptionValue defaultValue, std::string doc) {
  OptionSpec spec;
  spec.name = std::move(name);
  spec.type = type;
  spec.defaultValue = std::move(defaultValue);
  spec.doc = std::move(doc);
  return spec;
}

// Options after validation: every declared option is present (user value or default).
class Options {
 public:
  Options() = default;
  explicit Options(std::map<std::string, OptionValue, std::less<>> values) : values_(std::move(values)) {}

  bool has(std::string_view name) const;  // set by user or default (non-null)
  const OptionValue* get(std::string_view name) const;
  bool getBool(std::string_view name, bool fallback = false) const;
  int64_t getInt(std::string_view name, int64_t fallback = 0) const;
  double getFloat(std::string_view name, double fallback = 0.0) const;
  std::string getString(std::string_view name, std::string_view fallback = {}) const;
  std::vector<int64_t> getIntList(std::string_view name) const;
  std::vector<double> getFloatList(std::string_view name) const;
  std::vector<std::string> getStringList(std::string_view name) const;
  void set(std::string name, OptionValue value) { values_[std::move(name)] = std::move(value); }
  const std::map<std::string, OptionValue, std::less<>>& values() const { return values_; }

 private:
  std::map<std::string, OptionValue, std::less<>> values_;
};

// Checks `given` (a map) against `specs`: unknown keys (with a "did you mean" hint), wrong
// types, out-of-range ints, bad choices, missing required options. Every problem names
// the source location of the offending key/value and `owner` (the step name). Returns
// the completed Options (defaults filled in).
Expected<Options> validateOptions(std::string_view owner, const std::vector<OptionSpec>& specs,
                                  const OptionValue& given);

}  // namespace torchport
