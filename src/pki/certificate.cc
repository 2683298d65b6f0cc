#include "pki/certificate.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

#include <arpa/inet.h>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "pki/cert_text.h"
#include "pki/openssl_error.h"
#include "pki/pem_frame.h"

namespace certgate::pki {
namespace {

using internal::BlockNamed;
using internal::CertLabel;
using internal::PemBlock;
using internal::PemFault;
using internal::PemFraming;

constexpr std::string_view kField = "certificate_pem";
// Clocks of issuers and of this server disagree a little; a certificate issued
// a moment ago must not be refused for starting "in the future".
constexpr auto kClockSkew = std::chrono::minutes(5);

std::string LinesOf(const PemBlock& b) {
  return fmt::format("lines {}-{}", b.begin_line, b.end_line);
}

Error WrongBlockError(const PemBlock& b) {
  const std::string& l = b.label;
  if (l.ends_with("PRIVATE KEY")) {
    return MakeError(ErrorCode::kBundleWrongBlock,
                     fmt::format("certificate_pem holds {} (line {}): put the private key "
                                 "in private_key_pem, and only certificates in certificate_pem",
                                 BlockNamed(l), b.begin_line));
  }
  if (l == "CERTIFICATE REQUEST" || l == "NEW CERTIFICATE REQUEST") {
    return MakeError(ErrorCode::kBundleWrongBlock,
                     fmt::format("certificate_pem holds {} (line {}), which is a signing "
                                 "request, not a certificate: upload the certificate your CA "
                                 "issued for it",
                                 BlockNamed(l), b.begin_line));
  }
  if (l == "TRUSTED CERTIFICATE" || l == "X509 CERTIFICATE") {
    return MakeError(ErrorCode::kBundleWrongBlock,
                     fmt::format("certificate_pem holds {} (line {}): convert it to a "
                                 "plain CERTIFICATE block, e.g. `openssl x509 -in cert.pem -out "
                                 "plain.pem`",
                                 BlockNamed(l), b.begin_line));
  }
  if (l == "PKCS7") {
    return MakeError(ErrorCode::kBundleWrongBlock,
                     fmt::format("certificate_pem holds a PKCS7 block (line {}): extract its "
                                 "certificates with `openssl pkcs7 -print_certs -in bundle.p7b` "
                                 "and upload those",
                                 b.begin_line));
  }
  if (l.ends_with("PUBLIC KEY")) {
    return MakeError(ErrorCode::kBundleWrongBlock,
                     fmt::format("certificate_pem holds {} (line {}), which is a bare "
                                 "public key: upload the certificate instead",
                                 BlockNamed(l), b.begin_line));
  }
  return MakeError(ErrorCode::kBundleWrongBlock,
                   fmt::format("certificate_pem holds {} (line {}): the bundle may "
                               "contain only CERTIFICATE blocks",
                               BlockNamed(l), b.begin_line));
}

Error FramingError(const PemFraming& framing) {
  switch (framing.fault) {
    case PemFault::kNoBlock:
      return MakeError(ErrorCode::kBundleNotPem,
                       "certificate_pem is not PEM text: it must hold CERTIFICATE blocks, each "
                       "starting with a line -----BEGIN CERTIFICATE-----");
    case PemFault::kTextOutsideBlock:
      return MakeError(ErrorCode::kBundleNotPem,
                       fmt::format("line {} of certificate_pem is outside any PEM block: the "
                                   "bundle may contain only CERTIFICATE blocks",
                                   framing.fault_line));
    default:
      return internal::MalformedFramingError(framing, kField, "CERTIFICATE");
  }
}

// True when `issuer` issued `subject`: the names (and key identifiers) chain
// and subject's signature verifies under issuer's key.
bool IssuedBy(X509* subject, X509* issuer) {
  if (X509_check_issued(issuer, subject) != X509_V_OK) {
    ClearOpensslErrors();
    return false;
  }
  EVP_PKEY* key = X509_get0_pubkey(issuer);
  const bool ok = key != nullptr && X509_verify(subject, key) == 1;
  ClearOpensslErrors();
  return ok;
}

bool SelfIssued(X509* cert) {
  const bool self = X509_NAME_cmp(X509_get_subject_name(cert), X509_get_issuer_name(cert)) == 0;
  ClearOpensslErrors();
  return self;
}

// issued[a][b]: certificate b issued certificate a.
using Relation = std::vector<std::vector<bool>>;

// Extends path to a full order in which each certificate is issued by the next.
bool ExtendOrder(const Relation& issued, std::vector<size_t>& path, std::vector<bool>& used) {
  const size_t n = issued.size();
  if (path.size() == n) return true;
  const size_t last = path.back();
  for (size_t next = 0; next < n; ++next) {
    if (used[next] || !issued[last][next]) continue;
    used[next] = true;
    path.push_back(next);
    if (ExtendOrder(issued, path, used)) return true;
    path.pop_back();
    used[next] = false;
  }
  return false;
}

bool IssuesOthers(const Relation& issued, size_t c) {
  for (size_t other = 0; other < issued.size(); ++other) {
    if (other != c && issued[other][c]) return true;
  }
  return false;
}

// An order of all certificates, leaf first, each issued by the next; empty if
// there is none. The leaf is a certificate that issues none of the others.
std::vector<size_t> FindOrder(const Relation& issued) {
  const size_t n = issued.size();
  for (size_t start = 0; start < n; ++start) {
    if (IssuesOthers(issued, start)) continue;
    std::vector<size_t> path{start};
    std::vector<bool> used(n, false);
    used[start] = true;
    if (ExtendOrder(issued, path, used)) return path;
  }
  return {};
}

// Extends path (best keeps the longest seen) along issuers, preferring
// earlier certificates on ties.
void LongestPath(const Relation& issued, std::vector<size_t>& path, std::vector<bool>& used,
                 std::vector<size_t>& best) {
  if (path.size() > best.size()) best = path;
  const size_t last = path.back();
  for (size_t next = 0; next < issued.size(); ++next) {
    if (used[next] || !issued[last][next]) continue;
    used[next] = true;
    path.push_back(next);
    LongestPath(issued, path, used, best);
    path.pop_back();
    used[next] = false;
  }
}

// The certificate the chain should start from when no order works: one that
// issues none of the others, preferably not a CA, preferably the first.
size_t ChooseLeaf(const Chain& chain, const Relation& issued) {
  std::optional<size_t> any_candidate;
  for (size_t c = 0; c < issued.size(); ++c) {
    if (IssuesOthers(issued, c)) continue;
    if (!any_candidate) any_candidate = c;
    if (X509_check_ca(chain.certs[c].get()) == 0) return c;
  }
  return any_candidate.value_or(0);
}

std::string Positions(const std::vector<size_t>& order) {
  std::string out;
  for (size_t i : order) {
    if (!out.empty()) out += ", ";
    out += std::to_string(i + 1);
  }
  return out;
}

// The shortest cycle of issuers through `start` that visits no certificate
// before `start` (issued[c[i]][c[i+1]], and the last issued by `start`), or
// empty.
std::vector<size_t> ShortestCycleFrom(const Relation& issued, size_t start) {
  const size_t n = issued.size();
  std::vector<std::optional<size_t>> parent(n);
  std::vector<size_t> queue{start};
  std::vector<bool> seen(n, false);
  seen[start] = true;
  for (size_t head = 0; head < queue.size(); ++head) {
    const size_t c = queue[head];
    for (size_t next = start; next < n; ++next) {
      if (!issued[c][next]) continue;
      if (next == start) {
        std::vector<size_t> cycle;
        for (std::optional<size_t> at = c; at; at = parent[*at]) cycle.push_back(*at);
        std::reverse(cycle.begin(), cycle.end());
        return cycle;
      }
      if (seen[next]) continue;
      seen[next] = true;
      parent[next] = c;
      queue.push_back(next);
    }
  }
  return {};
}

// Issuer steps from `from` to each certificate (n when unreachable).
std::vector<size_t> IssuerDistances(const Relation& issued, size_t from) {
  const size_t n = issued.size();
  std::vector<size_t> dist(n, n);
  dist[from] = 0;
  std::vector<size_t> queue{from};
  for (size_t head = 0; head < queue.size(); ++head) {
    const size_t c = queue[head];
    for (size_t next = 0; next < n; ++next) {
      if (!issued[c][next] || dist[next] != n) continue;
      dist[next] = dist[c] + 1;
      queue.push_back(next);
    }
  }
  return dist;
}

// A chain loops when some certificates issue each other in a circle (two CAs
// that cross-signed each other, or a CA's certificate again further up): no
// order of them ends, and clients that build paths from the bundle can go
// round forever. The error walks the circle from where the leaf's chain
// enters it, so the certificate that closes it (the last) is the one to
// remove.
std::optional<Error> LoopError(const Chain& chain, const Relation& issued) {
  for (size_t start = 0; start < issued.size(); ++start) {
    std::vector<size_t> cycle = ShortestCycleFrom(issued, start);
    if (cycle.empty()) continue;
    const std::vector<size_t> dist = IssuerDistances(issued, ChooseLeaf(chain, issued));
    const auto entry = std::min_element(cycle.begin(), cycle.end(), [&](size_t a, size_t b) {
      return dist[a] != dist[b] ? dist[a] < dist[b] : a < b;
    });
    std::rotate(cycle.begin(), entry, cycle.end());
    auto label = [&](size_t c) { return CertLabel(chain.certs[c].get()); };
    std::string path = fmt::format("certificate {} ({}) is issued by certificate {} ({})",
                                   cycle[0] + 1, label(cycle[0]), cycle[1] + 1, label(cycle[1]));
    for (size_t i = 1; i < cycle.size(); ++i) {
      if (i + 1 < cycle.size()) {
        path += fmt::format(", which is issued by certificate {} ({})", cycle[i + 1] + 1,
                            label(cycle[i + 1]));
      } else {
        path += fmt::format(", which is issued by certificate {} again", cycle[0] + 1);
      }
    }
    return MakeError(ErrorCode::kChainLoop,
                     fmt::format("the chain loops: {}; a chain must end at a root or at the last "
                                 "intermediate: remove certificate {}",
                                 path, cycle.back() + 1));
  }
  return std::nullopt;
}

Error MisorderedError(const Chain& chain, const std::vector<size_t>& order) {
  return MakeError(ErrorCode::kChainMisordered,
                   fmt::format("the certificates are out of order: use the order {} (leaf {} "
                               "first, then each issuer)",
                               Positions(order), CertLabel(chain.certs[order.front()].get())));
}

Error ChainBreakError(const Chain& chain, const Relation& issued) {
  const size_t n = chain.certs.size();
  const size_t leaf = ChooseLeaf(chain, issued);
  std::vector<size_t> path{leaf};
  std::vector<bool> used(n, false);
  used[leaf] = true;
  std::vector<size_t> best;
  LongestPath(issued, path, used, best);
  std::vector<bool> on_path(n, false);
  for (size_t c : best) on_path[c] = true;
  std::vector<size_t> rest;
  for (size_t c = 0; c < n; ++c) {
    if (!on_path[c]) rest.push_back(c);
  }
  if (rest.empty()) return MisorderedError(chain, best);  // defensive: loops are refused first

  const size_t top = best.back();
  X509* top_cert = chain.certs[top].get();
  if (!SelfIssued(top_cert)) {
    const X509_NAME* wanted = X509_get_issuer_name(top_cert);
    const std::string wanted_text = internal::NameOneLine(wanted);
    for (size_t c = 0; c < n; ++c) {
      if (c == top || X509_NAME_cmp(X509_get_subject_name(chain.certs[c].get()), wanted) != 0) {
        continue;
      }
      return MakeError(ErrorCode::kChainGap,
                       fmt::format("certificate {} ({}) was issued by '{}', but certificate {} of "
                                   "that name did not sign it (it has another key): add the "
                                   "certificate of the CA that signed certificate {} after it",
                                   top + 1, CertLabel(top_cert), wanted_text, c + 1, top + 1));
    }
    ClearOpensslErrors();
    bool ca_left = false;
    for (size_t c : rest) ca_left = ca_left || X509_check_ca(chain.certs[c].get()) != 0;
    if (ca_left) {
      return MakeError(ErrorCode::kChainGap,
                       fmt::format("certificate {} ({}) was issued by '{}', which is missing from "
                                   "the bundle: add it after certificate {}",
                                   top + 1, CertLabel(top_cert), wanted_text, top + 1));
    }
  }
  const size_t stray = rest.front();
  return MakeError(ErrorCode::kChainUnrelated,
                   fmt::format("certificate {} ({}) is not part of the chain of the leaf "
                               "certificate {} ({}): remove it",
                               stray + 1, CertLabel(chain.certs[stray].get()), leaf + 1,
                               CertLabel(chain.certs[leaf].get())));
}

std::optional<std::vector<std::string>> ExtendedKeyUsages(X509* cert) {
  int crit = 0;
  ExtKeyUsagePtr eku(
      static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(cert, NID_ext_key_usage, &crit, nullptr)));
  if (!eku) {
    ClearOpensslErrors();
    if (crit == -1) return std::vector<std::string>{};  // absent
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (int i = 0; i < sk_ASN1_OBJECT_num(eku.get()); ++i) {
    const ASN1_OBJECT* obj = sk_ASN1_OBJECT_value(eku.get(), i);
    switch (OBJ_obj2nid(obj)) {
      case NID_anyExtendedKeyUsage:
        out.emplace_back("any");
        break;
      case NID_server_auth:
        out.emplace_back("server_auth");
        break;
      case NID_client_auth:
        out.emplace_back("client_auth");
        break;
      case NID_code_sign:
        out.emplace_back("code_signing");
        break;
      case NID_email_protect:
        out.emplace_back("email_protection");
        break;
      case NID_ipsecEndSystem:
        out.emplace_back("ipsec_end_system");
        break;
      case NID_ipsecTunnel:
        out.emplace_back("ipsec_tunnel");
        break;
      case NID_ipsecUser:
        out.emplace_back("ipsec_user");
        break;
      case NID_time_stamp:
        out.emplace_back("time_stamping");
        break;
      case NID_OCSP_sign:
        out.emplace_back("ocsp_signing");
        break;
      default: {
        std::array<char, 128> buf{};
        int len = OBJ_obj2txt(buf.data(), static_cast<int>(buf.size()), obj, 1);
        if (len > 0) out.emplace_back(buf.data());
        break;
      }
    }
  }
  return out;
}

std::optional<std::vector<std::string>> KeyUsages(X509* cert) {
  static constexpr std::array<std::string_view, 9> kNames = {
      "digital_signature", "content_commitment", "key_encipherment",
      "data_encipherment", "key_agreement",      "cert_sign",
      "crl_sign",          "encipher_only",      "decipher_only"};
  int crit = 0;
  Asn1BitStringPtr bits(
      static_cast<ASN1_BIT_STRING*>(X509_get_ext_d2i(cert, NID_key_usage, &crit, nullptr)));
  if (!bits) {
    ClearOpensslErrors();
    if (crit == -1) return std::vector<std::string>{};
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (ASN1_BIT_STRING_get_bit(bits.get(), static_cast<int>(i)) == 1) {
      out.emplace_back(kNames[i]);
    }
  }
  return out;
}

std::string JoinOrNone(const std::vector<std::string>& values) {
  if (values.empty()) return "none";
  std::string out;
  for (const auto& v : values) {
    if (!out.empty()) out += ", ";
    out += v;
  }
  return out;
}

std::string SerialHex(X509* cert) {
  BignumPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (!bn) {
    ClearOpensslErrors();
    return {};
  }
  std::vector<unsigned char> bytes(static_cast<size_t>(BN_num_bytes(bn.get())));
  BN_bn2bin(bn.get(), bytes.data());
  if (bytes.empty()) return "00";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

std::string PublicKeyType(X509* cert) {
  EVP_PKEY* key = X509_get0_pubkey(cert);
  std::string type;
  if (key == nullptr) {
    ClearOpensslErrors();
  } else if (EVP_PKEY_is_a(key, "RSA")) {
    type = "rsa";
  } else if (EVP_PKEY_is_a(key, "EC")) {
    type = "ecdsa";
  } else if (EVP_PKEY_is_a(key, "ED25519")) {
    type = "ed25519";
  }
  return type;
}

}  // namespace

namespace {

Result<Chain> ParseBundle(std::string_view pem, ParsedCertificateCache* intermediates) {
  ScopedOpensslErrorDrain drain;
  if (pem.size() > kMaxBundleBytes) {
    return MakeError(ErrorCode::kBundleTooLarge,
                     fmt::format("certificate_pem is {} bytes, over the limit of 64 KiB ({} "
                                 "bytes): upload only the leaf certificate and its intermediates",
                                 pem.size(), kMaxBundleBytes));
  }
  if (internal::IsBlank(pem)) {
    return MakeError(ErrorCode::kBundleEmpty,
                     "certificate_pem is empty: paste the PEM of the leaf certificate, followed "
                     "by its intermediate certificates");
  }
  const PemFraming framing = internal::FramePem(pem);
  size_t count = 0;
  for (const PemBlock& b : framing.blocks) {
    if (b.label != "CERTIFICATE") return WrongBlockError(b);
    ++count;
    if (!b.headers.empty()) {
      return MakeError(ErrorCode::kPemHeaders,
                       fmt::format("certificate {} in certificate_pem (line {}) has PEM headers "
                                   "({}): remove the header lines so that the block holds only "
                                   "base64",
                                   count, b.begin_line, b.HeaderNames()));
    }
  }
  if (framing.fault != PemFault::kNone) return FramingError(framing);
  if (count > kMaxChainCertificates) {
    return MakeError(ErrorCode::kBundleTooManyCerts,
                     fmt::format("certificate_pem holds {} certificates, over the limit of {}: "
                                 "upload the leaf and its intermediates only (the root is not "
                                 "needed)",
                                 count, kMaxChainCertificates));
  }

  Chain chain;
  chain.certs.reserve(count);
  for (size_t i = 0; i < framing.blocks.size(); ++i) {
    const PemBlock& b = framing.blocks[i];
    if (b.body.empty()) {
      return MakeError(ErrorCode::kPemMalformed,
                       fmt::format("certificate {} in certificate_pem ({}) is empty: paste the "
                                   "whole certificate between its BEGIN and END lines",
                                   i + 1, LinesOf(b)));
    }
    auto der = internal::DecodePemBlock(b);
    if (!der) {
      return MakeError(ErrorCode::kPemMalformed,
                       fmt::format("certificate {} in certificate_pem ({}) has corrupt base64: "
                                   "paste the block again exactly as your CA issued it",
                                   i + 1, LinesOf(b)));
    }
    if (i > 0 && intermediates != nullptr) {
      // Stored chains were checked on the way in: a certificate the cache
      // cannot parse is refused below, by the full parse.
      if (X509Ptr cached = intermediates->Parse(std::span(der->begin(), der->size))) {
        chain.certs.push_back(std::move(cached));
        continue;
      }
    }
    const unsigned char* p = der->begin();
    X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der->size)));
    if (!cert) {
      ClearOpensslErrors();
      return MakeError(
          ErrorCode::kCertNotX509,
          fmt::format("certificate {} in certificate_pem ({}) is not a valid X.509 "
                      "certificate: paste the certificate exactly as your CA issued it",
                      i + 1, LinesOf(b)));
    }
    const auto used = static_cast<size_t>(p - der->begin());
    if (used != der->size) {
      return MakeError(ErrorCode::kCertNotX509,
                       fmt::format("certificate {} in certificate_pem ({}) is not a valid X.509 "
                                   "certificate: {} stray bytes follow it; paste the certificate "
                                   "exactly as your CA issued it",
                                   i + 1, CertLabel(cert.get()), der->size - used));
    }
    chain.certs.push_back(std::move(cert));
  }
  return chain;
}

}  // namespace

