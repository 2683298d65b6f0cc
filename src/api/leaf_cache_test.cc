#include "api/leaf_cache.h"

#include <string>

#include <gtest/gtest.h>

#include "pki/certificate.h"
#include "pki/testing/cert_factory.h"

namespace certgate::api {
namespace {

using pki::testing::CertSpec;
using pki::testing::MakeChain;
using pki::testing::TestKeyType;

std::string Bundle(const std::string& name) {
  CertSpec spec;
  spec.common_name = name;
  spec.dns_names = {name};
  return MakeChain(TestKeyType::kEcP256, spec).BundlePem();
}

TEST(LeafCacheTest, ParsesEachCertificateOnceAndForgetsTheOldest) {
  LeafCache cache(2);
  auto first = cache.Leaf("cert_a", Bundle("a.example.com"));
  ASSERT_TRUE(first.ok()) << first.error().message;
  // The same id again is not parsed again: its stored chain never changes.
  auto again = cache.Leaf("cert_a", "not PEM at all");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->get(), first->get());
  EXPECT_TRUE(pki::CertificateCoversDomain(again->get(), "a.example.com"));

  ASSERT_TRUE(cache.Leaf("cert_b", Bundle("b.example.com")).ok());
  ASSERT_TRUE(cache.Leaf("cert_c", Bundle("c.example.com")).ok());
  EXPECT_EQ(cache.size(), 2u);
  // cert_a went first; its leaf lives on for whoever still holds it.
  EXPECT_FALSE(cache.Leaf("cert_a", "not PEM at all").ok());
  EXPECT_TRUE(pki::CertificateCoversDomain(first->get(), "a.example.com"));
}

TEST(LeafCacheTest, AChainThatDoesNotParseIsAnErrorAndNotKept) {
  LeafCache cache;
  auto bad = cache.Leaf("cert_x", "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace certgate::api
