// Parser of the textual IR (grammar in sdk/include/torchport/text_ir.h). Two phases:
//   1. syntax: tokens -> a small AST, checking duplicate names as definitions appear;
//   2. build:  AST -> Graph, resolving value references through nested scopes.
// Splitting them lets "used before definition" errors point at the later definition.
// The parser is fuzzed: every loop consumes input, recursion is bounded (kMaxNesting),
// tensor data is allocated only as elements are actually read.
#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

#include "torchport/text_ir.h"

namespace torchport {
namespace {

// Nested graphs and nested types each get this many levels; deeper input is rejected
// rather than risking the stack.
constexpr int kMaxNesting = 32;

bool isWordStart(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isWordChar(char c) { return isWordStart(c) || isDigit(c) || c == '.'; }
bool isNameChar(char c) { return isWordChar(c) || c == '/' || c == '-'; }

// End of a run of chars satisfying `allowed` starting at `pos`, where colons belong to the
// run only in "::" pairs: `%y:f32` is %y then ':', `onnx::Conv_1` is one name.
template <class Pred>
size_t scanWithColonPairs(std::string_view text, size_t pos, Pred allowed) {
  while (pos < text.size()) {
    if (text[pos] == ':') {
      if (pos + 1 < text.size() && text[pos + 1] == ':') pos += 2;
      else break;
    } else if (allowed(text[pos])) {
      ++pos;
    } else {
      break;
    }
  }
  return pos;
}
bool isNumberChar(char c) { return isWordStart(c) || isDigit(c) || c == '.'; }

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string printableChar(char c) {
  auto byte = static_cast<unsigned char>(c);
  if (byte >= 0x21 && byte < 0x7f) return std::string("'") + c + "'";
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string("byte 0x") + kHex[byte >> 4] + kHex[byte & 0xf];
}

struct Loc {
  int line = 1;
  int col = 1;
  friend bool operator<(const Loc& a, const Loc& b) {
    return a.line != b.line ? a.line < b.line : a.col < b.col;
  }
};

// Reads a quoted string starting at text[pos] == '"'. On success returns true, sets
// `out` to the decoded bytes and `pos` past the closing quote. On failure sets `error`
// and `pos` to the offending offset. Strings never span lines.
bool readQuoted(std::string_view text, size_t& pos, std::string& out, std::string& error) {
  size_t start = pos;
  ++pos;  // opening quote
  out.clear();
  while (true) {
    if (pos >= text.size() || text[pos] == '\n') {
      pos = start;
      error = "unterminated string: add the closing '\"' (strings cannot span lines; write a newline as \\n)";
      return false;
    }
    char c = text[pos];
    if (c == '"') {
      ++pos;
      return true;
    }
    if (c != '\\') {
      out += c;
      ++pos;
      continue;
    }
    size_t escape = pos;
    if (pos + 1 >= text.size()) {
      pos = start;
      error = "unterminated string: add the closing '\"'";
      return false;
    }
    char e = text[pos + 1];
    pos += 2;
    switch (e) {
      case '"': out += '"'; break;
      case '\\': out += '\\'; break;
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case 'x': {
        int hi = pos < text.size() ? hexValue(text[pos]) : -1;
        int lo = pos + 1 < text.size() ? hexValue(text[pos + 1]) : -1;
        if (hi < 0 || lo < 0) {
          pos = escape;
          error = "bad escape: \\x needs two hex digits (e.g. \\x0a)";
          return false;
        }
        out += static_cast<char>(hi * 16 + lo);
        pos += 2;
        break;
      }
      default:
        pos = escape;
        error = "unknown escape \\" + std::string(1, e) + " in string; use \\\", \\\\, \\n, \\t, \\r or \\xHH";
        return false;
    }
  }
}

// ---------------------------------------------------------------------------------------
// Lexer
// ---------------------------------------------------------------------------------------
enum class Tok : uint8_t {
  End, Error, Word, Number, String, ValueName, AtName, Comment,
  LParen, RParen, LBracket, RBracket, LBrace, RBrace, Less, Greater,
  Comma, Equal, Colon, Question, Star, Arrow,
};

struct Token {
  Tok kind = Tok::End;
  std::string text;  // decoded: word, number text, string contents, name, comment, error
  Loc loc;
  Loc textLoc;       // Comment: where `text` starts (for provenance errors)
};

std::string_view tokenDescription(Tok kind) {
  switch (kind) {
    case Tok::End: return "end of input";
    case Tok::Error: return "invalid token";
    case Tok::Word: return "word";
    case Tok::Number: return "number";
    case Tok::String: return "string";
    case Tok::ValueName: return "value name";
    case Tok::AtName: return "@name";
    case Tok::Comment: return "'#' comment";
    case Tok::LParen: return "'('";
    case Tok::RParen: return "')'";
    case Tok::LBracket: return "'['";
    case Tok::RBracket: return "']'";
    case Tok::LBrace: return "'{'";
    case Tok::RBrace: return "'}'";
    case Tok::Less: return "'<'";
    case Tok::Greater: return "'>'";
    case Tok::Comma: return "','";
    case Tok::Equal: return "'='";
    case Tok::Colon: return "':'";
    case Tok::Question: return "'?'";
    case Tok::Star: return "'*'";
    case Tok::Arrow: return "'->'";
  }
  return "token";
}

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  // Comments are skipped: `//` to the end of the line anywhere, and `#` lines holding
  // nothing else. A `#` after a token on the same line is a Comment token (provenance).
  Token next() {
    while (true) {
      Token token = lexOne();
      if (token.kind == Tok::Comment && token.loc.line != lastTokenLine_) continue;  // full-line comment
      if (token.kind != Tok::End) lastTokenLine_ = token.loc.line;
      return token;
    }
  }

 private:
  Token lexOne() {
    skipWhitespace();
    Token token;
    token.loc = here();
    if (pos_ >= text_.size()) return token;
    char c = text_[pos_];
    auto single = [&](Tok kind) {
      advance(1);
      token.kind = kind;
      return token;
    };
    switch (c) {
      case '(': return single(Tok::LParen);
      case ')': return single(Tok::RParen);
      case '[': return single(Tok::LBracket);
      case ']': return single(Tok::RBracket);
      case '{': return single(Tok::LBrace);
      case '}': return single(Tok::RBrace);
      case '<': return single(Tok::Less);
      case '>': return single(Tok::Greater);
      case ',': return single(Tok::Comma);
      case '=': return single(Tok::Equal);
      case ':': return single(Tok::Colon);
      case '?': return single(Tok::Question);
      case '*': return single(Tok::Star);
      case '"': return quoted(token, Tok::String);
      case '%': return sigilName(token, Tok::ValueName, "value name after '%'");
      case '@': return sigilName(token, Tok::AtName, "name after '@'");
      case '#': {
        advance(1);
        token.kind = Tok::Comment;
        token.textLoc = here();
        size_t end = text_.find('\n', pos_);
        if (end == std::string_view::npos) end = text_.size();
        std::string_view body = text_.substr(pos_, end - pos_);
        if (!body.empty() && body.back() == '\r') body.remove_suffix(1);
        token.text = std::string(body);
        advance(end - pos_);
        return token;
      }
      default: break;
    }
    if (c == '-' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '>') {
      advance(2);
      token.kind = Tok::Arrow;
      return token;
    }
    if (isDigit(c) || ((c == '-' || c == '+') && pos_ + 1 < text_.size() && isNumberChar(text_[pos_ + 1]))) {
      size_t start = pos_;
      size_t p = pos_ + 1;
      bool hex = text_.substr(start).starts_with("0x") || text_.substr(start).starts_with("-0x");
      while (p < text_.size()) {
        char d = text_[p];
        if (isNumberChar(d)) {
          ++p;
        } else if ((d == '+' || d == '-') && !hex && (text_[p - 1] == 'e' || text_[p - 1] == 'E')) {
          ++p;  // exponent sign
        } else {
          break;
        }
      }
      token.kind = Tok::Number;
      token.text = std::string(text_.substr(start, p - start));
      advance(p - start);
      return token;
    }
    if (isWordStart(c)) {
      size_t p = scanWithColonPairs(text_, pos_, isWordChar);
      token.kind = Tok::Word;
      token.text = std::string(text_.substr(pos_, p - pos_));
      advance(p - pos_);
      return token;
    }
    token.kind = Tok::Error;
    token.text = "unexpected character " + printableChar(c);
    return token;
  }

  Loc here() const { return {line_, static_cast<int>(pos_ - lineStart_) + 1}; }

  void advance(size_t n) { pos_ += n; }  // never crosses a newline (callers guarantee)

  void skipWhitespace() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '\n') {
        ++pos_;
        ++line_;
        lineStart_ = pos_;
      } else if (c == ' ' || c == '\t' || c == '\r') {
        ++pos_;
      } else if (c == '/' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '/') {
        size_t end = text_.find('\n', pos_);
        pos_ = end == std::string_view::npos ? text_.size() : end;
      } else {
        break;
      }
    }
  }

  Token quoted(Token& token, Tok kind) {
    size_t p = pos_;
    std::string error;
    if (!readQuoted(text_, p, token.text, error)) {
      token.kind = Tok::Error;
      token.loc = {line_, static_cast<int>(p - lineStart_) + 1};
      token.text = std::move(error);
      return token;
    }
    token.kind = kind;
    advance(p - pos_);
    return token;
  }

  // `%name` / `@name` with name [A-Za-z0-9_./-]+ and "::" pairs, or `%"quoted"`.
  Token sigilName(Token& token, Tok kind, std::string_view what) {
    advance(1);
    if (pos_ < text_.size() && text_[pos_] == '"') {
      Token result = quoted(token, kind);
      if (result.kind == kind && result.text.empty() && kind == Tok::ValueName) {
        result.kind = Tok::Error;
        result.text = "empty value name";
      }
      return result;
    }
    size_t p = scanWithColonPairs(text_, pos_, isNameChar);
    if (p == pos_) {
      token.kind = Tok::Error;
      token.text = "expected a " + std::string(what) + " ([A-Za-z0-9_./-]+ with :: allowed, or a quoted \"string\")";
      return token;
    }
    token.kind = kind;
    token.text = std::string(text_.substr(pos_, p - pos_));
    advance(p - pos_);
    return token;
  }

  std::string_view text_;
  size_t pos_ = 0;
  size_t lineStart_ = 0;
  int line_ = 1;
  int lastTokenLine_ = 0;
};

