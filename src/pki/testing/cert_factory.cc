#include "pki/testing/cert_factory.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <string_view>

#include <openssl/dsa.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

namespace certgate::pki::testing {
namespace {

// Test support has no error path: a failure here is a broken test setup.
[[noreturn]] void Die(std::string_view what) {
  std::fprintf(stderr, "cert_factory: %.*s\n", static_cast<int>(what.size()), what.data());
  ERR_print_errors_fp(stderr);
  std::abort();
}

template <class T>
T* Check(T* p, std::string_view what) {
  if (p == nullptr) Die(what);
  return p;
}

void CheckOk(int rc, std::string_view what) {
  if (rc != 1) Die(what);
}

constexpr size_t kNumTestKeyTypes = static_cast<size_t>(TestKeyType::kRsa2048E3) + 1;
// Extra cache slots: the CA keys of MakeChain, distinct from every leaf key.
constexpr size_t kRootKeySlot = kNumTestKeyTypes;
constexpr size_t kIntermediateKeySlot = kNumTestKeyTypes + 1;
constexpr size_t kNumKeySlots = kNumTestKeyTypes + 2;

EVP_PKEY* Keygen(const char* algorithm, const char* curve) {
  return Check(EVP_PKEY_Q_keygen(nullptr, nullptr, algorithm, curve), algorithm);
}

EVP_PKEY* RsaKeygen(const char* algorithm, unsigned int bits, unsigned int primes = 2,
                    unsigned long exponent = RSA_F4) {
  EvpPkeyCtxPtr ctx(Check(EVP_PKEY_CTX_new_from_name(nullptr, algorithm, nullptr), algorithm));
  CheckOk(EVP_PKEY_keygen_init(ctx.get()), "RSA keygen init");
  CheckOk(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), static_cast<int>(bits)), "RSA key bits");
  if (primes != 2) {
    CheckOk(EVP_PKEY_CTX_set_rsa_keygen_primes(ctx.get(), static_cast<int>(primes)),
            "RSA key primes");
  }
  if (exponent != RSA_F4) {
    BignumPtr e(Check(BN_new(), "BN_new"));
    CheckOk(BN_set_word(e.get(), exponent), "BN_set_word");
    CheckOk(EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx.get(), e.get()), "RSA public exponent");
  }
  EVP_PKEY* key = nullptr;
  CheckOk(EVP_PKEY_generate(ctx.get(), &key), "RSA keygen");
  return key;
}

// DSA domain parameters take seconds to generate: made once per process.
EVP_PKEY* DsaParameters() {
  static EVP_PKEY* const params = [] {
    EvpPkeyCtxPtr ctx(Check(EVP_PKEY_CTX_new_from_name(nullptr, "DSA", nullptr), "DSA ctx"));
    CheckOk(EVP_PKEY_paramgen_init(ctx.get()), "DSA paramgen init");
    CheckOk(EVP_PKEY_CTX_set_dsa_paramgen_bits(ctx.get(), 2048), "DSA bits");
    EVP_PKEY* p = nullptr;
    CheckOk(EVP_PKEY_paramgen(ctx.get(), &p), "DSA paramgen");
    return p;  // never freed: lives until exit, reachable from this static
  }();
  return params;
}

EVP_PKEY* DsaKeygen() {
  EvpPkeyCtxPtr ctx(Check(EVP_PKEY_CTX_new_from_pkey(nullptr, DsaParameters(), nullptr), "DSA"));
  CheckOk(EVP_PKEY_keygen_init(ctx.get()), "DSA keygen init");
  EVP_PKEY* key = nullptr;
  CheckOk(EVP_PKEY_generate(ctx.get(), &key), "DSA keygen");
  return key;
}

const EVP_MD* DigestFor(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448")) return nullptr;
  return EVP_sha256();
}

// Never destroyed, so keys outlive every static that may point at them and
// OpenSSL's own atexit cleanup; LeakSanitizer sees them as reachable.
struct KeyCache {
  std::mutex mu;
  std::array<EVP_PKEY*, kNumKeySlots> keys{};  // guarded by mu
};

KeyCache& Cache() {
  static KeyCache* const cache = new KeyCache;
  return *cache;
}

