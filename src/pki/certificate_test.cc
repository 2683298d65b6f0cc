#include "pki/certificate.h"

#include <functional>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pki/generate.h"
#include "pki/test_util.h"
#include "pki/testing/cert_factory.h"

namespace certgate::pki {
namespace {

using test::ExpectError;
using test::ExpectOk;
using testing::CertPem;
using testing::CertSpec;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::MakeChain;
using testing::TestChain;
using testing::TestKeyType;

CertSpec LeafSpec(std::string cn = "app.example.com") {
  CertSpec spec;
  spec.common_name = cn;
  spec.dns_names = {cn};
  return spec;
}

TestChain AppChain() { return MakeChain(TestKeyType::kEcP256, LeafSpec()); }

Chain ChainOf(std::initializer_list<X509*> certs) {
  Chain chain;
  for (X509* c : certs) chain.certs.push_back(ShareX509(c));
  return chain;
}

// ---------------------------------------------------------------------------
// ParseCertificateBundle: accepted inputs.

TEST(CertificateBundleTest, AcceptsSingleSelfSignedCertificate) {
  EVP_PKEY* key = testing::CachedKey(TestKeyType::kEcP256);
  X509Ptr cert = testing::IssueCertificate(LeafSpec(), key, nullptr, key);
  auto chain = ParseCertificateBundle(CertPem(cert.get()));
  ExpectOk(chain);
  ASSERT_EQ(chain->certs.size(), 1u);
  EXPECT_EQ(X509_cmp(chain->leaf(), cert.get()), 0);
}

TEST(CertificateBundleTest, AcceptsLeafIntermediateAndRootInOrder) {
  TestChain c = AppChain();
  auto two = ParseCertificateBundle(c.BundlePem());
  ExpectOk(two);
  ASSERT_EQ(two->certs.size(), 2u);
  EXPECT_EQ(X509_cmp(two->certs[0].get(), c.leaf.get()), 0);
  EXPECT_EQ(X509_cmp(two->certs[1].get(), c.intermediate.get()), 0);

  auto three = ParseCertificateBundle(c.BundleWithRootPem());
  ExpectOk(three);
  ASSERT_EQ(three->certs.size(), 3u);
  EXPECT_EQ(X509_cmp(three->certs[2].get(), c.root.get()), 0);
}

TEST(CertificateBundleTest, AcceptsCrlfWhitespaceBomAndIndentation) {
  TestChain c = AppChain();
  const std::string bundle = c.BundlePem();
  std::string indented;
  for (const auto& line : test::Lines(bundle)) indented += "    " + line + "  \n";
  const std::vector<std::string> inputs = {
      test::Crlf(bundle),
      "\n\n  \t\n" + CertPem(c.leaf.get()) + "\n\n\n" + CertPem(c.intermediate.get()) + "\n \n",
      "\xEF\xBB\xBF" + bundle,
      indented,
      test::Crlf(bundle).substr(0, test::Crlf(bundle).size() - 2),  // no final line end
  };
  for (size_t i = 0; i < inputs.size(); ++i) {
    SCOPED_TRACE(i);
    auto chain = ParseCertificateBundle(inputs[i]);
    ExpectOk(chain);
    if (!chain.ok()) continue;
    ASSERT_EQ(chain->certs.size(), 2u);
    EXPECT_EQ(X509_cmp(chain->leaf(), c.leaf.get()), 0);
  }
}

TEST(CertificateBundleTest, AcceptsBase64OnOneLine) {
  TestChain c = AppChain();
  auto lines = test::Lines(CertPem(c.leaf.get()));
  std::string body;
  for (size_t i = 1; i + 1 < lines.size(); ++i) body += lines[i];
  const std::string pem = "-----BEGIN CERTIFICATE-----\n" + body + "\n-----END CERTIFICATE-----\n";
  auto chain = ParseCertificateBundle(pem);
  ExpectOk(chain);
  if (chain.ok()) {
    EXPECT_EQ(X509_cmp(chain->leaf(), c.leaf.get()), 0);
  }
}

TEST(CertificateBundleTest, AcceptsExactly64KiBAndTenCertificates) {
  TestChain c = AppChain();
  std::string pem = CertPem(c.leaf.get());
  pem.append(kMaxBundleBytes - pem.size(), '\n');
  ExpectOk(ParseCertificateBundle(pem));

  std::string ten;
  for (int i = 0; i < 10; ++i) ten += CertPem(c.leaf.get());
  auto chain = ParseCertificateBundle(ten);
  ExpectOk(chain);
  if (chain.ok()) {
    EXPECT_EQ(chain->certs.size(), 10u);
  }
}

// ---------------------------------------------------------------------------
// ParseCertificateBundle: rejected inputs, each with its code and the part of
// the message that tells the user what to do.

struct BundleCase {
  std::string name;
  std::function<std::string()> make;
  ErrorCode code;
  std::string needle;
};
// Names the case in test listings instead of dumping its bytes.
void PrintTo(const BundleCase& c, std::ostream* os) { *os << c.name; }

std::string LeafPem() { return CertPem(AppChain().leaf.get()); }

std::vector<BundleCase> BundleCases() {
  return {
      {"Empty", [] { return std::string(); }, ErrorCode::kBundleEmpty,
       "certificate_pem is empty: paste the PEM of the leaf certificate"},
      {"WhitespaceOnly", [] { return std::string(" \r\n\t\n  \n"); }, ErrorCode::kBundleEmpty,
       "certificate_pem is empty"},
      {"PlainText", [] { return std::string("hello, this is my certificate\n"); },
       ErrorCode::kBundleNotPem, "certificate_pem is not PEM text"},
      {"Base64WithoutBoundaries",
       [] {
         auto lines = test::Lines(LeafPem());
         return test::JoinLines({lines.begin() + 1, lines.end() - 1});
       },
       ErrorCode::kBundleNotPem, "-----BEGIN CERTIFICATE-----"},
      {"PrivateKeyBlock",
       [] {
         TestChain c = AppChain();
         return CertPem(c.leaf.get()) + testing::KeyPemPkcs8(c.leaf_key.get());
       },
       ErrorCode::kBundleWrongBlock,
       "certificate_pem holds a PRIVATE KEY block (line 1"},  // line number follows
      {"EcPrivateKeyBlock",
       [] {
         TestChain c = AppChain();
         return testing::KeyPemTraditional(c.leaf_key.get()) + CertPem(c.leaf.get());
       },
       ErrorCode::kBundleWrongBlock,
       "holds an EC PRIVATE KEY block (line 1): put the private key in private_key_pem"},
      {"PublicKeyBlock",
       [] { return testing::PublicKeyPem(testing::CachedKey(TestKeyType::kEcP256)); },
       ErrorCode::kBundleWrongBlock, "PUBLIC KEY block (line 1), which is a bare public key"},
      {"CertificateRequestBlock",
       [] {
         auto csr = MakeCsr(testing::CachedKey(TestKeyType::kEcP256), {"app.example.com"});
         return test::PemOf("CERTIFICATE REQUEST", *csr);
       },
       ErrorCode::kBundleWrongBlock, "which is a signing request, not a certificate"},
      {"TrustedCertificateBlock",
       [] { return test::PemOf("TRUSTED CERTIFICATE", test::CertDer(AppChain().leaf.get())); },
       ErrorCode::kBundleWrongBlock, "convert it to a plain CERTIFICATE block"},
      {"Pkcs7Block",
       [] {
         return test::PemOf("PKCS7", std::vector<uint8_t>{0x30, 0x00});
       },
       ErrorCode::kBundleWrongBlock, "openssl pkcs7 -print_certs"},
      {"TruncatedMissingEnd", [] { return LeafPem().substr(0, 300); }, ErrorCode::kPemMalformed,
       "the CERTIFICATE block that begins on line 1 of certificate_pem has no "
       "-----END CERTIFICATE----- line"},
      {"MissingEndBeforeNextBlock",
       [] {
         TestChain c = AppChain();
         auto lines = test::Lines(CertPem(c.leaf.get()));
         lines.pop_back();
         return test::JoinLines(lines) + CertPem(c.intermediate.get());
       },
       ErrorCode::kPemMalformed, "begins on line 1 of certificate_pem has no -----END"},
      {"MissingBegin",
       [] {
         auto lines = test::Lines(LeafPem());
         return test::JoinLines({lines.begin() + 1, lines.end()});
       },
       ErrorCode::kPemMalformed, "ends a CERTIFICATE block that never began"},
      {"MismatchedEnd",
       [] {
         return test::Replace(LeafPem(), "-----END CERTIFICATE-----", "-----END PRIVATE KEY-----");
       },
       ErrorCode::kPemMalformed, "is -----END PRIVATE KEY-----, but the open block is CERTIFICATE"},
      {"BoundariesOnOneLine",
       [] {
         std::string pem = LeafPem();
         std::replace(pem.begin(), pem.end(), '\n', ' ');
         return pem;
       },
       ErrorCode::kPemMalformed,
       "line 1 of certificate_pem is not a valid PEM boundary: -----BEGIN and -----END lines "
       "must stand on lines of their own"},
      {"CorruptBase64",
       [] {
         auto lines = test::Lines(LeafPem());
         lines[2][10] = '*';
         return test::JoinLines(lines);
       },
       ErrorCode::kPemMalformed, "certificate 1 in certificate_pem (lines 1-"},
      {"TruncatedBase64",
       [] {
         auto lines = test::Lines(LeafPem());
         lines[2].erase(5, 1);
         return test::JoinLines(lines);
       },
       ErrorCode::kPemMalformed, "has corrupt base64"},
      {"EmptyBlock",
       [] { return LeafPem() + "-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n"; },
       ErrorCode::kPemMalformed, "certificate 2 in certificate_pem (lines "},
      {"DerIsNotX509",
       [] {
         EVP_PKEY* key = testing::CachedKey(TestKeyType::kEcP256);
         std::vector<uint8_t> der(static_cast<size_t>(i2d_PUBKEY(key, nullptr)));
         unsigned char* p = der.data();
         i2d_PUBKEY(key, &p);
         return LeafPem() + test::PemOf("CERTIFICATE", der);
       },
       ErrorCode::kCertNotX509, "certificate 2 in certificate_pem (lines "},
      {"DerWithTrailingBytes",
       [] {
         auto der = test::CertDer(AppChain().leaf.get());
         der.push_back(0x00);
         der.push_back(0x00);
         return test::PemOf("CERTIFICATE", der);
       },
       ErrorCode::kCertNotX509,
       "certificate 1 in certificate_pem (CN=app.example.com) is not a valid X.509 certificate: 2 "
       "stray bytes follow it"},
      {"TextBetweenBlocks",
       [] {
         TestChain c = AppChain();
         return CertPem(c.leaf.get()) + "\nsubject=CN = Certgate Test Intermediate CA\n" +
                CertPem(c.intermediate.get());
       },
       ErrorCode::kBundleNotPem,
       "is outside any PEM block: the bundle may contain only CERTIFICATE blocks"},
      {"TextBeforeBlock", [] { return "Bag Attributes\n    localKeyID: 01\n" + LeafPem(); },
       ErrorCode::kBundleNotPem, "line 1 of certificate_pem is outside any PEM block"},
      {"TextAfterBlock", [] { return LeafPem() + "\n\ntrailing words\n"; },
       ErrorCode::kBundleNotPem, "is outside any PEM block"},
      {"PemHeaders",
       [] {
         return test::Replace(LeafPem(), "-----BEGIN CERTIFICATE-----\n",
                              "-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n"
                              "DEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n\n");
       },
       ErrorCode::kPemHeaders,
       "certificate 1 in certificate_pem (line 1) has PEM headers (Proc-Type, DEK-Info): remove "
       "the header lines"},
      {"Over64KiB",
       [] {
         std::string pem = LeafPem();
         pem.append(kMaxBundleBytes + 1 - pem.size(), '\n');
         return pem;
       },
       ErrorCode::kBundleTooLarge, "certificate_pem is 65537 bytes, over the limit of 64 KiB"},
      {"ElevenCertificates",
       [] {
         std::string pem;
         const std::string leaf = LeafPem();
         for (int i = 0; i < 11; ++i) pem += leaf;
         return pem;
       },
       ErrorCode::kBundleTooManyCerts,
       "certificate_pem holds 11 certificates, over the limit of 10"},
  };
}

class CertificateBundleRejectTest : public ::testing::TestWithParam<BundleCase> {};

TEST_P(CertificateBundleRejectTest, Rejects) {
  const BundleCase& c = GetParam();
  ExpectError(ParseCertificateBundle(c.make()), c.code, c.needle);
}

INSTANTIATE_TEST_SUITE_P(CertificateBundle, CertificateBundleRejectTest,
                         ::testing::ValuesIn(BundleCases()),
                         [](const auto& param_info) { return param_info.param.name; });

TEST(CertificateBundleTest, TextOutsideNamesItsLine) {
  TestChain c = AppChain();
  const std::string leaf = CertPem(c.leaf.get());
  const size_t line = test::CountLines(leaf) + 2;  // one blank line, then the text
  auto r = ParseCertificateBundle(leaf + "\nstray\n" + CertPem(c.intermediate.get()));
  ExpectError(r, ErrorCode::kBundleNotPem,
              "line " + std::to_string(line) + " of certificate_pem is outside any PEM block");
}

TEST(CertificateBundleTest, WrongBlockReportedBeforeLaterFramingFault) {
  TestChain c = AppChain();
  auto r = ParseCertificateBundle(testing::PublicKeyPem(c.leaf_key.get()) + "garbage\n");
  ExpectError(r, ErrorCode::kBundleWrongBlock, "PUBLIC KEY block");
}

TEST(CertificateBundleTest, SizeIsCheckedBeforeAnythingElse) {
  ExpectError(ParseCertificateBundle(std::string(kMaxBundleBytes + 1, ' ')),
              ErrorCode::kBundleTooLarge, "64 KiB");
}

TEST(CertificateBundleTest, ParseStoredChainUsesTheSameRules) {
  TestChain c = AppChain();
  ExpectOk(ParseStoredChain(c.BundlePem()));
  ExpectError(ParseStoredChain(""), ErrorCode::kBundleEmpty, "empty");
  ParsedCertificateCache cache;
  ExpectError(ParseStoredChain("", &cache), ErrorCode::kBundleEmpty, "empty");
}

TEST(CertificateBundleTest, StoredChainsShareTheirParsedIntermediates) {
  TestChain c = AppChain();
  ParsedCertificateCache cache;
  auto first = ParseStoredChain(c.BundlePem(), &cache);
  ASSERT_TRUE(first.ok()) << first.error().message;
  auto second = ParseStoredChain(c.BundlePem(), &cache);
  ASSERT_TRUE(second.ok()) << second.error().message;
  ASSERT_EQ(first->certs.size(), second->certs.size());
  ASSERT_GE(first->certs.size(), 2u);
  EXPECT_EQ(cache.parses(), first->certs.size() - 1) << "each intermediate parsed once";
  EXPECT_EQ(first->certs[1].get(), second->certs[1].get()) << "the same parsed intermediate";
  EXPECT_NE(first->leaf(), second->leaf()) << "leaves are parsed each time";
  EXPECT_EQ(X509_cmp(first->certs[1].get(), c.intermediate.get()), 0);
  // Full, it forgets what it holds: bounded by its capacity.
  TestChain other = AppChain();  // another intermediate
  ParsedCertificateCache tiny(1);
  ASSERT_TRUE(ParseStoredChain(c.BundlePem(), &tiny).ok());
  ASSERT_TRUE(ParseStoredChain(other.BundlePem(), &tiny).ok());
  ASSERT_TRUE(ParseStoredChain(c.BundlePem(), &tiny).ok());
  EXPECT_EQ(tiny.parses(), 3u);
}

// ---------------------------------------------------------------------------
// CheckChainOrder.

TEST(CertificateChainOrderTest, AcceptsChainsInOrder) {
  TestChain c = AppChain();
  ExpectOk(CheckChainOrder(ChainOf({c.leaf.get()})));
  ExpectOk(CheckChainOrder(ChainOf({c.leaf.get(), c.intermediate.get()})));
  ExpectOk(CheckChainOrder(ChainOf({c.leaf.get(), c.intermediate.get(), c.root.get()})));
  ExpectOk(CheckChainOrder(ChainOf({c.intermediate.get(), c.root.get()})));
  ExpectOk(CheckChainOrder(ChainOf({c.root.get()})));
}

TEST(CertificateChainOrderTest, MisorderedGivesTheWorkingOrder) {
  TestChain c = AppChain();
  X509* leaf = c.leaf.get();
  X509* mid = c.intermediate.get();
  X509* root = c.root.get();
  ExpectError(CheckChainOrder(ChainOf({mid, leaf})), ErrorCode::kChainMisordered,
              "the certificates are out of order: use the order 2, 1 (leaf CN=app.example.com "
              "first, then each issuer)");
  ExpectError(CheckChainOrder(ChainOf({root, mid, leaf})), ErrorCode::kChainMisordered,
              "use the order 3, 2, 1 (");
  ExpectError(CheckChainOrder(ChainOf({leaf, root, mid})), ErrorCode::kChainMisordered,
              "use the order 1, 3, 2 (");
  ExpectError(CheckChainOrder(ChainOf({mid, root, leaf})), ErrorCode::kChainMisordered,
              "use the order 3, 1, 2 (");
}

// root -> ca1 -> ... -> ca8 -> leaf: ten certificates, the limit.
TEST(CertificateChainOrderTest, TenCertificatesReversedAreReordered) {
  EVP_PKEY* key = testing::CachedKey(TestKeyType::kEcP256);
  CertSpec ca;
  ca.is_ca = true;
  ca.extended_key_usage = std::nullopt;
  ca.common_name = "CA 0";
  std::vector<X509Ptr> certs;
  certs.push_back(testing::IssueCertificate(ca, key, nullptr, key));
  for (int i = 1; i <= 8; ++i) {
    ca.common_name = "CA " + std::to_string(i);
    certs.push_back(testing::IssueCertificate(ca, key, certs.back().get(), key));
  }
  certs.push_back(testing::IssueCertificate(LeafSpec(), key, certs.back().get(), key));
  Chain reversed;  // leaf last: the given order is root first
  for (auto& cert : certs) reversed.certs.push_back(ShareX509(cert.get()));
  ExpectError(CheckChainOrder(reversed), ErrorCode::kChainMisordered,
              "use the order 10, 9, 8, 7, 6, 5, 4, 3, 2, 1 (leaf CN=app.example.com");
  Chain ordered;
  for (auto it = certs.rbegin(); it != certs.rend(); ++it)
    ordered.certs.push_back(ShareX509(it->get()));
  ExpectOk(CheckChainOrder(ordered));
}

TEST(CertificateChainOrderTest, GapNamesTheMissingIssuer) {
  TestChain c = AppChain();
  ExpectError(CheckChainOrder(ChainOf({c.leaf.get(), c.root.get()})), ErrorCode::kChainGap,
              "certificate 1 (CN=app.example.com) was issued by 'CN=Certgate Test Intermediate "
              "CA,O=Certgate Test', which is missing from the bundle: add it after certificate 1");
  ExpectError(CheckChainOrder(ChainOf({c.root.get(), c.leaf.get()})), ErrorCode::kChainGap,
              "certificate 2 (CN=app.example.com) was issued by 'CN=Certgate Test Intermediate");
}

TEST(CertificateChainOrderTest, IssuerOfTheRightNameButAnotherKeyIsAGap) {
  TestChain c = AppChain();
  // Same subject as the real intermediate, another key: names chain, the
  // signature does not verify.
  CertSpec impostor;
  impostor.common_name = "Certgate Test Intermediate CA";
  impostor.organization = "Certgate Test";
  impostor.is_ca = true;
  impostor.extended_key_usage = std::nullopt;
  X509Ptr other = testing::IssueCertificate(impostor, testing::CachedKey(TestKeyType::kEcP384),
                                            c.root.get(), c.root_key);
  ExpectError(CheckChainOrder(ChainOf({c.leaf.get(), other.get()})), ErrorCode::kChainGap,
              "but certificate 2 of that name did not sign it");
}

TEST(CertificateChainOrderTest, UnrelatedCertificateIsNamed) {
  TestChain c = AppChain();
  TestChain other = MakeChain(TestKeyType::kEcP256, LeafSpec("other.example.com"));
  ExpectError(CheckChainOrder(ChainOf({c.leaf.get(), c.intermediate.get(), other.leaf.get()})),
              ErrorCode::kChainUnrelated,
              "certificate 3 (CN=other.example.com) is not part of the chain of the leaf "
              "certificate 1 (CN=app.example.com): remove it");

  // A second, unrelated root after a complete chain.
  EVP_PKEY* key = testing::CachedKey(TestKeyType::kEcP384);
  CertSpec root_spec;
  root_spec.common_name = "Some Other Root";
  root_spec.is_ca = true;
  root_spec.extended_key_usage = std::nullopt;
  X509Ptr other_root = testing::IssueCertificate(root_spec, key, nullptr, key);
  ExpectError(CheckChainOrder(
                  ChainOf({c.leaf.get(), c.intermediate.get(), c.root.get(), other_root.get()})),
              ErrorCode::kChainUnrelated, "certificate 4 (CN=Some Other Root) is not part of");

  // Two unrelated self-signed certificates.
  EVP_PKEY* k1 = testing::CachedKey(TestKeyType::kEcP256);
  X509Ptr a = testing::IssueCertificate(LeafSpec("a.example.com"), k1, nullptr, k1);
  X509Ptr b = testing::IssueCertificate(LeafSpec("b.example.com"), k1, nullptr, k1);
  ExpectError(CheckChainOrder(ChainOf({a.get(), b.get()})), ErrorCode::kChainUnrelated,
              "certificate 2 (CN=b.example.com) is not part of the chain");
}

TEST(CertificateChainOrderTest, DuplicateCertificateIsNamed) {
  TestChain c = AppChain();
  ExpectError(CheckChainOrder(ChainOf({c.leaf.get(), c.intermediate.get(), c.intermediate.get()})),
              ErrorCode::kChainUnrelated,
              "certificates 2 and 3 are the same certificate (CN=Certgate Test Intermediate CA): "
              "remove certificate 3");
  // A repeated self-signed root would otherwise pass the pairwise check.
  ExpectError(
      CheckChainOrder(ChainOf({c.leaf.get(), c.intermediate.get(), c.root.get(), c.root.get()})),
      ErrorCode::kChainUnrelated, "certificates 3 and 4 are the same certificate");
  ExpectError(CheckChainOrder(ChainOf({c.leaf.get(), c.leaf.get()})), ErrorCode::kChainUnrelated,
              "certificates 1 and 2 are the same certificate (CN=app.example.com)");
}

// Two CAs that cross-signed each other, and a leaf issued by the first:
// a_by_b (subject A, signed by B's key), b_by_a (subject B, signed by A's key).
struct CrossSigned {
  X509Ptr leaf, a_by_b, b_by_a, a_self;
};
CrossSigned CrossSignedCas() {
  EVP_PKEY* a_key = testing::CachedKey(TestKeyType::kEcP256);
  EVP_PKEY* b_key = testing::CachedKey(TestKeyType::kEcP384);
  CertSpec a;
  a.common_name = "CA A";
  a.is_ca = true;
  a.extended_key_usage = std::nullopt;
  CertSpec b = a;
  b.common_name = "CA B";
  CrossSigned out;
  out.a_self = testing::IssueCertificate(a, a_key, nullptr, a_key);
  X509Ptr b_self = testing::IssueCertificate(b, b_key, nullptr, b_key);
  out.a_by_b = testing::IssueCertificate(a, a_key, b_self.get(), b_key);
  out.b_by_a = testing::IssueCertificate(b, b_key, out.a_self.get(), a_key);
  out.leaf = testing::IssueCertificate(LeafSpec(), testing::CachedKey(TestKeyType::kEd25519),
                                       out.a_self.get(), a_key);
  return out;
}

TEST(CertificateChainOrderTest, CrossSignedCasAloneAreFine) {
  CrossSigned x = CrossSignedCas();
  ExpectOk(CheckChainOrder(ChainOf({x.leaf.get(), x.a_by_b.get()})));
  ExpectOk(CheckChainOrder(ChainOf({x.leaf.get(), x.a_self.get()})));
}

// Each certificate is issued by the next, so this passed the order check
// before loops were refused; a path builder can go A, B, A, B, ... forever.
TEST(CertificateChainOrderTest, RefusesTwoCasThatIssueEachOther) {
  CrossSigned x = CrossSignedCas();
  ExpectError(CheckChainOrder(ChainOf({x.leaf.get(), x.a_by_b.get(), x.b_by_a.get()})),
              ErrorCode::kChainLoop,
              "the chain loops: certificate 2 (CN=CA A) is issued by certificate 3 (CN=CA B), "
              "which is issued by certificate 2 again; a chain must end at a root or at the last "
              "intermediate: remove certificate 3");
  // Out of order too: the loop is named (not an order that still loops), and
  // the certificate to remove is the one the leaf's chain does not need.
  ExpectError(CheckChainOrder(ChainOf({x.leaf.get(), x.b_by_a.get(), x.a_by_b.get()})),
              ErrorCode::kChainLoop,
              "certificate 3 (CN=CA A) is issued by certificate 2 (CN=CA B), which is issued by "
              "certificate 3 again; a chain must end at a root or at the last intermediate: "
              "remove certificate 2");
  ExpectError(CheckChainOrder(ChainOf({x.b_by_a.get(), x.leaf.get(), x.a_by_b.get()})),
              ErrorCode::kChainLoop, "remove certificate 1");
  // Without a leaf.
  ExpectError(CheckChainOrder(ChainOf({x.a_by_b.get(), x.b_by_a.get()})), ErrorCode::kChainLoop,
              "remove certificate 2");
}

// The same CA twice: A self-signed and A signed by B have the same subject
// and key, so either can follow the leaf; with both, a path can pass A twice.
TEST(CertificateChainOrderTest, RefusesTheSameCaTwice) {
  CrossSigned x = CrossSignedCas();
  ExpectError(CheckChainOrder(ChainOf({x.leaf.get(), x.a_by_b.get(), x.a_self.get()})),
              ErrorCode::kChainUnrelated,
              "certificates 2 and 3 are both for CN=CA A with the same key (the same CA twice): "
              "remove certificate 3");
  ExpectError(CheckChainOrder(ChainOf({x.leaf.get(), x.a_self.get(), x.a_by_b.get()})),
              ErrorCode::kChainUnrelated, "remove certificate 3");
  // A, B, A again: reported as the repeat first; without it, as the loop.
  ExpectError(CheckChainOrder(ChainOf({x.leaf.get(), x.a_by_b.get(), x.b_by_a.get(),
                                       x.a_self.get()})),
              ErrorCode::kChainUnrelated, "certificates 2 and 4 are both for CN=CA A");
}

// ---------------------------------------------------------------------------
// CheckLeafUsableForServer.

Chain LeafChain(const CertSpec& spec) {
  TestChain c = MakeChain(TestKeyType::kEcP256, spec);
  return ChainOf({c.leaf.get(), c.intermediate.get()});
}

TEST(CertificateLeafTest, AcceptsAnOrdinaryServerCertificate) {
  ExpectOk(CheckLeafUsableForServer(LeafChain(LeafSpec()), test::Now()));
}

TEST(CertificateLeafTest, RefusesAnExpiredLeafNamingTheDate) {
  CertSpec spec = LeafSpec();
  spec.not_before_offset = -std::chrono::hours(48);
  spec.not_after_offset = -std::chrono::hours(1);
  Chain chain = LeafChain(spec);
  const Time not_after = DescribeCertificate(chain.leaf()).not_after;
  ExpectError(CheckLeafUsableForServer(chain, test::Now()), ErrorCode::kLeafExpired,
              "the leaf certificate (CN=app.example.com) expired on " + FormatRfc3339(not_after) +
                  ": renew it");
}

TEST(CertificateLeafTest, ExpiryBoundaryIsNotAfter) {
  Chain chain = LeafChain(LeafSpec());
  const Time not_after = DescribeCertificate(chain.leaf()).not_after;
  ExpectOk(CheckLeafUsableForServer(chain, not_after - std::chrono::seconds(1)));
  ExpectError(CheckLeafUsableForServer(chain, not_after), ErrorCode::kLeafExpired, "expired on");
}

TEST(CertificateLeafTest, RefusesALeafNotYetValidBeyondClockSkew) {
  CertSpec spec = LeafSpec();
  spec.not_before_offset = std::chrono::minutes(10);
  Chain chain = LeafChain(spec);
  const Time not_before = DescribeCertificate(chain.leaf()).not_before;
  ExpectError(
      CheckLeafUsableForServer(chain, test::Now()), ErrorCode::kLeafNotYetValid,
      "the leaf certificate (CN=app.example.com) is not valid until " + FormatRfc3339(not_before));
}

TEST(CertificateLeafTest, AcceptsALeafStartingWithinClockSkew) {
  CertSpec spec = LeafSpec();
  spec.not_before_offset = std::chrono::minutes(2);
  Chain chain = LeafChain(spec);
  ExpectOk(CheckLeafUsableForServer(chain, test::Now()));
  const Time not_before = DescribeCertificate(chain.leaf()).not_before;
  ExpectOk(CheckLeafUsableForServer(chain, not_before - std::chrono::minutes(5)));
  ExpectError(CheckLeafUsableForServer(
                  chain, not_before - std::chrono::minutes(5) - std::chrono::seconds(1)),
              ErrorCode::kLeafNotYetValid, "is not valid until");
}

TEST(CertificateLeafTest, RefusesClientOnlyExtendedKeyUsage) {
  CertSpec spec = LeafSpec();
  spec.extended_key_usage = "clientAuth";
  ExpectError(CheckLeafUsableForServer(LeafChain(spec), test::Now()), ErrorCode::kLeafNotForServer,
              "the leaf certificate (CN=app.example.com) has extendedKeyUsage without serverAuth "
              "(it has: client_auth)");
  spec.extended_key_usage = "codeSigning,1.3.6.1.4.1.55555.1";
  ExpectError(CheckLeafUsableForServer(LeafChain(spec), test::Now()), ErrorCode::kLeafNotForServer,
              "(it has: code_signing, 1.3.6.1.4.1.55555.1)");
}

TEST(CertificateLeafTest, AcceptsServerAuthAmongOthersAndAnyExtendedKeyUsage) {
  CertSpec spec = LeafSpec();
  spec.extended_key_usage = "clientAuth,serverAuth";
  ExpectOk(CheckLeafUsableForServer(LeafChain(spec), test::Now()));
  spec.extended_key_usage = "anyExtendedKeyUsage";
  ExpectOk(CheckLeafUsableForServer(LeafChain(spec), test::Now()));
}

TEST(CertificateLeafTest, RefusesKeyUsageWithoutDigitalSignature) {
  CertSpec spec = LeafSpec();
  spec.key_usage = "keyEncipherment";
  ExpectError(CheckLeafUsableForServer(LeafChain(spec), test::Now()), ErrorCode::kLeafNotForServer,
              "the leaf certificate (CN=app.example.com) has keyUsage without digitalSignature "
              "(it has: key_encipherment)");
}

TEST(CertificateLeafTest, AcceptsLeafWithoutKeyUsageExtensions) {
  CertSpec spec = LeafSpec();
  spec.key_usage = std::nullopt;
  spec.extended_key_usage = std::nullopt;
  ExpectOk(CheckLeafUsableForServer(LeafChain(spec), test::Now()));
}

// ---------------------------------------------------------------------------
// DescribeCertificate, DescribeChain, EncodeChainPem.

TEST(CertificateDescribeTest, DescribesEveryField) {
  CertSpec spec;
  spec.common_name = "app.example.com";
  spec.dns_names = {"app.example.com", "*.example.com"};
  spec.ips = {"192.0.2.1", "2001:db8:0:0:0:0:0:1"};
  spec.key_usage = "digitalSignature,keyEncipherment,keyAgreement";
  spec.extended_key_usage = "serverAuth,clientAuth,1.3.6.1.4.1.55555.7";
  spec.not_before_offset = -std::chrono::hours(2);
  spec.not_after_offset = std::chrono::hours(24 * 30);
  spec.organization = "Example Corp";
  spec.organizational_unit = "Edge";
  spec.locality = "Berlin";
  spec.province = "Berlin State";
  spec.country = "DE";
  spec.serial = {0x01, 0xab};
  const Time now = test::Now();
  TestChain c = MakeChain(TestKeyType::kEcP256, spec);

  const CertificateInfo info = DescribeCertificate(c.leaf.get());
  EXPECT_EQ(info.subject_common_name, "app.example.com");
  EXPECT_THAT(info.dns_names, ElementsAre("app.example.com", "*.example.com"));
  EXPECT_THAT(info.ips, ElementsAre("192.0.2.1", "2001:db8::1"));
  EXPECT_NEAR(ToUnixSeconds(info.not_before), ToUnixSeconds(now - std::chrono::hours(2)), 5);
  EXPECT_NEAR(ToUnixSeconds(info.not_after), ToUnixSeconds(now + std::chrono::hours(24 * 30)), 5);
  EXPECT_THAT(info.key_usages,
              ElementsAre("digital_signature", "key_encipherment", "key_agreement"));
  EXPECT_THAT(info.extended_key_usages,
              ElementsAre("server_auth", "client_auth", "1.3.6.1.4.1.55555.7"));
  EXPECT_EQ(info.private_key_type, "ecdsa");
  EXPECT_EQ(info.issuer_common_name, "Certgate Test Intermediate CA");
  EXPECT_EQ(info.serial_number, "01ab");
  EXPECT_EQ(info.subject_organization, "Example Corp");
  EXPECT_EQ(info.subject_organizational_unit, "Edge");
  EXPECT_EQ(info.subject_locality, "Berlin");
  EXPECT_EQ(info.subject_province, "Berlin State");
  EXPECT_EQ(info.subject_country, "DE");
  EXPECT_EQ(ERR_peek_error(), 0UL);
}

TEST(CertificateDescribeTest, NamesAllKeyUsagesInBitOrder) {
  CertSpec spec = LeafSpec();
  spec.key_usage =
      "decipherOnly,encipherOnly,cRLSign,keyCertSign,keyAgreement,dataEncipherment,"
      "keyEncipherment,nonRepudiation,digitalSignature";
  TestChain c = MakeChain(TestKeyType::kEcP256, spec);
  const CertificateInfo info = DescribeCertificate(c.leaf.get());
  EXPECT_THAT(info.key_usages,
              ElementsAre("digital_signature", "content_commitment", "key_encipherment",
                          "data_encipherment", "key_agreement", "cert_sign", "crl_sign",
                          "encipher_only", "decipher_only"));
}

TEST(CertificateDescribeTest, NamesAllExtendedKeyUsagesInCertificateOrder) {
  CertSpec spec = LeafSpec();
  spec.extended_key_usage =
      "anyExtendedKeyUsage,serverAuth,clientAuth,codeSigning,emailProtection,ipsecEndSystem,"
      "ipsecTunnel,ipsecUser,timeStamping,OCSPSigning,1.2.3.4.5";
  TestChain c = MakeChain(TestKeyType::kEcP256, spec);
  EXPECT_THAT(DescribeCertificate(c.leaf.get()).extended_key_usages,
              ElementsAre("any", "server_auth", "client_auth", "code_signing", "email_protection",
                          "ipsec_end_system", "ipsec_tunnel", "ipsec_user", "time_stamping",
                          "ocsp_signing", "1.2.3.4.5"));
}

TEST(CertificateDescribeTest, EmptyWhenExtensionsAndAttributesAreAbsent) {
  CertSpec spec;
  spec.common_name = "";
  spec.key_usage = std::nullopt;
  spec.extended_key_usage = std::nullopt;
  spec.organization = "Only O";
  TestChain c = MakeChain(TestKeyType::kEcP256, spec);
  const CertificateInfo info = DescribeCertificate(c.leaf.get());
  EXPECT_EQ(info.subject_common_name, "");
  EXPECT_TRUE(info.dns_names.empty());
  EXPECT_TRUE(info.ips.empty());
  EXPECT_TRUE(info.key_usages.empty());
  EXPECT_TRUE(info.extended_key_usages.empty());
  EXPECT_EQ(info.subject_organization, "Only O");
  EXPECT_EQ(info.subject_country, "");
}

TEST(CertificateDescribeTest, SerialIsTheMagnitudeInLowerCaseHex) {
  struct Case {
    std::vector<uint8_t> serial;
    std::string hex;
  };
  const std::vector<Case> cases = {
      {{0x01, 0xab}, "01ab"},
      {{0x7f}, "7f"},
      {{0x00, 0x81}, "81"},  // the DER sign byte is not part of the value
      {{0xde, 0xad, 0xbe, 0xef, 0x00, 0x01}, "deadbeef0001"},
  };
  for (const auto& c : cases) {
    CertSpec spec = LeafSpec();
    spec.serial = c.serial;
    EXPECT_EQ(DescribeCertificate(MakeChain(TestKeyType::kEcP256, spec).leaf.get()).serial_number,
              c.hex);
  }
  // Random serials are 16 bytes.
  EXPECT_EQ(DescribeCertificate(AppChain().leaf.get()).serial_number.size(), 32u);
}

TEST(CertificateDescribeTest, JoinsRepeatedSubjectAttributes) {
  TestChain c = AppChain();
  X509_NAME* subject = X509_get_subject_name(c.leaf.get());
  const auto* second = reinterpret_cast<const unsigned char*>("Second Org");
  const auto* first = reinterpret_cast<const unsigned char*>("First Org");
  ASSERT_EQ(
      X509_NAME_add_entry_by_NID(subject, NID_organizationName, MBSTRING_UTF8, first, -1, -1, 0),
      1);
  ASSERT_EQ(
      X509_NAME_add_entry_by_NID(subject, NID_organizationName, MBSTRING_UTF8, second, -1, -1, 0),
      1);
  EXPECT_EQ(DescribeCertificate(c.leaf.get()).subject_organization, "First Org, Second Org");
}

TEST(CertificateDescribeTest, PrivateKeyTypeFollowsTheLeafKey) {
  struct Case {
    TestKeyType type;
    std::string name;
  };
  for (const auto& c : std::vector<Case>{{TestKeyType::kRsa2048, "rsa"},
                                         {TestKeyType::kEcP256, "ecdsa"},
                                         {TestKeyType::kEcP384, "ecdsa"},
                                         {TestKeyType::kEcP521, "ecdsa"},
                                         {TestKeyType::kEd25519, "ed25519"},
                                         {TestKeyType::kEd448, ""}}) {
    TestChain chain = MakeChain(c.type, LeafSpec());
    EXPECT_EQ(DescribeCertificate(chain.leaf.get()).private_key_type, c.name) << c.name;
  }
}

TEST(CertificateDescribeTest, DescribeChainGivesSubjectsIssuersAndFingerprints) {
  TestChain c = AppChain();
  const Chain chain = ChainOf({c.leaf.get(), c.intermediate.get(), c.root.get()});
  const auto entries = DescribeChain(chain);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].subject, "CN=app.example.com");
  EXPECT_EQ(entries[0].issuer, "CN=Certgate Test Intermediate CA,O=Certgate Test");
  EXPECT_EQ(entries[1].subject, "CN=Certgate Test Intermediate CA,O=Certgate Test");
  EXPECT_EQ(entries[2].subject, entries[2].issuer);
  EXPECT_EQ(entries[0].not_after, DescribeCertificate(c.leaf.get()).not_after);
  EXPECT_EQ(entries[0].not_before, DescribeCertificate(c.leaf.get()).not_before);

