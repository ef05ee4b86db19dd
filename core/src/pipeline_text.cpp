// The pipeline text grammar shared by the CLI (`--passes`) and YAML pipeline strings:
//
//   pipeline := [ step { ',' step } ]
//   step     := name [ '{' [ option { ',' option } ] '}' ] [ '(' pipeline ')' ]   // (...) only for fixpoint
//   option   := key '=' value
//   value    := true | false | null | int | float | bare-string | quoted-string
//             | '[' [ value { ',' value } ] ']' | '{' [ option { ',' option } ] '}'
//
// Whitespace (including newlines) is allowed between tokens. Errors point at the
// offending character: "<pipeline>:1:12: expected '=' after option key 'opset'".
#include <algorithm>
#include <cctype>

#include "config_internal.h"
#include "torchport/host/pipeline.h"

namespace torchport {

namespace {

// Nesting bound so that hostile input cannot exhaust the stack.
constexpr int kMaxNesting = 64;

bool isBareValueChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == '/' || c == ':' ||
         c == '-' || c == '+';
}

class TextPipelineParser {
 public:
  TextPipelineParser(std::string_view text, SourceLocation origin) : text_(text), origin_(std::move(origin)) {}

  Expected<std::vector<PipelineStep>> parse() {
    std::vector<PipelineStep> steps;
    TP_RETURN_IF_ERROR(parseSteps(steps, /*closing=*/'\0', 0));
    return steps;
  }

 private:
  SourceLocation locationAt(size_t offset) const {
    SourceLocation where = origin_;
    size_t lineStart = 0;
    int extraLines = 0;
    for (size_t i = 0; i < offset && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++extraLines;
        lineStart = i + 1;
      }
    }
    int column = static_cast<int>(offset - lineStart) + 1;
    if (extraLines == 0) {
      where.column = origin_.column + column - 1;
    } else {
      where.line = origin_.line + extraLines;
      where.column = column;
    }
    return where;
  }

  Status errorAt(size_t offset, const std::string& message) const {
    return Status::input(locationAt(offset).toString() + ": " + message);
  }

  std::string describeCurrent() const {
    if (atEnd()) return "end of pipeline";
    char c = text_[pos_];
    if (std::isprint(static_cast<unsigned char>(c)) == 0) return "a control character";
    return "'" + std::string(1, c) + "'";
  }

  bool atEnd() const { return pos_ >= text_.size(); }
  char peek() const { return atEnd() ? '\0' : text_[pos_]; }
  void skipSpace() {
    while (!atEnd() && std::isspace(static_cast<unsigned char>(text_[pos_])) != 0) ++pos_;
  }

  template <class Pred>
  std::string_view scan(Pred accept) {
    size_t start = pos_;
    while (!atEnd() && accept(text_[pos_])) ++pos_;
    return text_.substr(start, pos_ - start);
  }

  Status parseSteps(std::vector<PipelineStep>& steps, char closing, int depth) {
    if (depth > kMaxNesting) return errorAt(pos_, "fixpoint groups nested more than 64 deep");
    skipSpace();
    if (atEnd() || peek() == closing) return Status::ok();  // empty pipeline / empty group
    while (true) {
      PipelineStep step;
      TP_RETURN_IF_ERROR(parseStep(step, depth));
      steps.push_back(std::move(step));
      skipSpace();
      if (peek() == ',') {
        size_t comma = pos_++;
        skipSpace();
        if (atEnd() || peek() == closing) return errorAt(pos_ > comma + 1 ? pos_ : comma, "expected a step name after ','");
        continue;
      }
      if (atEnd() || (closing != '\0' && peek() == closing)) return Status::ok();
      std::string expected = closing == ')' ? "',' or ')'" : "',' or end of pipeline";
      return errorAt(pos_, "expected " + expected + " after step '" + steps.back().name + "', got " + describeCurrent());
    }
  }

  Status parseStep(PipelineStep& step, int depth) {
    size_t start = pos_;
    std::string_view name = scan(detail::isStepNameChar);
    if (name.empty()) return errorAt(pos_, "expected a step name, got " + describeCurrent());
    step.name = std::string(name);
    step.where = locationAt(start);
    skipSpace();
    if (peek() == '{') {
      TP_RETURN_IF_ERROR(parseMap(step.rawOptions, 0));
      skipSpace();
    } else {
      step.rawOptions.setWhere(step.where);
    }
    if (peek() == '(') {
      if (step.name != "fixpoint") {
        return errorAt(pos_, "step '" + step.name +
                                 "' cannot take a '(...)' step list; only fixpoint groups do: fixpoint(a,b)");
      }
      size_t open = pos_++;
      TP_RETURN_IF_ERROR(parseSteps(step.children, ')', depth + 1));
      if (peek() != ')') return errorAt(pos_, "expected ')' to close the fixpoint group opened at column " +
                                                  std::to_string(locationAt(open).column) + ", got " + describeCurrent());
      ++pos_;
    } else if (step.name == "fixpoint") {
      return errorAt(pos_, "fixpoint needs its steps in parentheses: fixpoint{max_iterations=4}(step-a,step-b)");
    }
    return Status::ok();
  }

