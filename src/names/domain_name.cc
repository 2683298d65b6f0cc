#include "names/domain_name.h"

#include <algorithm>
#include <array>
#include <memory>

#include <arpa/inet.h>
#include <fmt/format.h>
#include <idn2.h>
#include <libpsl.h>

#include "core/ids.h"

namespace certgate::names {
namespace {

constexpr size_t kMaxDomainBytes = 253;
constexpr size_t kMaxLabelBytes = 63;
// Bound on the input before any IDNA work. Generous: Unicode input can be
// several times longer than its ASCII form (multi-byte characters, code
// points that map to nothing), but nothing near this size normalizes to a
// name of at most 253 bytes.
constexpr size_t kMaxInputBytes = 1024;
// How much of the input an error message quotes.
constexpr size_t kQuoteBytes = 100;

struct Idn2Free {
  void operator()(char* p) const noexcept { idn2_free(p); }
};
using Idn2Chars = std::unique_ptr<char, Idn2Free>;

constexpr char ToLowerAscii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
constexpr bool IsDigit(char c) { return c >= '0' && c <= '9'; }
constexpr bool IsLdh(char c) { return (c >= 'a' && c <= 'z') || IsDigit(c) || c == '-'; }

// The input as error messages show it: at most kQuoteBytes, cut on a UTF-8
// character boundary, control characters replaced so a message stays one line.
std::string Quote(std::string_view input) {
  bool cut = false;
  if (input.size() > kQuoteBytes) {
    size_t end = kQuoteBytes;
    // Back up over continuation bytes (10xxxxxx) to the start of a character.
    while (end > 0 && (static_cast<unsigned char>(input[end]) & 0xC0) == 0x80) --end;
    input = input.substr(0, end);
    cut = true;
  }
  std::string out;
  out.reserve(input.size() + 3);
  for (char c : input) {
    auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7F ? '?' : c);
  }
  if (cut) out += "...";
  return out;
}

// Describes a disallowed ASCII byte for a message.
std::string DescribeChar(char c) {
  auto u = static_cast<unsigned char>(c);
  if (c == ' ') return "a space";
  if (u < 0x20 || u == 0x7F) return fmt::format("a control character (0x{:02X})", u);
  return fmt::format("'{}'", c);
}

class DomainErrors {
 public:
  explicit DomainErrors(std::string_view input) : quoted_(Quote(input)) {}

  Error Invalid(std::string_view why) const {
    return MakeError(ErrorCode::kDomainInvalid,
                     fmt::format("'{}' is not a valid domain: {}", quoted_, why));
  }
  Error Wildcard() const {
    return MakeError(ErrorCode::kDomainWildcard,
                     fmt::format("'{}' is not a valid domain: '*' may only be the whole "
                                 "leftmost label, as in '*.example.com'",
                                 quoted_));
  }
  Error PublicSuffix(std::string_view why) const {
    return MakeError(ErrorCode::kDomainPublicSuffix,
                     fmt::format("'{}' is not allowed: {}", quoted_, why));
  }

