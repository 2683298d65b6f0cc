#include "pki/private_key.h"

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "pki/generate.h"
#include "pki/test_util.h"
#include "pki/testing/cert_factory.h"

namespace certgate::pki {
namespace {

using test::ExpectError;
using test::ExpectOk;
using testing::CachedKey;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::TestKeyType;

std::string EcParametersPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  EXPECT_EQ(PEM_write_bio_Parameters(bio.get(), key), 1);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

// ---------------------------------------------------------------------------
// Every accepted form.

enum class Form { kPkcs8, kTraditional, kEcParametersFirst, kPkcs8Crlf, kTraditionalCrlf, kPadded };

struct AcceptCase {
  std::string name;
  TestKeyType type;
  Form form;
  KeyType expected;
};
// Names the case in test listings instead of dumping its bytes.
void PrintTo(const AcceptCase& c, std::ostream* os) { *os << c.name; }

std::string KeyPem(EVP_PKEY* key, Form form) {
  switch (form) {
    case Form::kPkcs8:
      return testing::KeyPemPkcs8(key);
    case Form::kTraditional:
      return testing::KeyPemTraditional(key);
    case Form::kEcParametersFirst:
      return EcParametersPem(key) + testing::KeyPemTraditional(key);
    case Form::kPkcs8Crlf:
      return test::Crlf(testing::KeyPemPkcs8(key));
    case Form::kTraditionalCrlf:
      return test::Crlf(testing::KeyPemTraditional(key));
    case Form::kPadded:
      return "\n\n   \t\n" + testing::KeyPemPkcs8(key) + "\n\n  \n";
  }
  return {};
}

class PrivateKeyAcceptTest : public ::testing::TestWithParam<AcceptCase> {};

TEST_P(PrivateKeyAcceptTest, Parses) {
  const AcceptCase& c = GetParam();
  EVP_PKEY* original = CachedKey(c.type);
  const std::string pem = KeyPem(original, c.form);
  auto key = ParsePrivateKey(pem);
  ExpectOk(key);
  if (!key.ok()) return;
  EXPECT_EQ(EVP_PKEY_eq(key->get(), original), 1);
  EXPECT_EQ(KeyTypeOf(key->get()), c.expected);
  // The private halves match too: same PKCS#8 encoding.
  EXPECT_EQ(testing::KeyDerPkcs8(key->get()), testing::KeyDerPkcs8(original));
}

INSTANTIATE_TEST_SUITE_P(
    PrivateKeyForms, PrivateKeyAcceptTest,
    ::testing::Values(
        AcceptCase{"RsaPkcs1", TestKeyType::kRsa2048, Form::kTraditional, KeyType::kRsa},
        AcceptCase{"RsaPkcs8", TestKeyType::kRsa2048, Form::kPkcs8, KeyType::kRsa},
        // The largest RSA key accepted.
        AcceptCase{"Rsa4096Pkcs8", TestKeyType::kRsa4096, Form::kPkcs8, KeyType::kRsa},
        AcceptCase{"RsaPkcs1Crlf", TestKeyType::kRsa2048, Form::kTraditionalCrlf, KeyType::kRsa},
        AcceptCase{"EcP256Sec1", TestKeyType::kEcP256, Form::kTraditional, KeyType::kEcdsa},
        AcceptCase{"EcP256Pkcs8", TestKeyType::kEcP256, Form::kPkcs8, KeyType::kEcdsa},
        AcceptCase{"EcP384Sec1", TestKeyType::kEcP384, Form::kTraditional, KeyType::kEcdsa},
        AcceptCase{"EcP384Pkcs8", TestKeyType::kEcP384, Form::kPkcs8, KeyType::kEcdsa},
        AcceptCase{"EcP521Sec1", TestKeyType::kEcP521, Form::kTraditional, KeyType::kEcdsa},
        AcceptCase{"EcP521Pkcs8", TestKeyType::kEcP521, Form::kPkcs8, KeyType::kEcdsa},
        AcceptCase{"EcP256ParametersThenSec1", TestKeyType::kEcP256, Form::kEcParametersFirst,
                   KeyType::kEcdsa},
        AcceptCase{"EcP384ParametersThenSec1", TestKeyType::kEcP384, Form::kEcParametersFirst,
                   KeyType::kEcdsa},
        AcceptCase{"EcP256Sec1Crlf", TestKeyType::kEcP256, Form::kTraditionalCrlf, KeyType::kEcdsa},
        AcceptCase{"Ed25519Pkcs8", TestKeyType::kEd25519, Form::kPkcs8, KeyType::kEd25519},
        AcceptCase{"Ed25519Pkcs8Crlf", TestKeyType::kEd25519, Form::kPkcs8Crlf, KeyType::kEd25519},
        AcceptCase{"Ed25519Padded", TestKeyType::kEd25519, Form::kPadded, KeyType::kEd25519}),
    [](const auto& param_info) { return param_info.param.name; });

// ---------------------------------------------------------------------------
// Every rejected form: its code, and the part of the message that says what
// to do.

struct RejectCase {
  std::string name;
  std::function<std::string()> make;
  ErrorCode code;
  std::string needle;
};
// Names the case in test listings instead of dumping its bytes.
void PrintTo(const RejectCase& c, std::ostream* os) { *os << c.name; }

std::string EcPem() { return testing::KeyPemPkcs8(CachedKey(TestKeyType::kEcP256)); }

// A P-256 key whose stored public point belongs to another key.
std::string InconsistentEcKeyPem() {
  EVP_PKEY* a = CachedKey(TestKeyType::kEcP256);
  EvpPkeyPtr b = testing::MakeKey(TestKeyType::kEcP256);
  BIGNUM* priv_raw = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(a, OSSL_PKEY_PARAM_PRIV_KEY, &priv_raw), 1);
  BignumPtr priv(priv_raw);
  std::vector<unsigned char> priv_native(32);
  EXPECT_EQ(BN_bn2nativepad(priv.get(), priv_native.data(), 32), 32);
  std::vector<unsigned char> pub(133);
  size_t pub_len = 0;
  EXPECT_EQ(EVP_PKEY_get_octet_string_param(b.get(), OSSL_PKEY_PARAM_PUB_KEY, pub.data(),
                                            pub.size(), &pub_len),
            1);
  char group[] = "prime256v1";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub.data(), pub_len),
      OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_PRIV_KEY, priv_native.data(), priv_native.size()),
      OSSL_PARAM_construct_end()};
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* mixed_raw = nullptr;
  EXPECT_EQ(EVP_PKEY_fromdata_init(ctx.get()), 1);
  EXPECT_EQ(EVP_PKEY_fromdata(ctx.get(), &mixed_raw, EVP_PKEY_KEYPAIR, params), 1);
  EvpPkeyPtr mixed(mixed_raw);
  return testing::KeyPemTraditional(mixed.get());
}

