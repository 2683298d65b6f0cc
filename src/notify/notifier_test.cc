#include "notify/notifier.h"

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "core/ids.h"
#include "core/testing/fake_clock.h"
#include "store/testing/memory_store.h"

namespace certgate::notify {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

constexpr auto kDay = hours(24);
const Time kNow = FromUnixSeconds(1'750'000'000);
constexpr std::string_view kHook = "https://hooks.example/certgate";

store::Account MakeAccount() {
  store::Account a;
  a.id = NewId("acct");
  a.name = "Ada";
  a.plan = store::Plan::kPayg;
  a.created_at = kNow;
  return a;
}

store::Certificate MakeCert(const std::string& account_id, Time not_after, bool issued) {
  store::Certificate c;
  c.id = NewId("cert");
  c.account_id = account_id;
  c.created_at = kNow;
  c.certificate_pem = "-----BEGIN CERTIFICATE-----\n" + c.id + "\n-----END CERTIFICATE-----\n";
  if (issued) c.issued_at = kNow;
  c.not_before = not_after - 90 * kDay;
  c.not_after = not_after;
  c.subject_common_name = c.id + ".example.com";
  c.serial_number = "01";
  c.private_key.key_version = 1;
  c.private_key.blob = {1, 2, 3};
  return c;
}

store::Domain MakeDomain(const std::string& account_id, const std::string& name) {
  store::Domain d;
  d.id = NewId("rd");
  d.account_id = account_id;
  d.domain = name;
  d.created_at = kNow;
  d.policy = store::ManagementPolicy{};
  return d;
}

store::ProvisioningJob MakeJob(const store::Domain& d) {
  store::ProvisioningJob job;
  job.id = NewId("job");
  job.domain_id = d.id;
  job.account_id = d.account_id;
  job.domain = d.domain;
  job.started_at = kNow;
  job.next_run_at = kNow + hours(1);
  return job;
}

// What the fake webhook received, and what it answers next.
struct Receiver {
  std::mutex mu;
  std::vector<std::pair<std::map<std::string, std::string>, std::string>> posts;
  int answer = 204;

  PostFn Fn() {
    return [this](const http_client::HttpUrl&,
                  const std::vector<std::pair<std::string, std::string>>& headers,
                  const std::string& body) -> Result<int> {
      std::lock_guard lock(mu);
      if (answer == 0) return MakeError(ErrorCode::kIo, "connecting failed: Connection refused");
      posts.emplace_back(std::map<std::string, std::string>(headers.begin(), headers.end()),
                         body);
      return answer;
    };
  }
  std::vector<std::string> Types() {
    std::lock_guard lock(mu);
    std::vector<std::string> out;
    for (auto& [headers, body] : posts) {
      out.push_back(std::string(boost::json::parse(body).at("type").as_string()));
    }
    return out;
  }
};

class NotifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::Account account = MakeAccount();
    ASSERT_TRUE(store_.CreateAccount(account).ok());
    account_ = account.id;
  }

  std::unique_ptr<Notifier> Make(std::vector<std::string> hooks = {std::string(kHook)}) {
    NotifierOptions options;
    options.webhooks = std::move(hooks);
    options.node_id = "node_test";
    options.retry_min = seconds(10);
    auto made = Notifier::Create(options, SecretBytes::CopyOf(std::string_view("s3cret")),
                                 store_, clock_, receiver_.Fn());
    EXPECT_TRUE(made.ok()) << made.error().message;
    return made.ok() ? std::move(*made) : nullptr;
  }

  store::Certificate Uploaded(Time not_after) {
    store::Certificate c = MakeCert(account_, not_after, /*issued=*/false);
    EXPECT_TRUE(store_.InsertCertificate(c).ok());
    return c;
  }

  store::testing::MemoryStore store_;
  certgate::testing::FakeClock clock_{kNow};
  Receiver receiver_;
  std::string account_;
};

TEST(ExpiryThresholdTest, TheSmallestThresholdTheCertificateIsInside) {
  EXPECT_EQ(ExpiryThreshold(kNow + 31 * kDay, kNow), std::nullopt);
  EXPECT_EQ(ExpiryThreshold(kNow + 30 * kDay, kNow), 30);
  EXPECT_EQ(ExpiryThreshold(kNow + 10 * kDay, kNow), 14);
  EXPECT_EQ(ExpiryThreshold(kNow + 7 * kDay, kNow), 7);
  EXPECT_EQ(ExpiryThreshold(kNow + hours(5), kNow), 1);
  EXPECT_EQ(ExpiryThreshold(kNow - kDay, kNow), 1) << "expired";
}

