// The alert outbox (notification_store.h), shared by the SQL backends
// (store/sqlite, store/postgres). Each function runs on a connection its
// caller holds, inside the transaction the caller chose (Write) or on a
// lease from its pool; S holds the backend's statements (struct
// NotificationSql in its notifications.cc):
//   kInsertNotification (id, recipient, event_key, event_type, body,
//     created_at, next_attempt_at, subject_id): inserts unless (recipient,
//     event_key) exists
//   kAnyDueNotification (now, lease_now, recipients): a row if any
//   kDueNotifications (now, limit, lease_now, recipients):
//     CG_NOTIFICATION_COLUMNS rows
//   kLeaseNotification (id, lease_until, owner, token)
//   kFinishNotification (id, attempts, last_error, next_attempt_at,
//     delivered_at, abandoned_at, owner, token): only while held under that
//     lease, neither delivered nor abandoned
//   kCountUndeliveredNotifications: one count
//   kPruneNotifications (before)
// Times are bound as unix seconds; recipients as a JSON array of strings.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>
#include <fmt/format.h>

#include "core/result.h"
#include "core/time.h"
#include "store/notification_store.h"
#include "store/records.h"
#include "store/sql/rows.h"

// The columns ReadNotification reads, in its order; times are unix seconds
// (the backend's CG_*_EPOCH wraps them).
#define CG_NOTIFICATION_COLUMNS(epoch)                                                      \
  "id, recipient, event_key, event_type, body, " epoch(created_at) ", "                    \
  epoch(next_attempt_at) ", attempts, last_error, " epoch(delivered_at) ", lease_owner, " \
  "lease_token, subject_id, " epoch(abandoned_at)

namespace certgate::store::sql {

// Refuses what no store should hold: the outbox is bounded by its writers
// (notify/), and this is the last check.
inline Result<void> CheckNotification(const Notification& n, std::string_view op) {
  constexpr size_t kMaxBody = 64 * 1024;
  if (n.id.empty() || n.recipient.empty() || n.event_key.empty() || n.event_type.empty()) {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("{}: a notification needs an id, recipient, event key and type",
                                 op));
  }
  if (n.body.size() > kMaxBody) {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("{}: notification {} is {} bytes, more than {}", op, n.id,
                                 n.body.size(), kMaxBody));
  }
  return {};
}

template <class Q>
Result<Notification> ReadNotification(const Q& q, std::string_view /*op*/) {
  Notification n;
  n.id = q.ColumnText(0);
  n.recipient = q.ColumnText(1);
  n.event_key = q.ColumnText(2);
  n.event_type = q.ColumnText(3);
  n.body = q.ColumnText(4);
  n.created_at = FromUnixSeconds(q.ColumnInt(5));
  n.next_attempt_at = FromUnixSeconds(q.ColumnInt(6));
  n.attempts = static_cast<int>(q.ColumnInt(7));
  n.last_error = q.ColumnText(8);
  if (!q.IsNull(9)) n.delivered_at = FromUnixSeconds(q.ColumnInt(9));
  n.lease_owner = q.ColumnText(10);
  n.lease_token = q.ColumnInt(11);
  n.subject_id = q.ColumnText(12);
  if (!q.IsNull(13)) n.abandoned_at = FromUnixSeconds(q.ColumnInt(13));
  return n;
}

// Inside a write transaction: inserts the new ones, returns how many.
template <class S, class Conn>
Result<int> EnqueueNotifications(Conn& conn, const std::vector<Notification>& notifications,
                                 std::string_view op) {
  using Q = typename Conn::QueryType;
  int inserted = 0;
  for (const Notification& n : notifications) {
    CG_RETURN_IF_ERROR(CheckNotification(n, op));
    Q q(conn, S::kInsertNotification, op);
    q.Text(1, n.id)
        .Text(2, n.recipient)
        .Text(3, n.event_key)
        .Text(4, n.event_type)
        .Text(5, n.body)
        .Int(6, ToUnixSeconds(n.created_at))
        .Int(7, ToUnixSeconds(n.next_attempt_at))
        .Text(8, n.subject_id);
    CG_RETURN_IF_ERROR(q.Run());
    inserted += static_cast<int>(q.Changes());
  }
  return inserted;
}

// The recipients a claim is for, as the statements take them.
inline std::string RecipientsJson(const std::vector<std::string>& recipients) {
  boost::json::array out;
  for (const std::string& r : recipients) out.emplace_back(r);
  return boost::json::serialize(out);
}

// Whether any notification for recipients is due and unleased: mostly none
// is, and the caller finds that out without the write lock.
template <class S, class Conn>
Result<bool> AnyDueNotification(Conn& conn, std::string_view recipients_json, Time now,
                                Time lease_now, std::string_view op) {
  using Q = typename Conn::QueryType;
  Q any(conn, S::kAnyDueNotification, op);
  any.Int(1, ToUnixSeconds(now)).Int(2, ToUnixSeconds(lease_now)).Text(3, recipients_json);
  return any.Step();
}

// Inside a write transaction: leases up to limit due notifications for
// recipients to owner until lease_until (on the clock of lease_now), each
// under a new token.
template <class S, class Conn>
Result<std::vector<Notification>> ClaimDueNotifications(Conn& conn, std::string_view owner,
                                                        std::string_view recipients_json,
                                                        Time now, Time lease_now,
                                                        Time lease_until, int limit,
                                                        std::string_view op) {
  using Q = typename Conn::QueryType;
  std::vector<Notification> due;
  {
    Q q(conn, S::kDueNotifications, op);
    q.Int(1, ToUnixSeconds(now))
        .Int(2, limit)
        .Int(3, ToUnixSeconds(lease_now))
        .Text(4, recipients_json);
    CG_ASSIGN_OR_RETURN(due, ReadAllRows<Notification>(q, op, ReadNotification<Q>));
  }
  CG_RETURN_IF_ERROR(LeaseRows(conn, due, S::kLeaseNotification, owner, lease_until, op));
  return due;
}

// Inside a write transaction.
template <class S, class Conn>
Result<bool> FinishNotificationAttempt(Conn& conn, const Notification& n,
                                       NotificationStore::Outcome outcome, Time at,
                                       std::string_view op) {
  using Q = typename Conn::QueryType;
  using Outcome = NotificationStore::Outcome;
  Q q(conn, S::kFinishNotification, op);
  q.Text(1, n.id)
      .Int(2, n.attempts)
      .Text(3, n.last_error.substr(0, 1000))
      .Int(4, ToUnixSeconds(n.next_attempt_at));
  if (outcome == Outcome::kDelivered) {
    q.Int(5, ToUnixSeconds(at));
  } else {
    q.Null(5);
  }
  if (outcome == Outcome::kAbandoned) {
    q.Int(6, ToUnixSeconds(at));
  } else {
    q.Null(6);
  }
  q.Text(7, n.lease_owner).Int(8, n.lease_token);
  CG_RETURN_IF_ERROR(q.Run());
  return q.Changes() == 1;
}

// Inside a write transaction.
template <class S, class Conn>
Result<int64_t> PruneNotifications(Conn& conn, Time before, std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kPruneNotifications, op);
  q.Int(1, ToUnixSeconds(before));
  CG_RETURN_IF_ERROR(q.Run());
  return q.Changes();
}

template <class S, class Conn>
Result<int64_t> CountUndeliveredNotifications(Conn& conn, std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kCountUndeliveredNotifications, op);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.ColumnInt(0) : 0;
}

}  // namespace certgate::store::sql