EVP_PKEY* CachedSlot(size_t slot, TestKeyType type) {
  KeyCache& cache = Cache();
  std::lock_guard<std::mutex> lock(cache.mu);
  if (cache.keys[slot] == nullptr) cache.keys[slot] = MakeKey(type).release();
  return cache.keys[slot];
}

void AddName(X509_NAME* name, int nid, const std::string& value) {
  if (value.empty()) return;
  CheckOk(
      X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0),
      "subject attribute (too long for its type?)");
}

void AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509ExtensionPtr ext(
      Check(X509V3_EXT_nconf_nid(nullptr, ctx, nid, value.c_str()), "certificate extension"));
  CheckOk(X509_add_ext(cert, ext.get(), -1), "add extension");
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return len > 0 ? std::string(data, static_cast<size_t>(len)) : std::string();
}

// Encodes key with OpenSSL's encoders; nullopt when no encoder exists for the
// combination (e.g. a type-specific form of Ed25519).
std::optional<std::string> Encode(EVP_PKEY* key, int selection, const char* format,
                                  const char* structure, bool encrypt) {
  OsslEncoderCtxPtr ctx(OSSL_ENCODER_CTX_new_for_pkey(key, selection, format, structure, nullptr));
  if (!ctx || OSSL_ENCODER_CTX_get_num_encoders(ctx.get()) == 0) {
    ERR_clear_error();
    return std::nullopt;
  }
  if (encrypt) {
    static constexpr std::string_view kPassphrase = "test";
    CheckOk(OSSL_ENCODER_CTX_set_cipher(ctx.get(), "AES-256-CBC", nullptr), "encoder cipher");
    CheckOk(OSSL_ENCODER_CTX_set_passphrase(
                ctx.get(), reinterpret_cast<const unsigned char*>(kPassphrase.data()),
                kPassphrase.size()),
            "encoder passphrase");
  }
  unsigned char* data = nullptr;
  size_t len = 0;
  if (OSSL_ENCODER_to_data(ctx.get(), &data, &len) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  OsslSecretBytesPtr owner(data, OsslClearFree{len});
  return std::string(reinterpret_cast<const char*>(data), len);
}

std::string MustEncode(EVP_PKEY* key, int selection, const char* format, const char* structure,
                       bool encrypt, std::string_view what) {
  auto out = Encode(key, selection, format, structure, encrypt);
  if (!out) Die(what);
  return std::move(*out);
}

std::vector<uint8_t> ToBytes(std::optional<std::string> s) {
  if (!s) return {};
  std::vector<uint8_t> out(s->begin(), s->end());
  std::fill(s->begin(), s->end(), '\0');
  return out;
}

}  // namespace

EvpPkeyPtr MakeKey(TestKeyType type) {
  EVP_PKEY* key = nullptr;
  switch (type) {
    case TestKeyType::kRsa1024:
      key = RsaKeygen("RSA", 1024);
      break;
    case TestKeyType::kRsa2048:
      key = RsaKeygen("RSA", 2048);
      break;
    case TestKeyType::kRsa4096:
      key = RsaKeygen("RSA", 4096);
      break;
    case TestKeyType::kRsa8192:
      key = RsaKeygen("RSA", 8192, /*primes=*/5);
      break;
    case TestKeyType::kRsa2048E3:
      key = RsaKeygen("RSA", 2048, /*primes=*/2, /*exponent=*/3);
      break;
    case TestKeyType::kEcP256:
      key = Keygen("EC", "P-256");
      break;
    case TestKeyType::kEcP384:
      key = Keygen("EC", "P-384");
      break;
    case TestKeyType::kEcP521:
      key = Keygen("EC", "P-521");
      break;
    case TestKeyType::kEcSecp256k1:
      key = Keygen("EC", "secp256k1");
      break;
    case TestKeyType::kEd25519:
      key = Keygen("ED25519", nullptr);
      break;
    case TestKeyType::kEd448:
      key = Keygen("ED448", nullptr);
      break;
    case TestKeyType::kX25519:
      key = Keygen("X25519", nullptr);
      break;
    case TestKeyType::kDsa2048:
      key = DsaKeygen();
      break;
    case TestKeyType::kRsaPss2048:
      key = RsaKeygen("RSA-PSS", 2048);
      break;
  }
  return EvpPkeyPtr(Check(key, "unknown TestKeyType"));
}

