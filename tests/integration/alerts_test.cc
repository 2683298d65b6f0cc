// Alerts on a live `certgate serve`: a webhook receiver gets each event once,
// signed with the configured key, through a time when the receiver is down
// and a restart of certgate in between (the outbox is in the store).
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include <boost/json.hpp>

#include "notify/alerts.h"
#include "pki/testing/cert_factory.h"
#include "support/api_helpers.h"
#include "support/certgate_server.h"
#include "support/process.h"
#include "support/webhook_receiver.h"
#include "core/testing/temp_dir.h"

namespace certgate::testing {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

constexpr char kSecret[] = "alerts-test-signing-key";

// Uploads a certificate for name that expires in `left`; returns its id.
std::string Upload(const CertgateServer& server, const std::string& name,
                   std::chrono::hours left) {
  pki::testing::CertSpec spec;
  spec.common_name = name;
  spec.dns_names = {name};
  spec.not_after_offset = left;
  auto chain = pki::testing::MakeChain(pki::testing::TestKeyType::kEcP256, spec, false);
  ApiResult r =
      Call(server.Client(), verb::post, "/tls_certificates",
           UploadBody(chain.BundlePem(), pki::testing::KeyPemPkcs8(chain.leaf_key.get())));
  EXPECT_EQ(r.status, 201) << r.raw;
  return r.status == 201 ? std::string(r.json.at("id").as_string()) : "";
}

// The alerts received: certificate id -> threshold days, each checked for
// its signature; a second alert for the same (certificate, threshold) fails.
std::map<std::string, int64_t> Received(const WebhookReceiver& receiver) {
  std::map<std::string, int64_t> out;
  std::set<std::string> events;
  for (const auto& post : receiver.posts()) {
    EXPECT_EQ(post.target, "/hook");
    EXPECT_EQ(post.headers.at("content-type"), "application/json");
    EXPECT_EQ(post.headers.at("certgate-signature"), notify::Signature(kSecret, post.body))
        << "every alert is signed with the configured key";
    const auto json = boost::json::parse(post.body).as_object();
    EXPECT_EQ(json.at("type").as_string(), "certificate.expiring");
    const std::string id(json.at("id").as_string());
    EXPECT_TRUE(events.insert(id).second) << "event " << id << " delivered twice: " << post.body;
    const auto& data = json.at("data").as_object();
    out[std::string(data.at("certificate").at("id").as_string())] =
        data.at("threshold_days").as_int64();
  }
  return out;
}

TEST(AlertsTest, EachEventArrivesOnceSignedThroughAnOutageAndARestart) {
  WebhookReceiver receiver;
  TempDir dir("alerts");
  ServerOptions options = ServerOptions::InDir(dir.path() / "data");
  options.extra_args = {"--notify-webhook", receiver.url(), "--notify-retry-min", "1",
                        "--notify-scan-interval", "1"};
  options.env = {{"CERTGATE_NOTIFY_WEBHOOK_SECRET", kSecret}};
  auto server = CertgateServer::Start(options);
  ASSERT_NE(server, nullptr);
  const std::string key = server->api_key();

  // Inside 14 days when uploaded: one alert at once, for 14 (not for 30 too).
  const std::string first = Upload(*server, "first.example.com", hours(24 * 10));
  Upload(*server, "later.example.com", hours(24 * 90));  // nothing to say
  ASSERT_TRUE(receiver.WaitForPosts(1, seconds(30)));
  EXPECT_EQ(Received(receiver), (std::map<std::string, int64_t>{{first, 14}}));

  // The receiver goes down; two more certificates reach thresholds, one
  // before and one after certgate restarts.
  receiver.Stop();
  const std::string second = Upload(*server, "second.example.com", hours(24 * 5));
  // certgate tried and failed at least once before it stops.
  const auto deadline = std::chrono::steady_clock::now() + seconds(30);
  bool tried = false;
  while (!tried && std::chrono::steady_clock::now() < deadline) {
    std::ifstream log(server->stderr_path());
    std::string line;
    while (std::getline(log, line)) {
      if (line.find("notify: ") != std::string::npos &&
          line.find("failed (attempt 1)") != std::string::npos) {
        tried = true;
        // The webhook's host, never its path: paths often hold secrets.
        EXPECT_NE(line.find("http://127.0.0.1:" + std::to_string(receiver.port()) + "/…"),
                  std::string::npos)
            << line;
        EXPECT_EQ(line.find("/hook"), std::string::npos) << line;
      }
    }
    if (!tried) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(tried) << "no failed delivery attempt logged while the receiver was down";
  ASSERT_EQ(server->Stop(), 0);

  server = CertgateServer::Start(options);
  ASSERT_NE(server, nullptr);
  client::ApiClient client = server->Client(key);
  pki::testing::CertSpec spec;
  spec.common_name = "third.example.com";
  spec.dns_names = {"third.example.com"};
  spec.not_after_offset = hours(20);
  auto chain = pki::testing::MakeChain(pki::testing::TestKeyType::kEcP256, spec, false);
  ApiResult third = Call(client, verb::post, "/tls_certificates",
                         UploadBody(chain.BundlePem(),
                                    pki::testing::KeyPemPkcs8(chain.leaf_key.get())));
  ASSERT_EQ(third.status, 201) << third.raw;
  const std::string third_id(third.json.at("id").as_string());

  receiver.Start();
  ASSERT_TRUE(receiver.WaitForPosts(3, seconds(60)))
      << "got " << receiver.posts().size() << " alerts";
  // A few more scans and retries: nothing else arrives.
  std::this_thread::sleep_for(seconds(4));
  EXPECT_EQ(Received(receiver),
            (std::map<std::string, int64_t>{{first, 14}, {second, 7}, {third_id, 1}}));
  EXPECT_EQ(receiver.posts().size(), 3u);
  // This process delivered the two that waited, and the outbox is empty.
  const MetricSamples metrics = ScrapeMetrics(client);
  EXPECT_EQ(MetricStarting(metrics, "certgate_alerts_total{result=\"delivered\"}"), 2);
  EXPECT_EQ(MetricStarting(metrics, "certgate_alerts_undelivered"), 0);
  EXPECT_EQ(server->Stop(), 0);
}

TEST(AlertsTest, WebhooksWithoutASigningKeyRefuseToStart) {
  TempDir dir;
  RunResult r = RunCommand({CertgateBinary(), "serve", "--data-dir", dir.path().string(),
                            "--notify-webhook", "http://127.0.0.1:9/hook", "--api-listen",
                            "127.0.0.1:0", "--https-listen", "127.0.0.1:0", "--http-listen",
                            "127.0.0.1:0"},
                           {{"CERTGATE_NOTIFY_WEBHOOK_SECRET", ""}}, std::nullopt, seconds(30));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("CERTGATE_NOTIFY_WEBHOOK_SECRET"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("certgate ready"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace certgate::testing
