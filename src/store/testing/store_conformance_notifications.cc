// The store conformance suite: the alert outbox (notification_store.h).
#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/ids.h"
#include "store/store.h"
#include "store/testing/store_conformance.h"

namespace certgate::store::testing {
namespace {

using std::chrono::seconds;
using Outcome = NotificationStore::Outcome;

const std::vector<std::string> kBoth = {"https://a.example/hook", "https://b.example/hook"};

Notification MakeNotification(const std::string& recipient, const std::string& key, Time now) {
  Notification n;
  n.id = NewId("ntf");
  n.recipient = recipient;
  n.event_key = key;
  n.event_type = "certificate.expiring";
  n.body = R"({"id":"evt_1","type":"certificate.expiring","data":{"k":")" + key + "\"}}";
  n.created_at = now;
  n.next_attempt_at = now;
  return n;
}

TEST_P(StoreConformanceTest, TheOutboxKeepsOneNotificationPerEventAndRecipient) {
  const Time now = FromUnixSeconds(1'750'000'000);
  const std::string a = "https://a.example/hook";
  const std::string b = "https://b.example/hook";
  auto first =
      store_->EnqueueNotifications({MakeNotification(a, "e1", now), MakeNotification(b, "e1", now),
                                    MakeNotification(a, "e2", now)});
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(*first, 3);
  // The same events again (new ids): nothing new, delivered or not.
  auto again = store_->EnqueueNotifications(
      {MakeNotification(a, "e1", now), MakeNotification(b, "e1", now)});
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, 0);
  EXPECT_EQ(*store_->CountUndeliveredNotifications(), 3);

  auto claimed = store_->ClaimDueNotifications(kNodeA, kBoth, now, now + seconds(60), 10);
  ASSERT_TRUE(claimed.ok()) << claimed.error().message;
  ASSERT_EQ(claimed->size(), 3u);
  for (Notification n : *claimed) {
    EXPECT_EQ(n.lease_owner, kNodeA);
    EXPECT_TRUE(*store_->FinishNotificationAttempt(n, Outcome::kDelivered, now + seconds(1)));
  }
  EXPECT_EQ(*store_->CountUndeliveredNotifications(), 0);
  EXPECT_EQ(*store_->EnqueueNotifications({MakeNotification(a, "e2", now)}), 0)
      << "a delivered event is not made again";
  EXPECT_TRUE(
      store_->ClaimDueNotifications(kNodeA, kBoth, now + seconds(3600), now + seconds(3660), 10)
          ->empty());
}

TEST_P(StoreConformanceTest, ANotificationIsHeldByOneNodeAndRetriedWhenItsTimeComes) {
  const Time now = FromUnixSeconds(1'750'000'000);
  Notification stored = MakeNotification("https://a.example/hook", "e1", now);
  ASSERT_EQ(*store_->EnqueueNotifications({stored}), 1);

  auto mine = store_->ClaimDueNotifications(kNodeA, kBoth, now, now + seconds(60), 10);
  ASSERT_TRUE(mine.ok()) << mine.error().message;
  ASSERT_EQ(mine->size(), 1u);
  Notification n = mine->front();
  EXPECT_EQ(n.id, stored.id);
  EXPECT_EQ(n.body, stored.body);
  EXPECT_EQ(n.event_type, stored.event_type);
  EXPECT_EQ(n.created_at, now);
  EXPECT_EQ(n.attempts, 0);
  // Held: another node gets nothing until the lease ends.
  EXPECT_TRUE(store_->ClaimDueNotifications(kNodeB, kBoth, now + seconds(30), now + seconds(90), 10)
                  ->empty());

  // A failed attempt: retried at its time, not before.
  n.attempts = 1;
  n.last_error = "the webhook answered 503";
  n.next_attempt_at = now + seconds(10);
  ASSERT_TRUE(*store_->FinishNotificationAttempt(n, Outcome::kFailed, now));
  EXPECT_TRUE(store_->ClaimDueNotifications(kNodeB, kBoth, now + seconds(5), now + seconds(65), 10)
                  ->empty());
  auto retry =
      store_->ClaimDueNotifications(kNodeB, kBoth, now + seconds(10), now + seconds(70), 10);
  ASSERT_TRUE(retry.ok() && retry->size() == 1u);
  EXPECT_EQ(retry->front().attempts, 1);
  EXPECT_EQ(retry->front().last_error, "the webhook answered 503");
  EXPECT_GT(retry->front().lease_token, n.lease_token);

  // Node A's lease was taken over: its late write is refused.
  EXPECT_FALSE(*store_->FinishNotificationAttempt(n, Outcome::kDelivered, now + seconds(11)));
  // A lease that ran out is claimed again.
  auto expired =
      store_->ClaimDueNotifications(kNodeA, kBoth, now + seconds(80), now + seconds(140), 10);
  ASSERT_TRUE(expired.ok() && expired->size() == 1u);
  EXPECT_FALSE(
      *store_->FinishNotificationAttempt(retry->front(), Outcome::kDelivered, now + seconds(81)));
  EXPECT_TRUE(
      *store_->FinishNotificationAttempt(expired->front(), Outcome::kDelivered, now + seconds(81)));
  EXPECT_EQ(*store_->CountUndeliveredNotifications(), 0);
}

TEST_P(StoreConformanceTest, BadNotificationsAreRefusedWhole) {
  const Time now = FromUnixSeconds(1'750'000'000);
  Notification no_key = MakeNotification("https://a.example/hook", "", now);
  Notification huge = MakeNotification("https://a.example/hook", "big", now);
  huge.body.assign(70 * 1024, 'x');
  for (const Notification& bad : {no_key, huge}) {
    auto r = store_->EnqueueNotifications(
        {MakeNotification("https://a.example/hook", "fine", now), bad});
    EXPECT_FALSE(r.ok());
  }
  EXPECT_EQ(*store_->CountUndeliveredNotifications(), 0) << "one transaction: nothing written";
  EXPECT_FALSE(store_->ClaimDueNotifications("", kBoth, now, now + seconds(60), 10).ok())
      << "a lease names its owner";
}

TEST_P(StoreConformanceTest, AnIssuedCertificatesAlertsAreWrittenWithIt) {
  const Time now = FromUnixSeconds(1'750'000'000);
  ProvisioningJob job = InsertAndClaimJob(*store_, alice_, "alerts.example.com", kNodeA, now);
  Notification issued = MakeNotification("https://a.example/hook", "issued:1", now);
  issued.event_type = "certificate.issued";

  // A runner that lost its lease writes neither the certificate nor alerts.
  ProvisioningJob stale = job;
  stale.lease_token -= 1;
  EXPECT_FALSE(*store_->CompleteProvisioningJob(stale, MakeIssued(alice_), now, {issued}));
  EXPECT_EQ(*store_->CountUndeliveredNotifications(), 0);

  ASSERT_TRUE(*store_->CompleteProvisioningJob(job, MakeIssued(alice_), now, {issued}));
  auto due = store_->ClaimDueNotifications(kNodeA, kBoth, now, now + seconds(60), 10);
  ASSERT_TRUE(due.ok() && due->size() == 1u);
  EXPECT_EQ(due->front().event_type, "certificate.issued");
  EXPECT_EQ(due->front().event_key, "issued:1");
}

TEST_P(StoreConformanceTest, ANodeClaimsOnlyItsWebhooksAndAbandonedOnesStayPut) {
  const Time now = FromUnixSeconds(1'750'000'000);
  ASSERT_EQ(*store_->EnqueueNotifications(
                {MakeNotification(kBoth[0], "e1", now), MakeNotification(kBoth[1], "e1", now)}),
            2);
  // Node B knows only the second webhook.
  auto mine = store_->ClaimDueNotifications(kNodeB, {kBoth[1]}, now, now + seconds(60), 10);
  ASSERT_TRUE(mine.ok() && mine->size() == 1u);
  EXPECT_EQ(mine->front().recipient, kBoth[1]);
  EXPECT_TRUE(
      store_->ClaimDueNotifications(kNodeB, {"https://c.example/x"}, now, now + seconds(60), 10)
          ->empty());
  // Abandoned: never claimed again, not counted as waiting.
  Notification n = mine->front();
  n.attempts = 1;
  n.last_error = "gave up";
  ASSERT_TRUE(*store_->FinishNotificationAttempt(n, Outcome::kAbandoned, now));
  EXPECT_EQ(*store_->CountUndeliveredNotifications(), 1);
  EXPECT_TRUE(
      store_
          ->ClaimDueNotifications(kNodeA, {kBoth[1]}, now + seconds(3600), now + seconds(3660), 10)
          ->empty());
  EXPECT_FALSE(*store_->FinishNotificationAttempt(n, Outcome::kDelivered, now))
      << "an abandoned notification stays abandoned";
}

TEST_P(StoreConformanceTest, PruningKeepsWhatStopsAnExpiryAlertFromComingAgain) {
  const Time now = FromUnixSeconds(1'750'000'000);
  const Certificate kept = Insert(alice_);
  Notification expiring = MakeNotification(kBoth[0], "certificate.expiring:kept:14d", now);
  expiring.subject_id = kept.id;
  Notification gone = MakeNotification(kBoth[0], "certificate.expiring:gone:14d", now);
  gone.subject_id = "cert_gone";
  Notification issued = MakeNotification(kBoth[0], "certificate.issued:x", now);
  issued.event_type = "certificate.issued";
  Notification waiting = MakeNotification(kBoth[1], "certificate.issued:x", now);
  waiting.event_type = "certificate.issued";
  ASSERT_EQ(*store_->EnqueueNotifications({expiring, gone, issued, waiting}), 4);
  auto claimed = store_->ClaimDueNotifications(kNodeA, {kBoth[0]}, now, now + seconds(60), 10);
  ASSERT_TRUE(claimed.ok() && claimed->size() == 3u);
  for (const Notification& n : *claimed) {
    ASSERT_TRUE(*store_->FinishNotificationAttempt(n, Outcome::kDelivered, now));
  }
  EXPECT_EQ(*store_->PruneNotifications(now), 0) << "none is older than the cutoff";
  auto pruned = store_->PruneNotifications(now + seconds(1));
  ASSERT_TRUE(pruned.ok()) << pruned.error().message;
  EXPECT_EQ(*pruned, 2) << "the issued alert and the gone certificate's; not the undelivered";
  // The kept certificate's alert is still known: it is not made again.
  EXPECT_EQ(*store_->EnqueueNotifications(
                {MakeNotification(kBoth[0], "certificate.expiring:kept:14d", now)}),
            0);
  EXPECT_EQ(*store_->CountUndeliveredNotifications(), 1);
}

TEST_P(StoreConformanceTest, FailingRenewalsAreListedByIdWhateverFailsMore) {
  const Time now = FromUnixSeconds(1'750'000'000);
  std::vector<std::string> renewals;
  for (int i = 0; i < 5; ++i) {
    Domain d = MakeDomain(alice_, "r" + std::to_string(i) + ".example.com");
    d.policy = ManagementPolicy{};
    ASSERT_TRUE(store_->InsertDomain(d).ok());
    ProvisioningJob job = MakeJob(d, now);
    job.renewal = i != 0;           // the first is a first order
    job.failures = i == 1 ? 1 : 3;  // the second failed once only
    ASSERT_TRUE(*store_->InsertProvisioningJob(job));
    if (i >= 2) renewals.push_back(job.id);
  }
  std::sort(renewals.begin(), renewals.end());
  auto first = store_->ListFailingRenewals(2, std::nullopt, 2);
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].id, renewals[0]);
  EXPECT_EQ((*first)[1].id, renewals[1]);
  auto rest = store_->ListFailingRenewals(2, (*first)[1].id, 2);
  ASSERT_TRUE(rest.ok() && rest->size() == 1u);
  EXPECT_EQ(rest->front().id, renewals[2]);
  EXPECT_EQ(store_->ListFailingRenewals(1, std::nullopt, 10)->size(), 4u);
}

}  // namespace
}  // namespace certgate::store::testing
