// Option values, option specs and their validation (shared by passes, exporters and
// importers), plus the "did you mean" helpers used by every config error.
#include "torchport/options.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>

#include "config_internal.h"

namespace torchport {

// ---------------------------------------------------------------------------------------
// SourceLocation
// ---------------------------------------------------------------------------------------
std::string SourceLocation::toString() const {
  std::string out = file.empty() ? std::string("<pipeline>") : file;
  if (line > 0) {
    out += ':' + std::to_string(line);
    if (column > 0) out += ':' + std::to_string(column);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// OptionValue
// ---------------------------------------------------------------------------------------
const OptionValue* OptionValue::find(std::string_view key) const {
  if (!isMap()) return nullptr;
  for (const auto& [name, value] : asMap()) {
    if (name == key) return &value;
  }
  return nullptr;
}

namespace {

bool isBareStringChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == '/' ||
         c == ':' || c == '-';
}

bool looksLikeNumber(std::string_view text) {
  if (text.empty()) return false;
  double parsed = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  return ec == std::errc() && end == text.data() + text.size();
}

// Strings print bare when reading them back gives the same string, else double-quoted.
std::string quoteIfNeeded(const std::string& text) {
  bool bare = !text.empty() && std::all_of(text.begin(), text.end(), isBareStringChar) &&
              text != "true" && text != "false" && text != "null" && !looksLikeNumber(text);
  if (bare) return text;
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default: out += c;
    }
  }
  out += '"';
  return out;
}

std::string formatDouble(double value) {
  if (std::isnan(value)) return ".nan";
  if (std::isinf(value)) return value > 0 ? ".inf" : "-.inf";
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  std::string out(buffer, ec == std::errc() ? end : buffer);
  // Keep floats recognisable as floats when read back ("1" would become an int).
  if (out.find_first_of(".eE") == std::string::npos) out += ".0";
  return out;
}

}  // namespace

std::string OptionValue::toString() const {
  struct Printer {
    std::string operator()(std::monostate) const { return "null"; }
    std::string operator()(bool v) const { return v ? "true" : "false"; }
    std::string operator()(int64_t v) const { return std::to_string(v); }
    std::string operator()(double v) const { return formatDouble(v); }
    std::string operator()(const std::string& v) const { return quoteIfNeeded(v); }
    std::string operator()(const List& list) const {
      std::string out = "[";
      for (size_t i = 0; i < list.size(); ++i) {
        if (i > 0) out += ", ";
        out += list[i].toString();
      }
      return out + "]";
    }
    std::string operator()(const Map& map) const {
      std::string out = "{";
      for (size_t i = 0; i < map.size(); ++i) {
        if (i > 0) out += ", ";
        out += quoteIfNeeded(map[i].first) + ": " + map[i].second.toString();
      }
      return out + "}";
    }
  };
  return std::visit(Printer{}, data_);
}

std::string OptionValue::typeName() const {
  static constexpr const char* kNames[] = {"null", "bool", "int", "float", "string", "list", "map"};
  return kNames[data_.index()];
}