EVP_PKEY* CachedKey(TestKeyType type) {
  const auto slot = static_cast<size_t>(type);
  if (slot >= kNumTestKeyTypes) Die("unknown TestKeyType");
  return CachedSlot(slot, type);
}

X509Ptr IssueCertificate(const CertSpec& spec, EVP_PKEY* subject_key, X509* issuer,
                         EVP_PKEY* issuer_key) {
  if (subject_key == nullptr || issuer_key == nullptr) Die("IssueCertificate: null key");
  if (issuer == nullptr && issuer_key != subject_key && EVP_PKEY_eq(subject_key, issuer_key) != 1) {
    Die("IssueCertificate: a self-signed certificate needs issuer_key == subject_key");
  }
  if (spec.extended_key_usage && spec.extended_key_usage->empty()) {
    Die("IssueCertificate: extended_key_usage must be nullopt or non-empty");
  }
  X509Ptr cert(Check(X509_new(), "X509_new"));
  CheckOk(X509_set_version(cert.get(), X509_VERSION_3), "version");

  std::vector<uint8_t> serial_bytes = spec.serial;
  if (serial_bytes.empty()) {
    serial_bytes.resize(16);
    CheckOk(RAND_bytes(serial_bytes.data(), static_cast<int>(serial_bytes.size())), "RAND_bytes");
    serial_bytes[0] = static_cast<uint8_t>((serial_bytes[0] & 0x7f) | 0x01);
  }
  BignumPtr serial_bn(Check(
      BN_bin2bn(serial_bytes.data(), static_cast<int>(serial_bytes.size()), nullptr), "serial"));
  Asn1IntegerPtr serial(Check(BN_to_ASN1_INTEGER(serial_bn.get(), nullptr), "serial"));
  CheckOk(X509_set_serialNumber(cert.get(), serial.get()), "serial");

  X509_NAME* subject = X509_get_subject_name(cert.get());
  AddName(subject, NID_countryName, spec.country);
  AddName(subject, NID_stateOrProvinceName, spec.province);
  AddName(subject, NID_localityName, spec.locality);
  AddName(subject, NID_organizationName, spec.organization);
  AddName(subject, NID_organizationalUnitName, spec.organizational_unit);
  AddName(subject, NID_commonName, spec.common_name);
  CheckOk(
      X509_set_issuer_name(cert.get(), issuer != nullptr ? X509_get_subject_name(issuer) : subject),
      "issuer name");

  const std::time_t now = std::time(nullptr);
  Check(ASN1_TIME_set(X509_getm_notBefore(cert.get()), now + spec.not_before_offset.count()),
        "notBefore");
  Check(ASN1_TIME_set(X509_getm_notAfter(cert.get()), now + spec.not_after_offset.count()),
        "notAfter");
  CheckOk(X509_set_pubkey(cert.get(), subject_key), "public key");

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  AddExtension(cert.get(), &ctx, NID_basic_constraints,
               spec.is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  if (spec.key_usage) {
    // The default "digitalSignature" means "the usual": for a CA, signing
    // certificates and CRLs.
    const std::string usage = spec.is_ca && *spec.key_usage == "digitalSignature"
                                  ? std::string("keyCertSign,cRLSign")
                                  : *spec.key_usage;
    if (!usage.empty()) AddExtension(cert.get(), &ctx, NID_key_usage, "critical," + usage);
  }
  if (spec.extended_key_usage) {
    AddExtension(cert.get(), &ctx, NID_ext_key_usage, *spec.extended_key_usage);
  }
  if (!spec.dns_names.empty() || !spec.ips.empty()) {
    GeneralNamesPtr names(Check(GENERAL_NAMES_new(), "GENERAL_NAMES_new"));
    auto add = [&](int type, const std::string& value) {
      GeneralNamePtr gn(Check(a2i_GENERAL_NAME(nullptr, nullptr, nullptr, type, value.c_str(), 0),
                              "subjectAltName entry"));
      if (sk_GENERAL_NAME_push(names.get(), gn.get()) <= 0) Die("subjectAltName push");
      static_cast<void>(gn.release());
    };
    for (const auto& dns : spec.dns_names) add(GEN_DNS, dns);
    for (const auto& ip : spec.ips) add(GEN_IPADD, ip);
    CheckOk(X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT),
            "subjectAltName");
  }
  AddExtension(cert.get(), &ctx, NID_subject_key_identifier, "hash");
  if (issuer != nullptr) {
    AddExtension(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always");
  }
  if (X509_sign(cert.get(), issuer_key, DigestFor(issuer_key)) <= 0) Die("X509_sign");
  ERR_clear_error();
  return cert;
}

std::string TestChain::BundlePem() const {
  return CertPem(leaf.get()) + CertPem(intermediate.get());
}

std::string TestChain::BundleWithRootPem() const { return BundlePem() + CertPem(root.get()); }

TestChain MakeChain(TestKeyType leaf_key_type, const CertSpec& leaf_spec, bool reuse_leaf_key) {
  TestChain chain;
  chain.root_key = CachedSlot(kRootKeySlot, TestKeyType::kEcP256);
  chain.intermediate_key = CachedSlot(kIntermediateKeySlot, TestKeyType::kEcP256);
  chain.leaf_key = reuse_leaf_key ? ShareEvpPkey(CachedKey(leaf_key_type)) : MakeKey(leaf_key_type);

  CertSpec root_spec;
  root_spec.common_name = "Certgate Test Root CA";
  root_spec.organization = "Certgate Test";
  root_spec.is_ca = true;
  root_spec.extended_key_usage = std::nullopt;
  root_spec.not_before_offset = -std::chrono::hours(24 * 365);
  root_spec.not_after_offset = std::chrono::hours(24 * 365 * 10);
  chain.root = IssueCertificate(root_spec, chain.root_key, nullptr, chain.root_key);

  CertSpec intermediate_spec = root_spec;
  intermediate_spec.common_name = "Certgate Test Intermediate CA";
  intermediate_spec.not_after_offset = std::chrono::hours(24 * 365 * 5);
  chain.intermediate =
      IssueCertificate(intermediate_spec, chain.intermediate_key, chain.root.get(), chain.root_key);

  chain.leaf = IssueCertificate(leaf_spec, chain.leaf_key.get(), chain.intermediate.get(),
                                chain.intermediate_key);
  return chain;
}

std::string CertPem(X509* cert) {
  BioPtr bio(Check(BIO_new(BIO_s_mem()), "BIO_new"));
  CheckOk(PEM_write_bio_X509(bio.get(), cert), "PEM_write_bio_X509");
  return BioText(bio.get());
}

std::string KeyPemPkcs8(EVP_PKEY* key) {
  return MustEncode(key, EVP_PKEY_KEYPAIR, "PEM", "PrivateKeyInfo", false, "PKCS#8 PEM");
}

std::string KeyPemTraditional(EVP_PKEY* key) {
  return MustEncode(key, EVP_PKEY_KEYPAIR, "PEM", "type-specific", false,
                    "type-specific PEM (none exists for this key type)");
}

std::string KeyPemEncryptedPkcs8(EVP_PKEY* key) {
  return MustEncode(key, EVP_PKEY_KEYPAIR, "PEM", "EncryptedPrivateKeyInfo", true,
                    "encrypted PKCS#8 PEM");
}

std::string KeyPemEncryptedLegacy(EVP_PKEY* key) {
  std::string pem = MustEncode(key, EVP_PKEY_KEYPAIR, "PEM", "type-specific", true,
                               "legacy encrypted PEM (none exists for this key type)");
  if (pem.find("Proc-Type: 4,ENCRYPTED") == std::string::npos) {
    Die("legacy encrypted PEM lacks Proc-Type: 4,ENCRYPTED");
  }
  return pem;
}

std::string PublicKeyPem(EVP_PKEY* key) {
  return MustEncode(key, EVP_PKEY_PUBLIC_KEY, "PEM", "SubjectPublicKeyInfo", false,
                    "public key PEM");
}

std::vector<uint8_t> KeyDerPkcs8(EVP_PKEY* key) {
  return ToBytes(MustEncode(key, EVP_PKEY_KEYPAIR, "DER", "PrivateKeyInfo", false, "PKCS#8 DER"));
}

std::vector<uint8_t> KeyDerTraditional(EVP_PKEY* key) {
  return ToBytes(Encode(key, EVP_PKEY_KEYPAIR, "DER", "type-specific", false));
}

}  // namespace certgate::pki::testing
