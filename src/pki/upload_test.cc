#include "pki/upload.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pki/test_util.h"
#include "pki/testing/cert_factory.h"

namespace certgate::pki {
namespace {

using test::ExpectError;
using test::ExpectOk;
using testing::CachedKey;
using testing::CertPem;
using testing::CertSpec;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::MakeChain;
using ::testing::Not;
using testing::TestChain;
using testing::TestKeyType;

CertSpec AppSpec() {
  CertSpec spec;
  spec.common_name = "app.example.com";
  spec.dns_names = {"app.example.com", "www.example.com"};
  spec.ips = {"192.0.2.7"};
  spec.organization = "Example Corp";
  return spec;
}

TEST(UploadTest, AcceptsAValidUploadAndDerivesEverything) {
  TestChain c = MakeChain(TestKeyType::kEcP256, AppSpec());
  auto upload =
      ValidateUpload(c.BundlePem(), testing::KeyPemTraditional(c.leaf_key.get()), test::Now());
  ExpectOk(upload);
  ASSERT_TRUE(upload.ok());
  ASSERT_EQ(upload->chain.certs.size(), 2u);
  EXPECT_EQ(X509_cmp(upload->chain.leaf(), c.leaf.get()), 0);
  EXPECT_EQ(upload->chain_pem, EncodeChainPem(upload->chain));
  EXPECT_EQ(upload->chain_pem, c.BundlePem());
  EXPECT_EQ(upload->info.subject_common_name, "app.example.com");
  EXPECT_THAT(upload->info.dns_names, ElementsAre("app.example.com", "www.example.com"));
  EXPECT_THAT(upload->info.ips, ElementsAre("192.0.2.7"));
  EXPECT_EQ(upload->info.issuer_common_name, "Certgate Test Intermediate CA");
  EXPECT_EQ(upload->info.subject_organization, "Example Corp");
  EXPECT_EQ(upload->info.private_key_type, "ecdsa");
  auto key = DecodePrivateKeyDer(upload->key_der.span());
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(EVP_PKEY_eq(key->get(), c.leaf_key.get()), 1);
  EXPECT_TRUE(upload->key_der.Equals(testing::KeyDerPkcs8(c.leaf_key.get())));
}

TEST(UploadTest, AcceptsChainWithRootAndEveryKeyType) {
  struct Case {
    TestKeyType type;
    bool pkcs8;
    std::string name;
  };
  for (const auto& k :
       {Case{TestKeyType::kRsa2048, false, "rsa"}, Case{TestKeyType::kRsa2048, true, "rsa"},
        Case{TestKeyType::kEcP384, true, "ecdsa"}, Case{TestKeyType::kEcP521, false, "ecdsa"},
        Case{TestKeyType::kEd25519, true, "ed25519"}}) {
    SCOPED_TRACE(k.name);
    TestChain c = MakeChain(k.type, AppSpec());
    const std::string key_pem = k.pkcs8 ? testing::KeyPemPkcs8(c.leaf_key.get())
                                        : testing::KeyPemTraditional(c.leaf_key.get());
    auto upload = ValidateUpload(test::Crlf(c.BundleWithRootPem()), key_pem, test::Now());
    ExpectOk(upload);
    if (!upload.ok()) continue;
    EXPECT_EQ(upload->chain.certs.size(), 3u);
    EXPECT_EQ(upload->chain_pem, c.BundleWithRootPem());
    EXPECT_EQ(upload->info.private_key_type, k.name);
  }
}

TEST(UploadTest, AcceptsASingleSelfSignedCertificate) {
  EVP_PKEY* key = CachedKey(TestKeyType::kEcP256);
  X509Ptr cert = testing::IssueCertificate(AppSpec(), key, nullptr, key);
  auto upload = ValidateUpload(CertPem(cert.get()), testing::KeyPemPkcs8(key), test::Now());
  ExpectOk(upload);
  if (upload.ok()) {
    EXPECT_EQ(upload->info.issuer_common_name, "app.example.com");
  }
}

// ValidateUpload checks in the order a user should fix things; each case
// breaks every later check too, so only the first failure can be reported.
TEST(UploadTest, FirstFailureWins) {
  CertSpec expired = AppSpec();
  expired.not_before_offset = -std::chrono::hours(48);
  expired.not_after_offset = -std::chrono::hours(1);
  TestChain bad = MakeChain(TestKeyType::kEcP256, expired, /*reuse_leaf_key=*/false);
  const std::string wrong_key = testing::KeyPemPkcs8(CachedKey(TestKeyType::kEcP384));
  const std::string encrypted_key = testing::KeyPemEncryptedPkcs8(bad.leaf_key.get());
  const std::string misordered = CertPem(bad.intermediate.get()) + CertPem(bad.leaf.get());
  const Time now = test::Now();

  ExpectError(ValidateUpload("", "", now), ErrorCode::kBundleEmpty, "certificate_pem is empty");
  ExpectError(ValidateUpload("not pem", encrypted_key, now), ErrorCode::kBundleNotPem,
              "certificate_pem is not PEM");
  ExpectError(ValidateUpload(misordered, encrypted_key, now), ErrorCode::kChainMisordered,
              "use the order 2, 1");
  ExpectError(ValidateUpload(bad.BundlePem(), encrypted_key, now), ErrorCode::kKeyEncrypted,
              "private_key_pem is encrypted");
  ExpectError(ValidateUpload(bad.BundlePem(), "", now), ErrorCode::kKeyEmpty,
              "private_key_pem is empty");
  ExpectError(ValidateUpload(bad.BundlePem(), wrong_key, now), ErrorCode::kKeyMismatch,
              "does not match the leaf certificate's public key (CN=app.example.com)");
  ExpectError(ValidateUpload(bad.BundlePem(), testing::KeyPemPkcs8(bad.leaf_key.get()), now),
              ErrorCode::kLeafExpired, "the leaf certificate (CN=app.example.com) expired on");

  // Each error names the input at fault, as the API's details.field does.
  EXPECT_EQ(ValidateUpload("not pem", encrypted_key, now).error().field, "certificate_pem");
  EXPECT_EQ(ValidateUpload(misordered, encrypted_key, now).error().field, "certificate_pem");
  EXPECT_EQ(ValidateUpload(bad.BundlePem(), encrypted_key, now).error().field, "private_key_pem");
  EXPECT_EQ(ValidateUpload(bad.BundlePem(), wrong_key, now).error().field, "private_key_pem");
  EXPECT_EQ(
      ValidateUpload(bad.BundlePem(), testing::KeyPemPkcs8(bad.leaf_key.get()), now).error().field,
      "certificate_pem");
}

TEST(UploadTest, RefusesALeafNotForServers) {
  CertSpec client = AppSpec();
  client.extended_key_usage = "clientAuth,emailProtection";
  TestChain c = MakeChain(TestKeyType::kEcP256, client);
  ExpectError(ValidateUpload(c.BundlePem(), testing::KeyPemPkcs8(c.leaf_key.get()), test::Now()),
              ErrorCode::kLeafNotForServer,
              "has extendedKeyUsage without serverAuth (it has: client_auth, email_protection)");
}

TEST(UploadTest, RefusesAGapAndAnUnrelatedCertificate) {
  TestChain c = MakeChain(TestKeyType::kEcP256, AppSpec());
  const std::string key = testing::KeyPemPkcs8(c.leaf_key.get());
  ExpectError(ValidateUpload(CertPem(c.leaf.get()) + CertPem(c.root.get()), key, test::Now()),
              ErrorCode::kChainGap, "which is missing from the bundle: add it after certificate 1");
  CertSpec other_spec = AppSpec();
  other_spec.common_name = "other.example.com";
  TestChain other = MakeChain(TestKeyType::kEcP256, other_spec);
  ExpectError(ValidateUpload(c.BundlePem() + CertPem(other.leaf.get()), key, test::Now()),
              ErrorCode::kChainUnrelated, "certificate 3 (CN=other.example.com)");
}

// The RSA limits hold for the leaf's key, checked before the private key: the
// certificate itself must be reissued, whatever key comes with it.
TEST(UploadTest, RefusesAnRsa8192LeafAndKey) {
  TestChain c = MakeChain(TestKeyType::kRsa8192, AppSpec());
  const std::string message =
      "RSA keys may have at most 4096 bits, because each handshake with a larger key costs the "
      "server many times more CPU; the key of the leaf certificate (CN=app.example.com) has 8192 "
      "bits: have the certificate reissued for an RSA key of 2048 to 4096 bits";
  ExpectError(ValidateUpload(c.BundlePem(), testing::KeyPemPkcs8(c.leaf_key.get()), test::Now()),
              ErrorCode::kKeyRsaSize, message);
  ExpectError(ValidateUpload(c.BundlePem(), testing::KeyPemPkcs8(CachedKey(TestKeyType::kEcP256)),
                             test::Now()),
              ErrorCode::kKeyRsaSize, message);
  // The key alone (with a certificate it does not belong to) is refused too.
  TestChain ok = MakeChain(TestKeyType::kEcP256, AppSpec());
  ExpectError(ValidateUpload(ok.BundlePem(), testing::KeyPemTraditional(c.leaf_key.get()),
                             test::Now()),
              ErrorCode::kKeyRsaSize, "RSA keys may have at most 4096 bits");
  // The same code, for the certificate's key or the private key: the field says which.
  EXPECT_EQ(ValidateUpload(c.BundlePem(), testing::KeyPemPkcs8(c.leaf_key.get()), test::Now())
                .error()
                .field,
            "certificate_pem");
  EXPECT_EQ(
      ValidateUpload(ok.BundlePem(), testing::KeyPemTraditional(c.leaf_key.get()), test::Now())
          .error()
          .field,
      "private_key_pem");
}

TEST(UploadTest, RefusesRsaPublicExponent3) {
  TestChain c = MakeChain(TestKeyType::kRsa2048E3, AppSpec());
  ExpectError(
      ValidateUpload(c.BundlePem(), testing::KeyPemTraditional(c.leaf_key.get()), test::Now()),
      ErrorCode::kKeyRsaExponent,
      "RSA public exponents must be odd and at least 65537, because small exponents such as 3 "
      "allow signature forgeries; the key of the leaf certificate (CN=app.example.com) has "
      "exponent 3: have the certificate reissued");
}

TEST(UploadTest, AcceptsRsa4096) {
  TestChain c = MakeChain(TestKeyType::kRsa4096, AppSpec());
  auto upload =
      ValidateUpload(c.BundlePem(), testing::KeyPemPkcs8(c.leaf_key.get()), test::Now());
  ExpectOk(upload);
  if (upload.ok()) {
    EXPECT_EQ(upload->info.private_key_type, "rsa");
  }
}

TEST(UploadTest, RefusesALoopingAndARepeatingChain) {
  // CA A and CA B signed each other; the leaf is A's.
  EVP_PKEY* a_key = CachedKey(TestKeyType::kEcP384);
  EVP_PKEY* b_key = CachedKey(TestKeyType::kEcP521);
  CertSpec a;
  a.common_name = "CA A";
  a.is_ca = true;
  a.extended_key_usage = std::nullopt;
  CertSpec b = a;
  b.common_name = "CA B";
  X509Ptr a_self = testing::IssueCertificate(a, a_key, nullptr, a_key);
  X509Ptr b_self = testing::IssueCertificate(b, b_key, nullptr, b_key);
  X509Ptr a_by_b = testing::IssueCertificate(a, a_key, b_self.get(), b_key);
  X509Ptr b_by_a = testing::IssueCertificate(b, b_key, a_self.get(), a_key);
  EVP_PKEY* leaf_key = CachedKey(TestKeyType::kEcP256);
  X509Ptr leaf = testing::IssueCertificate(AppSpec(), leaf_key, a_self.get(), a_key);
  const std::string key = testing::KeyPemPkcs8(leaf_key);
  ExpectOk(ValidateUpload(CertPem(leaf.get()) + CertPem(a_by_b.get()), key, test::Now()));
  ExpectError(ValidateUpload(CertPem(leaf.get()) + CertPem(a_by_b.get()) + CertPem(b_by_a.get()),
                             key, test::Now()),
              ErrorCode::kChainLoop,
              "the chain loops: certificate 2 (CN=CA A) is issued by certificate 3 (CN=CA B), "
              "which is issued by certificate 2 again");
  ExpectError(ValidateUpload(CertPem(leaf.get()) + CertPem(a_by_b.get()) + CertPem(a_by_b.get()),
                             key, test::Now()),
              ErrorCode::kChainUnrelated, "certificates 2 and 3 are the same certificate");
  ExpectError(ValidateUpload(CertPem(leaf.get()) + CertPem(a_by_b.get()) + CertPem(a_self.get()),
                             key, test::Now()),
              ErrorCode::kChainUnrelated,
              "certificates 2 and 3 are both for CN=CA A with the same key");
}

TEST(UploadTest, MessagesNeverQuoteTheKey) {
  TestChain c = MakeChain(TestKeyType::kRsa2048, AppSpec());
  const std::string key_pem = testing::KeyPemPkcs8(CachedKey(TestKeyType::kEcP256));
  // The key pasted into the certificate field, and a wrong key.
  auto in_bundle = ValidateUpload(key_pem + c.BundlePem(), key_pem, test::Now());
  ExpectError(in_bundle, ErrorCode::kBundleWrongBlock, "put the private key in private_key_pem");
  auto mismatch = ValidateUpload(c.BundlePem(), key_pem, test::Now());
  ExpectError(mismatch, ErrorCode::kKeyMismatch,
              "the key is ECDSA but the certificate's key is RSA");
  for (const auto& line : test::Lines(key_pem)) {
    if (line.starts_with("-----")) continue;
    for (size_t i = 0; i + 8 <= line.size(); i += 8) {
      EXPECT_THAT(in_bundle.error().message, Not(HasSubstr(line.substr(i, 8))));
      EXPECT_THAT(mismatch.error().message, Not(HasSubstr(line.substr(i, 8))));
    }
  }
}

}  // namespace
}  // namespace certgate::pki
