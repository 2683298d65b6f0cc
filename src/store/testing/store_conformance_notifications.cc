// The store conformance suite: the alert outbox (notification_store.h).
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
  auto first = store_->EnqueueNotifications(
      {MakeNotification(a, "e1", now), MakeNotification(b, "e1", now),
       MakeNotification(a, "e2", now)});
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(*first, 3);
  // The same events again (new ids): nothing new, delivered or not.
  auto again = store_->EnqueueNotifications(
      {MakeNotification(a, "e1", now), MakeNotification(b, "e1", now)});
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, 0);
  EXPECT_EQ(*store_->CountUndeliveredNotifications(), 3);

  auto claimed = store_->ClaimDueNotifications(kNodeA, now, now + seconds(60), 10);
  ASSERT_TRUE(claimed.ok()) << claimed.error().message;
  ASSERT_EQ(claimed->size(), 3u);
  for (Notification n : *claimed) {
    EXPECT_EQ(n.lease_owner, kNodeA);
    EXPECT_TRUE(*store_->FinishNotificationAttempt(n, now + seconds(1)));
  }
  EXPECT_EQ(*store_->CountUndeliveredNotifications(), 0);
  EXPECT_EQ(*store_->EnqueueNotifications({MakeNotification(a, "e2", now)}), 0)
      << "a delivered event is not made again";
  EXPECT_TRUE(store_->ClaimDueNotifications(kNodeA, now + seconds(3600), now + seconds(3660), 10)
                  ->empty());
}

TEST_P(StoreConformanceTest, ANotificationIsHeldByOneNodeAndRetriedWhenItsTimeComes) {
  const Time now = FromUnixSeconds(1'750'000'000);
  Notification stored = MakeNotification("https://a.example/hook", "e1", now);
  ASSERT_EQ(*store_->EnqueueNotifications({stored}), 1);

  auto mine = store_->ClaimDueNotifications(kNodeA, now, now + seconds(60), 10);
  ASSERT_TRUE(mine.ok()) << mine.error().message;
  ASSERT_EQ(mine->size(), 1u);
  Notification n = mine->front();
  EXPECT_EQ(n.id, stored.id);
  EXPECT_EQ(n.body, stored.body);
  EXPECT_EQ(n.event_type, stored.event_type);
  EXPECT_EQ(n.created_at, now);
  EXPECT_EQ(n.attempts, 0);
  // Held: another node gets nothing until the lease ends.
  EXPECT_TRUE(store_->ClaimDueNotifications(kNodeB, now + seconds(30), now + seconds(90), 10)
                  ->empty());

  // A failed attempt: retried at its time, not before.
  n.attempts = 1;
  n.last_error = "the webhook answered 503";
  n.next_attempt_at = now + seconds(10);
  ASSERT_TRUE(*store_->FinishNotificationAttempt(n, std::nullopt));
  EXPECT_TRUE(store_->ClaimDueNotifications(kNodeB, now + seconds(5), now + seconds(65), 10)
                  ->empty());
  auto retry = store_->ClaimDueNotifications(kNodeB, now + seconds(10), now + seconds(70), 10);
  ASSERT_TRUE(retry.ok() && retry->size() == 1u);
  EXPECT_EQ(retry->front().attempts, 1);
  EXPECT_EQ(retry->front().last_error, "the webhook answered 503");
  EXPECT_GT(retry->front().lease_token, n.lease_token);

  // Node A's lease was taken over: its late write is refused.
  EXPECT_FALSE(*store_->FinishNotificationAttempt(n, now + seconds(11)));
  // A lease that ran out is claimed again.
  auto expired = store_->ClaimDueNotifications(kNodeA, now + seconds(80), now + seconds(140), 10);
  ASSERT_TRUE(expired.ok() && expired->size() == 1u);
  EXPECT_FALSE(*store_->FinishNotificationAttempt(retry->front(), now + seconds(81)));
  EXPECT_TRUE(*store_->FinishNotificationAttempt(expired->front(), now + seconds(81)));
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
  EXPECT_FALSE(store_->ClaimDueNotifications("", now, now + seconds(60), 10).ok())
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
  auto due = store_->ClaimDueNotifications(kNodeA, now, now + seconds(60), 10);
  ASSERT_TRUE(due.ok() && due->size() == 1u);
  EXPECT_EQ(due->front().event_type, "certificate.issued");
  EXPECT_EQ(due->front().event_key, "issued:1");
}

}  // namespace
}  // namespace certgate::store::testing