Result<Chain> ParseCertificateBundle(std::string_view pem) { return ParseBundle(pem, nullptr); }

Result<Chain> ParseStoredChain(std::string_view pem, ParsedCertificateCache* intermediates) {
  return ParseBundle(pem, intermediates);
}

Result<void> CheckChainOrder(const Chain& chain) {
  ScopedOpensslErrorDrain drain;
  const size_t n = chain.certs.size();
  if (n == 0) {
    return MakeError(ErrorCode::kBundleEmpty,
                     "certificate_pem holds no certificate: paste the leaf certificate");
  }
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      if (X509_cmp(chain.certs[i].get(), chain.certs[j].get()) != 0) continue;
      return MakeError(ErrorCode::kChainUnrelated,
                       fmt::format("certificates {} and {} are the same certificate ({}): remove "
                                   "certificate {}",
                                   i + 1, j + 1, CertLabel(chain.certs[i].get()), j + 1));
    }
  }
  // The same CA twice under two certificates (e.g. self-signed and
  // cross-signed): one of them is redundant, and with both a path builder
  // can pass through that CA twice.
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      X509* a = chain.certs[i].get();
      X509* b = chain.certs[j].get();
      if (X509_NAME_cmp(X509_get_subject_name(a), X509_get_subject_name(b)) != 0) continue;
      EVP_PKEY* a_key = X509_get0_pubkey(a);
      EVP_PKEY* b_key = X509_get0_pubkey(b);
      if (a_key == nullptr || b_key == nullptr || EVP_PKEY_eq(a_key, b_key) != 1) continue;
      ClearOpensslErrors();
      return MakeError(ErrorCode::kChainUnrelated,
                       fmt::format("certificates {} and {} are both for {} with the same key (the "
                                   "same CA twice): remove certificate {}",
                                   i + 1, j + 1, CertLabel(a), j + 1));
    }
  }
  ClearOpensslErrors();
  if (n == 1) return {};

  // Who issued whom, among different certificates (a root's signature on
  // itself is no edge). X509_check_issued compares names and key identifiers
  // first, so only real candidates cost a signature verification.
  Relation issued(n, std::vector<bool>(n, false));
  for (size_t a = 0; a < n; ++a) {
    for (size_t b = 0; b < n; ++b) {
      if (a != b) issued[a][b] = IssuedBy(chain.certs[a].get(), chain.certs[b].get());
    }
  }
  if (std::optional<Error> loop = LoopError(chain, issued)) return std::move(*loop);

  bool in_order = true;
  for (size_t i = 0; in_order && i + 1 < n; ++i) in_order = issued[i][i + 1];
  if (in_order) return {};

  if (std::vector<size_t> order = FindOrder(issued); !order.empty()) {
    return MisorderedError(chain, order);
  }
  return ChainBreakError(chain, issued);
}