// The cached RSA-2048 key with one private value changed by adding 2.
std::string RsaKeyWithAlteredPem(const char* altered) {
  EVP_PKEY* key = CachedKey(TestKeyType::kRsa2048);
  const char* names[] = {OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,
                         OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,
                         OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
                         OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
  std::vector<std::vector<unsigned char>> storage;
  storage.reserve(8);
  std::vector<OSSL_PARAM> params;
  for (const char* name : names) {
    BIGNUM* raw = nullptr;
    EXPECT_EQ(EVP_PKEY_get_bn_param(key, name, &raw), 1) << name;
    BignumPtr bn(raw);
    if (std::string_view(name) == altered) BN_add_word(bn.get(), 2);
    storage.emplace_back(static_cast<size_t>(BN_num_bytes(bn.get())));
    BN_bn2nativepad(bn.get(), storage.back().data(), static_cast<int>(storage.back().size()));
    params.push_back(OSSL_PARAM_construct_BN(name, storage.back().data(), storage.back().size()));
  }
  params.push_back(OSSL_PARAM_construct_end());
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  EXPECT_EQ(EVP_PKEY_fromdata_init(ctx.get()), 1);
  EXPECT_EQ(EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_KEYPAIR, params.data()), 1);
  EvpPkeyPtr altered_key(raw);
  return testing::KeyPemTraditional(altered_key.get());
}

