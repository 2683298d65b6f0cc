// The records a MemoryStore holds, shared by store objects over the same data,
// and the helpers its files share. Private to memory_store*.cc.
#pragma once

#include <cstdint>
#include <iterator>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/store.h"
#include "store/testing/memory_store.h"

namespace certgate::store::testing {

// A reserved domain and its name index key (NameKey of its name, unless it
// was written around the store).
struct DomainRow {
  Domain domain;
  std::string name_key;
};

// A provisioning job and the time until which a runner holds it.
struct JobRow {
  ProvisioningJob job;
  std::optional<Time> lease_until;
};

// An alert in the outbox and the time until which a node holds it.
struct NotificationRow {
  Notification notification;
  std::optional<Time> lease_until;
};

class MemoryStoreData {
 public:
  // Every member below is GUARDED_BY(mu).
  mutable std::mutex mu;

  std::map<std::string, Account, std::less<>> accounts;
  std::map<std::string, std::pair<ApiKey, std::string>, std::less<>> api_keys;  // by id: key, hash
  std::map<std::string, Certificate, std::less<>> certificates;                 // by id
  std::map<std::string, DomainRow, std::less<>> domains;                        // by id
  std::map<std::string, Endpoint, std::less<>> endpoints;                       // by id
  std::map<std::string, AcmeAccount, std::less<>> acme_accounts;                // by id
  std::map<std::string, JobRow, std::less<>> jobs;                              // by id
  std::map<std::string, Http01Challenge, std::less<>> http01;                   // by token
  // DNS-01 TXT records by (name, value): the job that put them.
  std::map<std::pair<std::string, std::string>, std::string> dns01;
  std::map<std::string, std::string, std::less<>> settings;
  std::map<std::string, NotificationRow, std::less<>> notifications;  // by id
  // Enqueues what the outbox does not hold yet; returns how many.
  int EnqueueNotifications(const std::vector<Notification>& batch);
  // The edge's change feed: the newest change_retention entries; the
  // sequence grows by one per entry (Changed).
  std::deque<EdgeChange> changes;
  int64_t change_sequence = 0;
  size_t change_retention = 100000;

  // REQUIRES: mu held, for all of these.
  // Appends to the change feed, as the SQLite backend's triggers do for
  // every row written to what the edge serves.
  void Changed(EdgeChangeKind kind, std::string_view key);
  // A domain row was written: its name, and a cname_target it lost or gained
  // (as the SQLite triggers log them).
  void DomainChanged(std::string_view name, const std::optional<std::string>& old_target,
                     const std::optional<std::string>& new_target);
  const DomainRow* DomainNamed(std::string_view name) const;
  // Deletes a job and the challenges that belong to it.
  void DeleteJob(std::string_view job_id);
  // Deletes the job of a domain, if it has one.
  void DeleteJobOfDomain(std::string_view domain_id);
  // Deletes certificate id if it was issued automatically and no domain
  // refers to it any more.
  void DeleteOrphanIssuedCertificate(std::string_view id);
  // Inserts a certificate; kStoreConflict (naming op) if the id exists.
  Result<void> InsertCertificateRecord(const Certificate& cert, std::string_view op);
};

// Times as the SQLite backend keeps them: whole seconds.
inline Time WholeSeconds(Time t) { return FromUnixSeconds(ToUnixSeconds(t)); }
inline std::optional<Time> WholeSeconds(std::optional<Time> t) {
  return t.has_value() ? std::optional<Time>(WholeSeconds(*t)) : std::nullopt;
}

// kStoreConflict for a record whose identity (what) exists already.
Error IdentityConflict(std::string_view op, std::string_view what);
// kInvalidPaging unless 1 <= limit <= 1000.
Result<void> CheckListLimit(int limit);

// Newest first (ids descending), ids strictly below before_id when given; one
// page of at most limit records of those keep(record) accepts.
template <class T, class Keep>
Page<T> PageOf(const std::map<std::string, T, std::less<>>& records, const ListQuery& query,
               Keep keep) {
  const int limit = query.limit;
  Page<T> page;
  auto end = query.before_id.has_value() ? records.lower_bound(*query.before_id) : records.end();
  for (auto it = std::make_reverse_iterator(end); it != records.rend(); ++it) {
    if (!keep(it->second)) continue;
    if (page.items.size() == static_cast<size_t>(limit)) {
      page.has_more = true;
      break;
    }
    page.items.push_back(it->second);
  }
  return page;
}

template <class R>
R MemoryStore::Announced(R result) {
  return callbacks_.AnnounceIfChanged(std::move(result));
}

}  // namespace certgate::store::testing
