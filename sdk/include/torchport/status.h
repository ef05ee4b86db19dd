// Status and Expected<T>: the error channel used everywhere inside torchport.
// Exceptions are reserved for the CLI boundary and for wrapping LibTorch.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace torchport {

// Error classes double as process exit codes (documented in README).
enum class ErrorKind : int {
  Ok = 0,
  Usage = 2,         // bad command line / config that is not a model problem
  Input = 3,         // bad input file, config value, IR text
  Unsupported = 4,   // valid input we cannot handle (op without converter...)
  Verification = 5,  // verify step found mismatching outputs
  Internal = 70,     // a bug in torchport or a plugin
};

std::string_view errorKindName(ErrorKind kind);

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status ok() { return {}; }
  static Status error(ErrorKind kind, std::string message) {
    assert(kind != ErrorKind::Ok);
    return Status(kind, std::move(message));
  }
  static Status usage(std::string m) { return error(ErrorKind::Usage, std::move(m)); }
  static Status input(std::string m) { return error(ErrorKind::Input, std::move(m)); }
  static Status unsupported(std::string m) { return error(ErrorKind::Unsupported, std::move(m)); }
  static Status verification(std::string m) { return error(ErrorKind::Verification, std::move(m)); }
  static Status internal(std::string m) { return error(ErrorKind::Internal, std::move(m)); }

  bool isOk() const { return kind_ == ErrorKind::Ok; }
  explicit operator bool() const { return isOk(); }
  ErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }

  // Prefixes context ("while running pass X: ...") keeping the kind.
  Status withContext(std::string_view context) const {
    if (isOk()) return *this;
    return Status(kind_, std::string(context) + ": " + message_);
  }

 private:
  Status(ErrorKind kind, std::string message) : kind_(kind), message_(std::move(message)) {}
  ErrorKind kind_ = ErrorKind::Ok;
  std::string message_;
};

template <class T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : data_(std::move(value)) {}  // NOLINT(implicit)
  Expected(Status status) : data_(std::move(status)) {  // NOLINT(implicit)
    assert(!std::get<Status>(data_).isOk() && "Expected built from an ok Status");
  }

  bool hasValue() const { return std::holds_alternative<T>(data_); }
  explicit operator bool() const { return hasValue(); }

  T& value() & { return std::get<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Status& status() const {
    static const Status okStatus;
    return hasValue() ? okStatus : std::get<Status>(data_);
  }

 private:
  std::variant<T, Status> data_;
};

}  // namespace torchport

// Propagate a failing Status from an expression returning Status.
#define TP_RETURN_IF_ERROR(expr)                 \
  do {                                           \
    ::torchport::Status tp_status_ = (expr);     \
    if (!tp_status_.isOk()) return tp_status_;   \
  } while (0)

#define TP_CONCAT_INNER(a, b) a##b
#define TP_CONCAT(a, b) TP_CONCAT_INNER(a, b)
// `TP_ASSIGN_OR_RETURN(auto x, makeX());` -- the temporary's name is made once (via
// __COUNTER__) so invocations spanning several lines work.
#define TP_ASSIGN_OR_RETURN(decl, expr) \
  TP_ASSIGN_OR_RETURN_IMPL(TP_CONCAT(tp_expected_, __COUNTER__), decl, expr)
#define TP_ASSIGN_OR_RETURN_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                              \
  if (!tmp.hasValue()) return tmp.status();       \
  decl = std::move(tmp).value()
