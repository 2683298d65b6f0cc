#include "edge/snapshot.h"

#include <gtest/gtest.h>

namespace certgate::edge {
namespace {

store::Endpoint MakeEndpoint(const std::string& id, const std::string& scheme,
                             const std::string& host, const std::string& upstream,
                             const std::string& policy = "",
                             std::optional<std::string> policy_cert = std::nullopt) {
  store::Endpoint e;
  e.id = id;
  e.scheme = scheme;
  e.host = host;
  e.url = scheme + "://" + host;
  e.upstream = upstream;
  e.traffic_policy = policy;
  e.policy_certificate_id = std::move(policy_cert);
  return e;
}

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::EdgeState state;
    state.change_sequence = 7;
    state.domains = {{"app.example.com", "cert_exact"},
                     {"*.example.com", "cert_wild"},
                     {"pending.example.com", std::nullopt},
                     {"*.pending.example.net", std::nullopt},
                     {"other.example.org", "cert_other"}};
    state.endpoints = {
        MakeEndpoint("ep_https", "https", "app.example.com", "http://127.0.0.1:8080"),
        MakeEndpoint("ep_override", "https", "other.example.org", "http://127.0.0.1:8081",
                     R"({"on_tcp_connect":[{"actions":[{"type":"terminate-tls","config":{}}]}]})",
                     "cert_policy"),
        MakeEndpoint("ep_mtls", "tls", "x.example.com", "tcp://127.0.0.1:9000",
                     R"({"on_tcp_connect":[{"actions":[{"type":"terminate-tls",)"
                     R"("config":{"min_version":"1.3"}}]}]})"),
        MakeEndpoint("ep_pass", "tls", "pass.example.com", "tcp://127.0.0.1:9001"),
        MakeEndpoint("ep_broken", "https", "broken.example.com", "not a url"),
    };
    snap_ = Snapshot::Build(state, "cert_default");
  }
  std::shared_ptr<const Snapshot> snap_;
};

TEST_F(SnapshotTest, ExactThenWildcardThenDefault) {
  EXPECT_EQ(snap_->Select("app.example.com").certificate_id, "cert_exact");
  EXPECT_EQ(snap_->Select("www.example.com").certificate_id, "cert_wild");
  EXPECT_EQ(snap_->Select("unknown.test").certificate_id, "");
  EXPECT_EQ(snap_->Select("").certificate_id, "");
  EXPECT_EQ(snap_->default_certificate_id(), "cert_default");
  EXPECT_EQ(snap_->change_sequence(), 7);
}

TEST_F(SnapshotTest, AWildcardCoversExactlyOneLabel) {
  EXPECT_EQ(snap_->Select("a.b.example.com").certificate_id, "") << "two labels below";
  EXPECT_EQ(snap_->Select("example.com").certificate_id, "") << "its own base";
}

TEST_F(SnapshotTest, AnExactDomainWithoutCertificateFallsToTheWildcard) {
  EXPECT_EQ(snap_->Select("pending.example.com").certificate_id, "cert_wild");
  EXPECT_EQ(snap_->Select("a.pending.example.net").certificate_id, "");
}

TEST_F(SnapshotTest, TerminateTlsOverridesTheDomainsCertificate) {
  auto choice = snap_->Select("other.example.org");
  ASSERT_NE(choice.route, nullptr);
  ASSERT_NE(choice.policy, nullptr);
  EXPECT_EQ(choice.certificate_id, "cert_policy");
  EXPECT_EQ(choice.policy->key, "ep_override@7");
}

TEST_F(SnapshotTest, APolicyWithoutCertificateKeepsTheDomainSelection) {
  auto choice = snap_->Select("x.example.com");
  ASSERT_NE(choice.policy, nullptr);
  EXPECT_EQ(choice.certificate_id, "cert_wild");
  EXPECT_EQ(choice.policy->min_version, TLS1_3_VERSION);
  EXPECT_FALSE(choice.route->passthrough());
}

TEST_F(SnapshotTest, RoutesAndPassThrough) {
  const Route* https = snap_->FindRoute("app.example.com");
  ASSERT_NE(https, nullptr);
  EXPECT_TRUE(https->https);
  EXPECT_EQ(https->upstream.host, "127.0.0.1");
  EXPECT_EQ(https->upstream.port, 8080);
  const Route* pass = snap_->FindRoute("pass.example.com");
  ASSERT_NE(pass, nullptr);
  EXPECT_TRUE(pass->passthrough());
  EXPECT_TRUE(snap_->has_passthrough());
  EXPECT_EQ(snap_->FindRoute("broken.example.com"), nullptr) << "a broken endpoint is skipped";
}

TEST(UpstreamTest, ParsesTheThreeSchemes) {
  auto h = ParseUpstream("http://localhost");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->port, 80);
  auto s = ParseUpstream("https://[::1]:8443");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->host, "::1");
  EXPECT_EQ(s->port, 8443);
  EXPECT_TRUE(ParseUpstream("tcp://10.0.0.1:22").ok());
  EXPECT_FALSE(ParseUpstream("tcp://10.0.0.1").ok());
  EXPECT_FALSE(ParseUpstream("ftp://x:21").ok());
  EXPECT_FALSE(ParseUpstream("nonsense").ok());
}

}  // namespace
}  // namespace certgate::edge
