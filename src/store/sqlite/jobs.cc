// Provisioning jobs and their leases in the SQLite backend.
#include "store/sqlite/sqlite_store_impl.h"

#include <optional>
#include <string_view>
#include <vector>

#include "store/sql/jobs.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/statements.h"

namespace certgate::store::sqlite {
namespace {

// The statements of store/sql/jobs.h.
struct JobSql {
  static constexpr const char* kDomainsNeedingCertificates =
      "SELECT " CG_DOMAIN_COLUMNS " FROM reserved_domains d"
      " WHERE needs_certificate_at <= ?1"
      " AND NOT EXISTS (SELECT 1 FROM provisioning_jobs j WHERE j.domain_id = d.id)"
      " ORDER BY needs_certificate_at, id LIMIT ?2";
  static constexpr const char* kInsertJob =
      "INSERT INTO provisioning_jobs (" CG_JOB_FIELDS ")"
      " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15"
      " WHERE EXISTS (SELECT 1 FROM reserved_domains"
      " WHERE id = ?2 AND policy_authority IS NOT NULL)"
      " ON CONFLICT (domain_id) DO NOTHING";
  static constexpr const char* kJobForDomain =
      "SELECT " CG_JOB_COLUMNS " FROM provisioning_jobs WHERE domain_id = ?1";
  static constexpr const char* kFailingJobs =
      "SELECT " CG_JOB_COLUMNS " FROM provisioning_jobs WHERE failures > 0"
      " ORDER BY failures DESC, id LIMIT ?1";
  // A scan of the table: it holds the jobs in progress, not the domains.
  static constexpr const char* kFailingRenewals =
      "SELECT " CG_JOB_COLUMNS " FROM provisioning_jobs WHERE renewal = 1 AND failures >= ?1 AND id > ?2"
      " ORDER BY id LIMIT ?3";
  static constexpr const char* kAnyDueJob =
      "SELECT 1 FROM provisioning_jobs"
      " WHERE next_run_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?2) LIMIT 1";
  static constexpr const char* kDueJobs =
      "SELECT " CG_JOB_COLUMNS " FROM provisioning_jobs"
      " WHERE next_run_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?3)"
      " ORDER BY next_run_at, id LIMIT ?2";
  // The job, if it is still held under the lease (?2, ?3).
  static constexpr const char* kLeasedJob =
      "SELECT 1 FROM provisioning_jobs WHERE id = ?1 AND lease_owner = ?2 AND lease_token = ?3";
  static constexpr const char* kLeaseJob =
      "UPDATE provisioning_jobs SET lease_until = ?2, lease_owner = ?3, lease_token = ?4"
      " WHERE id = ?1";
  static constexpr const char* kReleaseJobLeases =
      "UPDATE provisioning_jobs SET lease_until = NULL"
      " WHERE lease_owner = ?1 AND lease_until IS NOT NULL";
  // The key is set once: rotation may have re-sealed it since the runner read it.
  static constexpr const char* kUpdateJob =
      "UPDATE provisioning_jobs SET msg = ?2, error_code = ?3, retries_at = ?4, next_run_at = ?5,"
      " failures = ?6, order_url = ?7,"
      " key_version = CASE WHEN sealed_key IS NULL THEN ?8 ELSE key_version END,"
      " sealed_key = COALESCE(sealed_key, ?9), lease_until = ?10"
      " WHERE id = ?1 AND lease_owner = ?11 AND lease_token = ?12";
  static constexpr const char* kDeleteJob = "DELETE FROM provisioning_jobs WHERE id = ?1";
  static constexpr const char* kManagedKeyType =
      "SELECT policy_key_type, certificate_id FROM reserved_domains WHERE id = ?1";
  static constexpr const char* kAttachIssued =
      "UPDATE reserved_domains SET certificate_id = ?2, renews_at = ?3, issued_key_type = ?4"
      " WHERE id = ?1";
  static constexpr const char* kDeleteOrphanIssuedCert = sqlite::kDeleteOrphanIssuedCert;
  static constexpr const char* kInsertNotification = sqlite::kInsertNotification;
  static constexpr auto kInsertCertificateRow = &sqlite::InsertCertificateRow;
};

}  // namespace

Result<std::vector<Domain>> SqliteStore::ListDomainsNeedingCertificates(Time now, int limit) {
  constexpr std::string_view kOp = "listing domains that need certificates";
  CG_RETURN_IF_ERROR(CheckLimit(limit));
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::ListDomainsNeedingCertificates<JobSql>(lease.conn(), now, limit, kOp);
}

Result<bool> SqliteStore::InsertProvisioningJob(const ProvisioningJob& job) {
  constexpr std::string_view kOp = "inserting a provisioning job";
  return Write(kOp, [&](Connection& conn) {
    return sql::InsertProvisioningJob<JobSql>(conn, job, kOp);
  });
}

Result<std::vector<ProvisioningJob>> SqliteStore::CreateDueJobs(Time now, int limit,
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

Result<std::vector<ProvisioningJob>> SqliteStore::ListFailingJobs(int limit) {
  constexpr std::string_view kOp = "listing failing provisioning jobs";
  CG_RETURN_IF_ERROR(CheckLimit(limit));
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::ListFailingJobs<JobSql>(lease.conn(), limit, kOp);
}

Result<std::vector<ProvisioningJob>> SqliteStore::ListFailingRenewals(
    int min_failures, std::optional<std::string> after_id, int limit) {
  constexpr std::string_view kOp = "listing failing renewals";
  CG_RETURN_IF_ERROR(CheckLimit(limit));
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::ListFailingRenewals<JobSql>(lease.conn(), min_failures, after_id, limit, kOp);
}

Result<std::optional<ProvisioningJob>> SqliteStore::GetProvisioningJobForDomain(
    std::string_view domain_id) {
  constexpr std::string_view kOp = "reading a provisioning job";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::GetProvisioningJobForDomain<JobSql>(lease.conn(), domain_id, kOp);
}

Result<std::vector<ProvisioningJob>> SqliteStore::ClaimDueJobs(std::string_view owner, Time now,
                                                               Time lease_until, int limit) {
  constexpr std::string_view kOp = "claiming provisioning jobs";
  CG_RETURN_IF_ERROR(sql::CheckClaim(owner, limit, kOp));
  {
    CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
    CG_ASSIGN_OR_RETURN(bool due, sql::AnyDueJob<JobSql>(lease.conn(), now, now, kOp));
    if (!due) return std::vector<ProvisioningJob>();
  }
  return Write(kOp, [&](Connection& conn) {
    // Leases are on this machine's clock, which is the database's.
    return sql::ClaimDueJobs<JobSql>(conn, owner, now, now, lease_until, limit, kOp);
  });
}

Result<void> SqliteStore::ReleaseJobLeases(std::string_view owner) {
  constexpr std::string_view kOp = "releasing provisioning job leases";
  return Write(kOp,
               [&](Connection& conn) { return sql::ReleaseJobLeases<JobSql>(conn, owner, kOp); });
}

Result<bool> SqliteStore::UpdateProvisioningJob(const ProvisioningJob& job,
                                                std::optional<Time> hold_until) {
  constexpr std::string_view kOp = "updating a provisioning job";
  return Write(kOp, [&](Connection& conn) {
    return sql::UpdateProvisioningJob<JobSql>(conn, job, hold_until, kOp);
  });
}

Result<bool> SqliteStore::DeleteProvisioningJob(std::string_view id) {
  constexpr std::string_view kOp = "deleting a provisioning job";
  return Write(kOp,
               [&](Connection& conn) { return sql::DeleteProvisioningJob<JobSql>(conn, id, kOp); });
}

Result<bool> SqliteStore::CompleteProvisioningJob(
    const ProvisioningJob& job, const Certificate& cert, Time renews_at,
    const std::vector<Notification>& notifications) {
  constexpr std::string_view kOp = "attaching an issued certificate";
  CG_RETURN_IF_ERROR(sql::CheckIssuedForJob(job, cert, kOp));
  return WriteAndAnnounce(kOp, [&](Connection& conn) {
    return sql::CompleteProvisioningJob<JobSql>(conn, job, cert, renews_at, notifications, kOp);
  });
}

}  // namespace certgate::store::sqlite
