// One result type for fallible non-config functions: a value or an Error, instead of bool plus
// out-parameter, optional plus errno, exceptions or a bare error string. (C++23 std::expected is
// not available to GCC 12 in -std=c++20.)
//
//   Expected<UniqueFd> OpenFile(const std::string& path);
//   auto fd = OpenFile(p);
//   if (!fd) Log(LogLevel::kWarn, "open failed", {{"error", fd.error().message}});
//
// value() and error() on the wrong alternative are programming errors: std::get throws
// std::bad_variant_access. Expected<void> carries only success or Error.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace gatewatch {

struct Error {
  std::string message;  // for logs and details: what failed, on what, why
  int code = 0;         // errno, an ares status, a CURLMcode...: whatever the message is about
};

// "what: strerror(errno)" with code errno; call it right after the failing call.
inline Error ErrnoError(const std::string& what) {
  int e = errno;
  return Error{what + ": " + std::strerror(e), e};
}

template <class T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT: implicit
  Expected(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Expected<void> {
 public:
  Expected() = default;
  Expected(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace gatewatch
