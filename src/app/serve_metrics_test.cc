// The /metrics endpoint: GET renders the registry for loopback clients (IPv4,
// IPv6 and IPv4-mapped) that were not forwarded by a proxy, 403 for any
// other client unless the listener is --metrics-listen's, 405 for other
// methods, and other paths are left to the API.
// (tests/integration/observability_test.cc scrapes a live server.)
#include "app/serve_metrics.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

namespace certgate::app {
namespace {

namespace http = api::http;

api::Request Get(std::string target, http::verb method = http::verb::get) {
  api::Request req{method, target, 11};
  return req;
}

api::RequestContext From(const std::string& address) {
  api::RequestContext ctx;
  ctx.remote = api::tcp::endpoint(boost::asio::ip::make_address(address), 40000);
  return ctx;
}

class MetricsEndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_.AddCounter("certgate_test_total", "A test counter.").Get().Inc(2);
  }
  metrics::Registry registry_;
};

TEST_F(MetricsEndpointTest, LoopbackClientsGetTheRenderedRegistry) {
  for (const char* address : {"127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"}) {
    auto res = MetricsEndpoint(registry_, Get("/metrics"), From(address), true);
    ASSERT_TRUE(res.has_value()) << address;
    EXPECT_EQ(res->result(), http::status::ok) << address;
    EXPECT_EQ((*res)[http::field::content_type], metrics::kContentType);
    EXPECT_NE(res->body().find("certgate_test_total 2\n"), std::string::npos) << res->body();
  }
  auto with_query = MetricsEndpoint(registry_, Get("/metrics?x=1"), From("127.0.0.1"), true);
  ASSERT_TRUE(with_query.has_value());
  EXPECT_EQ(with_query->result(), http::status::ok);
}

TEST_F(MetricsEndpointTest, OtherClientsAreRefusedUnlessTheListenerIsForMetrics) {
  for (const char* address : {"192.0.2.10", "2001:db8::1", "::ffff:192.0.2.10"}) {
    auto res = MetricsEndpoint(registry_, Get("/metrics"), From(address), true);
    ASSERT_TRUE(res.has_value()) << address;
    EXPECT_EQ(res->result(), http::status::forbidden) << address;
    EXPECT_NE(res->body().find("--metrics-listen"), std::string::npos) << res->body();
    EXPECT_EQ(res->body().find("certgate_test_total"), std::string::npos);
  }
  // A reverse proxy on this machine connects from loopback: a forwarded
  // request is someone else's.
  for (const char* header : {"X-Forwarded-For", "Forwarded", "X-Real-IP", "Via"}) {
    api::Request proxied = Get("/metrics");
    proxied.set(header, "203.0.113.7");
    auto res = MetricsEndpoint(registry_, proxied, From("127.0.0.1"), true);
    ASSERT_TRUE(res.has_value()) << header;
    EXPECT_EQ(res->result(), http::status::forbidden) << header;
  }
  auto open = MetricsEndpoint(registry_, Get("/metrics"), From("192.0.2.10"), false);
  ASSERT_TRUE(open.has_value());
  EXPECT_EQ(open->result(), http::status::ok);
}

TEST_F(MetricsEndpointTest, OtherMethodsAndPathsAreNotItsToAnswer) {
  auto post = MetricsEndpoint(registry_, Get("/metrics", http::verb::post), From("127.0.0.1"), true);
  ASSERT_TRUE(post.has_value());
  EXPECT_EQ(post->result(), http::status::method_not_allowed);
  EXPECT_EQ((*post)[http::field::allow], "GET, HEAD");
  EXPECT_FALSE(MetricsEndpoint(registry_, Get("/metricsx"), From("127.0.0.1"), true).has_value());
  EXPECT_FALSE(
      MetricsEndpoint(registry_, Get("/tls_certificates"), From("127.0.0.1"), true).has_value());
}

TEST(SoonestExpiriesTest, KeepsTheCertificatesThatExpireSoonest) {
  std::vector<store::CertificateExpiry> uploaded;
  const Time base = FromUnixSeconds(1'800'000'000);
  for (int i = 0; i < 1500; ++i) {
    store::CertificateExpiry c;
    c.id = "cert_" + std::to_string(10000 + i);
    c.account_id = "acct_1";
    // Every other one expires within the first thousand seconds.
    c.not_after = base + std::chrono::seconds(i % 2 == 0 ? i / 2 : 1'000'000 + i);
    uploaded.push_back(c);
  }
  const auto samples = SoonestExpiries(uploaded, 1000);
  ASSERT_EQ(samples.size(), 1000u);
  double latest = 0;
  for (const auto& s : samples) latest = std::max(latest, s.value);
  // The 750 early ones, then the 250 soonest of the late ones.
  EXPECT_EQ(latest, 1'800'000'000.0 + 1'000'000 + 499);
  EXPECT_EQ(SoonestExpiries(std::vector<store::CertificateExpiry>(uploaded.begin(),
                                                                  uploaded.begin() + 10),
                            1000)
                .size(),
            10u);
}

}  // namespace
}  // namespace certgate::app