  // Independently: SHA-256 over the DER.
  const auto der = test::CertDer(c.leaf.get());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  ASSERT_EQ(EVP_Digest(der.data(), der.size(), md, &len, EVP_sha256(), nullptr), 1);
  std::string expected;
  for (unsigned int i = 0; i < len; ++i) {
    char hex[4];
    std::snprintf(hex, sizeof(hex), i == 0 ? "%02x" : ":%02x", md[i]);
    expected += hex;
  }
  EXPECT_EQ(entries[0].sha256_fingerprint, expected);
  EXPECT_EQ(expected.size(), 95u);
}

TEST(CertificateDescribeTest, UnicodeNamesAreKeptReadable) {
  CertSpec spec = LeafSpec("bücher.example");
  spec.dns_names = {"xn--bcher-kva.example"};
  TestChain c = MakeChain(TestKeyType::kEcP256, spec);
  EXPECT_EQ(DescribeCertificate(c.leaf.get()).subject_common_name, "bücher.example");
  EXPECT_EQ(DescribeChain(ChainOf({c.leaf.get()}))[0].subject, "CN=bücher.example");
}

TEST(CertificateDescribeTest, EncodeChainPemRoundTrips) {
  TestChain c = AppChain();
  auto parsed = ParseCertificateBundle(test::Crlf("\n" + c.BundleWithRootPem() + "\n\n"));
  ASSERT_TRUE(parsed.ok());
  const std::string pem = EncodeChainPem(*parsed);
  EXPECT_EQ(pem, c.BundleWithRootPem());
  EXPECT_TRUE(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
  EXPECT_TRUE(pem.ends_with("-----END CERTIFICATE-----\n"));
  auto again = ParseCertificateBundle(pem);
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->certs.size(), 3u);
  for (size_t i = 0; i < 3; ++i)
    EXPECT_EQ(X509_cmp(again->certs[i].get(), parsed->certs[i].get()), 0);
  EXPECT_EQ(EncodeChainPem(*again), pem);
}

TEST(CertificateCoversDomainTest, ExactAndWildcardNames) {
  CertSpec spec;
  spec.common_name = "not-a-san.example.com";
  spec.dns_names = {"app.example.com", "*.apps.example.com"};
  TestChain c = MakeChain(TestKeyType::kEcP256, spec);
  X509* leaf = c.leaf.get();
  EXPECT_TRUE(CertificateCoversDomain(leaf, "app.example.com"));
  EXPECT_TRUE(CertificateCoversDomain(leaf, "one.apps.example.com"));
  EXPECT_TRUE(CertificateCoversDomain(leaf, "*.apps.example.com"));
  EXPECT_FALSE(CertificateCoversDomain(leaf, "two.one.apps.example.com"));
  EXPECT_FALSE(CertificateCoversDomain(leaf, "apps.example.com"));
  EXPECT_FALSE(CertificateCoversDomain(leaf, "*.example.com"));
  EXPECT_FALSE(CertificateCoversDomain(leaf, "other.example.com"));
  EXPECT_FALSE(CertificateCoversDomain(leaf, "not-a-san.example.com")) << "the CN does not count";
}

}  // namespace
}  // namespace certgate::pki
