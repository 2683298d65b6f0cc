// The alert outbox in the PostgreSQL backend.
#include "store/postgres/pg_store_impl.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/postgres/statements.h"
#include "store/sql/jobs.h"
#include "store/sql/notifications.h"

namespace certgate::store::pg {
namespace {

// The statements of store/sql/notifications.h. Leases are on the database's
// clock, as the jobs' are (PgStore::LeaseClockOffset).
struct NotificationSql {
  static constexpr const char* kInsertNotification = pg::kInsertNotification;
  static constexpr const char* kAnyDueNotification =
      "SELECT 1 FROM notifications WHERE delivered_at IS NULL AND abandoned_at IS NULL"
      " AND next_attempt_at <= to_timestamp($1)"
      " AND (lease_until IS NULL OR lease_until <= to_timestamp($2))"
      " AND recipient IN (SELECT json_array_elements_text($3::json)) LIMIT 1";
  // SKIP LOCKED: rows another node's claim holds are passed over, not waited
  // for.
  static constexpr const char* kDueNotifications =
      "SELECT " CG_NOTIFICATION_COLUMNS(CG_PG_EPOCH) " FROM notifications"
      " WHERE delivered_at IS NULL AND abandoned_at IS NULL"
      " AND next_attempt_at <= to_timestamp($1)"
      " AND (lease_until IS NULL OR lease_until <= to_timestamp($3))"
      " AND recipient IN (SELECT json_array_elements_text($4::json))"
      " ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED";
  static constexpr const char* kLeaseNotification =
      "UPDATE notifications SET lease_until = to_timestamp($2), lease_owner = $3,"
      " lease_token = $4 WHERE id = $1";
  static constexpr const char* kFinishNotification =
      "UPDATE notifications SET attempts = $2, last_error = $3,"
      " next_attempt_at = to_timestamp($4), delivered_at = to_timestamp($5),"
      " abandoned_at = to_timestamp($6), lease_until = NULL"
      " WHERE id = $1 AND lease_owner = $7 AND lease_token = $8"
      " AND delivered_at IS NULL AND abandoned_at IS NULL";
  static constexpr const char* kCountUndeliveredNotifications =
      "SELECT count(*) FROM notifications WHERE delivered_at IS NULL AND abandoned_at IS NULL";
  static constexpr const char* kPruneNotifications =
      "DELETE FROM notifications WHERE created_at < to_timestamp($1)"
      " AND (delivered_at IS NOT NULL OR abandoned_at IS NOT NULL)"
      " AND (event_type <> 'certificate.expiring'"
      " OR NOT EXISTS (SELECT 1 FROM tls_certificates c WHERE c.id = notifications.subject_id))";
};

}  // namespace

Result<int> PgStore::EnqueueNotifications(const std::vector<Notification>& notifications) {
  constexpr std::string_view kOp = "enqueueing notifications";
  if (notifications.empty()) return 0;
  return Write(kOp, [&](Connection& conn) {
    return sql::EnqueueNotifications<NotificationSql>(conn, notifications, kOp);
  });
}

Result<std::vector<Notification>> PgStore::ClaimDueNotifications(
    std::string_view owner, const std::vector<std::string>& recipients, Time now,
    Time lease_until, int limit) {
  constexpr std::string_view kOp = "claiming notifications";
  CG_RETURN_IF_ERROR(sql::CheckClaim(owner, limit, kOp));
  const std::string for_recipients = sql::RecipientsJson(recipients);
  CG_ASSIGN_OR_RETURN(const Time::duration offset, LeaseClockOffset(kOp));
  {
    CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
    CG_ASSIGN_OR_RETURN(bool due, sql::AnyDueNotification<NotificationSql>(
                                      lease.conn(), for_recipients, now, now + offset, kOp));
    if (!due) return std::vector<Notification>();
  }
  return Write(kOp, [&](Connection& conn) {
    return sql::ClaimDueNotifications<NotificationSql>(conn, owner, for_recipients, now,
                                                       now + offset, lease_until + offset,
                                                       limit, kOp);
  });
}

Result<bool> PgStore::FinishNotificationAttempt(const Notification& n, Outcome outcome, Time at) {
  constexpr std::string_view kOp = "recording a notification's delivery";
  return Write(kOp, [&](Connection& conn) {
    return sql::FinishNotificationAttempt<NotificationSql>(conn, n, outcome, at, kOp);
  });
}

Result<int64_t> PgStore::PruneNotifications(Time before) {
  constexpr std::string_view kOp = "pruning notifications";
  return Write(kOp, [&](Connection& conn) {
    return sql::PruneNotifications<NotificationSql>(conn, before, kOp);
  });
}

Result<int64_t> PgStore::CountUndeliveredNotifications() {
  constexpr std::string_view kOp = "counting undelivered notifications";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::CountUndeliveredNotifications<NotificationSql>(lease.conn(), kOp);
}

}  // namespace certgate::store::pg