Result<void> CheckLeafUsableForServer(const Chain& chain, Time now) {
  ScopedOpensslErrorDrain drain;
  X509* leaf = chain.leaf();
  const std::string label = CertLabel(leaf);
  const auto not_before = internal::ToTime(X509_get0_notBefore(leaf));
  const auto not_after = internal::ToTime(X509_get0_notAfter(leaf));
  if (!not_after) {
    return MakeError(ErrorCode::kLeafExpired,
                     fmt::format("the leaf certificate ({}) has an unreadable notAfter date: "
                                 "reissue the certificate",
                                 label));
  }
  if (now >= *not_after) {
    return MakeError(ErrorCode::kLeafExpired,
                     fmt::format("the leaf certificate ({}) expired on {}: renew it and upload "
                                 "the new certificate",
                                 label, FormatRfc3339(*not_after)));
  }
  if (!not_before) {
    return MakeError(ErrorCode::kLeafNotYetValid,
                     fmt::format("the leaf certificate ({}) has an unreadable notBefore date: "
                                 "reissue the certificate",
                                 label));
  }
  if (*not_before > now + kClockSkew) {
    return MakeError(ErrorCode::kLeafNotYetValid,
                     fmt::format("the leaf certificate ({}) is not valid until {}: upload it once "
                                 "it is valid, or check that this server's clock is right",
                                 label, FormatRfc3339(*not_before)));
  }

  if (X509_get_ext_by_NID(leaf, NID_ext_key_usage, -1) >= 0) {
    const auto ekus = ExtendedKeyUsages(leaf);
    if (!ekus) {
      return MakeError(ErrorCode::kLeafNotForServer,
                       fmt::format("the leaf certificate ({}) has a malformed extendedKeyUsage "
                                   "extension: reissue the certificate",
                                   label));
    }
    bool server = false;
    for (const auto& e : *ekus) server = server || e == "server_auth" || e == "any";
    if (!server) {
      return MakeError(ErrorCode::kLeafNotForServer,
                       fmt::format("the leaf certificate ({}) has extendedKeyUsage without "
                                   "serverAuth (it has: {}): use a certificate issued for TLS "
                                   "servers",
                                   label, JoinOrNone(*ekus)));
    }
  }
  if (X509_get_ext_by_NID(leaf, NID_key_usage, -1) >= 0) {
    const auto kus = KeyUsages(leaf);
    if (!kus) {
      return MakeError(ErrorCode::kLeafNotForServer,
                       fmt::format("the leaf certificate ({}) has a malformed keyUsage extension: "
                                   "reissue the certificate",
                                   label));
    }
    bool signs = false;
    for (const auto& k : *kus) signs = signs || k == "digital_signature";
    if (!signs) {
      return MakeError(ErrorCode::kLeafNotForServer,
                       fmt::format("the leaf certificate ({}) has keyUsage without "
                                   "digitalSignature (it has: {}): TLS servers sign the "
                                   "handshake, so reissue the certificate with digitalSignature",
                                   label, JoinOrNone(*kus)));
    }
  }
  ClearOpensslErrors();
  return {};
}

