// Provisioning jobs and their leases in the PostgreSQL backend.
#include "store/postgres/pg_store_impl.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "store/postgres/rows.h"
#include "store/postgres/statements.h"

namespace certgate::store::pg {
namespace {

// From the partial index reserved_domains_needing_certificates: one range of
// needs_certificate_at (a stored generated column), already in this order.
constexpr char kDomainsNeedingCertificates[] =
    "SELECT " CG_PG_DOMAIN_COLUMNS " FROM reserved_domains d"
    " WHERE needs_certificate_at <= to_timestamp($1)"
    " AND NOT EXISTS (SELECT 1 FROM provisioning_jobs j WHERE j.domain_id = d.id)"
    " ORDER BY needs_certificate_at, id LIMIT $2";
// A new job is not leased (owner '', token 0: the columns' defaults). The
// casts: the values of an INSERT ... SELECT get no type from the columns
// they go to, and PostgreSQL assigns text to no boolean, integer or bytea.
constexpr char kInsertJob[] =
    "INSERT INTO provisioning_jobs (id, domain_id, account_id, domain, key_type, renewal,"
    " started_at, msg, error_code, retries_at, next_run_at, failures, order_url, key_version,"
    " sealed_key)"
    " SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::boolean, to_timestamp($7),"
    " $8::text, $9::text, to_timestamp($10), to_timestamp($11), $12::integer, $13::text,"
    " $14::bigint, $15::bytea"
    " WHERE EXISTS (SELECT 1 FROM reserved_domains WHERE id = $2 AND policy_authority IS NOT NULL)"
    " ON CONFLICT (domain_id) DO NOTHING";
constexpr char kJobForDomain[] =
    "SELECT " CG_PG_JOB_COLUMNS " FROM provisioning_jobs WHERE domain_id = $1";
constexpr char kAnyDueJob[] =
    "SELECT 1 FROM provisioning_jobs WHERE next_run_at <= to_timestamp($1)"
    " AND (lease_until IS NULL OR lease_until <= to_timestamp($1)) LIMIT 1";
// Locks the rows it returns until the claim commits; SKIP LOCKED passes over
// rows another transaction holds rather than wait for them. (The write lock
// already keeps other claims out; this also keeps out a write that took row
// locks without it.)
constexpr char kDueJobs[] =
    "SELECT " CG_PG_JOB_COLUMNS " FROM provisioning_jobs WHERE next_run_at <= to_timestamp($1)"
    " AND (lease_until IS NULL OR lease_until <= to_timestamp($1))"
    " ORDER BY next_run_at, id LIMIT $2 FOR UPDATE SKIP LOCKED";
// The job, if it is still held under the lease ($2, $3).
constexpr char kLeasedJob[] =
    "SELECT 1 FROM provisioning_jobs WHERE id = $1 AND lease_owner = $2 AND lease_token = $3";
constexpr char kLeaseJob[] =
    "UPDATE provisioning_jobs SET lease_until = to_timestamp($2), lease_owner = $3,"
    " lease_token = $4 WHERE id = $1";
constexpr char kReleaseJobLeases[] =
    "UPDATE provisioning_jobs SET lease_until = NULL"
    " WHERE lease_owner = $1 AND lease_until IS NOT NULL";
// The key is set once: rotation may have re-sealed it since the runner read
// it. to_timestamp(NULL) is NULL: no retry time, or the hold ends.
constexpr char kUpdateJob[] =
    "UPDATE provisioning_jobs SET msg = $2, error_code = $3, retries_at = to_timestamp($4),"
    " next_run_at = to_timestamp($5), failures = $6, order_url = $7,"
    " key_version = CASE WHEN sealed_key IS NULL THEN $8 ELSE key_version END,"
    " sealed_key = COALESCE(sealed_key, $9), lease_until = to_timestamp($10)"
    " WHERE id = $1 AND lease_owner = $11 AND lease_token = $12";
constexpr char kDeleteJob[] = "DELETE FROM provisioning_jobs WHERE id = $1";
constexpr char kManagedKeyType[] =
    "SELECT policy_key_type, certificate_id FROM reserved_domains WHERE id = $1";
constexpr char kAttachIssued[] =
    "UPDATE reserved_domains SET certificate_id = $2, renews_at = to_timestamp($3),"
    " issued_key_type = $4 WHERE id = $1";

}  // namespace

Result<std::vector<Domain>> PgStore::ListDomainsNeedingCertificates(Time now, int limit) {
  constexpr std::string_view kOp = "listing domains that need certificates";
  CG_RETURN_IF_ERROR(CheckLimit(limit));
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kDomainsNeedingCertificates, kOp);
  q.Int(1, ToUnixSeconds(now)).Int(2, limit);
  std::vector<Domain> domains;
  while (true) {
    CG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    CG_ASSIGN_OR_RETURN(Domain d, ReadDomain(q, kOp));
    domains.push_back(std::move(d));
  }
  return domains;
}

