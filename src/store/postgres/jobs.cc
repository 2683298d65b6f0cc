// Provisioning jobs and their leases in the PostgreSQL backend.
#include "store/postgres/pg_store_impl.h"

#include <chrono>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "store/postgres/rows.h"
#include "store/postgres/statements.h"
#include "store/sql/jobs.h"

namespace certgate::store::pg {
namespace {

// The statements of store/sql/jobs.h.
struct JobSql {
  // From the partial index reserved_domains_needing_certificates: one range of
  // needs_certificate_at (a stored generated column), already in this order.
  static constexpr const char* kDomainsNeedingCertificates =
      "SELECT " CG_PG_DOMAIN_COLUMNS " FROM reserved_domains d"
      " WHERE needs_certificate_at <= to_timestamp($1)"
      " AND NOT EXISTS (SELECT 1 FROM provisioning_jobs j WHERE j.domain_id = d.id)"
      " ORDER BY needs_certificate_at, id LIMIT $2";
  // A new job is not leased (owner '', token 0: the columns' defaults). The
  // casts: the values of an INSERT ... SELECT get no type from the columns
  // they go to, and PostgreSQL assigns text to no boolean, integer or bytea.
  static constexpr const char* kInsertJob =
      "INSERT INTO provisioning_jobs (id, domain_id, account_id, domain, key_type, renewal,"
      " started_at, msg, error_code, retries_at, next_run_at, failures, order_url, key_version,"
      " sealed_key)"
      " SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::boolean, to_timestamp($7),"
      " $8::text, $9::text, to_timestamp($10), to_timestamp($11), $12::integer, $13::text,"
      " $14::bigint, $15::bytea"
      " WHERE EXISTS (SELECT 1 FROM reserved_domains"
      " WHERE id = $2 AND policy_authority IS NOT NULL)"
      " ON CONFLICT (domain_id) DO NOTHING";
  static constexpr const char* kJobForDomain =
      "SELECT " CG_PG_JOB_COLUMNS " FROM provisioning_jobs WHERE domain_id = $1";
  static constexpr const char* kFailingJobs =
      "SELECT " CG_PG_JOB_COLUMNS " FROM provisioning_jobs WHERE failures > 0"
      " ORDER BY failures DESC, id LIMIT $1";
  // A scan of the table: it holds the jobs in progress, not the domains.
  static constexpr const char* kFailingRenewals =
      "SELECT " CG_PG_JOB_COLUMNS " FROM provisioning_jobs WHERE renewal AND failures >= $1 AND id > $2"
      " ORDER BY id LIMIT $3";
  static constexpr const char* kAnyDueJob =
      "SELECT 1 FROM provisioning_jobs WHERE next_run_at <= to_timestamp($1)"
      " AND (lease_until IS NULL OR lease_until <= to_timestamp($2)) LIMIT 1";
  // Locks the rows it returns until the claim commits; SKIP LOCKED passes over
  // rows another transaction holds rather than wait for them. (The write lock
  // already keeps other claims out; this also keeps out a write that took row
  // locks without it.) The one step SQLite's claim lacks: it has no row
  // locks, and its one writer at a time is enough.
  static constexpr const char* kDueJobs =
      "SELECT " CG_PG_JOB_COLUMNS " FROM provisioning_jobs WHERE next_run_at <= to_timestamp($1)"
      " AND (lease_until IS NULL OR lease_until <= to_timestamp($3))"
      " ORDER BY next_run_at, id LIMIT $2 FOR UPDATE SKIP LOCKED";
  // The job, if it is still held under the lease ($2, $3).
  static constexpr const char* kLeasedJob =
      "SELECT 1 FROM provisioning_jobs WHERE id = $1 AND lease_owner = $2 AND lease_token = $3";
  static constexpr const char* kLeaseJob =
      "UPDATE provisioning_jobs SET lease_until = to_timestamp($2), lease_owner = $3,"
      " lease_token = $4 WHERE id = $1";
  static constexpr const char* kReleaseJobLeases =
      "UPDATE provisioning_jobs SET lease_until = NULL"
      " WHERE lease_owner = $1 AND lease_until IS NOT NULL";
  // The key is set once: rotation may have re-sealed it since the runner read
  // it. to_timestamp(NULL) is NULL: no retry time, or the hold ends.
  static constexpr const char* kUpdateJob =
      "UPDATE provisioning_jobs SET msg = $2, error_code = $3, retries_at = to_timestamp($4),"
      " next_run_at = to_timestamp($5), failures = $6, order_url = $7,"
      " key_version = CASE WHEN sealed_key IS NULL THEN $8 ELSE key_version END,"
      " sealed_key = COALESCE(sealed_key, $9), lease_until = to_timestamp($10)"
      " WHERE id = $1 AND lease_owner = $11 AND lease_token = $12";
  static constexpr const char* kDeleteJob = "DELETE FROM provisioning_jobs WHERE id = $1";
  static constexpr const char* kManagedKeyType =
      "SELECT policy_key_type, certificate_id FROM reserved_domains WHERE id = $1";
  static constexpr const char* kAttachIssued =
      "UPDATE reserved_domains SET certificate_id = $2, renews_at = to_timestamp($3),"
      " issued_key_type = $4 WHERE id = $1";
  static constexpr const char* kDeleteOrphanIssuedCert = pg::kDeleteOrphanIssuedCert;
  static constexpr const char* kInsertNotification = pg::kInsertNotification;
  static constexpr auto kInsertCertificateRow = &pg::InsertCertificateRow;
};

}  // namespace

Result<std::vector<Domain>> PgStore::ListDomainsNeedingCertificates(Time now, int limit) {
  constexpr std::string_view kOp = "listing domains that need certificates";
  CG_RETURN_IF_ERROR(CheckLimit(limit));
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::ListDomainsNeedingCertificates<JobSql>(lease.conn(), now, limit, kOp);
}

Result<bool> PgStore::InsertProvisioningJob(const ProvisioningJob& job) {
  constexpr std::string_view kOp = "inserting a provisioning job";
  return Write(kOp, [&](Connection& conn) {
    return sql::InsertProvisioningJob<JobSql>(conn, job, kOp);
  });
}

Result<std::vector<ProvisioningJob>> PgStore::CreateDueJobs(Time now, int limit,
                                                        const JobMaker& make) {
  constexpr std::string_view kOp = "making provisioning jobs";
  CG_RETURN_IF_ERROR(CheckLimit(limit));
  {
    CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
    CG_ASSIGN_OR_RETURN(auto due, sql::ListDomainsNeedingCertificates<JobSql>(lease.conn(), now,
                                                                              1, kOp));
    if (due.empty()) return std::vector<ProvisioningJob>();
  }
  return Write(kOp, [&](Connection& conn) {
    return sql::CreateDueJobs<JobSql>(conn, now, limit, make, kOp);
  });
}

Result<std::vector<ProvisioningJob>> PgStore::ListFailingJobs(int limit) {
  constexpr std::string_view kOp = "listing failing provisioning jobs";
  CG_RETURN_IF_ERROR(CheckLimit(limit));
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::ListFailingJobs<JobSql>(lease.conn(), limit, kOp);
}

Result<std::vector<ProvisioningJob>> PgStore::ListFailingRenewals(
    int min_failures, std::optional<std::string> after_id, int limit) {
  constexpr std::string_view kOp = "listing failing renewals";
  CG_RETURN_IF_ERROR(CheckLimit(limit));
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::ListFailingRenewals<JobSql>(lease.conn(), min_failures, after_id, limit, kOp);
}

Result<std::optional<ProvisioningJob>> PgStore::GetProvisioningJobForDomain(
    std::string_view domain_id) {
  constexpr std::string_view kOp = "reading a provisioning job";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::GetProvisioningJobForDomain<JobSql>(lease.conn(), domain_id, kOp);
}

Result<Time::duration> PgStore::LeaseClockOffset(std::string_view op) {
  constexpr auto kRefresh = std::chrono::seconds(60);
  constexpr auto kStep = std::chrono::seconds(1);
  std::lock_guard lock(lease_clock_mu_);
  const auto now = std::chrono::steady_clock::now();
  if (lease_clock_offset_ && now - lease_clock_measured_ < kRefresh) return *lease_clock_offset_;
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(op));
  const Time before = node_clock_.Now();
  Query q(lease.conn(), kDatabaseClock, op);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  const Time after = node_clock_.Now();
  if (!row) return MakeError(ErrorCode::kInternal, fmt::format("{}: no clock reading", op));
  const Time db = Time(std::chrono::microseconds(q.ColumnInt(0)));
  const auto offset = db - (before + (after - before) / 2);
  // Kept unless the clocks moved apart by a step: the reading's own jitter
  // must not move a lease's end back and forth across a second.
  if (!lease_clock_offset_ || offset - *lease_clock_offset_ >= kStep ||
      *lease_clock_offset_ - offset >= kStep) {
    lease_clock_offset_ = offset;
  }
  lease_clock_measured_ = now;
  return *lease_clock_offset_;
}

