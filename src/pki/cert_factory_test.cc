// Tests of the test-only certificate authority that other modules' tests and
// the benchmarks build on.
#include "pki/testing/cert_factory.h"

#include <set>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "pki/test_util.h"

namespace certgate::pki::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(CertFactoryTest, MakesKeysOfEveryCheapType) {
  struct Case {
    TestKeyType type;
    const char* name;
    int bits;
  };
  for (const auto& c : std::vector<Case>{{TestKeyType::kRsa1024, "RSA", 1024},
                                         {TestKeyType::kRsa2048, "RSA", 2048},
                                         {TestKeyType::kEcP256, "EC", 256},
                                         {TestKeyType::kEcP384, "EC", 384},
                                         {TestKeyType::kEcP521, "EC", 521},
                                         {TestKeyType::kEcSecp256k1, "EC", 256},
                                         {TestKeyType::kEd25519, "ED25519", 256},
                                         {TestKeyType::kEd448, "ED448", 456},
                                         {TestKeyType::kX25519, "X25519", 253},
                                         {TestKeyType::kRsaPss2048, "RSA-PSS", 2048}}) {
    SCOPED_TRACE(c.name);
    EVP_PKEY* key = CachedKey(c.type);
    ASSERT_NE(key, nullptr);
    EXPECT_TRUE(EVP_PKEY_is_a(key, c.name));
    EXPECT_EQ(EVP_PKEY_get_bits(key), c.bits);
  }
  EvpPkeyPtr fresh = MakeKey(TestKeyType::kEcP256);
  EXPECT_NE(EVP_PKEY_eq(fresh.get(), CachedKey(TestKeyType::kEcP256)), 1);
}

TEST(CertFactoryTest, CachedKeyIsOnePerTypeAcrossThreads) {
  std::vector<EVP_PKEY*> seen(8, nullptr);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&seen, i] {
      seen[i] = CachedKey(i % 2 == 0 ? TestKeyType::kEcP384 : TestKeyType::kEd25519);
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 2; i < seen.size(); ++i) EXPECT_EQ(seen[i], seen[i % 2]);
  EXPECT_NE(seen[0], seen[1]);
}

TEST(CertFactoryTest, IssuesSelfSignedAndIssuedCertificates) {
  EVP_PKEY* ca_key = CachedKey(TestKeyType::kEcP384);
  CertSpec ca_spec;
  ca_spec.common_name = "Factory CA";
  ca_spec.is_ca = true;
  ca_spec.extended_key_usage = std::nullopt;
  X509Ptr ca = IssueCertificate(ca_spec, ca_key, nullptr, ca_key);
  EXPECT_EQ(X509_verify(ca.get(), ca_key), 1);
  EXPECT_NE(X509_check_ca(ca.get()), 0);
  EXPECT_EQ(X509_get_key_usage(ca.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_EQ(X509_check_issued(ca.get(), ca.get()), X509_V_OK);

  CertSpec leaf_spec;
  leaf_spec.common_name = "leaf.example.com";
  leaf_spec.dns_names = {"leaf.example.com"};
  leaf_spec.serial = {0x42};
  EVP_PKEY* leaf_key = CachedKey(TestKeyType::kEd25519);
  X509Ptr leaf = IssueCertificate(leaf_spec, leaf_key, ca.get(), ca_key);
  EXPECT_EQ(X509_verify(leaf.get(), ca_key), 1);
  EXPECT_EQ(X509_check_issued(ca.get(), leaf.get()), X509_V_OK);
  EXPECT_EQ(X509_check_ca(leaf.get()), 0);
  EXPECT_EQ(ASN1_INTEGER_get(X509_get0_serialNumber(leaf.get())), 0x42);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(leaf.get()),
                                  X509_get0_subject_key_id(ca.get())),
            0);
  EXPECT_EQ(X509_get_extended_key_usage(leaf.get()), static_cast<uint32_t>(XKU_SSL_SERVER));

  // An Ed25519 issuer signs without a digest.
  X509Ptr ed_self = IssueCertificate(leaf_spec, leaf_key, nullptr, leaf_key);
  EXPECT_EQ(X509_verify(ed_self.get(), leaf_key), 1);
  // A subject key that cannot sign can still be certified.
  X509Ptr x25519 = IssueCertificate(leaf_spec, CachedKey(TestKeyType::kX25519), ca.get(), ca_key);
  EXPECT_EQ(X509_verify(x25519.get(), ca_key), 1);
}