CertificateInfo DescribeCertificate(X509* cert) {
  ScopedOpensslErrorDrain drain;
  CertificateInfo info;
  const X509_NAME* subject = X509_get_subject_name(cert);
  info.subject_common_name = internal::CommonName(subject);
  info.subject_organization = internal::NameAttribute(subject, NID_organizationName);
  info.subject_organizational_unit = internal::NameAttribute(subject, NID_organizationalUnitName);
  info.subject_locality = internal::NameAttribute(subject, NID_localityName);
  info.subject_province = internal::NameAttribute(subject, NID_stateOrProvinceName);
  info.subject_country = internal::NameAttribute(subject, NID_countryName);
  info.issuer_common_name = internal::CommonName(X509_get_issuer_name(cert));

  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (names) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
      if (gn->type == GEN_DNS) {
        const ASN1_IA5STRING* s = gn->d.dNSName;
        info.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                    static_cast<size_t>(ASN1_STRING_length(s)));
      } else if (gn->type == GEN_IPADD) {
        const ASN1_OCTET_STRING* ip = gn->d.iPAddress;
        const int len = ASN1_STRING_length(ip);
        std::array<char, INET6_ADDRSTRLEN> buf{};
        const int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;
        if (family != 0 &&
            inet_ntop(family, ASN1_STRING_get0_data(ip), buf.data(), buf.size()) != nullptr) {
          info.ips.emplace_back(buf.data());
        }
      }
    }
  }

  const auto epoch = Time{};
  info.not_before = internal::ToTime(X509_get0_notBefore(cert)).value_or(epoch);
  info.not_after = internal::ToTime(X509_get0_notAfter(cert)).value_or(epoch);
  info.key_usages = KeyUsages(cert).value_or(std::vector<std::string>{});
  info.extended_key_usages = ExtendedKeyUsages(cert).value_or(std::vector<std::string>{});
  info.private_key_type = PublicKeyType(cert);
  info.serial_number = SerialHex(cert);
  ClearOpensslErrors();
  return info;
}

