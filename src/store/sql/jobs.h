// Provisioning jobs and their leases, shared by the SQL backends
// (store/sqlite, store/postgres). Each function runs on a connection its
// caller holds, inside the transaction the caller chose (Write,
// WriteAndAnnounce or Read) or on a lease from its pool; S holds the
// backend's statements (struct JobSql in its jobs.cc):
//   kDomainsNeedingCertificates (now, limit): CG_*_DOMAIN_COLUMNS rows
//   kInsertJob (the 15 job fields, in CG_JOB_FIELDS order)
//   kJobForDomain (domain_id), kDueJobs (now, limit, lease_now),
//     kFailingJobs (limit), kFailingRenewals (min_failures, after_id, limit):
//     CG_*_JOB_COLUMNS rows
//   kAnyDueJob (now, lease_now), kLeasedJob (id, owner, token): a row if any
//   kLeaseJob (id, lease_until, owner, token), kReleaseJobLeases (owner)
//   kUpdateJob (id, msg, error_code, retries_at, next_run_at, failures,
//     order_url, key_version, sealed_key, lease_until, owner, token)
//   kDeleteJob (id), kManagedKeyType (domain_id): policy key type and
//     certificate_id, kAttachIssued (domain_id, certificate_id, renews_at,
//     key type), kDeleteOrphanIssuedCert (certificate_id)
//   kInsertNotification: as in store/sql/notifications.h
// Times are bound as unix seconds. S::kInsertCertificateRow is the backend's
// InsertCertificateRow (its rows.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/result.h"
#include "core/time.h"
#include "store/sql/notifications.h"
#include "store/records.h"
#include "store/sql/row_encoding.h"
#include "store/sql/rows.h"

namespace certgate::store::sql {

// Binds t as unix seconds to parameter i, or NULL.
template <class Q>
void BindOptionalTime(Q& q, int i, const std::optional<Time>& t) {
  if (t) {
    q.Int(i, ToUnixSeconds(*t));
  } else {
    q.Null(i);
  }
}

// Binds what a job's runs change to parameters first to first + 5, in the
// order kInsertJob and kUpdateJob both list them: retries_at, next_run_at,
// failures, order_url, key_version and sealed_key.
template <class Q>
void BindJobProgress(Q& q, int first, const ProvisioningJob& job) {
  BindOptionalTime(q, first, job.retries_at);
  q.Int(first + 1, ToUnixSeconds(job.next_run_at))
      .Int(first + 2, job.failures)
      .Text(first + 3, job.order_url);
  BindJobKey(q, first + 4, job.private_key);
}

template <class S, class Conn>
Result<std::vector<Domain>> ListDomainsNeedingCertificates(Conn& conn, Time now, int limit,
                                                           std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kDomainsNeedingCertificates, op);
  q.Int(1, ToUnixSeconds(now)).Int(2, limit);
  return ReadAllRows<Domain>(q, op, ReadDomain<Q>);
}

// Inside a write transaction: false if the domain has a job already or is
// not managed.
template <class S, class Conn>
Result<bool> InsertProvisioningJob(Conn& conn, const ProvisioningJob& job, std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kInsertJob, op);
  q.Text(1, job.id)
      .Text(2, job.domain_id)
      .Text(3, job.account_id)
      .Text(4, job.domain)
      .Text(5, KeyTypeName(job.key_type))
      .Bool(6, job.renewal)
      .Int(7, ToUnixSeconds(job.started_at))
      .Text(8, job.msg)
      .OptionalText(9, job.error_code);
  BindJobProgress(q, 10, job);
  CG_RETURN_IF_ERROR(q.Run());
  return q.Changes() > 0;
}

// S::kFailingJobs (limit): CG_*_JOB_COLUMNS rows.
template <class S, class Conn>
Result<std::vector<ProvisioningJob>> ListFailingJobs(Conn& conn, int limit, std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kFailingJobs, op);
  q.Int(1, limit);
  return ReadAllRows<ProvisioningJob>(q, op, ReadJob<Q>);
}