// ---------------------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------------------
bool isHexText(std::string_view text) { return text.starts_with("0x") || text.starts_with("-0x") || text.starts_with("+0x"); }

bool looksLikeFloat(std::string_view text) {
  if (isHexText(text)) return false;
  return text.find_first_of(".eE") != std::string_view::npos || text.ends_with("inf") || text.ends_with("nan");
}

template <class T>
std::optional<T> parseIntegerText(std::string_view text) {
  if (text.starts_with('+')) text.remove_prefix(1);
  if (text.empty() || isHexText(text)) return std::nullopt;
  T value{};
  auto result = std::from_chars(text.data(), text.data() + text.size(), value);
  if (result.ec != std::errc() || result.ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

// Finite decimal text -> T (float or double), correctly rounded for T.
template <class T>
std::optional<T> parseFloatText(std::string_view text) {
  if (text.starts_with('+')) text.remove_prefix(1);
  if (text.empty() || isHexText(text)) return std::nullopt;
  T value{};
  auto result = std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::general);
  if (result.ec != std::errc() || result.ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

uint32_t roundShiftRightEven(uint32_t value, int shift) {
  uint32_t result = value >> shift;
  uint32_t remainder = value & ((1u << shift) - 1);
  uint32_t half = 1u << (shift - 1);
  if (remainder > half || (remainder == half && (result & 1u))) ++result;
  return result;
}

// IEEE binary32 -> binary16, round to nearest even.
uint16_t floatToHalf(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  auto sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  int exponent = static_cast<int>((x >> 23) & 0xffu);
  uint32_t mantissa = x & 0x7fffffu;
  if (exponent == 0xff) return static_cast<uint16_t>(sign | 0x7c00u | (mantissa ? 0x200u | (mantissa >> 13) : 0u));
  int halfExponent = exponent - 112;
  if (halfExponent >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign;  // below half the smallest subnormal
    uint32_t full = mantissa | 0x800000u;
    return static_cast<uint16_t>(sign | roundShiftRightEven(full, 14 - halfExponent));
  }
  uint32_t combined = (static_cast<uint32_t>(halfExponent) << 23) | mantissa;
  return static_cast<uint16_t>(sign | roundShiftRightEven(combined, 13));  // carry may reach inf: correct
}

uint16_t floatToBFloat16(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  if (std::isnan(f)) return static_cast<uint16_t>((x >> 16) | 0x40u);
  uint32_t rounded = x + 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>(rounded >> 16);
}

// Per float format: storage width, default quiet NaNs (what `nan` / `-nan` mean), and
// what counts as a NaN bit pattern for nan(0x...).
struct FloatFormat {
  int bits;
  uint64_t positiveNan;
  uint64_t negativeNan;
  uint64_t exponentMask;
  uint64_t mantissaMask;
};

std::optional<FloatFormat> floatFormat(DType dtype) {
  switch (dtype) {
    case DType::F64: return FloatFormat{64, 0x7ff8000000000000ull, 0xfff8000000000000ull, 0x7ff0000000000000ull, 0x000fffffffffffffull};
    case DType::F32: return FloatFormat{32, 0x7fc00000u, 0xffc00000u, 0x7f800000u, 0x007fffffu};
    case DType::F16: return FloatFormat{16, 0x7e00u, 0xfe00u, 0x7c00u, 0x03ffu};
    case DType::BF16: return FloatFormat{16, 0x7fc0u, 0xffc0u, 0x7f80u, 0x007fu};
    default: return std::nullopt;
  }
}

size_t checkedElementCount(const std::vector<int64_t>& shape, bool& ok) {
  // Cap so that numel * 16 bytes (largest element) still fits comfortably.
  constexpr uint64_t kLimit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / 16;
  uint64_t count = 1;
  ok = true;
  for (int64_t dim : shape) {
    if (dim < 0) {
      ok = false;
      return 0;
    }
    if (dim != 0 && count > kLimit / static_cast<uint64_t>(dim)) {
      ok = false;
      return 0;
    }
    count *= static_cast<uint64_t>(dim);
  }
  return static_cast<size_t>(count);
}

// ---------------------------------------------------------------------------------------
// AST
// ---------------------------------------------------------------------------------------
struct GraphAst;

struct ValueDecl {
  std::string name;
  Loc loc;
  Type type;
  bool hasType = false;
  Loc typeLoc;
};

using AttrAst = std::variant<int64_t, double, std::string, Tensor, std::vector<int64_t>, std::vector<double>,
                             std::vector<std::string>, std::unique_ptr<GraphAst>>;

struct NodeAst {
  Loc loc;
  std::vector<ValueDecl> outputs;
  std::string kind;
  std::vector<ValueDecl> inputs;  // name + loc only
  std::vector<std::pair<std::string, AttrAst>> attributes;
  Provenance provenance;
};

struct GraphAst {
  std::string name;
  Loc loc;
  std::vector<ValueDecl> inputs;
  std::vector<ValueDecl> outputs;
  std::vector<NodeAst> nodes;
};

// ---------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------
class Parser {
 public:
  Parser(std::string_view text, std::string_view sourceName) : lexer_(text), source_(sourceName) {}

  Expected<std::unique_ptr<Graph>> parse() {
    if (!peekWord("graph"))
      return unexpected(peek(), "'graph' at the start of the IR (graph @main(%x: f32[2]) -> (%y) { ... })");
    auto root = std::make_unique<GraphAst>();
    TP_RETURN_IF_ERROR(parseGraph(*root, 0));
    if (peek().kind != Tok::End) {
      if (peek().kind == Tok::Error) return error(peek().loc, peek().text);
      return error(peek().loc, "unexpected " + describe(peek()) + " after the graph's closing '}'; a file holds one graph");
    }
    auto graph = std::make_unique<Graph>(root->name);
    TP_RETURN_IF_ERROR(buildGraph(*root, *graph));
    return graph;
  }

 private:
  // ---- token stream ----
  const Token& peek(size_t ahead = 0) {
    while (buffer_.size() <= ahead) {
      buffer_.push_back(lexer_.next());
      if (buffer_.back().kind == Tok::End || buffer_.back().kind == Tok::Error) {
        // Never lex past the end or an error: pad with copies so lookahead stays cheap.
        while (buffer_.size() <= ahead) buffer_.push_back(buffer_.back());
      }
    }
    return buffer_[ahead];
  }

  Token take() {
    peek();
    Token token = std::move(buffer_.front());
    buffer_.pop_front();
    if (token.kind == Tok::End || token.kind == Tok::Error) buffer_.push_front(token);  // sticky
    lastLine_ = token.loc.line;
    return token;
  }

  Status error(Loc loc, std::string_view message) const {
    return Status::input(source_ + ":" + std::to_string(loc.line) + ":" + std::to_string(loc.col) + ": " +
                         std::string(message));
  }

  static std::string describe(const Token& token) {
    switch (token.kind) {
      case Tok::Word: return "'" + token.text + "'";
      case Tok::Number: return "number " + token.text;
      case Tok::String: return "string";
      case Tok::ValueName: return "%" + token.text;
      case Tok::AtName: return "@" + token.text;
      default: return std::string(tokenDescription(token.kind));
    }
  }

  // Error for an unexpected token; lexer errors take precedence (they say what is wrong).
  Status unexpected(const Token& token, std::string_view expected) const {
    if (token.kind == Tok::Error) return error(token.loc, token.text);
    if (token.kind == Tok::Comment)
      return error(token.loc, "expected " + std::string(expected) +
                                  ", found a '#' comment ('#' after other tokens on a line is a node's provenance; "
                                  "write other comments with //)");
    return error(token.loc, "expected " + std::string(expected) + ", found " + describe(token));
  }

  Status expect(Tok kind, std::string_view expected, Token* out = nullptr) {
    if (peek().kind != kind) return unexpected(peek(), expected);
    Token token = take();
    if (out) *out = std::move(token);
    return Status::ok();
  }

  bool peekWord(std::string_view word, size_t ahead = 0) {
    return peek(ahead).kind == Tok::Word && peek(ahead).text == word;
  }

  Status expectNewline(std::string_view after) {
    if (peek().kind != Tok::End && peek().loc.line == lastLine_) {
      if (peek().kind == Tok::Error || peek().kind == Tok::Comment)
        return unexpected(peek(), "a line break after " + std::string(after));
      return error(peek().loc, "expected a line break after " + std::string(after) + ", found " + describe(peek()) +
                                   " (one node per line)");
    }
    return Status::ok();
  }

  // ---- definitions (duplicate detection and "defined later" hints) ----
  Status define(const ValueDecl& decl) {
    auto [it, inserted] = definitions_.emplace(decl.name, decl.loc);
    if (!inserted)
      return error(decl.loc, "duplicate value name %" + decl.name + " (first defined at " + locText(it->second) +
                                 "); value names are unique across a graph and its nested graphs");
    return Status::ok();
  }

  static std::string locText(Loc loc) { return std::to_string(loc.line) + ":" + std::to_string(loc.col); }

  // ---- graphs ----
  Status parseGraph(GraphAst& graph, int depth) {
    if (depth >= kMaxNesting)
      return error(peek().loc, "graphs nested more than " + std::to_string(kMaxNesting) + " levels deep");
    Token keyword;
    TP_RETURN_IF_ERROR(expect(Tok::Word, "'graph'", &keyword));
    graph.loc = keyword.loc;
    Token name;
    TP_RETURN_IF_ERROR(expect(Tok::AtName, "the graph's name (graph @main(...))", &name));
    graph.name = std::move(name.text);
    TP_RETURN_IF_ERROR(expect(Tok::LParen, "'(' starting the graph's inputs"));
    TP_RETURN_IF_ERROR(parseValueList(graph.inputs, "graph input", true));
    TP_RETURN_IF_ERROR(expect(Tok::Arrow, "'->' between the graph's inputs and outputs"));
    TP_RETURN_IF_ERROR(expect(Tok::LParen, "'(' starting the graph's outputs"));
    TP_RETURN_IF_ERROR(parseValueList(graph.outputs, "graph output", false));
    TP_RETURN_IF_ERROR(expect(Tok::LBrace, "'{' starting the graph's body"));
    TP_RETURN_IF_ERROR(expectNewline("'{'"));
    while (true) {
      const Token& token = peek();
      if (token.kind == Tok::RBrace) {
        take();
        return Status::ok();
      }
      if (token.kind == Tok::End)
        return error(token.loc, "unterminated body of graph @" + graph.name + " (opened at " + locText(graph.loc) +
                                    "): expected '}'");
      graph.nodes.emplace_back();
      TP_RETURN_IF_ERROR(parseNode(graph.nodes.back(), depth));
      TP_RETURN_IF_ERROR(expectNewline("a node"));
    }
  }

  // `%a[: T], %b[: T] )` after '('. Inputs are definitions; outputs are references.
  Status parseValueList(std::vector<ValueDecl>& values, std::string_view what, bool defines) {
    if (peek().kind == Tok::RParen) {
      take();
      return Status::ok();
    }
    while (true) {
      ValueDecl decl;
      Token name;
      TP_RETURN_IF_ERROR(expect(Tok::ValueName, std::string(what) + " (%name)", &name));
      decl.name = std::move(name.text);
      decl.loc = name.loc;
      TP_RETURN_IF_ERROR(parseOptionalTypeAnnotation(decl));
      if (defines) TP_RETURN_IF_ERROR(define(decl));
      values.push_back(std::move(decl));
      if (peek().kind == Tok::Comma) {
        take();
        continue;
      }
      return expect(Tok::RParen, "',' or ')' after " + std::string(what));
    }
  }

  Status parseOptionalTypeAnnotation(ValueDecl& decl) {
    if (peek().kind != Tok::Colon) return Status::ok();
    take();
    decl.typeLoc = peek().loc;
    decl.hasType = true;
    return parseType(decl.type, 0);
  }

  // ---- types ----
  Status parseType(Type& type, int depth) {
    if (depth >= kMaxNesting) return error(peek().loc, "types nested more than " + std::to_string(kMaxNesting) + " levels deep");
    const Token& token = peek();
    if (token.kind == Tok::Question) {
      take();
      if (peek().kind != Tok::LBracket) return unexpected(peek(), "'[' after '?' (unknown tensor: ?[*])");
      return parseTensorShape(type, DType::Undefined);
    }
    if (token.kind != Tok::Word) return unexpected(token, "a type (f32[2,3], int, list<int>, ...)");
    Token word = take();
    const std::string& w = word.text;
    if (peek().kind == Tok::LBracket) {
      auto dtype = parseDType(w);
      if (!dtype || *dtype == DType::Undefined)
        return error(word.loc, "unknown dtype '" + w + "' (expected f32, f64, f16, bf16, i8..i64, u8..u64, bool, c64, c128, ...)");
      return parseTensorShape(type, *dtype);
    }
    using Kind = Type::Kind;
    if (w == "int") type = Type::scalar(Kind::Int);
    else if (w == "float") type = Type::scalar(Kind::Float);
    else if (w == "bool") type = Type::scalar(Kind::Bool);
    else if (w == "str") type = Type::scalar(Kind::String);
    else if (w == "none") type = Type::scalar(Kind::None);
    else if (w == "device") type = Type::scalar(Kind::Device);
    else if (w == "unknown") type = Type::unknown();
    else if (w == "list" || w == "optional") {
      TP_RETURN_IF_ERROR(expect(Tok::Less, "'<' after '" + w + "'"));
      Type element;
      TP_RETURN_IF_ERROR(parseType(element, depth + 1));
      TP_RETURN_IF_ERROR(expect(Tok::Greater, "'>' closing " + w + "<...>"));
      type = w == "list" ? Type::list(std::move(element)) : Type::optional(std::move(element));
    } else if (w == "tuple") {
      TP_RETURN_IF_ERROR(expect(Tok::Less, "'<' after 'tuple'"));
      std::vector<Type> elements;
      if (peek().kind != Tok::Greater) {
        while (true) {
          Type element;
          TP_RETURN_IF_ERROR(parseType(element, depth + 1));
          elements.push_back(std::move(element));
          if (peek().kind != Tok::Comma) break;
          take();
        }
      }
      TP_RETURN_IF_ERROR(expect(Tok::Greater, "',' or '>' in tuple<...>"));
      type = Type::tuple(std::move(elements));
    } else if (w == "obj") {
      TP_RETURN_IF_ERROR(expect(Tok::Less, "'<' after 'obj'"));
      const Token& name = peek();
      if (name.kind != Tok::Word && name.kind != Tok::String) return unexpected(name, "a class name in obj<...>");
      std::string className = take().text;
      TP_RETURN_IF_ERROR(expect(Tok::Greater, "'>' closing obj<...>"));
      type = Type::object(std::move(className));
    } else if (parseDType(w)) {
      return error(word.loc, "tensor type '" + w + "' needs a shape: " + w + "[2,3], " + w + "[batch,?] or " + w +
                                 "[*] for unknown rank");
    } else {
      return error(word.loc, "unknown type '" + w +
                                 "' (expected a tensor type such as f32[2,3], or int, float, bool, str, none, device, "
                                 "list<T>, tuple<T,...>, optional<T>, obj<Class>, unknown)");
    }
    return Status::ok();
  }

  // `[d0,d1,...]` or `[*]`, after the dtype.
  Status parseTensorShape(Type& type, DType dtype) {
    TP_RETURN_IF_ERROR(expect(Tok::LBracket, "'['"));
    if (peek().kind == Tok::Star) {
      take();
      TP_RETURN_IF_ERROR(expect(Tok::RBracket, "']' after '*' (unknown rank)"));
      type = Type::tensor(dtype, std::nullopt);
      return Status::ok();
    }
    std::vector<Dim> dims;
    if (peek().kind != Tok::RBracket) {
      while (true) {
        const Token& token = peek();
        if (token.kind == Tok::Number) {
          auto size = parseIntegerText<int64_t>(token.text);
          if (!size || *size < 0)
            return error(token.loc, "bad dimension '" + token.text + "': expected a size >= 0, a symbol or '?'");
          dims.push_back(Dim::known(*size));
        } else if (token.kind == Tok::Word) {
          dims.push_back(Dim::symbol(token.text));
        } else if (token.kind == Tok::String) {
          if (token.text.empty()) return error(token.loc, "empty dimension symbol; use '?' for an unknown dimension");
          dims.push_back(Dim::symbol(token.text));
        } else if (token.kind == Tok::Question) {
          dims.push_back(Dim::unknown());
        } else {
          return unexpected(token, "a dimension (size, symbol or '?')");
        }
        take();
        if (peek().kind != Tok::Comma) break;
        take();
      }
    }
    TP_RETURN_IF_ERROR(expect(Tok::RBracket, "',' or ']' in the shape"));
    type = Type::tensor(dtype, std::move(dims));
    return Status::ok();
  }

  // ---- nodes ----
  Status parseNode(NodeAst& node, int depth) {
    node.loc = peek().loc;
    if (peek().kind == Tok::ValueName) {
      while (true) {
        ValueDecl decl;
        Token name = take();
        decl.name = std::move(name.text);
        decl.loc = name.loc;
        TP_RETURN_IF_ERROR(parseOptionalTypeAnnotation(decl));
        node.outputs.push_back(std::move(decl));
        if (peek().kind != Tok::Comma) break;
        take();
        if (peek().kind != Tok::ValueName) return unexpected(peek(), "another output (%name) after ','");
      }
      TP_RETURN_IF_ERROR(expect(Tok::Equal, "'=' after the node's outputs"));
      if (peekWord("const")) {
        TP_RETURN_IF_ERROR(parseConstSugar(node));
        for (const ValueDecl& output : node.outputs) TP_RETURN_IF_ERROR(define(output));
        return parseProvenance(node);
      }
    } else if (peek().kind != Tok::Word && peek().kind != Tok::String) {
      return unexpected(peek(), "a node (%out = domain::op(%in) or domain::op(%in)) or '}'");
    }

    const Token& kind = peek();
    if (kind.kind != Tok::Word && kind.kind != Tok::String) return unexpected(kind, "the node's kind (domain::name)");
    // Same rule as Graph::verify: a non-empty domain and name around the first "::".
    size_t separator = kind.text.find("::");
    if (separator == std::string::npos || separator == 0 || separator + 2 >= kind.text.size())
      return error(kind.loc, "node kind '" + kind.text + "' must be qualified as domain::name (e.g. aten::" +
                                 kind.text + ")");
    node.kind = take().text;
    TP_RETURN_IF_ERROR(expect(Tok::LParen, "'(' after the node kind (write () for a node without inputs)"));
    if (peek().kind != Tok::RParen) {
      while (true) {
        Token input;
        TP_RETURN_IF_ERROR(expect(Tok::ValueName, "an input value (%name)", &input));
        node.inputs.push_back({std::move(input.text), input.loc, {}, false, {}});
        if (peek().kind != Tok::Comma) break;
        take();
      }
    }
    TP_RETURN_IF_ERROR(expect(Tok::RParen, "',' or ')' in the node's inputs"));
    if (peek().kind == Tok::LBrace) TP_RETURN_IF_ERROR(parseAttributes(node, depth));
    // Outputs are defined after attributes: nested graphs cannot see their node's outputs.
    for (const ValueDecl& output : node.outputs) TP_RETURN_IF_ERROR(define(output));
    return parseProvenance(node);
  }

  // `# module.path loc("file:line")` on the node's last line.
  Status parseProvenance(NodeAst& node) {
    if (peek().kind != Tok::Comment || peek().loc.line != lastLine_) return Status::ok();
    Token comment = take();
    std::string_view text = comment.text;
    size_t pos = 0;
    auto at = [&](size_t p) { return Loc{comment.textLoc.line, comment.textLoc.col + static_cast<int>(p)}; };
    auto skipSpaces = [&] {
      while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
    };
    std::string message;
    skipSpaces();
    if (pos < text.size() && text[pos] == '"') {
      if (!readQuoted(text, pos, node.provenance.modulePath, message)) return error(at(pos), message);
    } else if (pos < text.size() && !text.substr(pos).starts_with("loc(")) {
      size_t start = pos;
      while (pos < text.size() && text[pos] != ' ' && text[pos] != '\t') ++pos;
      node.provenance.modulePath = std::string(text.substr(start, pos - start));
    }
    skipSpaces();
    if (text.substr(pos).starts_with("loc(")) {
      pos += 4;
      if (pos >= text.size() || text[pos] != '"')
        return error(at(pos), "expected a quoted source range in loc(\"file.py:42\")");
      if (!readQuoted(text, pos, node.provenance.sourceRange, message)) return error(at(pos), message);
      if (pos >= text.size() || text[pos] != ')') return error(at(pos), "expected ')' closing loc(\"...\")");
      ++pos;
    }
    skipSpaces();
    if (pos < text.size())
      return error(at(pos), "unexpected text in provenance comment; expected `# module.path loc(\"file.py:42\")`");
    return Status::ok();
  }

  Status parseAttributes(NodeAst& node, int depth) {
    take();  // '{'
    std::unordered_set<std::string> seen;  // a set: no quadratic blow-up on huge inputs
    while (true) {
      const Token& nameToken = peek();
      if (nameToken.kind != Tok::Word && nameToken.kind != Tok::String)
        return unexpected(nameToken, "an attribute name (name=value)");
      Token name = take();
      if (!seen.insert(name.text).second) return error(name.loc, "duplicate attribute '" + name.text + "'");
      TP_RETURN_IF_ERROR(expect(Tok::Equal, "'=' after attribute name '" + name.text + "'"));
      AttrAst value;
      TP_RETURN_IF_ERROR(parseAttributeValue(value, depth));
      node.attributes.emplace_back(std::move(name.text), std::move(value));
      if (peek().kind == Tok::Comma) {
        take();
        continue;
      }
      return expect(Tok::RBrace, "',' or '}' after an attribute");
    }
  }

  Status parseAttributeValue(AttrAst& value, int depth) {
    const Token& token = peek();
    switch (token.kind) {
      case Tok::String: value = take().text; return Status::ok();
      case Tok::Number: {
        if (looksLikeFloat(token.text)) {
          double d = 0;
          TP_RETURN_IF_ERROR(parseScalarFloat(d));
          value = d;
          return Status::ok();
        }
        auto v = parseIntegerText<int64_t>(token.text);
        if (!v) return error(token.loc, "bad number '" + token.text + "' (expected a 64-bit integer or a float)");
        take();
        value = *v;
        return Status::ok();
      }
      case Tok::LBracket: return parseAttributeList(value, std::nullopt);
      case Tok::Word: break;
      default: return unexpected(token, "an attribute value");
    }
    const std::string& w = token.text;
    if (w == "inf" || w == "nan") {
      double d = 0;
      TP_RETURN_IF_ERROR(parseScalarFloat(d));
      value = d;
      return Status::ok();
    }
    if (w == "dense") {
      Tensor tensor;
      TP_RETURN_IF_ERROR(parseDenseAttribute(tensor));
      value = std::move(tensor);
      return Status::ok();
    }
    if (w == "graph") {
      auto graph = std::make_unique<GraphAst>();
      TP_RETURN_IF_ERROR(parseGraph(*graph, depth + 1));
      value = std::move(graph);
      return Status::ok();
    }
    if ((w == "ints" || w == "floats" || w == "strings") && peek(1).kind == Tok::LBracket) {
      AttributeKind kind = w == "ints" ? AttributeKind::Ints : w == "floats" ? AttributeKind::Floats : AttributeKind::Strings;
      take();
      return parseAttributeList(value, kind);
    }
    if (w == "true" || w == "false")
      return error(token.loc, "attributes have no bool kind; write 1 or 0");
    return error(token.loc, "expected an attribute value (integer, float, \"string\", [list], ints[], dense<...>, graph ...), found '" + w + "'");
  }

  // `[1, 2]` (ints), `[1.0, 2]` (floats), `["a"]` (strings); `kind` set for ints[...] etc.
  Status parseAttributeList(AttrAst& value, std::optional<AttributeKind> kind) {
    Token open = take();  // '['
    std::vector<int64_t> ints;
    std::vector<double> floats;
    std::vector<std::string> strings;
    bool sawFloat = false, sawString = false, sawNumber = false;
    // Keep ints exact while no float was seen; floats collects every number as double.
    if (peek().kind != Tok::RBracket) {
      while (true) {
        const Token& token = peek();
        if (token.kind == Tok::String) {
          if (sawNumber || (kind && *kind != AttributeKind::Strings))
            return error(token.loc, "a list cannot mix strings and numbers");
          sawString = true;
          strings.push_back(take().text);
        } else if (token.kind == Tok::Number || (token.kind == Tok::Word && (token.text == "inf" || token.text == "nan"))) {
          if (sawString || (kind && *kind == AttributeKind::Strings))
            return error(token.loc, "a list cannot mix strings and numbers");
          sawNumber = true;
          bool isFloat = token.kind == Tok::Word || looksLikeFloat(token.text);
          if (isFloat) {
            if (kind && *kind == AttributeKind::Ints) return error(token.loc, "ints[...] holds integers only, found '" + token.text + "'");
            sawFloat = true;
            double d = 0;
            TP_RETURN_IF_ERROR(parseScalarFloat(d));
            floats.push_back(d);
          } else {
            auto v = parseIntegerText<int64_t>(token.text);
            if (!v) return error(token.loc, "bad number '" + token.text + "' (expected a 64-bit integer or a float)");
            take();
            ints.push_back(*v);
            floats.push_back(static_cast<double>(*v));
          }
        } else {
          return unexpected(token, "a list element (number or \"string\")");
        }
        if (peek().kind != Tok::Comma) break;
        take();
      }
    }
    TP_RETURN_IF_ERROR(expect(Tok::RBracket, "',' or ']' in the list"));
    if (!kind) {
      if (!sawNumber && !sawString)
        return error(open.loc, "an empty list must say its kind: ints[], floats[] or strings[]");
      kind = sawString ? AttributeKind::Strings : sawFloat ? AttributeKind::Floats : AttributeKind::Ints;
    }
    if (*kind == AttributeKind::Ints) value = std::move(ints);
    else if (*kind == AttributeKind::Floats) value = std::move(floats);
    else value = std::move(strings);
    return Status::ok();
  }

  // A float scalar: number, inf, -inf, nan, -nan, nan(0x<64-bit pattern>).
  Status parseScalarFloat(double& out) {
    uint64_t bits = 0;
    TP_RETURN_IF_ERROR(parseFloatElement(*floatFormat(DType::F64), bits, /*forDType=*/DType::F64));
    out = std::bit_cast<double>(bits);
    return Status::ok();
  }

  // Reads one float of `dtype` and returns its bit pattern in that format.
  Status parseFloatElement(const FloatFormat& format, uint64_t& bits, DType dtype) {
    const Token& token = peek();
    if (token.kind == Tok::Word && token.text == "nan" && peek(1).kind == Tok::LParen) {
      take();
      take();
      const Token& payload = peek();
      if (payload.kind != Tok::Number || !payload.text.starts_with("0x") || payload.text.size() <= 2 ||
          payload.text.size() > 2 + static_cast<size_t>(format.bits / 4))
        return unexpected(payload, "a hex bit pattern of at most " + std::to_string(format.bits / 4) + " digits in nan(0x...)");
      uint64_t pattern = 0;
      for (char c : std::string_view(payload.text).substr(2)) {
        int digit = hexValue(c);
        if (digit < 0) return error(payload.loc, "bad hex digit " + printableChar(c) + " in nan(0x...)");
        pattern = (pattern << 4) | static_cast<uint64_t>(digit);
      }
      if ((pattern & format.exponentMask) != format.exponentMask || (pattern & format.mantissaMask) == 0)
        return error(payload.loc, "nan(" + payload.text + ") is not a NaN bit pattern for " + std::string(dtypeName(dtype)));
      take();
      TP_RETURN_IF_ERROR(expect(Tok::RParen, "')' closing nan(0x...)"));
      bits = pattern;
      return Status::ok();
    }
    std::string_view text = token.text;
    if (token.kind == Tok::Word || token.kind == Tok::Number) {
      bool negative = text.starts_with('-');
      std::string_view magnitude = (negative || text.starts_with('+')) ? text.substr(1) : text;
      if (magnitude == "nan") {
        bits = negative ? format.negativeNan : format.positiveNan;
        take();
        return Status::ok();
      }
      if (magnitude == "inf") {
        double inf = negative ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
        bits = encodeFloat(inf, dtype);
        take();
        return Status::ok();
      }
    }
    if (token.kind != Tok::Number) return unexpected(token, "a number");
    if (dtype == DType::F64) {
      auto v = parseFloatText<double>(text);
      if (!v) return error(token.loc, "bad number '" + token.text + "' (expected a float such as 1.5, -2e-3, inf or nan)");
      bits = std::bit_cast<uint64_t>(*v);
    } else {
      // Parse straight to float so f32 values are correctly rounded once.
      auto v = parseFloatText<float>(text);
      if (!v) return error(token.loc, "bad number '" + token.text + "' (expected a float within " +
                                          std::string(dtypeName(dtype)) + " range such as 1.5 or -2e-3)");
      bits = encodeFloat(*v, dtype);
    }
    take();
    return Status::ok();
  }

  static uint64_t encodeFloat(double value, DType dtype) {
    switch (dtype) {
      case DType::F64: return std::bit_cast<uint64_t>(value);
      case DType::F32: return std::bit_cast<uint32_t>(static_cast<float>(value));
      case DType::F16: return floatToHalf(static_cast<float>(value));
      case DType::BF16: return floatToBFloat16(static_cast<float>(value));
      default: return 0;
    }
  }

  // ---- tensors ----
  // `dense<f32[2,3]: [..]>`, `dense<f32[2,3]: 0x..>` or elided `dense<f32[2,3]>`.
  Status parseDenseAttribute(Tensor& tensor) {
    take();  // 'dense'
    TP_RETURN_IF_ERROR(expect(Tok::Less, "'<' after 'dense'"));
    Loc typeLoc = peek().loc;
    Type type;
    TP_RETURN_IF_ERROR(parseType(type, 0));
    std::vector<int64_t> shape;
    if (!type.isTensor() || !staticShape(type, shape))
      return error(typeLoc, "a tensor attribute needs a tensor type with a static shape, e.g. dense<f32[2,3]: [...]>");
    if (peek().kind == Tok::Colon) {
      take();
      if (type.dtype() == DType::Undefined) return error(typeLoc, "a tensor with data needs a dtype (not '?')");
      TP_RETURN_IF_ERROR(parseTensorData(type.dtype(), std::move(shape), tensor));
    } else {
      tensor = Tensor(type.dtype(), std::move(shape), nullptr);
    }
    return expect(Tok::Greater, "'>' closing dense<...>");
  }

  static bool staticShape(const Type& type, std::vector<int64_t>& shape) {
    if (!type.hasRank()) return false;
    shape.clear();
    for (const Dim& dim : *type.shape()) {
      if (!dim.isKnown()) return false;
      shape.push_back(dim.size());
    }
    return true;
  }

  // `[e0, e1, ...]` (flat, row-major) or `0x<raw bytes>`.
  Status parseTensorData(DType dtype, std::vector<int64_t> shape, Tensor& tensor) {
    const Token& start = peek();
    Loc startLoc = start.loc;
    bool ok = true;
    size_t numel = checkedElementCount(shape, ok);
    std::string typeText = std::string(dtypeName(dtype)) + "[" + joinShape(shape) + "]";
    if (!ok) return error(startLoc, "tensor " + typeText + " is too large");
    const size_t elementSize = dtypeSize(dtype);
    if (elementSize == 0) return error(startLoc, "tensor data needs a dtype with a size, not " + std::string(dtypeName(dtype)));
    std::vector<std::byte> bytes;

    if (start.kind == Tok::Number && start.text.starts_with("0x")) {
      std::string_view hex = std::string_view(start.text).substr(2);
      if (hex.size() % 2 != 0 || hex.size() / 2 != numel * elementSize)
        return error(startLoc, "hex data of " + typeText + " needs " + std::to_string(numel * elementSize * 2) +
                                   " hex digits, found " + std::to_string(hex.size()));
      bytes.resize(hex.size() / 2);
      for (size_t i = 0; i < bytes.size(); ++i) {
        int hi = hexValue(hex[2 * i]), lo = hexValue(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return error(startLoc, "bad hex digit in tensor data");
        bytes[i] = static_cast<std::byte>(hi * 16 + lo);
      }
      take();
      tensor = Tensor(dtype, std::move(shape), Storage::owned(std::move(bytes)));
      return Status::ok();
    }
    if (start.kind != Tok::LBracket) return unexpected(start, "tensor data: [elements...] or 0x<hex bytes>");
    take();
    size_t count = 0;
    if (peek().kind != Tok::RBracket) {
      while (true) {
        if (count == numel)
          return error(peek().loc, "too many elements: tensor " + typeText + " has " + std::to_string(numel));
        TP_RETURN_IF_ERROR(parseTensorElement(dtype, bytes));
        ++count;
        if (peek().kind != Tok::Comma) break;
        take();
      }
    }
    TP_RETURN_IF_ERROR(expect(Tok::RBracket, "',' or ']' in tensor data"));
    if (count != numel)
      return error(startLoc, "tensor " + typeText + " needs " + std::to_string(numel) + " elements, found " +
                                 std::to_string(count));
    tensor = Tensor(dtype, std::move(shape), Storage::owned(std::move(bytes)));
    return Status::ok();
  }

  static std::string joinShape(const std::vector<int64_t>& shape) {
    std::string out;
    for (size_t i = 0; i < shape.size(); ++i) {
      if (i) out += ',';
      out += std::to_string(shape[i]);
    }
    return out;
  }

  template <class T>
  static void appendBytes(std::vector<std::byte>& bytes, T value) {
    size_t offset = bytes.size();
    bytes.resize(offset + sizeof(T));
    std::memcpy(bytes.data() + offset, &value, sizeof(T));
  }

  template <class T>
  Status parseIntElement(std::vector<std::byte>& bytes, DType dtype) {
    const Token& token = peek();
    if (token.kind != Tok::Number) return unexpected(token, "an integer element of a " + std::string(dtypeName(dtype)) + " tensor");
    auto v = parseIntegerText<T>(token.text);
    if (!v) return error(token.loc, "bad number '" + token.text + "' for a " + std::string(dtypeName(dtype)) +
                                        " tensor (expected an integer in [" + std::to_string(std::numeric_limits<T>::min()) +
                                        ", " + std::to_string(std::numeric_limits<T>::max()) + "])");
    take();
    appendBytes(bytes, *v);
    return Status::ok();
  }

  Status parseTensorElement(DType dtype, std::vector<std::byte>& bytes) {
    switch (dtype) {
      case DType::I8: return parseIntElement<int8_t>(bytes, dtype);
      case DType::I16: return parseIntElement<int16_t>(bytes, dtype);
      case DType::I32: return parseIntElement<int32_t>(bytes, dtype);
      case DType::I64: return parseIntElement<int64_t>(bytes, dtype);
      case DType::U8: return parseIntElement<uint8_t>(bytes, dtype);
      case DType::U16: return parseIntElement<uint16_t>(bytes, dtype);
      case DType::U32: return parseIntElement<uint32_t>(bytes, dtype);
      case DType::U64: return parseIntElement<uint64_t>(bytes, dtype);
      case DType::Bool: {
        const Token& token = peek();
        uint8_t v;
        if (token.kind == Tok::Word && (token.text == "true" || token.text == "false")) v = token.text == "true";
        else if (token.kind == Tok::Number && (token.text == "0" || token.text == "1")) v = token.text == "1";
        else return unexpected(token, "true or false (bool tensor element)");
        take();
        appendBytes(bytes, v);
        return Status::ok();
      }
      default: break;
    }
    auto format = floatFormat(dtype);
    if (!format)
      return error(peek().loc, "elements of " + std::string(dtypeName(dtype)) + " tensors are written as raw bytes: 0x<hex>");
    uint64_t bits = 0;
    TP_RETURN_IF_ERROR(parseFloatElement(*format, bits, dtype));
    switch (format->bits) {
      case 64: appendBytes(bytes, bits); break;
      case 32: appendBytes(bytes, static_cast<uint32_t>(bits)); break;
      default: appendBytes(bytes, static_cast<uint16_t>(bits)); break;
    }
    return Status::ok();
  }

  // ---- const sugar: `%x = const TYPE [@"param"] [literal]` ----
  Status parseConstSugar(NodeAst& node) {
    take();  // 'const'
    node.kind = std::string(kConstKind);
    if (node.outputs.size() != 1)
      return error(node.outputs[1].loc, "'const' defines exactly one value");
    ValueDecl& output = node.outputs.front();
    if (output.hasType)
      return error(output.typeLoc, "the type of a const goes after 'const': %" + output.name + " = const <type> ...");
    Loc typeLoc = peek().loc;
    TP_RETURN_IF_ERROR(parseType(output.type, 0));
    output.hasType = true;
    output.typeLoc = typeLoc;
    std::optional<std::string> param;
    if (peek().kind == Tok::AtName) param = take().text;

    const Type& type = output.type;
    using Kind = Type::Kind;
    std::optional<AttrAst> value;
    switch (type.kind()) {
      case Kind::None: break;
      case Kind::Tensor: {
        std::vector<int64_t> shape;
        if (type.dtype() == DType::Undefined || !staticShape(type, shape))
          return error(typeLoc, "a const tensor needs a dtype and a static shape (use the generic form "
                                "%x: T = prim::Constant() {value=...} otherwise)");
        Tensor tensor;
        if (peekWord("dense")) {
          take();
          TP_RETURN_IF_ERROR(expect(Tok::Less, "'<' after 'dense'"));
          TP_RETURN_IF_ERROR(parseTensorData(type.dtype(), std::move(shape), tensor));
          TP_RETURN_IF_ERROR(expect(Tok::Greater, "'>' closing dense<...>"));
        } else {
          tensor = Tensor(type.dtype(), std::move(shape), nullptr);  // data elided
        }
        value = std::move(tensor);
        break;
      }
      case Kind::Int: {
        const Token& token = peek();
        auto v = token.kind == Tok::Number ? parseIntegerText<int64_t>(token.text) : std::nullopt;
        if (!v) return token.kind == Tok::Number ? error(token.loc, "bad number '" + token.text + "' for a const int")
                                                 : unexpected(token, "an integer after 'const int'");
        take();
        value = *v;
        break;
      }
      case Kind::Float: {
        double d = 0;
        TP_RETURN_IF_ERROR(parseScalarFloat(d));
        value = d;
        break;
      }
      case Kind::Bool: {
        if (!peekWord("true") && !peekWord("false")) return unexpected(peek(), "true or false after 'const bool'");
        value = int64_t{take().text == "true"};
        break;
      }
      case Kind::String:
      case Kind::Device: {
        Token text;
        TP_RETURN_IF_ERROR(expect(Tok::String, "a quoted string", &text));
        value = std::move(text.text);
        break;
      }
      case Kind::List: {
        Kind element = type.elements().empty() ? Kind::Unknown : type.elements().front().kind();
        if (element != Kind::Int && element != Kind::Float && element != Kind::Bool && element != Kind::String)
          return error(typeLoc, "'const' supports list<int>, list<float>, list<bool> and list<str>; use the generic form "
                                "%x: T = prim::Constant() {value=...} for other lists");
        TP_RETURN_IF_ERROR(parseConstList(element, value));
        break;
      }
      default:
        return error(typeLoc, "'const' supports tensor, int, float, bool, str, device, none and list types; use the "
                              "generic form %x: T = prim::Constant() {value=...}");
    }
    if (value) node.attributes.emplace_back("value", std::move(*value));
    if (param) node.attributes.emplace_back("param", std::move(*param));
    if (peek().kind == Tok::LBrace)
      return error(peek().loc, "a const with extra attributes must use the generic form %" + output.name +
                                   ": T = prim::Constant() {value=..., ...}");
    return Status::ok();
  }

  Status parseConstList(Type::Kind element, std::optional<AttrAst>& value) {
    using Kind = Type::Kind;
    TP_RETURN_IF_ERROR(expect(Tok::LBracket, "'[' starting the list"));
    std::vector<int64_t> ints;
    std::vector<double> floats;
    std::vector<std::string> strings;
    if (peek().kind != Tok::RBracket) {
      while (true) {
        const Token& token = peek();
        if (element == Kind::Int) {
          auto v = token.kind == Tok::Number ? parseIntegerText<int64_t>(token.text) : std::nullopt;
          if (!v) return token.kind == Tok::Number ? error(token.loc, "bad number '" + token.text + "' in list<int>")
                                                   : unexpected(token, "an integer in list<int>");
          take();
          ints.push_back(*v);
        } else if (element == Kind::Bool) {
          if (!peekWord("true") && !peekWord("false")) return unexpected(token, "true or false in list<bool>");
          ints.push_back(take().text == "true");
        } else if (element == Kind::Float) {
          double d = 0;
          TP_RETURN_IF_ERROR(parseScalarFloat(d));
          floats.push_back(d);
        } else {
          Token text;
          TP_RETURN_IF_ERROR(expect(Tok::String, "a quoted string in list<str>", &text));
          strings.push_back(std::move(text.text));
        }
        if (peek().kind != Tok::Comma) break;
        take();
      }
    }
    TP_RETURN_IF_ERROR(expect(Tok::RBracket, "',' or ']' in the list"));
    if (element == Kind::Float) value = std::move(floats);
    else if (element == Kind::String) value = std::move(strings);
    else value = std::move(ints);
    return Status::ok();
  }

  // ---------------------------------------------------------------------------------------
  // Phase 2: build the Graph
  // ---------------------------------------------------------------------------------------
  Value* lookup(const std::string& name) const {
    for (auto scope = scopes_.rbegin(); scope != scopes_.rend(); ++scope) {
      auto it = scope->find(name);
      if (it != scope->end()) return it->second;
    }
    return nullptr;
  }

  Status notVisible(const ValueDecl& use, const NodeAst* node) const {
    auto it = definitions_.find(use.name);
    if (it == definitions_.end()) return error(use.loc, "unknown value %" + use.name);
    if (node != nullptr) {
      for (const ValueDecl& output : node->outputs)
        if (output.name == use.name) return error(use.loc, "node uses its own output %" + use.name);
      if (use.loc < it->second)
        return error(use.loc, "value %" + use.name + " is used before its definition at " + locText(it->second));
    }
    return error(use.loc, "value %" + use.name + " (defined at " + locText(it->second) +
                              ") is not visible here: a value is visible after its definition in its own graph and in "
                              "nested graphs of later nodes, never outside its graph nor inside its own node's graphs");
  }

  Status buildGraph(GraphAst& ast, Graph& graph) {
    scopes_.emplace_back();
    for (ValueDecl& input : ast.inputs) {
      Value* value = graph.addInput(std::move(input.type), input.name);
      if (value->name() != input.name)
        return Status::internal("text IR: graph input %" + input.name + " was renamed to %" + value->name());
      scopes_.back()[input.name] = value;
    }
    for (NodeAst& nodeAst : ast.nodes) {
      std::vector<Value*> inputs;
      inputs.reserve(nodeAst.inputs.size());
      for (const ValueDecl& use : nodeAst.inputs) {
        Value* value = lookup(use.name);
        if (value == nullptr) return notVisible(use, &nodeAst);
        inputs.push_back(value);
      }
      Node* node = graph.appendNode(nodeAst.kind, inputs, 0);
      for (auto& [name, attribute] : nodeAst.attributes) {
        Attribute built;
        if (auto* nested = std::get_if<std::unique_ptr<GraphAst>>(&attribute)) {
          GraphPtr subgraph = graph.createSubgraph((*nested)->name);
          TP_RETURN_IF_ERROR(buildGraph(**nested, *subgraph));
          built = std::move(subgraph);
        } else {
          std::visit(
              [&](auto& v) {
                if constexpr (!std::is_same_v<std::decay_t<decltype(v)>, std::unique_ptr<GraphAst>>) built = std::move(v);
              },
              attribute);
        }
        node->setAttribute(name, std::move(built));
      }
      for (ValueDecl& output : nodeAst.outputs) {
        Value* value = node->addOutput(std::move(output.type), output.name);
        if (value->name() != output.name)
          return Status::internal("text IR: node output %" + output.name + " was renamed to %" + value->name());
        scopes_.back()[output.name] = value;
      }
      node->setProvenance(std::move(nodeAst.provenance));
    }
    for (const ValueDecl& use : ast.outputs) {
      Value* value = lookup(use.name);
      if (value == nullptr) {
        if (definitions_.find(use.name) == definitions_.end())
          return error(use.loc, "unknown value %" + use.name + " in the outputs of graph @" + ast.name);
        return notVisible(use, nullptr);
      }
      if (use.hasType && !(use.type == value->type()))
        return error(use.typeLoc, "graph output %" + use.name + " is annotated as " + use.type.toString() +
                                      " but its type is " + value->type().toString() +
                                      "; fix the annotation (or omit it)");
      graph.addOutput(value);
    }
    scopes_.pop_back();
    return Status::ok();
  }

  Lexer lexer_;
  std::string source_;
  std::deque<Token> buffer_;
  int lastLine_ = 0;
  std::unordered_map<std::string, Loc> definitions_;
  std::vector<std::unordered_map<std::string, Value*>> scopes_;
};

}  // namespace

Expected<std::unique_ptr<Graph>> parseGraph(std::string_view text, std::string_view sourceName) {
  return Parser(text, sourceName).parse();
}

}  // namespace torchport
