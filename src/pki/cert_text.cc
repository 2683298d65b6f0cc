#include "pki/cert_text.h"

#include <algorithm>
#include <cstdint>
#include <ctime>

#include "pki/openssl_error.h"

namespace certgate::pki::internal {
namespace {

constexpr size_t kMaxLabelChars = 200;

std::string EntryUtf8(const X509_NAME_ENTRY* entry) {
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry));
  OsslBytesPtr owner(utf8);
  if (len < 0) {
    ClearOpensslErrors();
    return {};
  }
  return std::string(reinterpret_cast<const char*>(utf8), static_cast<size_t>(len));
}

std::string Sanitize(std::string s) {
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  if (s.size() > kMaxLabelChars) {
    s.resize(kMaxLabelChars);
    // Do not end inside a UTF-8 sequence.
    while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0x80) s.pop_back();
    if (!s.empty() && (static_cast<unsigned char>(s.back()) & 0x80) != 0) s.pop_back();
    s += "...";
  }
  return s;
}

}  // namespace

std::string NameOneLine(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) {
    ClearOpensslErrors();
    return {};
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return len > 0 ? std::string(data, static_cast<size_t>(len)) : std::string();
}

std::string NameAttribute(const X509_NAME* name, int nid) {
  std::string out;
  for (int i = X509_NAME_get_index_by_NID(name, nid, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(name, nid, i)) {
    if (!out.empty()) out += ", ";
    out += EntryUtf8(X509_NAME_get_entry(name, i));
  }
  return out;
}

std::string CommonName(const X509_NAME* name) {
  int last = -1;
  for (int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(name, NID_commonName, i)) {
    last = i;
  }
  return last < 0 ? std::string() : EntryUtf8(X509_NAME_get_entry(name, last));
}

std::string CertLabel(X509* cert) {
  const X509_NAME* subject = X509_get_subject_name(cert);
  if (std::string cn = CommonName(subject); !cn.empty()) return Sanitize("CN=" + cn);
  if (std::string line = NameOneLine(subject); !line.empty()) return Sanitize(line);
  return "empty subject";
}

std::optional<Time> ToTime(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    ClearOpensslErrors();
    return std::nullopt;
  }
  // Time counts nanoseconds in 64 bits, so it ends in 2262; RFC 5280 gives
  // 99991231235959Z to a certificate without a well-defined expiry. Times
  // beyond either end are clamped to it instead of overflowing.
  constexpr int64_t kLatest =
      std::chrono::duration_cast<std::chrono::seconds>(Time::max().time_since_epoch()).count();
  constexpr int64_t kEarliest =
      std::chrono::duration_cast<std::chrono::seconds>(Time::min().time_since_epoch()).count();
  const int64_t seconds = std::clamp<int64_t>(timegm(&tm), kEarliest, kLatest);
  return Time(std::chrono::seconds(seconds));
}

}  // namespace certgate::pki::internal
