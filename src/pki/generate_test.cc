#include "pki/generate.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pki/certificate.h"
#include "pki/test_util.h"
#include "pki/testing/cert_factory.h"
#include "pki/upload.h"

namespace certgate::pki {
namespace {

using test::ExpectError;
using test::ExpectOk;
using ::testing::ElementsAre;

struct ParsedCsr {
  X509ReqPtr req;
  std::string common_name;
  std::vector<std::string> dns_names;
};

ParsedCsr ParseCsr(const std::vector<uint8_t>& der) {
  ParsedCsr out;
  const unsigned char* p = der.data();
  out.req.reset(d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size())));
  EXPECT_NE(out.req, nullptr);
  if (!out.req) return out;
  EXPECT_EQ(p, der.data() + der.size());
  const X509_NAME* subject = X509_REQ_get_subject_name(out.req.get());
  const int idx = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (idx >= 0) {
    const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
    out.common_name.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(cn)),
                           static_cast<size_t>(ASN1_STRING_length(cn)));
  }
  X509ExtensionStackPtr exts(X509_REQ_get_extensions(out.req.get()));
  for (int i = 0; exts && i < sk_X509_EXTENSION_num(exts.get()); ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts.get(), i);
    if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name) continue;
    GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext)));
    for (int j = 0; names && j < sk_GENERAL_NAME_num(names.get()); ++j) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), j);
      EXPECT_EQ(gn->type, GEN_DNS);
      if (gn->type != GEN_DNS) continue;
      out.dns_names.emplace_back(
          reinterpret_cast<const char*>(ASN1_STRING_get0_data(gn->d.dNSName)),
          static_cast<size_t>(ASN1_STRING_length(gn->d.dNSName)));
    }
  }
  return out;
}

TEST(GenerateTest, GeneratesEcdsaP256) {
  auto key = GenerateKey(GeneratedKeyType::kEcdsaP256);
  ExpectOk(key);
  ASSERT_TRUE(key.ok());
  EXPECT_TRUE(EVP_PKEY_is_a(key->get(), "EC"));
  char group[64];
  size_t len = 0;
  ASSERT_EQ(EVP_PKEY_get_group_name(key->get(), group, sizeof(group), &len), 1);
  EXPECT_EQ(std::string(group, len), "prime256v1");
  // And it is a key ParsePrivateKey accepts.
  ExpectOk(ParsePrivateKey(testing::KeyPemPkcs8(key->get())));
}

// The only RSA-4096 generation in the suite: its self-signed certificate is
// checked here too.
TEST(GenerateTest, GeneratesRsa4096AndCertifiesIt) {
  auto key = GenerateKey(GeneratedKeyType::kRsa4096);
  ExpectOk(key);
  ASSERT_TRUE(key.ok());
  EXPECT_TRUE(EVP_PKEY_is_a(key->get(), "RSA"));
  EXPECT_EQ(EVP_PKEY_get_bits(key->get()), 4096);
  const Time now = test::Now();
  auto cert =
      MakeSelfSignedCertificate(key->get(), {"rsa.example.com"}, now, std::chrono::hours(24));
  ExpectOk(cert);
  ASSERT_TRUE(cert.ok());
  auto upload =
      ValidateUpload(testing::CertPem(cert->get()), testing::KeyPemTraditional(key->get()), now);
  ExpectOk(upload);
  if (upload.ok()) {
    EXPECT_EQ(upload->info.private_key_type, "rsa");
  }
}

TEST(GenerateTest, CsrIsSignedAndCarriesTheNames) {
  EVP_PKEY* key = testing::CachedKey(testing::TestKeyType::kEcP256);
  const std::vector<std::string> names = {"app.example.com", "www.example.com", "*.example.com"};
  auto der = MakeCsr(key, names);
  ExpectOk(der);
  ASSERT_TRUE(der.ok());
  ParsedCsr csr = ParseCsr(*der);
  ASSERT_NE(csr.req, nullptr);
  EXPECT_EQ(X509_REQ_verify(csr.req.get(), key), 1);
  EXPECT_EQ(csr.common_name, "app.example.com");
  EXPECT_EQ(csr.dns_names, names);
  EXPECT_EQ(X509_REQ_get_version(csr.req.get()), X509_REQ_VERSION_1);
  EXPECT_EQ(X509_REQ_get_signature_nid(csr.req.get()), NID_ecdsa_with_SHA256);
  EvpPkeyPtr pub(X509_REQ_get_pubkey(csr.req.get()));
  EXPECT_EQ(EVP_PKEY_eq(pub.get(), key), 1);
}