std::string_view optionTypeName(OptionType type) {
  switch (type) {
    case OptionType::Bool: return "bool";
    case OptionType::Int: return "int";
    case OptionType::Float: return "float";
    case OptionType::String: return "string";
    case OptionType::IntList: return "list<int>";
    case OptionType::FloatList: return "list<float>";
    case OptionType::StringList: return "list<string>";
    case OptionType::Any: return "any";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------
const OptionValue* Options::get(std::string_view name) const {
  auto it = values_.find(name);
  return it == values_.end() ? nullptr : &it->second;
}

bool Options::has(std::string_view name) const {
  const OptionValue* value = get(name);
  return value != nullptr && !value->isNull();
}

bool Options::getBool(std::string_view name, bool fallback) const {
  const OptionValue* value = get(name);
  return value != nullptr && value->isBool() ? value->asBool() : fallback;
}

int64_t Options::getInt(std::string_view name, int64_t fallback) const {
  const OptionValue* value = get(name);
  return value != nullptr && value->isInt() ? value->asInt() : fallback;
}

double Options::getFloat(std::string_view name, double fallback) const {
  const OptionValue* value = get(name);
  return value != nullptr && (value->isInt() || value->isFloat()) ? value->asFloat() : fallback;
}

std::string Options::getString(std::string_view name, std::string_view fallback) const {
  const OptionValue* value = get(name);
  return value != nullptr && value->isString() ? value->asString() : std::string(fallback);
}

std::vector<int64_t> Options::getIntList(std::string_view name) const {
  std::vector<int64_t> out;
  const OptionValue* value = get(name);
  if (value == nullptr || !value->isList()) return out;
  for (const OptionValue& element : value->asList()) {
    if (element.isInt()) out.push_back(element.asInt());
  }
  return out;
}

std::vector<double> Options::getFloatList(std::string_view name) const {
  std::vector<double> out;
  const OptionValue* value = get(name);
  if (value == nullptr || !value->isList()) return out;
  for (const OptionValue& element : value->asList()) {
    if (element.isInt() || element.isFloat()) out.push_back(element.asFloat());
  }
  return out;
}

std::vector<std::string> Options::getStringList(std::string_view name) const {
  std::vector<std::string> out;
  const OptionValue* value = get(name);
  if (value == nullptr || !value->isList()) return out;
  for (const OptionValue& element : value->asList()) {
    if (element.isString()) out.push_back(element.asString());
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Suggestions
// ---------------------------------------------------------------------------------------
namespace detail {

size_t editDistance(std::string_view a, std::string_view b) {
  const size_t n = a.size(), m = b.size();
  // Three rows suffice for the optimal-string-alignment variant (adjacent transpositions).
  std::vector<size_t> prev2(m + 1), prev(m + 1), cur(m + 1);
  for (size_t j = 0; j <= m; ++j) prev[j] = j;
  auto lower = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
  for (size_t i = 1; i <= n; ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= m; ++j) {
      size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) && lower(a[i - 2]) == lower(b[j - 1])) {
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
      }
    }
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[m];
}

std::string closestMatch(std::string_view word, const std::vector<std::string>& candidates) {
  if (word.empty()) return {};
  // Allow roughly one typo per four characters, never a complete rewrite.
  const size_t allowed = word.size() <= 3 ? 1 : (word.size() <= 8 ? 2 : 3);
  std::string best;
  size_t bestDistance = allowed + 1;
  for (const std::string& candidate : candidates) {
    size_t distance = editDistance(word, candidate);
    if (distance < bestDistance && distance < std::max(word.size(), candidate.size())) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (!best.empty() || word.size() < 4) return best;
  // A fragment of a longer name ("dead-code" for "eliminate-dead-code").
  for (const std::string& candidate : candidates) {
    if (candidate.find(word) != std::string::npos) return candidate;
  }
  return {};
}

std::string didYouMeanSuffix(std::string_view word, const std::vector<std::string>& candidates) {
  std::string match = closestMatch(word, candidates);
  return match.empty() ? std::string() : " (did you mean '" + match + "'?)";
}

std::string joinNames(const std::vector<std::string>& names, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += separator;
    out += names[i];
  }
  return out;
}

namespace {

bool isIntegerLiteral(std::string_view text) {
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) text.remove_prefix(1);
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// [-+]? ( digits [. digits?] | . digits ) ( [eE] [-+]? digits )?
bool isFloatLiteral(std::string_view text) {
  size_t i = 0;
  auto digits = [&]() {
    size_t start = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    return i - start;
  };
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
  size_t integerDigits = digits();
  size_t fractionDigits = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    fractionDigits = digits();
  }
  if (integerDigits + fractionDigits == 0) return false;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
    if (digits() == 0) return false;
  }
  return i == text.size();
}

}  // namespace

OptionValue::Data parsePlainScalar(std::string_view text) {
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") return std::monostate{};
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  std::string_view unsigned_ = text[0] == '+' ? text.substr(1) : text;
  if (isIntegerLiteral(text)) {
    int64_t value = 0;
    auto [end, ec] = std::from_chars(unsigned_.data(), unsigned_.data() + unsigned_.size(), value);
    if (ec == std::errc() && end == unsigned_.data() + unsigned_.size()) return value;
  }
  if (isIntegerLiteral(text) || isFloatLiteral(text)) {
    double value = 0;
    auto [end, ec] = std::from_chars(unsigned_.data(), unsigned_.data() + unsigned_.size(), value);
    if (ec == std::errc() && end == unsigned_.data() + unsigned_.size()) {
      return value;
    }
  }
  std::string lowered;
  for (char c : text) lowered += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lowered == ".inf" || lowered == "+.inf") return std::numeric_limits<double>::infinity();
  if (lowered == "-.inf") return -std::numeric_limits<double>::infinity();
  if (lowered == ".nan") return std::numeric_limits<double>::quiet_NaN();
  return std::string(text);
}