Result<bool> PgStore::InsertProvisioningJob(const ProvisioningJob& job) {
  constexpr std::string_view kOp = "inserting a provisioning job";
  return Write(kOp, [&](Connection& conn) -> Result<bool> {
    Query q(conn, kInsertJob, kOp);
    q.Text(1, job.id)
        .Text(2, job.domain_id)
        .Text(3, job.account_id)
        .Text(4, job.domain)
        .Text(5, KeyTypeName(job.key_type))
        .Bool(6, job.renewal)
        .Int(7, ToUnixSeconds(job.started_at))
        .Text(8, job.msg)
        .OptionalText(9, job.error_code);
    if (job.retries_at) {
      q.Int(10, ToUnixSeconds(*job.retries_at));
    } else {
      q.Null(10);
    }
    q.Int(11, ToUnixSeconds(job.next_run_at)).Int(12, job.failures).Text(13, job.order_url);
    BindJobKey(q, 14, job.private_key);
    CG_RETURN_IF_ERROR(q.Run());
    return q.Changes() > 0;
  });
}

Result<std::optional<ProvisioningJob>> PgStore::GetProvisioningJobForDomain(
    std::string_view domain_id) {
  constexpr std::string_view kOp = "reading a provisioning job";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kJobForDomain, kOp);
  q.Text(1, domain_id);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<ProvisioningJob>();
  CG_ASSIGN_OR_RETURN(ProvisioningJob job, ReadJob(q, kOp));
  return std::optional<ProvisioningJob>(std::move(job));
}

Result<std::vector<ProvisioningJob>> PgStore::ClaimDueJobs(std::string_view owner, Time now,
                                                           Time lease_until, int limit) {
  constexpr std::string_view kOp = "claiming provisioning jobs";
  CG_RETURN_IF_ERROR(CheckLimit(limit));
  if (owner.empty()) {
    // "" is the owner of jobs never claimed: a lease must name its runner.
    return MakeError(ErrorCode::kInternal, fmt::format("{}: no lease owner given", kOp));
  }
  {
    // Mostly nothing is due: find that out without taking the write lock.
    CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
    Query any(lease.conn(), kAnyDueJob, kOp);
    any.Int(1, ToUnixSeconds(now));
    CG_ASSIGN_OR_RETURN(bool due, any.Step());
    if (!due) return std::vector<ProvisioningJob>();
  }
  return Write(kOp, [&](Connection& conn) -> Result<std::vector<ProvisioningJob>> {
    std::vector<ProvisioningJob> jobs;
    {
      Query q(conn, kDueJobs, kOp);
      q.Int(1, ToUnixSeconds(now)).Int(2, limit);
      while (true) {
        CG_ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        CG_ASSIGN_OR_RETURN(ProvisioningJob job, ReadJob(q, kOp));
        jobs.push_back(std::move(job));
      }
    }
    // The token is read and raised in this one write transaction, holding
    // the write lock and the rows' locks, so no claim comes between: the new
    // one is greater than every token before.
    for (auto& job : jobs) {
      job.lease_owner = std::string(owner);
      ++job.lease_token;
      Query lease(conn, kLeaseJob, kOp);
      lease.Text(1, job.id)
          .Int(2, ToUnixSeconds(lease_until))
          .Text(3, job.lease_owner)
          .Int(4, job.lease_token);
      CG_RETURN_IF_ERROR(lease.Run());
    }
    return jobs;
  });
}