// An RSA key with a modulus of `modulus_bits` bits and public exponent e
// whose private values are made up: ParsePrivateKey checks the size and the
// exponent before the key's consistency, and real keys of these shapes cannot
// be generated (even exponents) or take long to (16400 bits).
std::string FabricatedRsaKeyPem(int modulus_bits, const BIGNUM* e) {
  auto big = [](int bits) {
    BignumPtr bn(BN_new());
    BN_set_bit(bn.get(), bits - 1);
    BN_set_bit(bn.get(), 0);
    return bn;
  };
  const int half = modulus_bits / 2;
  BignumPtr n = big(modulus_bits), d = big(modulus_bits - 10), p = big(half), q = big(half),
            dp = big(half - 10), dq = big(half - 10), qinv = big(half - 10);
  std::vector<std::vector<unsigned char>> storage;
  auto param = [&](const char* key, const BIGNUM* bn) {
    storage.emplace_back(static_cast<size_t>(BN_num_bytes(bn)));
    BN_bn2nativepad(bn, storage.back().data(), static_cast<int>(storage.back().size()));
    return OSSL_PARAM_construct_BN(key, storage.back().data(), storage.back().size());
  };
  storage.reserve(8);
  OSSL_PARAM params[] = {param(OSSL_PKEY_PARAM_RSA_N, n.get()),
                         param(OSSL_PKEY_PARAM_RSA_E, e),
                         param(OSSL_PKEY_PARAM_RSA_D, d.get()),
                         param(OSSL_PKEY_PARAM_RSA_FACTOR1, p.get()),
                         param(OSSL_PKEY_PARAM_RSA_FACTOR2, q.get()),
                         param(OSSL_PKEY_PARAM_RSA_EXPONENT1, dp.get()),
                         param(OSSL_PKEY_PARAM_RSA_EXPONENT2, dq.get()),
                         param(OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qinv.get()),
                         OSSL_PARAM_construct_end()};
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  EXPECT_EQ(EVP_PKEY_fromdata_init(ctx.get()), 1);
  EXPECT_EQ(EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_KEYPAIR, params), 1);
  EvpPkeyPtr key(raw);
  return testing::KeyPemTraditional(key.get());
}

BignumPtr Exponent(unsigned long word) {
  BignumPtr e(BN_new());
  BN_set_word(e.get(), word);
  return e;
}

std::string OversizedRsaKeyPem() { return FabricatedRsaKeyPem(16400, Exponent(65537).get()); }

// 2^256 + 1: odd, over 65537, and one bit too long.
std::string HugeExponentRsaKeyPem() {
  BignumPtr e(BN_new());
  BN_set_bit(e.get(), 256);
  BN_set_bit(e.get(), 0);
  return FabricatedRsaKeyPem(2048, e.get());
}

// A P-256 key written with explicit curve parameters instead of the curve's name.
std::string ExplicitCurveKeyPem() {
  EvpPkeyPtr key(EVP_PKEY_dup(CachedKey(TestKeyType::kEcP256)));
  EXPECT_EQ(EVP_PKEY_set_utf8_string_param(key.get(), OSSL_PKEY_PARAM_EC_ENCODING,
                                           OSSL_PKEY_EC_ENCODING_EXPLICIT),
            1);
  return testing::KeyPemTraditional(key.get());
}

