// Helpers shared by the pki unit tests (test-only; never linked into certgate).
#pragma once

#include <chrono>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "core/error.h"
#include "core/result.h"
#include "core/time.h"
#include "pki/ossl_ptr.h"

namespace certgate::pki::test {

inline Time Now() { return std::chrono::system_clock::now(); }

// Asserts that r failed with code, that the message holds needle, is one line,
// and that OpenSSL's error queue was left empty.
template <class T>
void ExpectError(const Result<T>& r, ErrorCode code, std::string_view needle) {
  ASSERT_FALSE(r.ok()) << "expected " << ErrorCodeName(code) << ", got success";
  EXPECT_EQ(ErrorCodeName(r.error().code), ErrorCodeName(code)) << r.error().message;
  EXPECT_THAT(r.error().message, ::testing::HasSubstr(std::string(needle)));
  EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << r.error().message;
  EXPECT_EQ(ERR_peek_error(), 0UL) << "OpenSSL error queue not drained";
}

template <class T>
void ExpectOk(const Result<T>& r) {
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : ErrorCodeName(r.error().code) + ": " + r.error().message);
  EXPECT_EQ(ERR_peek_error(), 0UL) << "OpenSSL error queue not drained";
}

// A PEM block of any label around any bytes, written by OpenSSL.
inline std::string PemOf(const char* label, std::span<const uint8_t> der, const char* header = "") {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio(bio.get(), label, header, der.data(), static_cast<long>(der.size()));
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

inline std::vector<uint8_t> CertDer(X509* cert) {
  std::vector<uint8_t> der(static_cast<size_t>(i2d_X509(cert, nullptr)));
  unsigned char* p = der.data();
  i2d_X509(cert, &p);
  return der;
}

inline std::string Crlf(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

inline size_t CountLines(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += c == '\n' ? 1 : 0;
  return n;
}

// Replaces the first occurrence of from with to.
inline std::string Replace(std::string s, std::string_view from, std::string_view to) {
  const size_t pos = s.find(from);
  if (pos != std::string::npos) s.replace(pos, from.size(), to);
  return s;
}

// The lines of a PEM text.
inline std::vector<std::string> Lines(std::string_view s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t nl = s.find('\n', pos);
    if (nl == std::string_view::npos) nl = s.size();
    out.emplace_back(s.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

inline std::string JoinLines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

}  // namespace certgate::pki::test