TEST(CertFactoryTest, MakeChainBuildsAVerifiableChain) {
  CertSpec spec;
  spec.common_name = "chain.example.com";
  TestChain c = MakeChain(TestKeyType::kEcP256, spec);
  EXPECT_EQ(X509_verify(c.leaf.get(), c.intermediate_key), 1);
  EXPECT_EQ(X509_verify(c.intermediate.get(), c.root_key), 1);
  EXPECT_EQ(X509_verify(c.root.get(), c.root_key), 1);
  EXPECT_EQ(X509_check_issued(c.intermediate.get(), c.leaf.get()), X509_V_OK);
  EXPECT_EQ(X509_check_issued(c.root.get(), c.intermediate.get()), X509_V_OK);
  EXPECT_EQ(c.leaf_key.get(), CachedKey(TestKeyType::kEcP256));
  // The CA keys are distinct from each other and from every leaf key.
  std::set<EVP_PKEY*> keys = {c.root_key, c.intermediate_key, c.leaf_key.get()};
  EXPECT_EQ(keys.size(), 3u);
  EXPECT_NE(EVP_PKEY_eq(c.root_key, c.intermediate_key), 1);

  TestChain fresh = MakeChain(TestKeyType::kEcP256, spec, /*reuse_leaf_key=*/false);
  EXPECT_NE(EVP_PKEY_eq(fresh.leaf_key.get(), CachedKey(TestKeyType::kEcP256)), 1);
  EXPECT_EQ(fresh.root_key, c.root_key);

  EXPECT_EQ(c.BundlePem(), CertPem(c.leaf.get()) + CertPem(c.intermediate.get()));
  EXPECT_EQ(c.BundleWithRootPem(), c.BundlePem() + CertPem(c.root.get()));
}

TEST(CertFactoryTest, WritesEveryKeyForm) {
  EVP_PKEY* rsa = CachedKey(TestKeyType::kRsa1024);
  EVP_PKEY* ec = CachedKey(TestKeyType::kEcP256);
  EVP_PKEY* ed = CachedKey(TestKeyType::kEd25519);
  EXPECT_THAT(KeyPemPkcs8(rsa), StartsWith("-----BEGIN PRIVATE KEY-----\n"));
  EXPECT_THAT(KeyPemPkcs8(ed), StartsWith("-----BEGIN PRIVATE KEY-----\n"));
  EXPECT_THAT(KeyPemTraditional(rsa), StartsWith("-----BEGIN RSA PRIVATE KEY-----\n"));
  EXPECT_THAT(KeyPemTraditional(ec), StartsWith("-----BEGIN EC PRIVATE KEY-----\n"));
  EXPECT_THAT(KeyPemEncryptedPkcs8(ec), StartsWith("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"));
  const std::string legacy = KeyPemEncryptedLegacy(rsa);
  EXPECT_THAT(legacy, StartsWith("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"));
  EXPECT_THAT(legacy, HasSubstr("DEK-Info: AES-256-CBC,"));
  EXPECT_THAT(KeyPemEncryptedLegacy(ec), HasSubstr("Proc-Type: 4,ENCRYPTED"));
  EXPECT_THAT(PublicKeyPem(ec), StartsWith("-----BEGIN PUBLIC KEY-----\n"));
  EXPECT_THAT(CertPem(MakeChain(TestKeyType::kEcP256, CertSpec{}).leaf.get()),
              StartsWith("-----BEGIN CERTIFICATE-----\n"));

  EXPECT_FALSE(KeyDerPkcs8(ed).empty());
  EXPECT_TRUE(KeyDerTraditional(ed).empty());  // Ed25519 has no type-specific form
  EXPECT_FALSE(KeyDerTraditional(ec).empty());
  EXPECT_EQ(KeyDerPkcs8(ec)[0], 0x30);
}

TEST(CertFactoryDeathTest, TraditionalPemOfEd25519Aborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(KeyPemTraditional(CachedKey(TestKeyType::kEd25519)), "type-specific");
}

}  // namespace
}  // namespace certgate::pki::testing
