#include "pki/private_key.h"

#include <array>
#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/x509.h>

#include "pki/cert_text.h"
#include "pki/openssl_error.h"
#include "pki/pem_frame.h"

namespace certgate::pki {
namespace {

using internal::BlockNamed;
using internal::PemBlock;
using internal::PemFault;
using internal::PemFraming;

constexpr std::string_view kField = "private_key_pem";
constexpr std::string_view kUseSupported = "use an RSA, ECDSA or Ed25519 key";
constexpr std::string_view kDecryptHint =
    "upload the key unencrypted, e.g. `openssl pkey -in key.pem -out plain.pem`";

bool IsKeyLabel(const std::string& label) {
  return label == "PRIVATE KEY" || label == "RSA PRIVATE KEY" || label == "EC PRIVATE KEY";
}

Error FramingError(const PemFraming& framing) {
  switch (framing.fault) {
    case PemFault::kNoBlock:
      return MakeError(ErrorCode::kKeyNotPem,
                       "private_key_pem is not PEM text: it must hold the private key as one "
                       "block starting with a line such as -----BEGIN PRIVATE KEY-----");
    case PemFault::kTextOutsideBlock:
      return MakeError(ErrorCode::kKeyNotPem,
                       fmt::format("line {} of private_key_pem is outside any PEM block: "
                                   "private_key_pem may contain only the private key's PEM block",
                                   framing.fault_line));
    default:
      return internal::MalformedFramingError(framing, kField, "PRIVATE KEY");
  }
}

// The error for a block that is not a private key ParsePrivateKey accepts;
// nullopt for key blocks and EC PARAMETERS.
std::optional<Error> BlockError(const PemBlock& b) {
  const std::string& l = b.label;
  if (IsKeyLabel(l) || l == "EC PARAMETERS") {
    if (b.LegacyEncrypted()) {
      return MakeError(
          ErrorCode::kKeyEncrypted,
          fmt::format("private_key_pem is encrypted (Proc-Type: 4,ENCRYPTED): {}", kDecryptHint));
    }
    if (!b.headers.empty()) {
      return MakeError(ErrorCode::kPemHeaders,
                       fmt::format("the {} block in private_key_pem (line {}) has PEM headers "
                                   "({}): remove the header lines so that the block holds only "
                                   "base64",
                                   l, b.begin_line, b.HeaderNames()));
    }
    return std::nullopt;
  }
  if (l == "ENCRYPTED PRIVATE KEY") {
    return MakeError(
        ErrorCode::kKeyEncrypted,
        fmt::format("private_key_pem is encrypted (ENCRYPTED PRIVATE KEY): {}", kDecryptHint));
  }
  if (l == "DSA PRIVATE KEY") {
    return MakeError(ErrorCode::kKeyUnsupportedType,
                     fmt::format("DSA keys are not supported: {}", kUseSupported));
  }
  if (l == "CERTIFICATE REQUEST" || l == "NEW CERTIFICATE REQUEST") {
    return MakeError(ErrorCode::kKeyWrongBlock,
                     fmt::format("private_key_pem holds {} (line {}), which is a signing "
                                 "request: upload the private key it was made with",
                                 BlockNamed(l), b.begin_line));
  }
  if (l.find("CERTIFICATE") != std::string::npos) {
    return MakeError(ErrorCode::kKeyWrongBlock,
                     fmt::format("private_key_pem holds {} (line {}): put certificates in "
                                 "certificate_pem, and only the private key in private_key_pem",
                                 BlockNamed(l), b.begin_line));
  }
  if (l.ends_with("PUBLIC KEY")) {
    return MakeError(ErrorCode::kKeyWrongBlock,
                     fmt::format("private_key_pem holds {} (line {}), not a private key: "
                                 "upload the private key that belongs to the certificate",
                                 BlockNamed(l), b.begin_line));
  }
  if (l == "OPENSSH PRIVATE KEY") {
    return MakeError(ErrorCode::kKeyWrongBlock,
                     fmt::format("private_key_pem holds an OpenSSH key (OPENSSH PRIVATE KEY, line "
                                 "{}): convert it to PKCS#8, e.g. `ssh-keygen -p -m PKCS8 -f key`",
                                 b.begin_line));
  }
  return MakeError(ErrorCode::kKeyWrongBlock,
                   fmt::format("private_key_pem holds {} (line {}): expected one PRIVATE "
                               "KEY, RSA PRIVATE KEY or EC PRIVATE KEY block",
                               BlockNamed(l), b.begin_line));
}

// The decoder's key type for a PKCS#8 key of an accepted algorithm, read from
// its AlgorithmIdentifier; nullptr (try every decoder) otherwise. Naming the
// type makes OpenSSL's decoding about three times faster.
const char* Pkcs8KeyTypeHint(std::span<const uint8_t> der) {
  const unsigned char* p = der.data();
  Pkcs8PrivKeyInfoPtr info(d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size())));
  const ASN1_OBJECT* alg = nullptr;
  const char* hint = nullptr;
  if (info && PKCS8_pkey_get0(&alg, nullptr, nullptr, nullptr, info.get()) == 1) {
    switch (OBJ_obj2nid(alg)) {
      case NID_rsaEncryption:
        hint = "RSA";
        break;
      case NID_X9_62_id_ecPublicKey:
        hint = "EC";
        break;
      case NID_ED25519:
        hint = "ED25519";
        break;
      default:
        break;
    }
  }
  ClearOpensslErrors();
  return hint;
}

