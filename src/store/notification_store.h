// The alert outbox: notifications for webhooks (notify/), written in the
// same transaction as what they report where they can be (an issued
// certificate: JobStore::CompleteProvisioningJob), delivered by whichever
// node claims them, retried until delivered, and kept afterwards so that an
// event is made once per recipient however often it is seen again.
// Thread-safe, and every backend keeps the contracts stated in store.h
// (one transaction per write; "not found" is a value).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/time.h"
#include "store/records.h"

namespace certgate::store {

class NotificationStore {
 public:
  virtual ~NotificationStore() = default;

  // Inserts, in one transaction, each notification whose (recipient,
  // event_key) the outbox does not hold yet, delivered or not; the others
  // are left as they are. Returns how many were inserted.
  virtual Result<int> EnqueueNotifications(const std::vector<Notification>& notifications) = 0;
  // Notifications for one of recipients, neither delivered nor abandoned,
  // with next_attempt_at <= now, that no node holds: now held by owner
  // until lease_until, each under a fresh token; at most limit (1 to 1000),
  // earliest first. A node claims only the webhooks it knows.
  virtual Result<std::vector<Notification>> ClaimDueNotifications(
      std::string_view owner, const std::vector<std::string>& recipients, Time now,
      Time lease_until, int limit) = 0;
  // Records the outcome of an attempt at a claimed notification, at `at`:
  // delivered, failed (with n's attempts, last_error and next_attempt_at),
  // or abandoned (never attempted again). Ends the hold. Writes only while n
  // is still held under its lease (lease_owner and lease_token); false if
  // not (another node took it over, and may send it again).
  enum class Outcome { kDelivered, kFailed, kAbandoned };
  virtual Result<bool> FinishNotificationAttempt(const Notification& n, Outcome outcome,
                                                 Time at) = 0;
  // How many notifications wait for delivery (not abandoned): what metrics
  // show.
  virtual Result<int64_t> CountUndeliveredNotifications() = 0;
  // Deletes the delivered and abandoned notifications created before
  // `before` whose event cannot come again: every kind but an expiring
  // certificate's while the certificate exists (its row is what keeps the
  // alert from being made again). Returns how many.
  virtual Result<int64_t> PruneNotifications(Time before) = 0;
};

}  // namespace certgate::store
