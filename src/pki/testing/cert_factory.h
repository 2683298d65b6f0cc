// A test-only certificate authority: keys of every accepted and rejected
// kind, certificates of any shape, and their PEM forms, all generated in
// process. For tests and benchmarks only; never linked into certgate.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/time.h"
#include "pki/ossl_ptr.h"

namespace certgate::pki::testing {

enum class TestKeyType {
  kRsa1024,
  kRsa2048,
  kRsa4096,
  kEcP256,
  kEcP384,
  kEcP521,
  kEcSecp256k1,
  kEd25519,
  kEd448,
  kX25519,
  kDsa2048,
  kRsaPss2048,
  // Over the upload limit of 4096 bits. Made of five primes, which OpenSSL
  // generates in about a second instead of the tens of seconds two 4096-bit
  // primes can take on a busy machine; the modulus has 8192 bits either way,
  // and a handshake with it costs the server as much.
  kRsa8192,
  // RSA-2048 with public exponent 3 (under the upload minimum of 65537).
  kRsa2048E3,
};

// A fresh key. Generation of RSA keys is slow (4096: ~1 s, 8192: seconds);
// tests that need many keys should reuse them via CachedKey.
EvpPkeyPtr MakeKey(TestKeyType type);
// One key per type for the whole process, generated on first use. Thread-safe.
// The returned pointer is owned by the cache and lives until exit.
EVP_PKEY* CachedKey(TestKeyType type);

struct CertSpec {
  std::string common_name = "test";
  std::vector<std::string> dns_names;
  std::vector<std::string> ips;
  bool is_ca = false;
  // OpenSSL names such as "serverAuth,clientAuth"; nullopt leaves the
  // extension out, "" is not allowed.
  std::optional<std::string> extended_key_usage = "serverAuth";
  // OpenSSL names such as "digitalSignature,keyEncipherment"; nullopt leaves
  // the extension out. CAs default to keyCertSign,cRLSign when is_ca.
  std::optional<std::string> key_usage = "digitalSignature";
  // Offsets from now.
  std::chrono::seconds not_before_offset = -std::chrono::hours(1);
  std::chrono::seconds not_after_offset = std::chrono::hours(24 * 90);
  std::string organization;
  std::string organizational_unit;
  std::string locality;
  std::string province;
  std::string country;
  // Random 16 bytes when empty; otherwise these big-endian bytes.
  std::vector<uint8_t> serial;
};

// Issues a certificate for subject_key. With issuer == nullptr it is
// self-signed (issuer_key must then be subject_key). Signs with SHA-256
// (Ed25519/Ed448: no digest). Adds SKID and, when issued, AKID.
X509Ptr IssueCertificate(const CertSpec& spec, EVP_PKEY* subject_key, X509* issuer,
                         EVP_PKEY* issuer_key);

// A ready-made PKI: root -> intermediate -> leaf for the given names.
struct TestChain {
  X509Ptr root;
  X509Ptr intermediate;
  X509Ptr leaf;
  EVP_PKEY* root_key;          // owned by the key cache
  EVP_PKEY* intermediate_key;  // owned by the key cache
  EvpPkeyPtr leaf_key;         // fresh, unless reuse_leaf_key

  // leaf then intermediate (what users upload).
  std::string BundlePem() const;
  // leaf, intermediate, root.
  std::string BundleWithRootPem() const;
};
// root and intermediate are ECDSA P-256 from the key cache (their own
// certificates are fresh each call); the leaf key is of leaf_key_type, fresh
// unless reuse_leaf_key, in which case CachedKey(leaf_key_type) is shared.
TestChain MakeChain(TestKeyType leaf_key_type, const CertSpec& leaf_spec,
                    bool reuse_leaf_key = true);

std::string CertPem(X509* cert);
// "PRIVATE KEY" (PKCS#8), unencrypted.
std::string KeyPemPkcs8(EVP_PKEY* key);
// The type-specific form: "RSA PRIVATE KEY" (PKCS#1), "EC PRIVATE KEY"
// (SEC 1), "DSA PRIVATE KEY". Not available for Ed25519 (aborts).
std::string KeyPemTraditional(EVP_PKEY* key);
// "ENCRYPTED PRIVATE KEY" (PKCS#8 with AES-256-CBC, passphrase "test").
std::string KeyPemEncryptedPkcs8(EVP_PKEY* key);
// Legacy encrypted PEM: type-specific block with "Proc-Type: 4,ENCRYPTED" and
// "DEK-Info" headers (AES-256-CBC, passphrase "test").
std::string KeyPemEncryptedLegacy(EVP_PKEY* key);
// "PUBLIC KEY" (SubjectPublicKeyInfo).
std::string PublicKeyPem(EVP_PKEY* key);
// DER encodings of the private key, to search files and responses for leaks:
// PKCS#8 and the type-specific form (empty where none exists).
std::vector<uint8_t> KeyDerPkcs8(EVP_PKEY* key);
std::vector<uint8_t> KeyDerTraditional(EVP_PKEY* key);

}  // namespace certgate::pki::testing