// Why an undecodable PKCS#8 key failed: an algorithm OpenSSL does not know is
// an unsupported type, anything else is malformed DER.
Error Pkcs8DecodeError(const internal::PemDer& der, const PemBlock& b) {
  const unsigned char* p = der.begin();
  Pkcs8PrivKeyInfoPtr info(d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size)));
  if (info) {
    const ASN1_OBJECT* alg = nullptr;
    if (PKCS8_pkey_get0(&alg, nullptr, nullptr, nullptr, info.get()) == 1 && alg != nullptr) {
      const int nid = OBJ_obj2nid(alg);
      if (nid != NID_rsaEncryption && nid != NID_X9_62_id_ecPublicKey && nid != NID_ED25519) {
        std::array<char, 128> oid{};
        OBJ_obj2txt(oid.data(), static_cast<int>(oid.size()), alg, 0);
        ClearOpensslErrors();
        return MakeError(ErrorCode::kKeyUnsupportedType,
                         fmt::format("the private key's algorithm ({}) is not supported: {}",
                                     oid.data(), kUseSupported));
      }
    }
  }
  ClearOpensslErrors();
  return MakeError(
      ErrorCode::kKeyMalformed,
      fmt::format("the {} block in private_key_pem (lines {}-{}) does not hold a valid "
                  "private key: export the key again, e.g. `openssl pkey -in key.pem "
                  "-out plain.pem`",
                  b.label, b.begin_line, b.end_line));
}

// DER -> key with OSSL_DECODER. structure: "PrivateKeyInfo" or "type-specific".
// Returns nullptr when decoding fails or bytes are left over.
EvpPkeyPtr DecodeDer(std::span<const uint8_t> der, const char* structure, const char* key_type) {
  EVP_PKEY* raw = nullptr;
  OsslDecoderCtxPtr ctx(OSSL_DECODER_CTX_new_for_pkey(&raw, "DER", structure, key_type,
                                                      EVP_PKEY_KEYPAIR, nullptr, nullptr));
  if (!ctx) {
    ClearOpensslErrors();
    return nullptr;
  }
  const unsigned char* p = der.data();
  size_t left = der.size();
  const int ok = OSSL_DECODER_from_data(ctx.get(), &p, &left);
  EvpPkeyPtr key(raw);
  ClearOpensslErrors();
  if (ok != 1 || left != 0) return nullptr;
  return key;
}

// How messages name a key type.
std::string_view KeyTypeLabel(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "RSA")) return "RSA";
  if (EVP_PKEY_is_a(key, "EC")) return "ECDSA";
  if (EVP_PKEY_is_a(key, "ED25519")) return "Ed25519";
  if (EVP_PKEY_is_a(key, "ED448")) return "Ed448";
  const char* name = EVP_PKEY_get0_type_name(key);
  return name != nullptr ? name : "unknown";
}