TEST(SignatureTest, IsTheHmacSha256OfTheBody) {
  // RFC 4231 test case 2.
  EXPECT_EQ(Signature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_F(NotifierTest, AnUploadedCertificateAlertsOncePerThresholdItReaches) {
  auto notifier = Make();
  ASSERT_NE(notifier, nullptr);
  const store::Certificate cert = Uploaded(kNow + 10 * kDay);
  Uploaded(kNow + 60 * kDay);  // far from expiry: nothing

  ASSERT_EQ(*notifier->ScanOnce(), 1) << "inside 14 days when first seen: one alert, not two";
  EXPECT_EQ(*notifier->ScanOnce(), 0);
  EXPECT_EQ(*notifier->DeliverOnce(), 1);
  ASSERT_EQ(receiver_.posts.size(), 1u);
  const auto& [headers, body] = receiver_.posts[0];
  EXPECT_EQ(headers.at("Certgate-Signature"), Signature("s3cret", body));
  EXPECT_EQ(headers.at("Certgate-Event-Type"), "certificate.expiring");
  EXPECT_EQ(headers.at("Content-Type"), "application/json");
  auto json = boost::json::parse(body).as_object();
  EXPECT_EQ(json.at("type"), "certificate.expiring");
  EXPECT_EQ(json.at("account_id").as_string(), account_);
  EXPECT_EQ(json.at("data").at("threshold_days"), 14);
  EXPECT_EQ(json.at("data").at("days_left"), 10);
  EXPECT_EQ(json.at("data").at("certificate").at("id").as_string(), cert.id);

  // Four days later: the 7-day alert, once.
  clock_.Advance(4 * kDay);
  EXPECT_EQ(*notifier->ScanOnce(), 1);
  EXPECT_EQ(*notifier->ScanOnce(), 0);
  EXPECT_EQ(*notifier->DeliverOnce(), 1);
  EXPECT_EQ(*notifier->DeliverOnce(), 0);
  ASSERT_EQ(receiver_.posts.size(), 2u);
  EXPECT_EQ(boost::json::parse(receiver_.posts[1].second).at("data").at("threshold_days"), 7);

  // Another notifier over the same outbox (a restart, another node) adds nothing.
  auto other = Make();
  EXPECT_EQ(*other->ScanOnce(), 0);
}

TEST_F(NotifierTest, AFailedDeliveryIsRetriedAfterItsBackoffAndNotBefore) {
  auto notifier = Make();
  Uploaded(kNow + 3 * kDay);
  ASSERT_EQ(*notifier->ScanOnce(), 1);
  receiver_.answer = 0;  // down
  EXPECT_EQ(*notifier->DeliverOnce(), 1) << "claimed and attempted";
  EXPECT_EQ(notifier->stats().failed, 1u);
  EXPECT_EQ(*notifier->DeliverOnce(), 0) << "not due yet";
  receiver_.answer = 500;
  clock_.Advance(seconds(10));
  notifier->DeliverOnce().value();
  EXPECT_EQ(notifier->stats().failed, 2u);
  clock_.Advance(seconds(19));
  EXPECT_EQ(*notifier->DeliverOnce(), 0) << "the second retry waits 20 s";
  receiver_.answer = 200;
  clock_.Advance(seconds(1));
  notifier->DeliverOnce().value();
  EXPECT_EQ(notifier->stats().delivered, 1u);
  EXPECT_EQ(*store_.CountUndeliveredNotifications(), 0);
  // The body is the same every time: one event id.
  ASSERT_EQ(receiver_.posts.size(), 2u);
  EXPECT_EQ(receiver_.posts[0].second, receiver_.posts[1].second);
}

TEST_F(NotifierTest, EachNodeDeliversOnlyToItsOwnWebhooksAndGivesUpAfterAWeek) {
  auto two = Make({std::string(kHook), "https://second.example/hook"});
  Uploaded(kNow + 3 * kDay);
  ASSERT_EQ(*two->ScanOnce(), 2);
  // A node that knows only the first webhook delivers only to it; the
  // second's alert waits for a node that knows it.
  auto one = Make();
  one->DeliverOnce().value();
  EXPECT_EQ(one->stats().delivered, 1u);
  EXPECT_EQ(one->stats().abandoned, 0u);
  EXPECT_EQ(*store_.CountUndeliveredNotifications(), 1);
  // The second webhook is down for more than a week: then given up on, and
  // no longer counted as waiting.
  receiver_.answer = 503;
  for (int i = 0; i < 200 && two->stats().abandoned == 0; ++i) {
    two->DeliverOnce().value();
    clock_.Advance(hours(1));
  }
  EXPECT_EQ(two->stats().abandoned, 1u);
  EXPECT_GE(two->stats().failed, 100u) << "retried all week long, hourly at most";
  EXPECT_EQ(*store_.CountUndeliveredNotifications(), 0);
  clock_.Advance(hours(24));
  EXPECT_EQ(*two->DeliverOnce(), 0) << "an abandoned alert is not attempted again";
}

TEST_F(NotifierTest, ARenewalThatKeepsFailingLateInTheCertificatesLifeAlerts) {
  auto notifier = Make();
  // A managed domain whose certificate has 20 of 90 days left.
  store::Domain domain = MakeDomain(account_, "renew.example.com");
  store::Certificate current = MakeCert(account_, kNow + 20 * kDay, /*issued=*/true);
  ASSERT_TRUE(store_.InsertCertificate(current).ok());
  domain.certificate_id = current.id;
  ASSERT_TRUE(store_.InsertDomain(domain).ok());
  store::ProvisioningJob job = MakeJob(domain);
  job.renewal = true;
  job.failures = 1;
  job.error_code = "DNS_ERROR";
  job.msg = "create the CNAME record renew.example.com pointing at x.certgate.localhost";
  ASSERT_TRUE(*store_.InsertProvisioningJob(job));

  // The runner reports the failure: a missing record alerts at once, other
  // failures (a CA's refusal, a failed validation) do not.
  notifier->OnJobFailure(job, MakeError(ErrorCode::kAcmeOrderFailed, "CAA forbids it"));
  EXPECT_EQ(*store_.CountUndeliveredNotifications(), 0);
  notifier->OnJobFailure(job, MakeError(ErrorCode::kDnsRecordMissing, job.msg));
  notifier->OnJobFailure(job, MakeError(ErrorCode::kDnsRecordMissing, job.msg));
  EXPECT_EQ(*store_.CountUndeliveredNotifications(), 1) << "once per renewal";
  // One failure is not yet "keeps failing".
  EXPECT_EQ(*notifier->ScanOnce(), 0);
  job.failures = 2;
  job.error_code = "INTERNAL_ERROR";
  ASSERT_TRUE(*store_.DeleteProvisioningJob(job.id));
  ASSERT_TRUE(*store_.InsertProvisioningJob(job));
  EXPECT_EQ(*notifier->ScanOnce(), 1);
  EXPECT_EQ(*notifier->ScanOnce(), 0);
  while (*notifier->DeliverOnce() > 0) {
  }
  EXPECT_EQ(receiver_.Types(),
            (std::vector<std::string>{"domain.cname_missing", "certificate.renewal_failing"}));
  auto failing = boost::json::parse(receiver_.posts[1].second).as_object();
  EXPECT_EQ(failing.at("data").at("domain").at("domain"), "renew.example.com");
  EXPECT_EQ(failing.at("data").at("failures"), 2);
  // A first order that fails is no renewal: nothing to say here.
  store::ProvisioningJob first = job;
  first.renewal = false;
  notifier->OnJobFailure(first, MakeError(ErrorCode::kDnsRecordMissing, job.msg));
  EXPECT_EQ(*store_.CountUndeliveredNotifications(), 0);
}

TEST_F(NotifierTest, AnIssuedCertificatesAlertNamesItsDomainAndTheStoreNeverSeesTheUrl) {
  auto notifier = Make();
  store::Domain domain = MakeDomain(account_, "new.example.com");
  store::ProvisioningJob job = MakeJob(domain);
  store::Certificate cert = MakeCert(account_, kNow + 90 * kDay, /*issued=*/true);
  auto alerts = notifier->IssuedAlerts(job, cert);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].event_type, "certificate.issued");
  EXPECT_EQ(alerts[0].recipient, RecipientKey(kHook));
  EXPECT_EQ(alerts[0].recipient.rfind("sha256:", 0), 0u);
  EXPECT_EQ(alerts[0].recipient.find("hooks.example"), std::string::npos);
  job.renewal = true;
  EXPECT_EQ(notifier->IssuedAlerts(job, cert)[0].event_type, "certificate.renewed");
}