bool isStepNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.';
}

Status problemsToStatus(const std::vector<std::string>& problems) {
  if (problems.empty()) return Status::ok();
  return Status::input(joinNames(problems, "\n"));
}

namespace {

std::string shortValue(const OptionValue& value) {
  std::string text = value.toString();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return value.typeName() + " " + (value.isString() ? "'" + value.asString() + "'" : text);
}

// Checks one value against its spec; returns the normalized value (ints widened for
// float types) or nullopt after recording the problem.
std::optional<OptionValue> checkValue(const OptionSpec& spec, const OptionValue& value,
                                      const SourceLocation& where, std::string_view subject,
                                      std::vector<std::string>& problems) {
  auto problem = [&](const SourceLocation& at, const std::string& text) {
    problems.push_back(locationPrefix(at) + std::string(subject) + ": option '" + spec.name + "' " + text);
  };
  auto mismatch = [&]() {
    problem(where, "must be " + std::string(optionTypeName(spec.type)) + ", got " + shortValue(value));
    return std::nullopt;
  };
  auto elementLocation = [&](const OptionValue& element) {
    return knownOr(element.where(), where);
  };
  // Lists: every element must have the element type; report the first offender.
  auto checkList = [&](auto isElementOk, std::string_view elementType, bool widenToFloat) -> std::optional<OptionValue> {
    if (!value.isList()) return mismatch();
    OptionValue::List out;
    const auto& list = value.asList();
    for (size_t i = 0; i < list.size(); ++i) {
      if (!isElementOk(list[i])) {
        problem(elementLocation(list[i]), "element " + std::to_string(i) + " must be " +
                                              std::string(elementType) + ", got " + shortValue(list[i]));
        return std::nullopt;
      }
      out.push_back(widenToFloat && list[i].isInt() ? OptionValue(list[i].asFloat(), list[i].where()) : list[i]);
    }
    return OptionValue(std::move(out), value.where());
  };

  switch (spec.type) {
    case OptionType::Bool:
      if (!value.isBool()) return mismatch();
      return value;
    case OptionType::Int: {
      if (!value.isInt()) return mismatch();
      int64_t v = value.asInt();
      if ((spec.minInt && v < *spec.minInt) || (spec.maxInt && v > *spec.maxInt)) {
        std::string range;
        if (spec.minInt && spec.maxInt) {
          range = "between " + std::to_string(*spec.minInt) + " and " + std::to_string(*spec.maxInt);
        } else if (spec.minInt) {
          range = "at least " + std::to_string(*spec.minInt);
        } else {
          range = "at most " + std::to_string(*spec.maxInt);
        }
        problem(where, "must be " + range + ", got " + std::to_string(v));
        return std::nullopt;
      }
      return value;
    }
    case OptionType::Float:
      if (value.isInt()) return OptionValue(value.asFloat(), value.where());
      if (!value.isFloat()) return mismatch();
      return value;
    case OptionType::String:
      if (!value.isString()) return mismatch();
      if (!spec.choices.empty() &&
          std::find(spec.choices.begin(), spec.choices.end(), value.asString()) == spec.choices.end()) {
        problem(where, "must be one of " + joinNames(spec.choices) + "; got '" + value.asString() + "'" +
                           didYouMeanSuffix(value.asString(), spec.choices));
        return std::nullopt;
      }
      return value;
    case OptionType::IntList:
      return checkList([](const OptionValue& e) { return e.isInt(); }, "int", false);
    case OptionType::FloatList:
      return checkList([](const OptionValue& e) { return e.isInt() || e.isFloat(); }, "float", true);
    case OptionType::StringList:
      return checkList([](const OptionValue& e) { return e.isString(); }, "string", false);
    case OptionType::Any:
      return value;
  }
  return mismatch();
}

}  // namespace