std::vector<ChainEntry> DescribeChain(const Chain& chain) {
  ScopedOpensslErrorDrain drain;
  std::vector<ChainEntry> out;
  out.reserve(chain.certs.size());
  for (const auto& cert : chain.certs) {
    ChainEntry e;
    e.subject = internal::NameOneLine(X509_get_subject_name(cert.get()));
    e.issuer = internal::NameOneLine(X509_get_issuer_name(cert.get()));
    e.not_before = internal::ToTime(X509_get0_notBefore(cert.get())).value_or(Time{});
    e.not_after = internal::ToTime(X509_get0_notAfter(cert.get())).value_or(Time{});
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int len = 0;
    if (X509_digest(cert.get(), EVP_sha256(), md.data(), &len) == 1) {
      for (unsigned int i = 0; i < len; ++i) {
        if (i > 0) e.sha256_fingerprint += ':';
        e.sha256_fingerprint += fmt::format("{:02x}", md[i]);
      }
    }
    out.push_back(std::move(e));
  }
  ClearOpensslErrors();
  return out;
}

std::string EncodeChainPem(const Chain& chain) {
  ScopedOpensslErrorDrain drain;
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) {
    ClearOpensslErrors();
    return {};
  }
  for (const auto& cert : chain.certs) {
    if (PEM_write_bio_X509(bio.get(), cert.get()) != 1) {
      ClearOpensslErrors();
      return {};
    }
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return len > 0 ? std::string(data, static_cast<size_t>(len)) : std::string();
}

}  // namespace certgate::pki

namespace certgate::pki {

bool CertificateCoversDomain(X509* cert, std::string_view domain) {
  if (domain.substr(0, 2) == "*.") {
    // X509_check_host treats '*' in the name as a literal; compare SANs.
    for (const std::string& san : DescribeCertificate(cert).dns_names) {
      if (san.size() == domain.size() &&
          std::equal(san.begin(), san.end(), domain.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) == b;
          })) {
        return true;
      }
    }
    return false;
  }
  const int rc = X509_check_host(cert, domain.data(), domain.size(),
                                 X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT,
                                 nullptr);
  ERR_clear_error();
  return rc == 1;
}

}  // namespace certgate::pki