constexpr std::string_view kRsaHint =
    "make a new key of 2048 to 4096 bits with exponent 65537, e.g. `openssl genpkey -algorithm "
    "RSA -pkeyopt rsa_keygen_bits:2048`, or an ECDSA P-256 key";

// The RSA limits (see kMaxRsaBits and kMinRsaPublicExponent for the reasons),
// for a private key or a certificate's public key. `whose` starts the message:
// "this one" or "the key of the leaf certificate (CN=...)".
Result<void> CheckRsaLimits(EVP_PKEY* key, std::string_view whose, std::string_view fix) {
  const int bits = EVP_PKEY_get_bits(key);
  if (bits < kMinRsaBits) {
    return MakeError(ErrorCode::kKeyRsaSize,
                     fmt::format("RSA keys must have at least {} bits; {} has {} bits: {}", kMinRsaBits,
                                 whose, bits, fix));
  }
  if (bits > kMaxRsaBits) {
    return MakeError(ErrorCode::kKeyRsaSize,
                     fmt::format("RSA keys may have at most {} bits, because each handshake with a "
                                 "larger key costs the server many times more CPU; {} has {} bits: {}",
                                 kMaxRsaBits, whose, bits, fix));
  }
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &raw) != 1) {
    ClearOpensslErrors();
    return MakeError(ErrorCode::kKeyRsaExponent,
                     fmt::format("{} has no readable RSA public exponent: {}", whose, fix));
  }
  const BignumPtr e(raw);
  std::string shown;
  if (BN_num_bits(e.get()) <= 64) {
    shown = std::to_string(BN_get_word(e.get()));
  } else {
    shown = fmt::format("a {}-bit number", BN_num_bits(e.get()));
  }
  if (!BN_is_odd(e.get()) || BN_cmp(e.get(), BN_value_one()) <= 0 ||
      (BN_num_bits(e.get()) <= 64 && BN_get_word(e.get()) < kMinRsaPublicExponent)) {
    return MakeError(ErrorCode::kKeyRsaExponent,
                     fmt::format("RSA public exponents must be odd and at least {}, because small "
                                 "exponents such as 3 allow signature forgeries; {} has exponent {}: {}",
                                 kMinRsaPublicExponent, whose, shown, fix));
  }
  if (BN_num_bits(e.get()) > kMaxRsaPublicExponentBits) {
    return MakeError(ErrorCode::kKeyRsaExponent,
                     fmt::format("RSA public exponents must be below 2^{}, because larger ones "
                                 "make every signature slow; {} has exponent {}: {}",
                                 kMaxRsaPublicExponentBits, whose, shown, fix));
  }
  return {};
}

Result<void> CheckKeyKind(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "RSA")) return CheckRsaLimits(key, "this one", kRsaHint);
  if (EVP_PKEY_is_a(key, "EC")) {
    int explicit_params = 0;
    if (EVP_PKEY_get_int_param(key, OSSL_PKEY_PARAM_EC_DECODED_FROM_EXPLICIT_PARAMS,
                               &explicit_params) == 1 &&
        explicit_params != 0) {
      return MakeError(ErrorCode::kKeyUnsupportedCurve,
                       "ECDSA keys must name their curve (P-256, P-384 or P-521); this one has "
                       "explicit curve parameters: re-export it with `openssl ec -in key.pem "
                       "-param_enc named_curve -out plain.pem`");
    }
    std::array<char, 80> group{};
    size_t len = 0;
    if (EVP_PKEY_get_group_name(key, group.data(), group.size(), &len) != 1) {
      ClearOpensslErrors();
      return MakeError(ErrorCode::kKeyUnsupportedCurve,
                       "ECDSA keys must use P-256, P-384 or P-521; this one's curve is unnamed");
    }
    const std::string_view name(group.data(), len);
    if (name == "prime256v1" || name == "P-256" || name == "secp384r1" || name == "P-384" ||
        name == "secp521r1" || name == "P-521") {
      return {};
    }
    return MakeError(
        ErrorCode::kKeyUnsupportedCurve,
        fmt::format("ECDSA keys must use P-256, P-384 or P-521; this one uses {}", name));
  }
  if (EVP_PKEY_is_a(key, "ED25519")) return {};
  if (EVP_PKEY_is_a(key, "DSA")) {
    return MakeError(ErrorCode::kKeyUnsupportedType,
                     fmt::format("DSA keys are not supported: {}", kUseSupported));
  }
  if (EVP_PKEY_is_a(key, "RSA-PSS")) {
    return MakeError(ErrorCode::kKeyUnsupportedType,
                     fmt::format("RSA-PSS keys (restricted to PSS signatures) are not supported: "
                                 "{} (a plain rsaEncryption RSA key works)",
                                 kUseSupported));
  }
  if (EVP_PKEY_is_a(key, "X25519") || EVP_PKEY_is_a(key, "X448")) {
    return MakeError(ErrorCode::kKeyUnsupportedType,
                     fmt::format("{} keys only agree on keys and cannot sign: {}",
                                 KeyTypeLabel(key), kUseSupported));
  }
  return MakeError(ErrorCode::kKeyUnsupportedType,
                   fmt::format("{} keys are not supported: {}", KeyTypeLabel(key), kUseSupported));
}

