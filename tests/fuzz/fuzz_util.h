// Helpers shared by the libFuzzer harnesses (fuzz build only).
//
// A harness checks more than "does not crash": each contract a parser's header
// promises and that can be checked from outside (one-line error messages, an
// empty OpenSSL error queue, a round trip through the normalized form) is a
// FUZZ_CHECK, which aborts with the broken promise so libFuzzer keeps the input.
#pragma once

#include <openssl/err.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

#include "core/error.h"
#include "core/result.h"

namespace certgate::fuzz {

[[noreturn]] inline void Fail(const char* file, int line, const char* what, std::string_view detail) {
  std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", file, line, what);
  if (!detail.empty()) {
    std::fprintf(stderr, "  %.*s\n", static_cast<int>(detail.size()), detail.data());
  }
  std::abort();
}

#define FUZZ_CHECK(cond, detail)                                           \
  do {                                                                     \
    if (!(cond)) ::certgate::fuzz::Fail(__FILE__, __LINE__, #cond, detail); \
  } while (false)

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The input split at the first occurrence of sep: (before, after). Without
// sep, everything is `before`.
inline std::pair<std::string_view, std::string_view> SplitAt(std::string_view in,
                                                             std::string_view sep) {
  const size_t pos = in.find(sep);
  if (pos == std::string_view::npos) return {in, {}};
  return {in.substr(0, pos), in.substr(pos + sep.size())};
}

// Every certgate Error is one line of text that names what went wrong.
inline void CheckError(const Error& e) {
  FUZZ_CHECK(!e.message.empty(), ErrorCodeName(e.code));
  FUZZ_CHECK(e.message.find('\n') == std::string::npos, e.message);
}

template <class T>
void CheckIfError(const Result<T>& r) {
  if (!r.ok()) CheckError(r.error());
}

// The pki functions promise to leave OpenSSL's thread-local error queue empty.
inline void CheckOpensslQueueEmpty(std::string_view after) {
  const unsigned long e = ERR_peek_error();
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    Fail(__FILE__, __LINE__, "OpenSSL error queue drained", std::string(after) + ": " + buf);
  }
}

}  // namespace certgate::fuzz
