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
  // Undelivered notifications with next_attempt_at <= now that no node
  // holds, now held by owner until lease_until, each under a fresh token;
  // at most limit (1 to 1000), earliest first.
  virtual Result<std::vector<Notification>> ClaimDueNotifications(std::string_view owner,
                                                                  Time now, Time lease_until,
                                                                  int limit) = 0;
  // Records the outcome of an attempt at a claimed notification: delivered
  // at `delivered_at`, or (nullopt) failed, with n's attempts, last_error
  // and next_attempt_at. Ends the hold. Writes only while n is still held
  // under its lease (lease_owner and lease_token); false if not.
  virtual Result<bool> FinishNotificationAttempt(const Notification& n,
                                                 std::optional<Time> delivered_at) = 0;
  // How many notifications wait for delivery: what metrics show.
  virtual Result<int64_t> CountUndeliveredNotifications() = 0;
};

}  // namespace certgate::store