TEST_F(NotifierTest, AnUploadIsSeenThroughTheChangeFeedAndADeletedOneIsForgotten) {
  auto notifier = Make();
  EXPECT_EQ(*notifier->ScanOnce(), 0);
  const store::Certificate later = Uploaded(kNow + 60 * kDay);
  EXPECT_EQ(*notifier->ScanOnce(), 0);
  // 29 days on, it is inside 30 days: seen from the copy the feed keeps.
  clock_.Advance(31 * kDay);
  EXPECT_EQ(*notifier->ScanOnce(), 1);
  // Deleted: no 14-day alert for it.
  ASSERT_EQ(store_.DeleteCertificate(account_, later.id)->status,
            store::DeleteOutcome::Status::kDeleted);
  clock_.Advance(16 * kDay);
  EXPECT_EQ(*notifier->ScanOnce(), 0);
}

TEST(NotifierCreateTest, RefusesPlainHttpBeyondLoopbackWithoutSayingThePath) {
  store::testing::MemoryStore store;
  certgate::testing::FakeClock clock{kNow};
  Receiver receiver;
  NotifierOptions options;
  options.node_id = "n";
  options.webhooks = {"https://ok.example/a", "http://hooks.example/secret-path"};
  auto made = Notifier::Create(options, SecretBytes::CopyOf(std::string_view("k")), store, clock,
                               receiver.Fn());
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.error().message.find("--notify-webhook #2 (http://hooks.example/…)"),
            std::string::npos)
      << made.error().message;
  EXPECT_EQ(made.error().message.find("secret-path"), std::string::npos);
  options.webhooks = {"http://127.0.0.1:9/x"};
  EXPECT_TRUE(Notifier::Create(options, SecretBytes::CopyOf(std::string_view("k")), store, clock,
                               receiver.Fn())
                  .ok());
}

}  // namespace
}  // namespace certgate::notify
