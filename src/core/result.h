// Result<T>: a value or an Error, returned by everything that can fail.
// NotFound is usually a value (std::optional<T>) rather than an Error.
#pragma once

#include <cstdlib>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

#include "core/error.h"

namespace certgate {

template <class T>
class [[nodiscard]] Result {
 public:
  static_assert(!std::is_same_v<std::decay_t<T>, Error>);

  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // REQUIRES: ok(). Calling these on an error is a bug and aborts.
  T& value() & { return std::get<0>(Check()); }
  const T& value() const& { return std::get<0>(Check()); }
  T&& value() && { return std::get<0>(std::move(Check())); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // REQUIRES: !ok().
  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error>& Check() {
    if (v_.index() != 0) std::abort();
    return v_;
  }
  const std::variant<T, Error>& Check() const {
    if (v_.index() != 0) std::abort();
    return v_;
  }
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_;
  bool ok_ = true;
};

inline Error MakeError(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

// An error about one input: field is its name in the API (Error::field).
inline Error MakeFieldError(ErrorCode code, std::string_view field, std::string message) {
  Error e{code, std::move(message)};
  e.field = std::string(field);
  return e;
}

// error, naming field as the input at fault unless it names one already.
inline Error WithField(Error error, std::string_view field) {
  if (error.field.empty()) error.field = std::string(field);
  return error;
}

}  // namespace certgate

// Propagates an error from an expression returning Result<...>.
#define CG_RETURN_IF_ERROR(expr)                          \
  do {                                                    \
    auto cg_status_ = (expr);                             \
    if (!cg_status_.ok()) return std::move(cg_status_).error(); \
  } while (0)

#define CG_CONCAT_INNER_(a, b) a##b
#define CG_CONCAT_(a, b) CG_CONCAT_INNER_(a, b)
// CG_ASSIGN_OR_RETURN(auto x, Foo()); declares x from Foo()'s value or returns its error.
#define CG_ASSIGN_OR_RETURN(lhs, expr) \
  CG_ASSIGN_OR_RETURN_IMPL_(CG_CONCAT_(cg_result_, __LINE__), lhs, expr)
#define CG_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr)     \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return std::move(tmp).error();       \
  lhs = std::move(tmp).value()