std::vector<RejectCase> RejectCases() {
  return {
      {"Empty", [] { return std::string(); }, ErrorCode::kKeyEmpty,
       "private_key_pem is empty: paste the PEM of the certificate's private key"},
      {"WhitespaceOnly", [] { return std::string("\r\n  \t\n"); }, ErrorCode::kKeyEmpty,
       "private_key_pem is empty"},
      {"Over32KiB",
       [] {
         std::string pem = EcPem();
         pem.append(kMaxPrivateKeyBytes + 1 - pem.size(), ' ');
         return pem;
       },
       ErrorCode::kKeyTooLarge, "private_key_pem is 32769 bytes, over the limit of 32 KiB"},
      {"PlainText", [] { return std::string("my key is secret\n"); }, ErrorCode::kKeyNotPem,
       "private_key_pem is not PEM text"},
      {"TextAfterKey", [] { return EcPem() + "\nthat was the key\n"; }, ErrorCode::kKeyNotPem,
       "line 7 of private_key_pem is outside any PEM block"},
      {"EncryptedPkcs8",
       [] { return testing::KeyPemEncryptedPkcs8(CachedKey(TestKeyType::kEcP256)); },
       ErrorCode::kKeyEncrypted,
       "private_key_pem is encrypted (ENCRYPTED PRIVATE KEY): upload the key unencrypted, e.g. "
       "`openssl pkey -in key.pem -out plain.pem`"},
      {"EncryptedPkcs8Ed25519",
       [] { return testing::KeyPemEncryptedPkcs8(CachedKey(TestKeyType::kEd25519)); },
       ErrorCode::kKeyEncrypted, "(ENCRYPTED PRIVATE KEY)"},
      {"EncryptedLegacyEc",
       [] { return testing::KeyPemEncryptedLegacy(CachedKey(TestKeyType::kEcP256)); },
       ErrorCode::kKeyEncrypted,
       "private_key_pem is encrypted (Proc-Type: 4,ENCRYPTED): upload the key unencrypted"},
      {"EncryptedLegacyRsa",
       [] { return testing::KeyPemEncryptedLegacy(CachedKey(TestKeyType::kRsa1024)); },
       ErrorCode::kKeyEncrypted, "(Proc-Type: 4,ENCRYPTED)"},
      {"EncryptedLegacyCrlf",
       [] { return test::Crlf(testing::KeyPemEncryptedLegacy(CachedKey(TestKeyType::kEcP384))); },
       ErrorCode::kKeyEncrypted, "(Proc-Type: 4,ENCRYPTED)"},
      {"DsaLabel",
       [] {
         return test::PemOf("DSA PRIVATE KEY", std::vector<uint8_t>{0x30, 0x00});
       },
       ErrorCode::kKeyUnsupportedType,
       "DSA keys are not supported: use an RSA, ECDSA or Ed25519 key"},
      {"Secp256k1Sec1",
       [] { return testing::KeyPemTraditional(CachedKey(TestKeyType::kEcSecp256k1)); },
       ErrorCode::kKeyUnsupportedCurve,
       "ECDSA keys must use P-256, P-384 or P-521; this one uses secp256k1"},
      {"Secp256k1Pkcs8", [] { return testing::KeyPemPkcs8(CachedKey(TestKeyType::kEcSecp256k1)); },
       ErrorCode::kKeyUnsupportedCurve, "this one uses secp256k1"},
      {"ExplicitCurveParameters", ExplicitCurveKeyPem, ErrorCode::kKeyUnsupportedCurve,
       "explicit curve parameters"},
      {"Rsa1024Pkcs1", [] { return testing::KeyPemTraditional(CachedKey(TestKeyType::kRsa1024)); },
       ErrorCode::kKeyRsaSize, "RSA keys must have at least 2048 bits; this one has 1024"},
      {"Rsa1024Pkcs8", [] { return testing::KeyPemPkcs8(CachedKey(TestKeyType::kRsa1024)); },
       ErrorCode::kKeyRsaSize, "this one has 1024"},
      {"Rsa16400Bits", OversizedRsaKeyPem, ErrorCode::kKeyRsaSize,
       "RSA keys may have at most 4096 bits, because each handshake with a larger key costs the "
       "server many times more CPU; this one has 16400 bits: make a new key of 2048 to 4096 bits"},
      {"Rsa8192", [] { return testing::KeyPemPkcs8(CachedKey(TestKeyType::kRsa8192)); },
       ErrorCode::kKeyRsaSize, "RSA keys may have at most 4096 bits"},
      {"Rsa4097Bits", [] { return FabricatedRsaKeyPem(4097, Exponent(65537).get()); },
       ErrorCode::kKeyRsaSize, "this one has 4097 bits"},
      {"RsaExponent3Pkcs1",
       [] { return testing::KeyPemTraditional(CachedKey(TestKeyType::kRsa2048E3)); },
       ErrorCode::kKeyRsaExponent,
       "RSA public exponents must be odd and at least 65537, because small exponents such as 3 "
       "allow signature forgeries; this one has exponent 3: make a new key"},
      {"RsaExponent3Pkcs8", [] { return testing::KeyPemPkcs8(CachedKey(TestKeyType::kRsa2048E3)); },
       ErrorCode::kKeyRsaExponent, "this one has exponent 3"},
      {"RsaExponent65535", [] { return FabricatedRsaKeyPem(2048, Exponent(65535).get()); },
       ErrorCode::kKeyRsaExponent, "this one has exponent 65535"},
      {"RsaExponentEven", [] { return FabricatedRsaKeyPem(2048, Exponent(65538).get()); },
       ErrorCode::kKeyRsaExponent, "must be odd and at least 65537"},
      {"RsaExponentOver2To256", HugeExponentRsaKeyPem, ErrorCode::kKeyRsaExponent,
       "RSA public exponents must be below 2^256, because larger ones make every signature slow; "
       "this one has exponent a 257-bit number"},
      {"RsaPss", [] { return testing::KeyPemPkcs8(CachedKey(TestKeyType::kRsaPss2048)); },
       ErrorCode::kKeyUnsupportedType,
       "RSA-PSS keys (restricted to PSS signatures) are not "
       "supported: use an RSA, ECDSA or Ed25519 key"},
      {"X25519", [] { return testing::KeyPemPkcs8(CachedKey(TestKeyType::kX25519)); },
       ErrorCode::kKeyUnsupportedType, "X25519 keys only agree on keys and cannot sign"},
      {"Ed448", [] { return testing::KeyPemPkcs8(CachedKey(TestKeyType::kEd448)); },
       ErrorCode::kKeyUnsupportedType,
       "Ed448 keys are not supported: use an RSA, ECDSA or Ed25519"},
      {"UnknownPkcs8Algorithm",
       [] {
         // PrivateKeyInfo { 0, { 1.2.3.4 }, OCTET STRING { 04 00 } }
         return test::PemOf("PRIVATE KEY",
                            std::vector<uint8_t>{0x30, 0x0e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                                                 0x03, 0x2a, 0x03, 0x04, 0x04, 0x02, 0x04, 0x00});
       },
       ErrorCode::kKeyUnsupportedType, "the private key's algorithm (1.2.3.4) is not supported"},
      {"PublicKey", [] { return testing::PublicKeyPem(CachedKey(TestKeyType::kEcP256)); },
       ErrorCode::kKeyWrongBlock,
       "private_key_pem holds a PUBLIC KEY block (line 1), not a private key: upload the private "
       "key"},
      {"Certificate",
       [] {
         EVP_PKEY* key = CachedKey(TestKeyType::kEcP256);
         testing::CertSpec spec;
         return testing::CertPem(testing::IssueCertificate(spec, key, nullptr, key).get());
       },
       ErrorCode::kKeyWrongBlock,
       "private_key_pem holds a CERTIFICATE block (line 1): put certificates in certificate_pem"},
      {"KeyThenCertificate",
       [] {
         EVP_PKEY* key = CachedKey(TestKeyType::kEcP256);
         testing::CertSpec spec;
         return EcPem() +
                testing::CertPem(testing::IssueCertificate(spec, key, nullptr, key).get());
       },
       ErrorCode::kKeyWrongBlock, "holds a CERTIFICATE block (line 6)"},
      {"CertificateRequest",
       [] {
         auto csr = MakeCsr(CachedKey(TestKeyType::kEcP256), {"a.example.com"});
         return test::PemOf("CERTIFICATE REQUEST", *csr);
       },
       ErrorCode::kKeyWrongBlock, "which is a signing request"},
      {"TwoKeys",
       [] { return EcPem() + testing::KeyPemTraditional(CachedKey(TestKeyType::kEcP384)); },
       ErrorCode::kKeyWrongBlock,
       "private_key_pem holds 2 private keys (at lines 1, 6): upload only the key that belongs "
       "to the certificate"},
      {"OpenSshKey",
       [] {
         return test::PemOf("OPENSSH PRIVATE KEY", std::vector<uint8_t>{1, 2, 3});
       },
       ErrorCode::kKeyWrongBlock, "`ssh-keygen -p -m PKCS8 -f key`"},
      {"EcParametersAlone", [] { return EcParametersPem(CachedKey(TestKeyType::kEcP256)); },
       ErrorCode::kKeyWrongBlock,
       "EC PARAMETERS block (line 1) that is not followed by its EC "
       "PRIVATE KEY block"},
      {"EcParametersBeforePkcs8",
       [] { return EcParametersPem(CachedKey(TestKeyType::kEcP256)) + EcPem(); },
       ErrorCode::kKeyWrongBlock, "EC PARAMETERS block (line 1)"},
      {"TruncatedMissingEnd", [] { return EcPem().substr(0, 100); }, ErrorCode::kPemMalformed,
       "the PRIVATE KEY block that begins on line 1 of private_key_pem has no -----END PRIVATE "
       "KEY----- line"},
      {"CorruptBase64",
       [] {
         auto lines = test::Lines(EcPem());
         lines[1][3] = '%';
         return test::JoinLines(lines);
       },
       ErrorCode::kPemMalformed,
       "the PRIVATE KEY block in private_key_pem (lines 1-5) has corrupt base64"},
      {"EmptyBlock",
       [] { return std::string("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"); },
       ErrorCode::kPemMalformed, "the PRIVATE KEY block in private_key_pem (lines 1-2) is empty"},
      {"PemHeaders",
       [] {
         return test::Replace(EcPem(), "-----BEGIN PRIVATE KEY-----\n",
                              "-----BEGIN PRIVATE KEY-----\nComment: my key\n\n");
       },
       ErrorCode::kPemHeaders,
       "the PRIVATE KEY block in private_key_pem (line 1) has PEM headers (Comment)"},
      {"Pkcs8GarbageDer",
       [] {
         return test::PemOf("PRIVATE KEY", std::vector<uint8_t>{0x30, 0x03, 0x02, 0x01, 0x00});
       },
       ErrorCode::kKeyMalformed,
       "the PRIVATE KEY block in private_key_pem (lines 1-3) does not hold "
       "a valid private key"},
      {"Sec1GarbageDer",
       [] {
         return test::PemOf("EC PRIVATE KEY", std::vector<uint8_t>{0x04, 0x01, 0x00});
       },
       ErrorCode::kKeyMalformed, "the EC PRIVATE KEY block in private_key_pem"},
      {"RsaLabelHoldingEcKey",
       [] {
         return test::PemOf("RSA PRIVATE KEY",
                            testing::KeyDerTraditional(CachedKey(TestKeyType::kEcP256)));
       },
       ErrorCode::kKeyMalformed, "the RSA PRIVATE KEY block in private_key_pem"},
      {"Pkcs8TrailingBytes",
       [] {
         auto der = testing::KeyDerPkcs8(CachedKey(TestKeyType::kEcP256));
         der.push_back(0);
         return test::PemOf("PRIVATE KEY", der);
       },
       ErrorCode::kKeyMalformed, "does not hold a valid private key"},
      {"InconsistentEcKey", InconsistentEcKeyPem, ErrorCode::kKeyInvalid,
       "the private key fails its consistency check"},
      {"InconsistentRsaPrivateExponent", [] { return RsaKeyWithAlteredPem(OSSL_PKEY_PARAM_RSA_D); },
       ErrorCode::kKeyInvalid,
       "the private key fails its consistency check (its public and private parts do not agree)"},
      {"InconsistentRsaModulus", [] { return RsaKeyWithAlteredPem(OSSL_PKEY_PARAM_RSA_N); },
       ErrorCode::kKeyInvalid, "fails its consistency check"},
      {"InconsistentRsaCrtExponent",
       [] { return RsaKeyWithAlteredPem(OSSL_PKEY_PARAM_RSA_EXPONENT2); }, ErrorCode::kKeyInvalid,
       "fails its consistency check"},
      {"InconsistentRsaCoefficient",
       [] { return RsaKeyWithAlteredPem(OSSL_PKEY_PARAM_RSA_COEFFICIENT1); },
       ErrorCode::kKeyInvalid, "fails its consistency check"},
  };
}