Options validateOptionsInto(std::string_view subject, const std::vector<OptionSpec>& specs,
                            const OptionValue& given, const SourceLocation& fallbackWhere,
                            std::vector<std::string>& problems) {
  const SourceLocation& mapWhere = knownOr(given.where(), fallbackWhere);
  std::map<std::string, OptionValue, std::less<>> values;
  static const OptionValue::Map kEmpty;
  const OptionValue::Map* entries = &kEmpty;
  if (given.isMap()) {
    entries = &given.asMap();
  } else if (!given.isNull()) {
    problems.push_back(locationPrefix(mapWhere) + std::string(subject) +
                       ": options must be a map of `key: value` pairs, got " + shortValue(given));
  }

  std::vector<std::string> known;
  for (const OptionSpec& spec : specs) known.push_back(spec.name);
  std::sort(known.begin(), known.end());

  std::set<std::string, std::less<>> seen;
  for (const auto& [key, value] : *entries) {
    const SourceLocation& where = knownOr(value.where(), mapWhere);
    auto spec = std::find_if(specs.begin(), specs.end(), [&](const OptionSpec& s) { return s.name == key; });
    if (spec == specs.end()) {
      std::string text = locationPrefix(where) + std::string(subject) + ": option '" + key + "' is unknown" +
                         didYouMeanSuffix(key, known);
      text += known.empty() ? "; this step takes no options" : "; known options: " + joinNames(known);
      problems.push_back(std::move(text));
      continue;
    }
    if (!seen.insert(key).second) {
      problems.push_back(locationPrefix(where) + std::string(subject) + ": option '" + key +
                         "' is given more than once");
      continue;
    }
    if (value.isNull()) continue;  // `key: ~` means "use the default"
    if (auto checked = checkValue(*spec, value, where, subject, problems)) values[key] = std::move(*checked);
  }

  for (const OptionSpec& spec : specs) {
    if (values.count(spec.name) > 0) continue;
    bool givenButInvalid = false;
    for (const auto& [key, value] : *entries) givenButInvalid = givenButInvalid || (key == spec.name && !value.isNull());
    if (givenButInvalid) continue;  // already reported
    if (spec.required) {
      std::string text = locationPrefix(mapWhere) + std::string(subject) + ": option '" + spec.name +
                         "' is required but missing (add `" + spec.name + ": <" +
                         std::string(optionTypeName(spec.type)) + ">`";
      if (!spec.doc.empty()) text += ": " + spec.doc;
      problems.push_back(text + ")");
      continue;
    }
    if (!spec.defaultValue.isNull()) values[spec.name] = spec.defaultValue;
  }
  return Options(std::move(values));
}

}  // namespace detail

Expected<Options> validateOptions(std::string_view owner, const std::vector<OptionSpec>& specs,
                                  const OptionValue& given) {
  std::vector<std::string> problems;
  Options options =
      detail::validateOptionsInto("step '" + std::string(owner) + "'", specs, given, given.where(), problems);
  if (!problems.empty()) return detail::problemsToStatus(problems);
  return options;
}

}  // namespace torchport