template <class S, class Conn>
Result<std::vector<ProvisioningJob>> ListFailingRenewals(Conn& conn, int min_failures,
                                                         const std::optional<std::string>& after,
                                                         int limit, std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kFailingRenewals, op);
  q.Int(1, min_failures).Text(2, after.value_or("")).Int(3, limit);
  return ReadAllRows<ProvisioningJob>(q, op, ReadJob<Q>);
}

// Inside a write transaction: JobStore::CreateDueJobs.
template <class S, class Conn, class Make>
Result<std::vector<ProvisioningJob>> CreateDueJobs(Conn& conn, Time now, int limit,
                                                   const Make& make, std::string_view op) {
  CG_ASSIGN_OR_RETURN(std::vector<Domain> due,
                      ListDomainsNeedingCertificates<S>(conn, now, limit, op));
  std::vector<ProvisioningJob> made;
  for (const Domain& d : due) {
    ProvisioningJob job = make(d);
    CG_ASSIGN_OR_RETURN(bool inserted, InsertProvisioningJob<S>(conn, job, op));
    if (inserted) made.push_back(std::move(job));
  }
  return made;
}

template <class S, class Conn>
Result<std::optional<ProvisioningJob>> GetProvisioningJobForDomain(Conn& conn,
                                                                   std::string_view domain_id,
                                                                   std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kJobForDomain, op);
  q.Text(1, domain_id);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<ProvisioningJob>();
  CG_ASSIGN_OR_RETURN(ProvisioningJob job, ReadJob(q, op));
  return std::optional<ProvisioningJob>(std::move(job));
}

// What ClaimDueJobs checks before it touches the store.
inline Result<void> CheckClaim(std::string_view owner, int limit, std::string_view op) {
  CG_RETURN_IF_ERROR(CheckLimit(limit));
  if (owner.empty()) {
    // "" is the owner of jobs never claimed: a lease must name its runner.
    return MakeError(ErrorCode::kInternal, fmt::format("{}: no lease owner given", op));
  }
  return {};
}

// Whether any job is due (next_run_at <= now) and unleased (lease_until <=
// lease_now: the time on the clock leases are kept in, see the backend).
// Mostly nothing is due: the caller finds that out with this on a plain
// lease, without taking the write lock.
template <class S, class Conn>
Result<bool> AnyDueJob(Conn& conn, Time now, Time lease_now, std::string_view op) {
  using Q = typename Conn::QueryType;
  Q any(conn, S::kAnyDueJob, op);
  any.Int(1, ToUnixSeconds(now)).Int(2, ToUnixSeconds(lease_now));
  return any.Step();
}

// Inside a write transaction: leases up to limit due jobs to owner until
// lease_until (on the clock of lease_now), each under a new token.
template <class S, class Conn>
Result<std::vector<ProvisioningJob>> ClaimDueJobs(Conn& conn, std::string_view owner, Time now,
                                                  Time lease_now, Time lease_until, int limit,
                                                  std::string_view op) {
  using Q = typename Conn::QueryType;
  std::vector<ProvisioningJob> jobs;
  {
    Q q(conn, S::kDueJobs, op);
    q.Int(1, ToUnixSeconds(now)).Int(2, limit).Int(3, ToUnixSeconds(lease_now));
    CG_ASSIGN_OR_RETURN(jobs, ReadAllRows<ProvisioningJob>(q, op, ReadJob<Q>));
  }
  // The token is read and raised in this one write transaction (holding the
  // write lock, and in PostgreSQL the rows' locks too: its kDueJobs), so no
  // claim comes between: the new one is greater than every token before.
  CG_RETURN_IF_ERROR(LeaseRows(conn, jobs, S::kLeaseJob, owner, lease_until, op));
  return jobs;
}

template <class S, class Conn>
Result<void> ReleaseJobLeases(Conn& conn, std::string_view owner, std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kReleaseJobLeases, op);
  q.Text(1, owner);
  return q.Run();
}

