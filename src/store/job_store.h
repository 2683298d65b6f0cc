// Provisioning jobs: the durable state of getting managed domains their
// certificates, with leases that name their runner (a node id) and carry a
// fencing token, so that several nodes may run jobs on one store and a
// runner that lost its lease cannot write.
// Thread-safe, and every backend keeps the contracts stated in store.h
// (one transaction per write; "not found" is a value, and records of another
// account are not found).
#pragma once

#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/time.h"
#include "store/records.h"

namespace certgate::store {

class JobStore {
 public:
  virtual ~JobStore() = default;

  // Managed domains (policy set) without a job whose certificate is missing
  // or of another key type than the policy asks for (due since they were
  // reserved: created_at <= now), or due for renewal (renews_at <= now).
  // Longest due first (by that time, then id), at most limit. Backends
  // answer it from an index of that time, not a scan.
  virtual Result<std::vector<Domain>> ListDomainsNeedingCertificates(Time now, int limit) = 0;
  // Inserts a job if its domain is still managed and has none. False if not.
  virtual Result<bool> InsertProvisioningJob(const ProvisioningJob& job) = 0;
  // The scan for new work, run by one node at a time: for each of up to
  // limit domains ListDomainsNeedingCertificates(now, limit) names, inserts
  // make(domain), all in one write transaction (in a cluster, under its
  // write lock, so scans never overlap). Returns the jobs inserted. When
  // nothing is due, backends answer from a read, without the lock.
  using JobMaker = std::function<ProvisioningJob(const Domain&)>;
  virtual Result<std::vector<ProvisioningJob>> CreateDueJobs(Time now, int limit,
                                                            const JobMaker& make) = 0;
  virtual Result<std::optional<ProvisioningJob>> GetProvisioningJobForDomain(
      std::string_view domain_id) = 0;
  // Jobs whose last attempt failed (failures > 0), most failures first
  // (then by id), at most limit (1 to 1000): what metrics show per domain.
  virtual Result<std::vector<ProvisioningJob>> ListFailingJobs(int limit) = 0;
  // Renewal jobs (renewal set) whose last min_failures or more attempts
  // failed, by id after after_id, at most limit (1 to 1000): what alerts
  // watch, a page at a time, however many first orders fail.
  virtual Result<std::vector<ProvisioningJob>> ListFailingRenewals(
      int min_failures, std::optional<std::string> after_id, int limit) = 0;
  // Jobs with next_run_at <= now that no runner holds, now held by owner
  // until lease_until, each with a fresh fencing token (greater than any the
  // job had before); at most limit, earliest first. The jobs returned carry
  // the owner and token: pass them back to Update/CompleteProvisioningJob.
  virtual Result<std::vector<ProvisioningJob>> ClaimDueJobs(std::string_view owner, Time now,
                                                            Time lease_until, int limit) = 0;
  // Ends the holds of owner's jobs (and no one else's), so that jobs a
  // killed process of this node held resume at once; called at startup.
  // Their tokens stay, so a late write of the dead process is still refused.
  virtual Result<void> ReleaseJobLeases(std::string_view owner) = 0;
  // Writes msg, error_code, retries_at, next_run_at, failures and order_url,
  // and private_key if the job has none yet (a job's key is set once, so a
  // runner's stale copy never undoes a key rotation). hold_until extends the
  // runner's hold; nullopt ends it. Writes only if the stored job has the
  // job's lease_owner and lease_token; false (nothing written) if not, or if
  // the job is gone: the caller lost its lease and must stop.
  virtual Result<bool> UpdateProvisioningJob(const ProvisioningJob& job,
                                             std::optional<Time> hold_until) = 0;
  virtual Result<bool> DeleteProvisioningJob(std::string_view id) = 0;
  // In one transaction: inserts the issued certificate, attaches it to the
  // job's domain with renews_at and the job's key type, deletes the
  // previously attached issued certificate, and deletes the job with its
  // challenges. False (and nothing written) if the job is gone, is held
  // under another lease (owner or token differ from the job's), or its
  // domain no longer asks for this key type (then the job is deleted).
  // notifications (alerts of the issuance) are enqueued in the same
  // transaction, as NotificationStore::EnqueueNotifications would.
  virtual Result<bool> CompleteProvisioningJob(const ProvisioningJob& job, const Certificate& cert,
                                               Time renews_at,
                                               const std::vector<Notification>& notifications) = 0;
};

}  // namespace certgate::store
