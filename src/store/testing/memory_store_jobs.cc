// MemoryStore: automatic certificates (ACME accounts, domains that need a
// certificate, provisioning jobs and their leases, challenge answers).
#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "store/testing/memory_store.h"
#include "store/sql/notifications.h"
#include "store/testing/memory_store_data.h"

namespace certgate::store::testing {
namespace {

ProvisioningJob StoredJob(const ProvisioningJob& job) {
  ProvisioningJob stored = job;
  stored.started_at = WholeSeconds(job.started_at);
  stored.retries_at = WholeSeconds(job.retries_at);
  stored.next_run_at = WholeSeconds(job.next_run_at);
  return stored;
}

// Whether the stored job is still held under the lease the runner's copy
// names: the runner may write only then.
bool HeldUnder(const JobRow& row, const ProvisioningJob& job) {
  return row.job.lease_owner == job.lease_owner && row.job.lease_token == job.lease_token;
}

}  // namespace

// ---- ACME accounts ----

Result<std::optional<AcmeAccount>> MemoryStore::GetAcmeAccount(std::string_view directory_url) {
  std::lock_guard lock(data_->mu);
  for (const auto& [id, account] : data_->acme_accounts) {
    if (account.directory_url == directory_url) return std::optional<AcmeAccount>(account);
  }
  return std::optional<AcmeAccount>();
}

Result<void> MemoryStore::InsertAcmeAccount(const AcmeAccount& account) {
  constexpr std::string_view kOp = "inserting an ACME account";
  std::lock_guard lock(data_->mu);
  if (data_->acme_accounts.contains(account.id)) return IdentityConflict(kOp, "acme_accounts.id");
  for (const auto& [id, other] : data_->acme_accounts) {
    if (other.directory_url == account.directory_url) {
      return IdentityConflict(kOp, "acme_accounts.directory_url");
    }
  }
  AcmeAccount stored = account;
  stored.created_at = WholeSeconds(account.created_at);
  data_->acme_accounts.emplace(stored.id, std::move(stored));
  return {};
}

Result<bool> MemoryStore::DeleteAcmeAccount(std::string_view id) {
  std::lock_guard lock(data_->mu);
  auto it = data_->acme_accounts.find(id);
  if (it == data_->acme_accounts.end()) return false;
  data_->acme_accounts.erase(it);
  return true;
}

// ---- Provisioning jobs ----

namespace {

// When a managed domain needs a job, as the SQLite backend's
// needs_certificate_at column has it.
Time NeedsCertificateAt(const Domain& d) {
  if (!d.certificate_id.has_value() || !d.issued_key_type.has_value() ||
      *d.issued_key_type != d.policy->private_key_type || !d.renews_at.has_value()) {
    return d.created_at;
  }
  return *d.renews_at;
}

}  // namespace

Result<std::vector<Domain>> MemoryStore::ListDomainsNeedingCertificates(Time now, int limit) {
  CG_RETURN_IF_ERROR(CheckListLimit(limit));
  const Time at = WholeSeconds(now);
  std::lock_guard lock(data_->mu);
  std::vector<Domain> due;
  for (const auto& [id, row] : data_->domains) {
    const Domain& d = row.domain;
    if (!d.policy.has_value()) continue;
    const bool has_job = std::any_of(data_->jobs.begin(), data_->jobs.end(),
                                     [&](const auto& j) { return j.second.job.domain_id == d.id; });
    if (has_job) continue;
    if (NeedsCertificateAt(d) <= at) due.push_back(d);
  }
  // Longest due first.
  std::sort(due.begin(), due.end(), [](const Domain& a, const Domain& b) {
    const Time ta = NeedsCertificateAt(a);
    const Time tb = NeedsCertificateAt(b);
    return ta != tb ? ta < tb : a.id < b.id;
  });
  if (due.size() > static_cast<size_t>(limit)) due.resize(static_cast<size_t>(limit));
  return due;
}

Result<bool> MemoryStore::InsertProvisioningJob(const ProvisioningJob& job) {
  std::lock_guard lock(data_->mu);
  if (data_->jobs.contains(job.id)) {
    return IdentityConflict("inserting a provisioning job", "provisioning_jobs.id");
  }
  auto domain = data_->domains.find(job.domain_id);
  if (domain == data_->domains.end() || !domain->second.domain.policy.has_value()) return false;
  for (const auto& [id, row] : data_->jobs) {
    if (row.job.domain_id == job.domain_id) return false;
  }
  ProvisioningJob stored = StoredJob(job);
  stored.lease_owner.clear();  // a new job is not leased
  stored.lease_token = 0;
  data_->jobs.emplace(job.id, JobRow{std::move(stored), std::nullopt});
  return true;
}

Result<std::vector<ProvisioningJob>> MemoryStore::ListFailingJobs(int limit) {
  CG_RETURN_IF_ERROR(CheckListLimit(limit));
  std::lock_guard lock(data_->mu);
  std::vector<ProvisioningJob> failing;
  for (const auto& [id, row] : data_->jobs) {
    if (row.job.failures > 0) failing.push_back(row.job);
  }
  std::sort(failing.begin(), failing.end(), [](const auto& a, const auto& b) {
    return a.failures != b.failures ? a.failures > b.failures : a.id < b.id;
  });
  if (failing.size() > static_cast<size_t>(limit)) failing.resize(static_cast<size_t>(limit));
  return failing;
}

Result<std::vector<ProvisioningJob>> MemoryStore::ListFailingRenewals(
    int min_failures, std::optional<std::string> after_id, int limit) {
  CG_RETURN_IF_ERROR(CheckListLimit(limit));
  std::lock_guard lock(data_->mu);
  std::vector<ProvisioningJob> failing;
  auto it = after_id ? data_->jobs.upper_bound(*after_id) : data_->jobs.begin();
  for (; it != data_->jobs.end() && failing.size() < static_cast<size_t>(limit); ++it) {
    const ProvisioningJob& job = it->second.job;
    if (job.renewal && job.failures >= min_failures) failing.push_back(job);
  }
  return failing;
}

// One process only: a scan of another MemoryStore cannot overlap this one.
Result<std::vector<ProvisioningJob>> MemoryStore::CreateDueJobs(Time now, int limit,
                                                               const JobMaker& make) {
  CG_ASSIGN_OR_RETURN(std::vector<Domain> due, ListDomainsNeedingCertificates(now, limit));
  std::vector<ProvisioningJob> made;
  for (const Domain& d : due) {
    ProvisioningJob job = make(d);
    CG_ASSIGN_OR_RETURN(bool inserted, InsertProvisioningJob(job));
    if (inserted) made.push_back(std::move(job));
  }
  return made;
}

Result<std::optional<ProvisioningJob>> MemoryStore::GetProvisioningJobForDomain(
    std::string_view domain_id) {
  std::lock_guard lock(data_->mu);
  for (const auto& [id, row] : data_->jobs) {
    if (row.job.domain_id == domain_id) return std::optional<ProvisioningJob>(row.job);
  }
  return std::optional<ProvisioningJob>();
}

Result<std::vector<ProvisioningJob>> MemoryStore::ClaimDueJobs(std::string_view owner, Time now,
                                                               Time lease_until, int limit) {
  CG_RETURN_IF_ERROR(CheckListLimit(limit));
  if (owner.empty()) {
    // "" is the owner of jobs never claimed: a lease must name its runner.
    return MakeError(ErrorCode::kInternal, "claiming provisioning jobs: no lease owner given");
  }
  const Time at = WholeSeconds(now);
  std::lock_guard lock(data_->mu);
  std::vector<JobRow*> due;
  for (auto& [id, row] : data_->jobs) {
    if (row.job.next_run_at <= at && (!row.lease_until.has_value() || *row.lease_until <= at)) {
      due.push_back(&row);
    }
  }
  std::sort(due.begin(), due.end(), [](const JobRow* a, const JobRow* b) {
    return a->job.next_run_at != b->job.next_run_at ? a->job.next_run_at < b->job.next_run_at
                                                    : a->job.id < b->job.id;
  });
  if (due.size() > static_cast<size_t>(limit)) due.resize(static_cast<size_t>(limit));
  std::vector<ProvisioningJob> claimed;
  for (JobRow* row : due) {
    row->lease_until = WholeSeconds(lease_until);
    row->job.lease_owner = std::string(owner);
    ++row->job.lease_token;  // greater than every token the job had
    claimed.push_back(row->job);
  }
  return claimed;
}

Result<void> MemoryStore::ReleaseJobLeases(std::string_view owner) {
  std::lock_guard lock(data_->mu);
  // The tokens stay, so a late write of the owner's dead process is refused.
  for (auto& [id, row] : data_->jobs) {
    if (row.job.lease_owner == owner) row.lease_until.reset();
  }
  return {};
}

Result<bool> MemoryStore::UpdateProvisioningJob(const ProvisioningJob& job,
                                                std::optional<Time> hold_until) {
  std::lock_guard lock(data_->mu);
  auto it = data_->jobs.find(job.id);
  if (it == data_->jobs.end() || !HeldUnder(it->second, job)) return false;
  ProvisioningJob& stored = it->second.job;
  stored.msg = job.msg;
  stored.error_code = job.error_code;
  stored.retries_at = WholeSeconds(job.retries_at);
  stored.next_run_at = WholeSeconds(job.next_run_at);
  stored.failures = job.failures;
  stored.order_url = job.order_url;
  // Set once: rotation may have re-sealed it since the runner read it.
  if (!stored.private_key.has_value()) stored.private_key = job.private_key;
  it->second.lease_until = WholeSeconds(hold_until);
  return true;
}

Result<bool> MemoryStore::DeleteProvisioningJob(std::string_view id) {
  std::lock_guard lock(data_->mu);
  if (!data_->jobs.contains(id)) return false;
  data_->DeleteJob(id);
  return true;
}

Result<bool> MemoryStore::CompleteProvisioningJob(const ProvisioningJob& job,
                                                  const Certificate& cert, Time renews_at,
                                                  const std::vector<Notification>& notifications) {
  constexpr std::string_view kOp = "attaching an issued certificate";
  for (const Notification& n : notifications) {
    CG_RETURN_IF_ERROR(sql::CheckNotification(n, kOp));
  }
  if (cert.account_id != job.account_id || !cert.owner_endpoint_id.empty()) {
    return MakeError(
        ErrorCode::kInternal,
        fmt::format("{}: certificate {} does not belong to the job's account", kOp, cert.id));
  }
  Result<bool> result = false;
  {
    std::lock_guard lock(data_->mu);
    // Gone (the domain stopped being managed meanwhile), or another runner
    // took the job over.
    auto held = data_->jobs.find(job.id);
    if (held == data_->jobs.end() || !HeldUnder(held->second, job)) return false;
    auto domain = data_->domains.find(job.domain_id);
    if (domain == data_->domains.end() || !domain->second.domain.policy.has_value() ||
        domain->second.domain.policy->private_key_type != job.key_type) {
      data_->DeleteJob(job.id);
      return false;
    }
    CG_RETURN_IF_ERROR(data_->InsertCertificateRecord(cert, kOp));
    Domain& d = domain->second.domain;
    std::optional<std::string> previous = d.certificate_id;
    d.certificate_id = cert.id;
    d.renews_at = WholeSeconds(renews_at);
    d.issued_key_type = job.key_type;
    data_->Changed(EdgeChangeKind::kDomain, d.domain);
    if (previous.has_value() && *previous != cert.id) {
      data_->DeleteOrphanIssuedCertificate(*previous);
    }
    data_->DeleteJob(job.id);
    data_->EnqueueNotifications(notifications);
    result = true;
  }
  return Announced(std::move(result));
}

// ---- The alert outbox ----

int MemoryStoreData::EnqueueNotifications(const std::vector<Notification>& batch) {
  int inserted = 0;
  for (const Notification& n : batch) {
    const bool known = std::any_of(notifications.begin(), notifications.end(), [&](auto& entry) {
      return entry.second.notification.recipient == n.recipient &&
             entry.second.notification.event_key == n.event_key;
    });
    if (known) continue;
    NotificationRow row{n, std::nullopt};
    row.notification.created_at = WholeSeconds(n.created_at);
    row.notification.next_attempt_at = WholeSeconds(n.next_attempt_at);
    row.notification.attempts = 0;
    row.notification.last_error.clear();
    row.notification.delivered_at.reset();
    row.notification.abandoned_at.reset();
    row.notification.lease_owner.clear();
    row.notification.lease_token = 0;
    notifications.emplace(n.id, std::move(row));
    ++inserted;
  }
  return inserted;
}

Result<int> MemoryStore::EnqueueNotifications(const std::vector<Notification>& notifications) {
  for (const Notification& n : notifications) {
    CG_RETURN_IF_ERROR(sql::CheckNotification(n, "enqueueing notifications"));
  }
  std::lock_guard lock(data_->mu);
  return data_->EnqueueNotifications(notifications);
}

Result<std::vector<Notification>> MemoryStore::ClaimDueNotifications(
    std::string_view owner, const std::vector<std::string>& recipients, Time now,
    Time lease_until, int limit) {
  CG_RETURN_IF_ERROR(CheckListLimit(limit));
  if (owner.empty()) {
    return MakeError(ErrorCode::kInternal, "claiming notifications: no lease owner given");
  }
  const Time at = WholeSeconds(now);
  std::lock_guard lock(data_->mu);
  std::vector<NotificationRow*> due;
  for (auto& [id, row] : data_->notifications) {
    const Notification& n = row.notification;
    if (!n.delivered_at && !n.abandoned_at && n.next_attempt_at <= at &&
        (!row.lease_until.has_value() || *row.lease_until <= at) &&
        std::find(recipients.begin(), recipients.end(), n.recipient) != recipients.end()) {
      due.push_back(&row);
    }
  }
  std::sort(due.begin(), due.end(), [](const NotificationRow* a, const NotificationRow* b) {
    const Notification& x = a->notification;
    const Notification& y = b->notification;
    return x.next_attempt_at != y.next_attempt_at ? x.next_attempt_at < y.next_attempt_at
                                                  : x.id < y.id;
  });
  if (due.size() > static_cast<size_t>(limit)) due.resize(static_cast<size_t>(limit));
  std::vector<Notification> claimed;
  for (NotificationRow* row : due) {
    row->lease_until = WholeSeconds(lease_until);
    row->notification.lease_owner = std::string(owner);
    ++row->notification.lease_token;
    claimed.push_back(row->notification);
  }
  return claimed;
}

Result<bool> MemoryStore::FinishNotificationAttempt(const Notification& n, Outcome outcome,
                                                    Time at) {
  std::lock_guard lock(data_->mu);
  auto it = data_->notifications.find(n.id);
  if (it == data_->notifications.end()) return false;
  Notification& stored = it->second.notification;
  if (stored.delivered_at || stored.abandoned_at || stored.lease_owner != n.lease_owner ||
      stored.lease_token != n.lease_token) {
    return false;
  }
  stored.attempts = n.attempts;
  stored.last_error = n.last_error.substr(0, 1000);
  stored.next_attempt_at = WholeSeconds(n.next_attempt_at);
  if (outcome == Outcome::kDelivered) stored.delivered_at = WholeSeconds(at);
  if (outcome == Outcome::kAbandoned) stored.abandoned_at = WholeSeconds(at);
  it->second.lease_until.reset();
  return true;
}

Result<int64_t> MemoryStore::PruneNotifications(Time before) {
  std::lock_guard lock(data_->mu);
  const Time cutoff = WholeSeconds(before);
  int64_t pruned = 0;
  for (auto it = data_->notifications.begin(); it != data_->notifications.end();) {
    const Notification& n = it->second.notification;
    const bool done = n.delivered_at || n.abandoned_at;
    const bool may_recur = n.event_type == "certificate.expiring" &&
                           data_->certificates.count(n.subject_id) > 0;
    if (done && n.created_at < cutoff && !may_recur) {
      it = data_->notifications.erase(it);
      ++pruned;
    } else {
      ++it;
    }
  }
  return pruned;
}

Result<int64_t> MemoryStore::CountUndeliveredNotifications() {
  std::lock_guard lock(data_->mu);
  return std::count_if(data_->notifications.begin(), data_->notifications.end(), [](auto& entry) {
    return !entry.second.notification.delivered_at && !entry.second.notification.abandoned_at;
  });
}

// ---- Challenge answers ----

Result<void> MemoryStore::PutHttp01Challenge(const Http01Challenge& challenge) {
  std::lock_guard lock(data_->mu);
  if (!data_->jobs.contains(challenge.job_id)) {
    return MakeError(
        ErrorCode::kStoreConflict,
        fmt::format("storing an HTTP-01 challenge: job {} does not exist", challenge.job_id));
  }
  data_->http01.insert_or_assign(challenge.token, challenge);
  data_->Changed(EdgeChangeKind::kHttp01, challenge.token);
  return {};
}

Result<std::optional<std::string>> MemoryStore::GetHttp01KeyAuthorization(std::string_view token) {
  std::lock_guard lock(data_->mu);
  auto it = data_->http01.find(token);
  if (it == data_->http01.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second.key_authorization);
}

Result<std::vector<std::pair<std::string, std::string>>> MemoryStore::ListHttp01Challenges() {
  std::lock_guard lock(data_->mu);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [token, challenge] : data_->http01) {
    out.emplace_back(token, challenge.key_authorization);
  }
  return out;
}