 private:
  std::string quoted_;
};

const psl_ctx_t* PublicSuffixList() {
  // psl_builtin() is the list compiled into libpsl; psl_latest() falls back
  // to the system's copy should a build of libpsl come without one. Both are
  // immutable once loaded and safe to query from any thread.
  static const psl_ctx_t* const ctx = [] {
    const psl_ctx_t* builtin = psl_builtin();
    return builtin != nullptr ? builtin : psl_latest(nullptr);
  }();
  return ctx;
}

bool IsIpAddress(std::string_view s) {
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  if (s.size() > 64) return false;
  std::string z(s);
  std::array<unsigned char, 16> buf{};
  return inet_pton(AF_INET, z.c_str(), buf.data()) == 1 ||
         inet_pton(AF_INET6, z.c_str(), buf.data()) == 1;
}

// Checks the bytes of the (lower-cased) name before IDNA, so that messages
// can name the offending character or label. Non-ASCII bytes are left to
// libidn2.
Result<void> PrecheckAscii(std::string_view name, const DomainErrors& err) {
  for (char c : name) {
    if (static_cast<unsigned char>(c) >= 0x80) continue;
    if (IsLdh(c) || c == '.') continue;
    if (c == '_') {
      return err.Invalid(
          "underscores are not allowed in host names, and certificates cannot "
          "be issued for them");
    }
    return err.Invalid(
        fmt::format("it contains {}, which is not allowed in a domain name "
                    "(only letters, digits, '-' and '.')",
                    DescribeChar(c)));
  }
  size_t start = 0;
  while (true) {
    size_t dot = name.find('.', start);
    std::string_view label =
        name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty()) {
      return err.Invalid("it has an empty label (a dot at the start or two dots in a row)");
    }
    bool ascii = std::all_of(label.begin(), label.end(),
                             [](char c) { return static_cast<unsigned char>(c) < 0x80; });
    if (ascii) {
      if (label.size() > kMaxLabelBytes) {
        return err.Invalid(fmt::format("the label '{}...' is {} bytes long; a label is at most 63",
                                       label.substr(0, 20), label.size()));
      }
      if (label.front() == '-' || label.back() == '-') {
        return err.Invalid(fmt::format("the label '{}' starts or ends with '-'", Quote(label)));
      }
      if (label.size() >= 4 && label[2] == '-' && label[3] == '-' && !label.starts_with("xn--")) {
        return err.Invalid(fmt::format(
            "the label '{}' has '--' in the third and fourth positions, which only IDNA "
            "('xn--') labels may have",
            Quote(label)));
      }
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return {};
}

std::string_view Idn2Reason(int rc) {
  switch (rc) {
    case IDN2_TOO_BIG_LABEL:
    case IDN2_PUNYCODE_BIG_OUTPUT:
      return "a label is longer than 63 bytes in its ASCII ('xn--') form; a label is at most 63";
    case IDN2_TOO_BIG_DOMAIN:
      return "it is longer than 253 bytes in its ASCII ('xn--') form; a domain is at most 253";
    case IDN2_PUNYCODE_BAD_INPUT:
    case IDN2_PUNYCODE_OVERFLOW:
    case IDN2_INVALID_NONTRANSITIONAL:
    case IDN2_INVALID_TRANSITIONAL:
    case IDN2_ALABEL_ROUNDTRIP_FAILED:
      return "an 'xn--' label is not valid punycode for an internationalized name";
    case IDN2_ENCODING_ERROR:
      return "it is not valid UTF-8";
    case IDN2_2HYPHEN:
      return "a label has '--' in the third and fourth positions, which only IDNA "
             "('xn--') labels may have";
    case IDN2_HYPHEN_STARTEND:
      return "a label starts or ends with '-'";
    case IDN2_LEADING_COMBINING:
      return "a label starts with a combining mark";
    case IDN2_BIDI:
      return "a label mixes right-to-left and left-to-right text in a way IDNA forbids";
    case IDN2_DISALLOWED:
    case IDN2_CONTEXTJ:
    case IDN2_CONTEXTJ_NO_RULE:
    case IDN2_CONTEXTO:
    case IDN2_CONTEXTO_NO_RULE:
    case IDN2_UNASSIGNED:
      return "it contains a character that IDNA does not allow in domain names";
    default:
      return "";
  }
}

}  // namespace

Result<std::string> NormalizeDomain(std::string_view input) {
  const DomainErrors err(input);
  if (input.empty()) return err.Invalid("it is empty");
  if (input.size() > kMaxInputBytes) {
    return err.Invalid(fmt::format("it is {} bytes long; a domain is at most 253", input.size()));
  }
  std::string_view name = input;
  bool dropped_dot = false;
  if (name.ends_with('.')) {
    name.remove_suffix(1);
    dropped_dot = true;
  }
  if (name.empty()) return err.Invalid("it has no labels");
  if (IsIpAddress(name)) {
    return err.Invalid("it is an IP address; reserved domains are names, like 'app.example.com'");
  }

  bool wildcard = false;
  if (name.starts_with("*.")) {
    wildcard = true;
    name.remove_prefix(2);
  } else if (name == "*") {
    return MakeError(ErrorCode::kDomainWildcard,
                     fmt::format("'{}' is not a valid domain: a wildcard needs a domain after "
                                 "'*.', as in '*.example.com'",
                                 Quote(input)));
  }
  if (name.find('*') != std::string_view::npos) return err.Wildcard();

  // UTS #46 lower-cases as part of its mapping, but libidn2 passes pure ASCII
  // through untouched, so lower-case ASCII here for both paths.
  std::string lowered(name);
  std::transform(lowered.begin(), lowered.end(), lowered.begin(), ToLowerAscii);
  CG_RETURN_IF_ERROR(PrecheckAscii(lowered, err));

  char* raw = nullptr;
  int rc = idn2_lookup_u8(reinterpret_cast<const uint8_t*>(lowered.c_str()),
                          reinterpret_cast<uint8_t**>(&raw), IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
  Idn2Chars ace(raw);
  if (rc != IDN2_OK || ace == nullptr) {
    std::string_view reason = Idn2Reason(rc);
    if (reason.empty()) {
      return err.Invalid(
          fmt::format("it is not a valid internationalized domain name ({})", idn2_strerror(rc)));
    }
    return err.Invalid(reason);
  }

  // Checks again on the ASCII form: Unicode input can map to dots, '*',
  // '_' or digits (full-width forms, U+3002 '。').
  std::string_view base(ace.get());
  if (!dropped_dot && base.ends_with('.')) base.remove_suffix(1);
  if (base.find('*') != std::string_view::npos) return err.Wildcard();
  std::string out;
  out.reserve(base.size() + 2);
  if (wildcard) out = "*.";
  out += base;
  if (out.size() > kMaxDomainBytes) {
    return err.Invalid(
        fmt::format("it is {} bytes long in its ASCII form; a domain is at most 253", out.size()));
  }
  size_t labels = 0;
  std::string_view last_label;
  size_t start = 0;
  while (start <= base.size()) {
    size_t dot = base.find('.', start);
    if (dot == std::string_view::npos) dot = base.size();
    std::string_view label = base.substr(start, dot - start);
    if (label.empty()) {
      return err.Invalid("it has an empty label (a dot at the start or two dots in a row)");
    }
    if (label.size() > kMaxLabelBytes) {
      return err.Invalid(
          fmt::format("a label is {} bytes long in its ASCII form; a label is at "
                      "most 63",
                      label.size()));
    }
    for (char c : label) {
      if (IsLdh(c)) continue;
      if (c == '_') {
        return err.Invalid(
            "underscores are not allowed in host names, and certificates cannot "
            "be issued for them");
      }
      return err.Invalid(
          fmt::format("it contains {}, which is not allowed in a domain name "
                      "(only letters, digits, '-' and '.')",
                      DescribeChar(c)));
    }
    if (label.front() == '-' || label.back() == '-') {
      return err.Invalid(fmt::format("the label '{}' starts or ends with '-'", label));
    }
    ++labels;
    last_label = label;
    start = dot + 1;
  }
  if (std::all_of(last_label.begin(), last_label.end(), IsDigit)) {
    return err.Invalid(
        fmt::format("its last label '{}' is all digits, so it would be read as "
                    "an IP address; top-level domains are never numeric",
                    last_label));
  }

  const psl_ctx_t* psl = PublicSuffixList();
  if (psl == nullptr) {
    return MakeError(ErrorCode::kInternal, "the public suffix list is not available in libpsl");
  }
  const std::string base_str(base);
  // PSL_TYPE_ANY: suffixes from the private section (github.io) count too, as
  // a wildcard under one would cover other people's sites.
  // PSL_TYPE_NO_STAR_RULE: without it every unknown top-level name would count
  // as a suffix by the list's implicit "*" rule; single labels are refused below.
  const bool base_is_suffix =
      psl_is_public_suffix2(psl, base_str.c_str(), PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE) != 0;
  if (wildcard) {
    if (base_is_suffix) {
      return err.PublicSuffix(fmt::format(
          "{} is a public suffix, so a wildcard under it would cover other people's domains",
          base));
    }
    if (labels < 2) {
      return err.PublicSuffix(fmt::format(
          "{} is a top-level domain, so a wildcard under it would cover other people's domains",
          base));
    }
  } else {
    if (base_is_suffix) {
      return err.PublicSuffix(fmt::format(
          "{} is a public suffix, under which many people register their own domains; reserve "
          "a name under it, like 'example.{}'",
          base, base));
    }
    if (labels < 2) {
      return err.Invalid("it has a single label; use a full name, like 'app.example.com'");
    }
  }
  return out;
}

bool IsWildcard(std::string_view domain) { return domain.starts_with("*."); }

std::string_view WildcardBase(std::string_view domain) {
  return IsWildcard(domain) ? domain.substr(2) : domain;
}

bool IsSubdomainOf(std::string_view name, std::string_view base) {
  return !base.empty() && name.size() > base.size() + 1 && name.ends_with(base) &&
         name[name.size() - base.size() - 1] == '.';
}

bool DomainCoversHost(std::string_view domain, std::string_view host) {
  if (domain == host) return true;
  if (!IsWildcard(domain)) return false;
  std::string_view base = WildcardBase(domain);
  if (!IsSubdomainOf(host, base)) return false;
  // Exactly one label: the part before ".base" has no dot.
  std::string_view label = host.substr(0, host.size() - base.size() - 1);
  return label.find('.') == std::string_view::npos;
}

std::optional<std::string> NormalizeSni(std::string_view sni) {
  // The TLS hot path: validate on the view, then one allocation for the result.
  if (sni.ends_with('.')) sni.remove_suffix(1);
  if (sni.empty() || sni.size() > kMaxDomainBytes) return std::nullopt;
  char prev = '.';  // a leading dot is an empty label
  for (char c : sni) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '-' ||
              c == '_' || c == '.';
    if (!ok) return std::nullopt;
    if (c == '.' && prev == '.') return std::nullopt;
    prev = c;
  }
  // A dot still at the end ("x.." less the one dropped) is an empty label.
  if (prev == '.') return std::nullopt;
  std::string out(sni);
  for (char& c : out) c = ToLowerAscii(c);
  return out;
}

std::optional<std::string> WildcardParent(std::string_view host) {
  size_t dot = host.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 >= host.size()) return std::nullopt;
  std::string out;
  out.reserve(host.size() - dot + 1);
  out.push_back('*');
  out.append(host.substr(dot));
  return out;
}

std::string RandomLabel() {
  constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  constexpr size_t kLength = 16;
  // Rejection sampling keeps every character uniform: 252 is the largest
  // multiple of 36 that fits in a byte.
  constexpr unsigned kLimit = 256 - 256 % kAlphabet.size();
  std::string out;
  out.reserve(kLength);
  std::array<unsigned char, 32> buf{};
  while (out.size() < kLength) {
    RandomBytes(buf.data(), buf.size());
    for (unsigned char b : buf) {
      if (b >= kLimit) continue;
      out.push_back(kAlphabet[b % kAlphabet.size()]);
      if (out.size() == kLength) break;
    }
  }
  return out;
}

}  // namespace certgate::names