class PrivateKeyRejectTest : public ::testing::TestWithParam<RejectCase> {};

TEST_P(PrivateKeyRejectTest, Rejects) {
  const RejectCase& c = GetParam();
  const std::string pem = c.make();
  auto r = ParsePrivateKey(pem);
  ExpectError(r, c.code, c.needle);
  if (r.ok()) return;
  // Never any key material in the message: no base64 line of the input.
  for (const auto& line : test::Lines(pem)) {
    if (line.size() >= 16 && !line.starts_with("-----") && line.find(':') == std::string::npos) {
      EXPECT_THAT(r.error().message, Not(HasSubstr(line.substr(0, 16))));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(PrivateKeyRejected, PrivateKeyRejectTest,
                         ::testing::ValuesIn(RejectCases()),
                         [](const auto& param_info) { return param_info.param.name; });

// DSA parameters take a second or two: both DSA forms in one test.
TEST(PrivateKeyParseTest, RefusesDsaInEveryForm) {
  EVP_PKEY* dsa = CachedKey(TestKeyType::kDsa2048);
  const std::string traditional = testing::KeyPemTraditional(dsa);
  EXPECT_THAT(traditional, HasSubstr("-----BEGIN DSA PRIVATE KEY-----"));
  ExpectError(ParsePrivateKey(traditional), ErrorCode::kKeyUnsupportedType,
              "DSA keys are not supported: use an RSA, ECDSA or Ed25519 key");
  ExpectError(ParsePrivateKey(testing::KeyPemPkcs8(dsa)), ErrorCode::kKeyUnsupportedType,
              "DSA keys are not supported: use an RSA, ECDSA or Ed25519 key");
}

TEST(PrivateKeyParseTest, SizeIsCheckedBeforeAnythingElse) {
  ExpectError(ParsePrivateKey(std::string(kMaxPrivateKeyBytes + 1, '\n')), ErrorCode::kKeyTooLarge,
              "32 KiB");
  std::string pem = EcPem();
  pem.append(kMaxPrivateKeyBytes - pem.size(), '\n');
  ExpectOk(ParsePrivateKey(pem));
}

// ---------------------------------------------------------------------------
// CheckKeyMatchesCertificate.

TEST(PrivateKeyMatchTest, AcceptsTheLeafsKey) {
  testing::CertSpec spec;
  spec.common_name = "app.example.com";
  for (TestKeyType type : {TestKeyType::kEcP256, TestKeyType::kEd25519, TestKeyType::kRsa2048}) {
    auto chain = testing::MakeChain(type, spec);
    ExpectOk(CheckKeyMatchesCertificate(chain.leaf_key.get(), chain.leaf.get()));
  }
}

TEST(PrivateKeyMatchTest, RefusesAnotherKeyOfTheSameType) {
  testing::CertSpec spec;
  spec.common_name = "app.example.com";
  auto chain = testing::MakeChain(TestKeyType::kEcP256, spec, /*reuse_leaf_key=*/false);
  ExpectError(CheckKeyMatchesCertificate(CachedKey(TestKeyType::kEcP256), chain.leaf.get()),
              ErrorCode::kKeyMismatch,
              "the private key does not match the leaf certificate's public key "
              "(CN=app.example.com): upload the key the certificate was issued for");
}

TEST(PrivateKeyMatchTest, RefusesAKeyOfAnotherType) {
  testing::CertSpec spec;
  spec.common_name = "app.example.com";
  auto chain = testing::MakeChain(TestKeyType::kEcP256, spec);
  ExpectError(CheckKeyMatchesCertificate(CachedKey(TestKeyType::kEd25519), chain.leaf.get()),
              ErrorCode::kKeyMismatch,
              "(CN=app.example.com): the key is Ed25519 but the certificate's key is ECDSA");
  ExpectError(CheckKeyMatchesCertificate(CachedKey(TestKeyType::kEcP384), chain.leaf.get()),
              ErrorCode::kKeyMismatch, "does not match the leaf certificate's public key");
}

// ---------------------------------------------------------------------------
// The stored form.

class PrivateKeyDerTest : public ::testing::TestWithParam<TestKeyType> {};

TEST_P(PrivateKeyDerTest, RoundTrips) {
  EVP_PKEY* key = CachedKey(GetParam());
  auto der = EncodePrivateKeyDer(key);
  ExpectOk(der);
  ASSERT_TRUE(der.ok());
  EXPECT_TRUE(der->Equals(testing::KeyDerPkcs8(key)));
  auto back = DecodePrivateKeyDer(der->span());
  ExpectOk(back);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(EVP_PKEY_eq(back->get(), key), 1);
  EXPECT_EQ(KeyTypeOf(back->get()), KeyTypeOf(key));
}

INSTANTIATE_TEST_SUITE_P(PrivateKeyStoredForm, PrivateKeyDerTest,
                         ::testing::Values(TestKeyType::kRsa2048, TestKeyType::kEcP256,
                                           TestKeyType::kEcP384, TestKeyType::kEcP521,
                                           TestKeyType::kEd25519),
                         [](const auto& param_info) {
                           switch (param_info.param) {
                             case TestKeyType::kRsa2048:
                               return std::string("Rsa2048");
                             case TestKeyType::kEcP256:
                               return std::string("EcP256");
                             case TestKeyType::kEcP384:
                               return std::string("EcP384");
                             case TestKeyType::kEcP521:
                               return std::string("EcP521");
                             case TestKeyType::kEd25519:
                               return std::string("Ed25519");
                             default:
                               return std::string("Other");
                           }
                         });

TEST(PrivateKeyDerTest, RefusesBytesThatAreNotPkcs8) {
  ExpectError(DecodePrivateKeyDer({}), ErrorCode::kKeyMalformed, "not valid PKCS#8 DER");
  const std::vector<uint8_t> junk = {0x30, 0x03, 0x02, 0x01, 0x00};
  ExpectError(DecodePrivateKeyDer(junk), ErrorCode::kKeyMalformed, "not valid PKCS#8 DER");
  auto der = testing::KeyDerPkcs8(CachedKey(TestKeyType::kEcP256));
  der.push_back(0x00);
  ExpectError(DecodePrivateKeyDer(der), ErrorCode::kKeyMalformed, "not valid PKCS#8 DER");
  const std::span<const uint8_t> truncated(der.data(), der.size() / 2);
  ExpectError(DecodePrivateKeyDer(truncated), ErrorCode::kKeyMalformed, "not valid PKCS#8 DER");
}

TEST(PrivateKeyDerTest, KeyTypeNames) {
  EXPECT_EQ(KeyTypeName(KeyType::kRsa), "rsa");
  EXPECT_EQ(KeyTypeName(KeyType::kEcdsa), "ecdsa");
  EXPECT_EQ(KeyTypeName(KeyType::kEd25519), "ed25519");
}

}  // namespace
}  // namespace certgate::pki
