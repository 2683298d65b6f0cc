// MemoryStore: the whole store::Store interface held in memory, for fast unit
// tests of the layers above the store (LevelDB's helpers/memenv plays the same
// part for its Env). It honours every contract of store.h as the SQLite
// backend does, and the store conformance suite runs against both:
// - thread-safe: one mutex guards the data, and each call is one atomic step
//   (a refused write changes nothing);
// - times are kept at second precision, as the SQLite backend stores them;
// - ChangeSequence counts every record of certificates, domains and endpoints
//   a write inserts, updates or deletes, like the SQLite backend's triggers;
// - OnChange callbacks run on the writing thread after the write, with no
//   lock of the store held, for writes through this object only;
// - it offers the NameOwnershipAudit, as the SQLite backend does.
// Nothing is durable: the data lives as long as the last store object that
// shares it (see SharingDataWith).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "store/change_callbacks.h"
#include "store/store.h"
#include "store/store_methods.h"

namespace certgate::store::testing {

class MemoryStoreData;  // the records; defined in memory_store_data.h

class MemoryStore final : public Store, public NameOwnershipAudit {
 public:
  // An empty store.
  MemoryStore();
  ~MemoryStore() override;
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  // Another store object over the same records, as a second process sees
  // one database: it shares the data and the change sequence, but not the
  // OnChange callbacks.
  static std::unique_ptr<MemoryStore> SharingDataWith(const MemoryStore& other);

  // For tests of records that bypassed the store's checks (rows from before a
  // rule existed, or written by a tool): stores the domain as given, with
  // name_key as its name index key ("" for a row without one; a backend's
  // ownership checks cannot see such a row below other names). No checks, no
  // OnChange; the change sequence grows as for any write.
  void WriteDomainAroundTheStore(const Domain& domain, std::string_view name_key);
  // The same for an endpoint (its domain must exist).
  void WriteEndpointAroundTheStore(const Endpoint& endpoint);
  // References that do not resolve (a domain's certificate, an endpoint's
  // domain or policy certificate, a job's domain, a challenge's job), one
  // line each; "" when the records are consistent.
  std::string IntegrityProblems() const;

  // How many change-feed entries the store keeps (100,000 by default).
  void SetChangeRetention(size_t entries);

  CERTGATE_STORE_METHODS_OVERRIDE
  Result<NameCheck> CheckNameOwnership() override;

 private:
  explicit MemoryStore(std::shared_ptr<MemoryStoreData> data);

  // With data_->mu held.
  Result<void> CreateAccountLocked(const Account& account);
  Result<void> CreateApiKeyLocked(const ApiKey& key, std::string_view token_hash);
  // Calls the OnChange callbacks. Called with no lock of the data held.
  void AnnounceChange() { callbacks_.Announce(); }
  // AnnounceChange if a write's result says it changed something.
  template <class R>
  R Announced(R result);

  std::shared_ptr<MemoryStoreData> data_;

  ChangeCallbacks callbacks_;
};
static_assert(!std::is_abstract_v<MemoryStore>, "CERTGATE_STORE_METHODS_OVERRIDE misses a method");

}  // namespace certgate::store::testing