Result<std::vector<ProvisioningJob>> PgStore::ClaimDueJobs(std::string_view owner, Time now,
                                                           Time lease_until, int limit) {
  constexpr std::string_view kOp = "claiming provisioning jobs";
  CG_RETURN_IF_ERROR(sql::CheckClaim(owner, limit, kOp));
  // Leases are kept on the database's clock: this node's times, moved by
  // how far its clock is from the database's.
  CG_ASSIGN_OR_RETURN(const Time::duration offset, LeaseClockOffset(kOp));
  {
    CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
    CG_ASSIGN_OR_RETURN(bool due, sql::AnyDueJob<JobSql>(lease.conn(), now, now + offset, kOp));
    if (!due) return std::vector<ProvisioningJob>();
  }
  return Write(kOp, [&](Connection& conn) {
    return sql::ClaimDueJobs<JobSql>(conn, owner, now, now + offset, lease_until + offset, limit,
                                     kOp);
  });
}

Result<void> PgStore::ReleaseJobLeases(std::string_view owner) {
  constexpr std::string_view kOp = "releasing provisioning job leases";
  return Write(kOp,
               [&](Connection& conn) { return sql::ReleaseJobLeases<JobSql>(conn, owner, kOp); });
}

Result<bool> PgStore::UpdateProvisioningJob(const ProvisioningJob& job,
                                            std::optional<Time> hold_until) {
  constexpr std::string_view kOp = "updating a provisioning job";
  if (hold_until) {
    CG_ASSIGN_OR_RETURN(const Time::duration offset, LeaseClockOffset(kOp));
    *hold_until += offset;  // on the database's clock, as ClaimDueJobs
  }
  return Write(kOp, [&](Connection& conn) {
    return sql::UpdateProvisioningJob<JobSql>(conn, job, hold_until, kOp);
  });
}

Result<bool> PgStore::DeleteProvisioningJob(std::string_view id) {
  constexpr std::string_view kOp = "deleting a provisioning job";
  return Write(kOp,
               [&](Connection& conn) { return sql::DeleteProvisioningJob<JobSql>(conn, id, kOp); });
}

Result<bool> PgStore::CompleteProvisioningJob(const ProvisioningJob& job, const Certificate& cert,
                                              Time renews_at,
                                              const std::vector<Notification>& notifications) {
  constexpr std::string_view kOp = "attaching an issued certificate";
  CG_RETURN_IF_ERROR(sql::CheckIssuedForJob(job, cert, kOp));
  return WriteAndAnnounce(kOp, [&](Connection& conn) {
    return sql::CompleteProvisioningJob<JobSql>(conn, job, cert, renews_at, notifications, kOp);
  });
}

}  // namespace certgate::store::pg