Error InconsistentKeyError() {
  return MakeError(ErrorCode::kKeyInvalid,
                   "the private key fails its consistency check (its public and private parts do "
                   "not agree): export the key again from where it was made");
}

SecretBignumPtr RsaParam(EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) ClearOpensslErrors();
  return SecretBignumPtr(bn);
}

// The relations that tie a two-prime RSA key's private values to its public
// modulus and exponent: n = p*q, e*d = 1 mod p-1 and mod q-1, and the CRT
// values. nullopt when the key is not two-prime (the caller falls back to
// OpenSSL's check). OpenSSL's own pairwise check for RSA also tests p and q
// for primality, which costs ~50 ms for a 2048-bit key (40 times a whole
// upload otherwise) and protects nobody: composite "primes" only hurt the
// key's owner.
std::optional<bool> RsaKeyConsistent(EVP_PKEY* key) {
  if (RsaParam(key, OSSL_PKEY_PARAM_RSA_FACTOR3)) return std::nullopt;
  SecretBignumPtr n = RsaParam(key, OSSL_PKEY_PARAM_RSA_N);
  SecretBignumPtr e = RsaParam(key, OSSL_PKEY_PARAM_RSA_E);
  SecretBignumPtr d = RsaParam(key, OSSL_PKEY_PARAM_RSA_D);
  SecretBignumPtr p = RsaParam(key, OSSL_PKEY_PARAM_RSA_FACTOR1);
  SecretBignumPtr q = RsaParam(key, OSSL_PKEY_PARAM_RSA_FACTOR2);
  SecretBignumPtr dp = RsaParam(key, OSSL_PKEY_PARAM_RSA_EXPONENT1);
  SecretBignumPtr dq = RsaParam(key, OSSL_PKEY_PARAM_RSA_EXPONENT2);
  SecretBignumPtr qinv = RsaParam(key, OSSL_PKEY_PARAM_RSA_COEFFICIENT1);
  if (!n || !e || !d || !p || !q) return std::nullopt;
  if (BN_cmp(p.get(), BN_value_one()) <= 0 || BN_cmp(q.get(), BN_value_one()) <= 0) return false;

  BnCtxPtr ctx(BN_CTX_secure_new());
  SecretBignumPtr t(BN_secure_new());
  SecretBignumPtr p1(BN_secure_new());
  SecretBignumPtr q1(BN_secure_new());
  if (!ctx || !t || !p1 || !q1 || BN_mul(t.get(), p.get(), q.get(), ctx.get()) != 1 ||
      BN_sub(p1.get(), p.get(), BN_value_one()) != 1 ||
      BN_sub(q1.get(), q.get(), BN_value_one()) != 1) {
    ClearOpensslErrors();
    return std::nullopt;
  }
  bool ok = BN_cmp(t.get(), n.get()) == 0;
  auto mod_mul_is_one = [&](const BIGNUM* a, const BIGNUM* b, const BIGNUM* m) {
    return BN_mod_mul(t.get(), a, b, m, ctx.get()) == 1 && BN_is_one(t.get());
  };
  auto mod_equals = [&](const BIGNUM* a, const BIGNUM* m, const BIGNUM* want) {
    return BN_nnmod(t.get(), a, m, ctx.get()) == 1 && BN_cmp(t.get(), want) == 0;
  };
  ok = ok && mod_mul_is_one(e.get(), d.get(), p1.get()) &&
       mod_mul_is_one(e.get(), d.get(), q1.get());
  if (dp) ok = ok && mod_equals(d.get(), p1.get(), dp.get());
  if (dq) ok = ok && mod_equals(d.get(), q1.get(), dq.get());
  if (qinv) ok = ok && mod_mul_is_one(qinv.get(), q.get(), p.get());
  ClearOpensslErrors();
  return ok;
}