Result<void> PgStore::ReleaseJobLeases(std::string_view owner) {
  constexpr std::string_view kOp = "releasing provisioning job leases";
  return Write(kOp, [&](Connection& conn) {
    Query q(conn, kReleaseJobLeases, kOp);
    q.Text(1, owner);
    return q.Run();
  });
}

Result<bool> PgStore::UpdateProvisioningJob(const ProvisioningJob& job,
                                            std::optional<Time> hold_until) {
  constexpr std::string_view kOp = "updating a provisioning job";
  return Write(kOp, [&](Connection& conn) -> Result<bool> {
    Query q(conn, kUpdateJob, kOp);
    q.Text(1, job.id).Text(2, job.msg).OptionalText(3, job.error_code);
    if (job.retries_at) {
      q.Int(4, ToUnixSeconds(*job.retries_at));
    } else {
      q.Null(4);
    }
    q.Int(5, ToUnixSeconds(job.next_run_at)).Int(6, job.failures).Text(7, job.order_url);
    BindJobKey(q, 8, job.private_key);
    if (hold_until) {
      q.Int(10, ToUnixSeconds(*hold_until));
    } else {
      q.Null(10);
    }
    q.Text(11, job.lease_owner).Int(12, job.lease_token);
    CG_RETURN_IF_ERROR(q.Run());
    return q.Changes() > 0;
  });
}

Result<bool> PgStore::DeleteProvisioningJob(std::string_view id) {
  constexpr std::string_view kOp = "deleting a provisioning job";
  return Write(kOp, [&](Connection& conn) -> Result<bool> {
    Query q(conn, kDeleteJob, kOp);
    q.Text(1, id);
    CG_RETURN_IF_ERROR(q.Run());
    return q.Changes() > 0;
  });
}

Result<bool> PgStore::CompleteProvisioningJob(const ProvisioningJob& job, const Certificate& cert,
                                              Time renews_at) {
  constexpr std::string_view kOp = "attaching an issued certificate";
  if (cert.account_id != job.account_id || !cert.owner_endpoint_id.empty()) {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("{}: certificate {} does not belong to the job's account", kOp,
                                 cert.id));
  }
  return WriteAndAnnounce(kOp, [&](Connection& conn) -> Result<bool> {
    {
      Query still(conn, kLeasedJob, kOp);
      still.Text(1, job.id).Text(2, job.lease_owner).Int(3, job.lease_token);
      CG_ASSIGN_OR_RETURN(bool row, still.Step());
      // Gone (the domain stopped being managed meanwhile), or another runner
      // took the job over.
      if (!row) return false;
    }
    std::optional<std::string> previous;
    {
      Query managed(conn, kManagedKeyType, kOp);
      managed.Text(1, job.domain_id);
      CG_ASSIGN_OR_RETURN(bool row, managed.Step());
      if (!row || managed.IsNull(0) || managed.ColumnView(0) != KeyTypeName(job.key_type)) {
        Query drop(conn, kDeleteJob, kOp);
        drop.Text(1, job.id);
        CG_RETURN_IF_ERROR(drop.Run());
        return false;
      }
      previous = managed.OptionalColumnText(1);
    }
    CG_RETURN_IF_ERROR(InsertCertificateRow(conn, cert, cert.account_id, "", kOp));
    {
      Query attach(conn, kAttachIssued, kOp);
      attach.Text(1, job.domain_id)
          .Text(2, cert.id)
          .Int(3, ToUnixSeconds(renews_at))
          .Text(4, KeyTypeName(job.key_type));
      CG_RETURN_IF_ERROR(attach.Run());
    }
    if (previous && *previous != cert.id) {
      Query orphan(conn, kDeleteOrphanIssuedCert, kOp);
      orphan.Text(1, *previous);
      CG_RETURN_IF_ERROR(orphan.Run());
    }
    Query done(conn, kDeleteJob, kOp);
    done.Text(1, job.id);
    CG_RETURN_IF_ERROR(done.Run());
    return true;
  });
}

}  // namespace certgate::store::pg