// Inside a write transaction: false unless the job is still held under its
// lease. hold_until: the new lease_until (nullopt: the lease ends).
template <class S, class Conn>
Result<bool> UpdateProvisioningJob(Conn& conn, const ProvisioningJob& job,
                                   std::optional<Time> hold_until, std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kUpdateJob, op);
  q.Text(1, job.id).Text(2, job.msg).OptionalText(3, job.error_code);
  BindJobProgress(q, 4, job);
  BindOptionalTime(q, 10, hold_until);
  q.Text(11, job.lease_owner).Int(12, job.lease_token);
  CG_RETURN_IF_ERROR(q.Run());
  return q.Changes() > 0;
}

template <class S, class Conn>
Result<bool> DeleteProvisioningJob(Conn& conn, std::string_view id, std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kDeleteJob, op);
  q.Text(1, id);
  CG_RETURN_IF_ERROR(q.Run());
  return q.Changes() > 0;
}

// What CompleteProvisioningJob checks before it touches the store: the
// certificate is an account certificate of the job's account.
inline Result<void> CheckIssuedForJob(const ProvisioningJob& job, const Certificate& cert,
                                      std::string_view op) {
  if (cert.account_id != job.account_id || !cert.owner_endpoint_id.empty()) {
    return MakeError(
        ErrorCode::kInternal,
        fmt::format("{}: certificate {} does not belong to the job's account", op, cert.id));
  }
  return {};
}

// Inside a write transaction that is announced when it returns true: stores
// cert, attaches it to the job's domain (dropping the certificate it
// replaces), deletes the job and enqueues notifications; false if the lease was lost, or the domain
// no longer wants this key type (the job is then deleted).
template <class S, class Conn>
Result<bool> CompleteProvisioningJob(Conn& conn, const ProvisioningJob& job,
                                     const Certificate& cert, Time renews_at,
                                     const std::vector<Notification>& notifications,
                                     std::string_view op) {
  using Q = typename Conn::QueryType;
  {
    Q still(conn, S::kLeasedJob, op);
    still.Text(1, job.id).Text(2, job.lease_owner).Int(3, job.lease_token);
    CG_ASSIGN_OR_RETURN(bool row, still.Step());
    // Gone (the domain stopped being managed meanwhile), or another runner
    // took the job over.
    if (!row) return false;
  }
  std::optional<std::string> previous;
  {
    Q managed(conn, S::kManagedKeyType, op);
    managed.Text(1, job.domain_id);
    CG_ASSIGN_OR_RETURN(bool row, managed.Step());
    if (!row || managed.IsNull(0) || managed.ColumnView(0) != KeyTypeName(job.key_type)) {
      Q drop(conn, S::kDeleteJob, op);
      drop.Text(1, job.id);
      CG_RETURN_IF_ERROR(drop.Run());
      return false;
    }
    previous = managed.OptionalColumnText(1);
  }
  CG_RETURN_IF_ERROR(S::kInsertCertificateRow(conn, cert, cert.account_id, "", op));
  {
    Q attach(conn, S::kAttachIssued, op);
    attach.Text(1, job.domain_id)
        .Text(2, cert.id)
        .Int(3, ToUnixSeconds(renews_at))
        .Text(4, KeyTypeName(job.key_type));
    CG_RETURN_IF_ERROR(attach.Run());
  }
  if (previous && *previous != cert.id) {
    Q orphan(conn, S::kDeleteOrphanIssuedCert, op);
    orphan.Text(1, *previous);
    CG_RETURN_IF_ERROR(orphan.Run());
  }
  Q done(conn, S::kDeleteJob, op);
  done.Text(1, job.id);
  CG_RETURN_IF_ERROR(done.Run());
  CG_RETURN_IF_ERROR(EnqueueNotifications<S>(conn, notifications, op));
  return true;
}

}  // namespace certgate::store::sql
