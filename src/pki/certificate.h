// Parsing and checking a user's certificate bundle (certificate_pem) and
// describing its leaf. Pure functions over OpenSSL: no I/O, no globals;
// callable from any thread.
#pragma once

#include <cstddef>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "core/time.h"
#include "pki/ossl_ptr.h"

namespace certgate::pki {

inline constexpr size_t kMaxBundleBytes = 64 * 1024;
inline constexpr size_t kMaxChainCertificates = 10;

// Certificates as the user gave them, in the user's order (leaf first if the
// bundle is right). Move-only.
struct Chain {
  std::vector<X509Ptr> certs;
  X509* leaf() const { return certs.front().get(); }
};

// Frames and parses certificate_pem. Enforces: not empty; at most 64 KiB;
// only PEM CERTIFICATE blocks and whitespace (text outside blocks is an error
// naming the line); no PEM headers; base64 that decodes; DER that is exactly
// one X.509 certificate; 1..10 certificates. Does not check order or dates.
// Errors: kBundleEmpty, kBundleTooLarge, kBundleNotPem, kBundleWrongBlock,
// kPemHeaders, kPemMalformed, kCertNotX509, kBundleTooManyCerts.
Result<Chain> ParseCertificateBundle(std::string_view pem);

// Reads one certificate given alone as a PEM CERTIFICATE block, e.g. an entry
// of a trust list. Explanatory text around the block is allowed (RFC 7468
// section 5.2); PEM headers and a second block are not. `what` names the value
// in messages ("...mutual_tls_certificate_authorities[0]"). The caller bounds
// the size. Errors: kBundleNotPem, kBundleWrongBlock, kPemHeaders,
// kPemMalformed, kCertNotX509.
Result<X509Ptr> ParseOneCertificatePem(std::string_view pem, std::string_view what);

// Checks that each certificate is issued by the next one: the issuer name
// chains and the signature verifies under the next certificate's key. A
// self-signed root may end the chain; none is required.
// Errors: kChainUnrelated for a certificate given twice, or two certificates
// with the same subject and key (the message names both positions); kChainLoop when certificates issue each other in a circle
// (two CAs that cross-signed each other, or a CA's certificate again further
// up), whatever their order: the message names the circle and the
// certificate to remove; kChainMisordered when some order of the same certificates works (the
// message gives it, 1-based: "use the order 2, 1, 3"); kChainGap when a
// certificate's issuer is not in the bundle but a later one is present (the
// message names the missing issuer); kChainUnrelated when a certificate is
// part of no chain from the leaf.
Result<void> CheckChainOrder(const Chain& chain);

// Checks the leaf can serve TLS at `now`: notBefore <= now + 5 min skew,
// now < notAfter; if extendedKeyUsage is present it holds serverAuth or
// anyExtendedKeyUsage; if keyUsage is present it holds digitalSignature.
// Errors: kLeafExpired, kLeafNotYetValid, kLeafNotForServer.
Result<void> CheckLeafUsableForServer(const Chain& chain, Time now);

// Everything the API derives from a certificate (the leaf, for a chain).
struct CertificateInfo {
  std::string subject_common_name;
  std::vector<std::string> dns_names;
  std::vector<std::string> ips;  // textual: "192.0.2.1", "2001:db8::1"
  Time not_before;
  Time not_after;
  // API names in the order of the KeyUsage bit string: digital_signature,
  // content_commitment, key_encipherment, data_encipherment, key_agreement,
  // cert_sign, crl_sign, encipher_only, decipher_only.
  std::vector<std::string> key_usages;
  // In the certificate's order: any, server_auth, client_auth, code_signing,
  // email_protection, ipsec_end_system, ipsec_tunnel, ipsec_user,
  // time_stamping, ocsp_signing; other OIDs in dotted form.
  std::vector<std::string> extended_key_usages;
  std::string private_key_type;  // "rsa", "ecdsa", "ed25519", or "" if other
  std::string issuer_common_name;
  std::string serial_number;  // lower-case hex, two digits per byte, no separators
  // Subject attributes; several values of one attribute are joined by ", ".
  std::string subject_organization;
  std::string subject_organizational_unit;
  std::string subject_locality;
  std::string subject_province;
  std::string subject_country;
};

CertificateInfo DescribeCertificate(X509* cert);

// One certificate in readable form, for the dashboard's chain view.
struct ChainEntry {
  std::string subject;  // RFC 2253 one-line form
  std::string issuer;
  Time not_before;
  Time not_after;
  std::string sha256_fingerprint;  // lower-case hex with colons "ab:cd:..."
};
std::vector<ChainEntry> DescribeChain(const Chain& chain);

// True if cert can serve domain (normalized, lower-case ASCII): for a
// wildcard domain "*.base", the certificate must carry that wildcard (or
// exactly); otherwise a DNS SAN must match the name,
// exactly or by a one-label wildcard (X509_check_host, no partial wildcards,
// never the subject CN).
bool CertificateCoversDomain(X509* cert, std::string_view domain);

// The canonical PEM of the chain: each certificate re-encoded by OpenSSL,
// "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n", in order.
std::string EncodeChainPem(const Chain& chain);

// Certificates already parsed, by their DER bytes, shared (an X509 is
// reference-counted and read-only once parsed): the intermediate that every
// leaf of one CA repeats is parsed once, not once per leaf. Thread-safe.
// Holds at most `capacity`; when full it forgets them all (it holds the
// few intermediates in use, not leaves).
class ParsedCertificateCache {
 public:
  explicit ParsedCertificateCache(size_t capacity = 256) : capacity_(capacity) {}
  // The certificate of der, parsed or from the cache; null if der is not
  // exactly one certificate.
  X509Ptr Parse(std::span<const uint8_t> der);
  size_t parses() const;  // d2i_X509 calls so far (for tests)

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, X509Ptr> parsed_;  // GUARDED_BY(mu_)
  size_t parses_ = 0;                                // GUARDED_BY(mu_)
};

// Certificates read back from the store: the same framing rules as
// ParseCertificateBundle, no further checks. With intermediates, the
// certificates after the leaf come from that cache.
Result<Chain> ParseStoredChain(std::string_view pem,
                               ParsedCertificateCache* intermediates = nullptr);

}  // namespace certgate::pki