Result<void> CheckConsistent(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "RSA")) {
    if (auto ok = RsaKeyConsistent(key)) {
      if (*ok) return {};
      return InconsistentKeyError();
    }
  }
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  const int ok = ctx ? EVP_PKEY_pairwise_check(ctx.get()) : 0;
  ClearOpensslErrors();
  if (ok == 1 || ok == -2) return {};  // -2: no check exists for this type
  return InconsistentKeyError();
}

}  // namespace

std::string_view KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kRsa:
      return "rsa";
    case KeyType::kEcdsa:
      return "ecdsa";
    case KeyType::kEd25519:
      return "ed25519";
  }
  return "";
}

Result<EvpPkeyPtr> ParsePrivateKey(std::string_view pem) {
  ScopedOpensslErrorDrain drain;
  if (pem.size() > kMaxPrivateKeyBytes) {
    return MakeError(ErrorCode::kKeyTooLarge,
                     fmt::format("private_key_pem is {} bytes, over the limit of 32 KiB ({} "
                                 "bytes): upload only the certificate's private key",
                                 pem.size(), kMaxPrivateKeyBytes));
  }
  if (internal::IsBlank(pem)) {
    return MakeError(ErrorCode::kKeyEmpty,
                     "private_key_pem is empty: paste the PEM of the certificate's private key");
  }
  const PemFraming framing = internal::FramePem(pem);
  std::vector<const PemBlock*> keys;
  for (size_t i = 0; i < framing.blocks.size(); ++i) {
    const PemBlock& b = framing.blocks[i];
    if (auto error = BlockError(b)) return std::move(*error);
    if (IsKeyLabel(b.label)) {
      keys.push_back(&b);
    } else if (i + 1 >= framing.blocks.size() || framing.blocks[i + 1].label != "EC PRIVATE KEY") {
      // EC PARAMETERS, tolerated only right before its EC PRIVATE KEY.
      if (framing.fault != PemFault::kNone && i + 1 == framing.blocks.size()) break;
      return MakeError(ErrorCode::kKeyWrongBlock,
                       fmt::format("private_key_pem holds an EC PARAMETERS block (line {}) that "
                                   "is not followed by its EC PRIVATE KEY block: upload the "
                                   "private key",
                                   b.begin_line));
    }
  }
  if (framing.fault != PemFault::kNone) return FramingError(framing);
  if (keys.size() > 1) {
    std::string lines;
    for (const PemBlock* k : keys) {
      if (!lines.empty()) lines += ", ";
      lines += std::to_string(k->begin_line);
    }
    return MakeError(ErrorCode::kKeyWrongBlock,
                     fmt::format("private_key_pem holds {} private keys (at lines {}): upload only "
                                 "the key that belongs to the certificate",
                                 keys.size(), lines));
  }
  // keys is not empty here: blocks exist, and lone EC PARAMETERS was refused.
  const PemBlock& block = *keys.front();

  if (block.body.empty()) {
    return MakeError(ErrorCode::kPemMalformed,
                     fmt::format("the {} block in private_key_pem (lines {}-{}) is empty: paste "
                                 "the whole key between its BEGIN and END lines",
                                 block.label, block.begin_line, block.end_line));
  }
  auto der = internal::DecodePemBlock(block);
  if (!der) {
    return MakeError(ErrorCode::kPemMalformed,
                     fmt::format("the {} block in private_key_pem (lines {}-{}) has corrupt "
                                 "base64: paste the key again exactly as it was exported",
                                 block.label, block.begin_line, block.end_line));
  }
  const std::span<const uint8_t> bytes(der->begin(), der->size);
  EvpPkeyPtr key;
  if (block.label == "PRIVATE KEY") {
    key = DecodeDer(bytes, "PrivateKeyInfo", Pkcs8KeyTypeHint(bytes));
    if (!key) return Pkcs8DecodeError(*der, block);
  } else {
    key = DecodeDer(bytes, "type-specific", block.label == "RSA PRIVATE KEY" ? "RSA" : "EC");
    if (!key) {
      return MakeError(ErrorCode::kKeyMalformed,
                       fmt::format("the {} block in private_key_pem (lines {}-{}) does not hold a "
                                   "valid private key: export the key again, e.g. `openssl pkey "
                                   "-in key.pem -out plain.pem`",
                                   block.label, block.begin_line, block.end_line));
    }
  }
  CG_RETURN_IF_ERROR(CheckKeyKind(key.get()));
  CG_RETURN_IF_ERROR(CheckConsistent(key.get()));
  return key;
}