  Status parseKey(std::string& key) {
    if (peek() == '"' || peek() == '\'') return parseQuoted(key);
    std::string_view bare = scan(isBareValueChar);
    if (bare.empty()) return errorAt(pos_, "expected an option name, got " + describeCurrent());
    key = std::string(bare);
    return Status::ok();
  }

  // At '{'.
  Status parseMap(OptionValue& out, int depth) {
    if (depth > kMaxNesting) return errorAt(pos_, "values nested more than 64 deep");
    size_t open = pos_++;
    OptionValue::Map map;
    skipSpace();
    if (peek() == '}') {
      ++pos_;
      out = OptionValue(std::move(map), locationAt(open));
      return Status::ok();
    }
    while (true) {
      skipSpace();
      size_t keyStart = pos_;
      std::string key;
      TP_RETURN_IF_ERROR(parseKey(key));
      for (const auto& [existing, value] : map) {
        if (existing == key) return errorAt(keyStart, "option '" + key + "' is given twice");
      }
      skipSpace();
      if (peek() != '=') return errorAt(pos_, "expected '=' after option '" + key + "', got " + describeCurrent());
      ++pos_;
      skipSpace();
      OptionValue value;
      TP_RETURN_IF_ERROR(parseValue(value, depth + 1));
      map.emplace_back(std::move(key), std::move(value));
      skipSpace();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        out = OptionValue(std::move(map), locationAt(open));
        return Status::ok();
      }
      return errorAt(pos_, "expected ',' or '}' after the value of option '" + map.back().first + "' ('{' at column " +
                               std::to_string(locationAt(open).column) + "), got " + describeCurrent());
    }
  }

  // At '['.
  Status parseList(OptionValue& out, int depth) {
    if (depth > kMaxNesting) return errorAt(pos_, "values nested more than 64 deep");
    size_t open = pos_++;
    OptionValue::List list;
    skipSpace();
    if (peek() == ']') {
      ++pos_;
      out = OptionValue(std::move(list), locationAt(open));
      return Status::ok();
    }
    while (true) {
      skipSpace();
      OptionValue element;
      TP_RETURN_IF_ERROR(parseValue(element, depth + 1));
      list.push_back(std::move(element));
      skipSpace();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        out = OptionValue(std::move(list), locationAt(open));
        return Status::ok();
      }
      return errorAt(pos_, "expected ',' or ']' in the list opened at column " +
                               std::to_string(locationAt(open).column) + ", got " + describeCurrent());
    }
  }

  // At a quote character.
  Status parseQuoted(std::string& out) {
    size_t open = pos_;
    char quote = text_[pos_++];
    out.clear();
    while (!atEnd() && text_[pos_] != quote) {
      char c = text_[pos_++];
      if (c == '\\' && !atEnd()) {
        char escaped = text_[pos_++];
        switch (escaped) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          default: out += escaped;  // \\ \" \' and anything else: the character itself
        }
      } else {
        out += c;
      }
    }
    if (atEnd()) return errorAt(open, "unterminated string: no closing " + std::string(1, quote));
    ++pos_;
    return Status::ok();
  }

  Status parseValue(OptionValue& out, int depth) {
    size_t start = pos_;
    char c = peek();
    if (c == '{') return parseMap(out, depth);
    if (c == '[') return parseList(out, depth);
    if (c == '"' || c == '\'') {
      std::string text;
      TP_RETURN_IF_ERROR(parseQuoted(text));
      out = OptionValue(std::move(text), locationAt(start));
      return Status::ok();
    }
    std::string_view token = scan(isBareValueChar);
    if (token.empty()) return errorAt(pos_, "expected a value, got " + describeCurrent());
    out = OptionValue(detail::parsePlainScalar(token), locationAt(start));
    return Status::ok();
  }

  std::string_view text_;
  SourceLocation origin_;
  size_t pos_ = 0;
};

}  // namespace

namespace detail {
Expected<std::vector<PipelineStep>> parsePipelineTextAt(std::string_view text, const SourceLocation& origin) {
  return TextPipelineParser(text, origin).parse();
}
}  // namespace detail

Expected<std::vector<PipelineStep>> parsePipelineText(std::string_view text, std::string_view sourceName) {
  return detail::parsePipelineTextAt(text, SourceLocation{std::string(sourceName), 1, 1});
}

}  // namespace torchport
