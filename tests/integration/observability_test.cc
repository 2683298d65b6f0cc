// What an operator watches, on a live `certgate serve`: /metrics, which
// promtool (from Debian's prometheus package; scripts/deps.sh unpacks it)
// accepts, and whose series count what happened after an upload, a reserved
// name and handshakes of each kind (--metrics-listen serves it too, and
// nothing else); /readyz; and --log-format json, every line of a run one
// JSON object, with no API key in any.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <string>

#include "core/time.h"
#include "pki/testing/cert_factory.h"
#include "support/api_helpers.h"
#include "support/certgate_server.h"
#include "support/edge_peers.h"
#include "support/process.h"

namespace certgate::testing {
namespace {

// Whether two spellings of a serial (openssl's and the API's) are the same
// number: case and leading zeros aside.
bool SameSerial(std::string a, std::string b) {
  for (std::string* s : {&a, &b}) {
    for (char& c : *s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    s->erase(0, std::min(s->find_first_not_of('0'), s->size()));
  }
  return a == b;
}

// promtool on the PATH, or where scripts/deps.sh unpacked it.
std::string Promtool() {
  RunResult which = RunCommand({"/bin/sh", "-c", "command -v promtool"});
  if (which.exit_code == 0 && !which.out.empty()) return which.out.substr(0, which.out.find('\n'));
  const char* cache = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  const std::filesystem::path base = cache != nullptr ? std::filesystem::path(cache)
                                     : home != nullptr
                                         ? std::filesystem::path(home) / ".cache"
                                         : std::filesystem::path("/nonexistent");
  return (base / "certgate/prometheus/usr/bin/promtool").string();
}

TEST(MetricsTest, PromtoolAcceptsTheSeriesAndTheyCountWhatHappened) {
  ServerOptions options;
  options.extra_args = {"--metrics-listen", "127.0.0.1:0"};
  auto server = CertgateServer::Start(options);
  ASSERT_NE(server, nullptr);
  // The address it printed: "metrics: http://127.0.0.1:PORT/metrics".
  const std::string out = server->process().Stdout();
  const size_t at = out.find("metrics: http://");
  ASSERT_NE(at, std::string::npos) << out;
  const std::string metrics_url = out.substr(at + 9, out.find('\n', at) - at - 9);

  // An uploaded certificate that expires in ten days, on a reserved name.
  pki::testing::CertSpec spec;
  spec.common_name = "soon.example.com";
  spec.dns_names = {"soon.example.com"};
  spec.not_after_offset = std::chrono::hours(24 * 10);
  auto chain = pki::testing::MakeChain(pki::testing::TestKeyType::kEcP256, spec, false);
  ApiResult uploaded =
      Call(server->Client(), verb::post, "/tls_certificates",
           UploadBody(chain.BundlePem(), pki::testing::KeyPemPkcs8(chain.leaf_key.get())));
  ASSERT_EQ(uploaded.status, 201) << uploaded.raw;
  const std::string cert_id(uploaded.json.at("id").as_string());
  const auto not_after = ParseRfc3339(std::string(uploaded.json.at("not_after").as_string()));
  ASSERT_TRUE(not_after.has_value());
  ApiResult reserved =
      Call(server->Client(), verb::post, "/reserved_domains",
           boost::json::object{{"domain", "soon.example.com"}, {"certificate_id", cert_id}});
  ASSERT_EQ(reserved.status, 201) << reserved.raw;

  // Handshakes: the name twice (its context built, then found), a name
  // nobody reserved (the default certificate), and a client that speaks
  // only TLS 1.1 (no version in common).
  // (The first handshakes may come before the edge has the new name: those
  // get the default certificate, and are counted so.)
  const std::string serial(uploaded.json.at("serial_number").as_string());
  ASSERT_TRUE(Eventually(
      [&] {
        std::string error;
        auto tls = TlsClient::Connect(server->https_port(),
                                      TlsClientOptions{.sni = "soon.example.com"}, &error);
        return tls != nullptr && SameSerial(tls->PeerSerial(), serial);
      },
      std::chrono::seconds(5)));
  std::string error;
  EXPECT_NE(TlsClient::Connect(server->https_port(), TlsClientOptions{.sni = "soon.example.com"},
                               &error),
            nullptr)
      << error;
  EXPECT_NE(TlsClient::Connect(server->https_port(),
                               TlsClientOptions{.sni = "nobody.example.net"}, &error),
            nullptr)
      << error;
  RunResult old = RunCommand({"/usr/bin/openssl", "s_client", "-connect",
                              "127.0.0.1:" + std::to_string(server->https_port()), "-tls1_1",
                              "-cipher", "DEFAULT@SECLEVEL=0", "-servername", "soon.example.com"},
                             {}, std::string());
  EXPECT_NE(old.exit_code, 0) << old.out;

  // The server counts a handshake a moment after the client sees it end.
  ApiResult scraped;
  Eventually(
      [&] {
        scraped = CallRaw(server->Client(), verb::get, "/metrics", "");
        const auto s = ParseMetrics(scraped.raw);
        return MetricStarting(s, "certgate_edge_handshakes_total{result=\"ok\"}").value_or(0) >=
                   2 &&
               MetricStarting(s, "certgate_edge_handshakes_total{result=\"version\"}")
                       .value_or(0) >= 1 &&
               MetricStarting(s, "certgate_edge_handshakes_total{result=\"default_certificate\"}")
                       .value_or(0) >= 1;
      },
      std::chrono::seconds(5));
  ASSERT_EQ(scraped.status, 200) << scraped.raw;
  EXPECT_EQ(scraped.http.Header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  RunResult lint = RunCommand({Promtool(), "check", "metrics"}, {}, scraped.raw);
  EXPECT_EQ(lint.exit_code, 0) << "promtool at " << Promtool() << ":\n"
                               << lint.out << lint.err << "\n"
                               << scraped.raw;

  const auto samples = ParseMetrics(scraped.raw);
  EXPECT_TRUE(MetricStarting(samples, "certgate_build_info{version=").has_value()) << scraped.raw;
  EXPECT_EQ(MetricStarting(samples, "certgate_certificates{source=\"uploaded\"}"), 1);
  EXPECT_GE(MetricStarting(samples, "certgate_certificates{source=\"service\"}").value_or(0), 1);
  EXPECT_EQ(MetricStarting(
                samples, "certgate_certificates_expiring{source=\"uploaded\",within_days=\"14\"}"),
            1);
  EXPECT_EQ(MetricStarting(samples,
                           "certgate_certificates_expiring{source=\"uploaded\",within_days=\"7\"}"),
            0);
  EXPECT_EQ(
      MetricStarting(samples, "certgate_certificate_expiry_timestamp_seconds{certificate_id=\"" +
                                  cert_id + "\""),
      static_cast<double>(ToUnixSeconds(*not_after)))
      << scraped.raw;
  EXPECT_EQ(MetricStarting(samples,
                           "certgate_certificate_earliest_expiry_timestamp_seconds{source="
                           "\"uploaded\"}"),
            static_cast<double>(ToUnixSeconds(*not_after)));
  EXPECT_GE(MetricStarting(samples, "certgate_edge_handshakes_total{result=\"ok\"}").value_or(0),
            2);
  EXPECT_GE(
      MetricStarting(samples, "certgate_edge_handshakes_total{result=\"default_certificate\"}")
          .value_or(0),
      1);
  EXPECT_GE(
      MetricStarting(samples, "certgate_edge_handshakes_total{result=\"version\"}").value_or(0), 1)
      << scraped.raw;
  EXPECT_GE(MetricStarting(samples, "certgate_edge_context_cache_misses_total").value_or(0), 1);
  EXPECT_GE(MetricStarting(samples, "certgate_edge_context_cache_hits_total").value_or(0), 1);
  EXPECT_GE(MetricStarting(samples, "certgate_edge_context_cache_entries").value_or(0), 1);
  EXPECT_GE(MetricStarting(samples, "certgate_api_responses_total{code=\"2xx\"}").value_or(0), 2);
  EXPECT_TRUE(MetricStarting(samples, "certgate_edge_feed_lag_changes").has_value());
  // The store's latency: the upload and the reserved name were writes; the
  // handshakes' certificates and the API's keys were reads.
  EXPECT_GE(MetricStarting(samples,
                           "certgate_store_operation_duration_seconds_count{operation=\"write\"}")
                .value_or(0),
            2);
  EXPECT_GE(MetricStarting(samples,
                           "certgate_store_operation_duration_seconds_count{operation=\"read\"}")
                .value_or(0),
            1);

  // The metrics listener: /metrics to anyone who reaches it, nothing else.
  RunResult there =
      RunCommand({"/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", metrics_url});
  EXPECT_EQ(there.out, "200") << metrics_url;
  const std::string other_url =
      metrics_url.substr(0, metrics_url.size() - std::string("metrics").size()) +
      "tls_certificates";
  RunResult other =
      RunCommand({"/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", other_url});
  EXPECT_EQ(other.out, "404") << other_url;
  // Through a proxy on this machine (a forwarded request), the API's
  // listener does not answer /metrics.
  ApiResult proxied = CallRaw(server->Client(), verb::get, "/metrics", "",
                              {{"X-Forwarded-For", "203.0.113.7"}});
  EXPECT_EQ(proxied.status, 403) << proxied.raw;

  ApiResult ready = CallRaw(server->Client(), verb::get, "/readyz", "");
  EXPECT_EQ(ready.status, 200) << ready.raw;
  EXPECT_EQ(ready.raw, "ready\n");
}

TEST(LogsTest, JsonLogsAreOneObjectPerLineAndNeverHoldTheApiKey) {
  ServerOptions options;
  options.extra_args = {"--log-format", "json", "--log-level", "debug"};
  auto server = CertgateServer::Start(options);
  ASSERT_NE(server, nullptr);
  const std::string key = server->api_key();
  ASSERT_FALSE(key.empty());
  // Some work to log: requests (one refused), an upload, handshakes.
  EXPECT_EQ(Call(server->Client(), verb::get, "/tls_certificates").status, 200);
  EXPECT_EQ(Call(server->Client("wrong-key"), verb::get, "/tls_certificates").status, 403);
  pki::testing::CertSpec spec;
  spec.common_name = "logged.example.com";
  spec.dns_names = {"logged.example.com"};
  auto chain = pki::testing::MakeChain(pki::testing::TestKeyType::kEcP256, spec, false);
  const std::string key_pem = pki::testing::KeyPemPkcs8(chain.leaf_key.get());
  EXPECT_EQ(Call(server->Client(), verb::post, "/tls_certificates",
                 UploadBody(chain.BundlePem(), key_pem))
                .status,
            201);
  std::string error;
  TlsClient::Connect(server->https_port(), TlsClientOptions{.sni = "nobody.example.net"}, &error);
  EXPECT_EQ(server->Stop(), 0);

  const std::string log = ReadFile(server->stderr_path());
  std::istringstream lines(log);
  size_t count = 0;
  size_t with_operation = 0;
  for (std::string line; std::getline(lines, line);) {
    ++count;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(line, ec);
    ASSERT_FALSE(ec) << "not JSON: " << line;
    ASSERT_TRUE(v.is_object()) << line;
    const auto& o = v.as_object();
    for (const char* field : {"time", "level", "component", "message"}) {
      EXPECT_TRUE(o.contains(field) && o.at(field).is_string()) << field << " in " << line;
    }
    if (o.contains("operation_id")) ++with_operation;
    EXPECT_EQ(line.find(key), std::string::npos) << "the API key in the log: " << line;
    EXPECT_EQ(line.find("PRIVATE KEY"), std::string::npos) << line;
  }
  EXPECT_GE(count, 5u) << log;
  EXPECT_GE(with_operation, 3u) << "each API request's line names its operation\n" << log;
}

}  // namespace
}  // namespace certgate::testing