KeyType KeyTypeOf(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "RSA")) return KeyType::kRsa;
  if (EVP_PKEY_is_a(key, "EC")) return KeyType::kEcdsa;
  return KeyType::kEd25519;
}

Result<void> CheckCertificateKeyLimits(X509* cert, std::string_view what) {
  ScopedOpensslErrorDrain drain;
  EVP_PKEY* key = X509_get0_pubkey(cert);
  ClearOpensslErrors();
  if (key == nullptr || !EVP_PKEY_is_a(key, "RSA")) return {};
  return CheckRsaLimits(key, what,
                        "have the certificate reissued for an RSA key of 2048 to 4096 bits with "
                        "exponent 65537, or for an ECDSA P-256 key");
}

Result<void> CheckKeyMatchesCertificate(EVP_PKEY* key, X509* leaf) {
  ScopedOpensslErrorDrain drain;
  EVP_PKEY* cert_key = X509_get0_pubkey(leaf);
  const int eq = cert_key != nullptr ? EVP_PKEY_eq(key, cert_key) : 0;
  ClearOpensslErrors();
  if (eq == 1) return {};
  const std::string label = internal::CertLabel(leaf);
  if (cert_key != nullptr && KeyTypeLabel(key) != KeyTypeLabel(cert_key)) {
    return MakeError(ErrorCode::kKeyMismatch,
                     fmt::format("the private key does not match the leaf certificate's public "
                                 "key ({}): the key is {} but the certificate's key is {}; upload "
                                 "the key the certificate was issued for",
                                 label, KeyTypeLabel(key), KeyTypeLabel(cert_key)));
  }
  return MakeError(ErrorCode::kKeyMismatch,
                   fmt::format("the private key does not match the leaf certificate's public key "
                               "({}): upload the key the certificate was issued for, and put that "
                               "certificate first in certificate_pem",
                               label));
}

Result<SecretBytes> EncodePrivateKeyDer(EVP_PKEY* key) {
  ScopedOpensslErrorDrain drain;
  OsslEncoderCtxPtr ctx(
      OSSL_ENCODER_CTX_new_for_pkey(key, EVP_PKEY_KEYPAIR, "DER", "PrivateKeyInfo", nullptr));
  if (!ctx || OSSL_ENCODER_CTX_get_num_encoders(ctx.get()) == 0) {
    return OpensslError(ErrorCode::kInternal, "cannot encode the private key as PKCS#8");
  }
  unsigned char* data = nullptr;
  size_t len = 0;
  const int ok = OSSL_ENCODER_to_data(ctx.get(), &data, &len);
  OsslSecretBytesPtr owner(data, OsslClearFree{len});
  if (ok != 1 || data == nullptr) {
    return OpensslError(ErrorCode::kInternal, "cannot encode the private key as PKCS#8");
  }
  ClearOpensslErrors();
  return SecretBytes::CopyOf(std::span<const uint8_t>(data, len));
}

Result<EvpPkeyPtr> DecodePrivateKeyDer(std::span<const uint8_t> der) {
  ScopedOpensslErrorDrain drain;
  EvpPkeyPtr key = DecodeDer(der, "PrivateKeyInfo", Pkcs8KeyTypeHint(der));
  if (!key) {
    return MakeError(ErrorCode::kKeyMalformed, "the stored private key is not valid PKCS#8 DER");
  }
  return key;
}

}  // namespace certgate::pki