TEST(GenerateTest, CsrWorksForEveryAcceptedKeyType) {
  for (auto type : {testing::TestKeyType::kRsa2048, testing::TestKeyType::kEcP384,
                    testing::TestKeyType::kEd25519}) {
    EVP_PKEY* key = testing::CachedKey(type);
    auto der = MakeCsr(key, {"one.example.com"});
    ExpectOk(der);
    ASSERT_TRUE(der.ok());
    ParsedCsr csr = ParseCsr(*der);
    ASSERT_NE(csr.req, nullptr);
    EXPECT_EQ(X509_REQ_verify(csr.req.get(), key), 1);
    EXPECT_THAT(csr.dns_names, ElementsAre("one.example.com"));
  }
}

TEST(GenerateTest, CsrWithANameTooLongForTheCommonName) {
  const std::string long_name = std::string(60, 'a') + ".example.com";  // 72 characters
  auto der = MakeCsr(testing::CachedKey(testing::TestKeyType::kEcP256), {long_name});
  ExpectOk(der);
  ASSERT_TRUE(der.ok());
  ParsedCsr csr = ParseCsr(*der);
  EXPECT_EQ(csr.common_name, "");
  EXPECT_THAT(csr.dns_names, ElementsAre(long_name));
}

TEST(GenerateTest, CsrNeedsAName) {
  ExpectError(MakeCsr(testing::CachedKey(testing::TestKeyType::kEcP256), {}), ErrorCode::kInternal,
              "no DNS names");
}

TEST(GenerateTest, SelfSignedCertificatePassesUploadValidation) {
  auto key = GenerateKey(GeneratedKeyType::kEcdsaP256);
  ASSERT_TRUE(key.ok());
  const Time now = test::Now();
  const auto lifetime = std::chrono::hours(24 * 365);
  auto cert = MakeSelfSignedCertificate(key->get(), {"default.example.com", "*.example.com"}, now,
                                        lifetime);
  ExpectOk(cert);
  ASSERT_TRUE(cert.ok());
  EXPECT_EQ(X509_verify(cert->get(), key->get()), 1);
  EXPECT_EQ(X509_check_ca(cert->get()), 0);
  EXPECT_EQ(X509_get_version(cert->get()), X509_VERSION_3);

  auto upload =
      ValidateUpload(testing::CertPem(cert->get()), testing::KeyPemPkcs8(key->get()), now);
  ExpectOk(upload);
  ASSERT_TRUE(upload.ok());
  const CertificateInfo& info = upload->info;
  EXPECT_EQ(info.subject_common_name, "default.example.com");
  EXPECT_EQ(info.issuer_common_name, "default.example.com");
  EXPECT_THAT(info.dns_names, ElementsAre("default.example.com", "*.example.com"));
  EXPECT_THAT(info.key_usages, ElementsAre("digital_signature"));
  EXPECT_THAT(info.extended_key_usages, ElementsAre("server_auth"));
  EXPECT_EQ(ToUnixSeconds(info.not_before), ToUnixSeconds(now - std::chrono::hours(1)));
  EXPECT_EQ(ToUnixSeconds(info.not_after), ToUnixSeconds(now - std::chrono::hours(1) + lifetime));
  EXPECT_EQ(info.serial_number.size(), 32u);
  EXPECT_EQ(info.private_key_type, "ecdsa");
  // Serials are random.
  auto other = MakeSelfSignedCertificate(key->get(), {"default.example.com"}, now, lifetime);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(DescribeCertificate(other->get()).serial_number, info.serial_number);
}

TEST(GenerateTest, SelfSignedEd25519Certificate) {
  EVP_PKEY* key = testing::CachedKey(testing::TestKeyType::kEd25519);
  const Time now = test::Now();
  auto cert = MakeSelfSignedCertificate(key, {"ed.example.com"}, now, std::chrono::hours(2));
  ExpectOk(cert);
  ASSERT_TRUE(cert.ok());
  ExpectOk(ValidateUpload(testing::CertPem(cert->get()), testing::KeyPemPkcs8(key), now));
}

TEST(GenerateTest, SelfSignedCertificateNeedsNamesAndALifetime) {
  EVP_PKEY* key = testing::CachedKey(testing::TestKeyType::kEcP256);
  ExpectError(MakeSelfSignedCertificate(key, {}, test::Now(), std::chrono::hours(1)),
              ErrorCode::kInternal, "no DNS names");
  ExpectError(MakeSelfSignedCertificate(key, {"a.example.com"}, test::Now(), std::chrono::hours(0)),
              ErrorCode::kInternal, "lifetime");
}

}  // namespace
}  // namespace certgate::pki