Result<bool> MemoryStore::DeleteHttp01Challenge(std::string_view token) {
  std::lock_guard lock(data_->mu);
  auto it = data_->http01.find(token);
  if (it == data_->http01.end()) return false;
  data_->Changed(EdgeChangeKind::kHttp01, it->first);
  data_->http01.erase(it);
  return true;
}

Result<void> MemoryStore::PutDnsTxtRecord(std::string_view name, std::string_view value,
                                          std::string_view job_id) {
  std::lock_guard lock(data_->mu);
  if (!data_->jobs.contains(job_id)) {
    return MakeError(ErrorCode::kStoreConflict,
                     fmt::format("storing a DNS-01 TXT record: job {} does not exist", job_id));
  }
  data_->dns01.insert_or_assign(std::make_pair(std::string(name), std::string(value)),
                                std::string(job_id));
  data_->Changed(EdgeChangeKind::kDnsTxt, name);
  return {};
}

Result<std::vector<std::string>> MemoryStore::ListDnsTxtRecords(std::string_view name) {
  std::lock_guard lock(data_->mu);
  std::vector<std::string> values;  // sorted: the map is ordered by (name, value)
  for (const auto& [key, job_id] : data_->dns01) {
    if (key.first == name) values.push_back(key.second);
  }
  return values;
}

Result<bool> MemoryStore::DeleteDnsTxtRecord(std::string_view name, std::string_view value) {
  std::lock_guard lock(data_->mu);
  if (data_->dns01.erase(std::make_pair(std::string(name), std::string(value))) == 0) return false;
  data_->Changed(EdgeChangeKind::kDnsTxt, name);
  return true;
}

}  // namespace certgate::store::testing
