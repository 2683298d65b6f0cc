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

#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "store/store.h"

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

  Result<void> CreateAccount(const Account& account) override;
  Result<std::optional<Account>> GetAccount(std::string_view id) override;
  Result<int64_t> CountAccounts() override;
  Result<bool> CreateFirstAccount(const Account& account, const ApiKey& key,
                                  std::string_view token_hash) override;
  Result<void> CreateApiKey(const ApiKey& key, std::string_view token_hash) override;
  Result<std::optional<std::pair<ApiKey, Account>>> FindApiKeyByHash(
      std::string_view token_hash) override;
  Result<void> InsertCertificate(const Certificate& cert) override;
  Result<std::optional<Certificate>> GetCertificate(std::string_view account_id,
                                                    std::string_view id) override;
  Result<std::optional<Certificate>> GetCertificateById(std::string_view id) override;
  Result<Page<Certificate>> ListCertificates(std::string_view account_id,
                                             const ListQuery& query) override;
  Result<std::optional<Certificate>> UpdateCertificate(std::string_view account_id,
                                                       std::string_view id,
                                                       const CertificatePatch& patch) override;
  Result<DeleteOutcome> DeleteCertificate(std::string_view account_id,
                                          std::string_view id) override;
  Result<std::vector<UnsummarizedCertificate>> ListUnsummarizedCertificates(
      std::optional<std::string> after_id, int limit) override;
  Result<bool> SetCertificateSummary(std::string_view id,
                                     const CertificateSummary& summary) override;
  Result<void> InsertDomain(const Domain& domain) override;
  Result<InsertDomainsOutcome> InsertDomains(const std::vector<Domain>& domains) override;
  Result<std::optional<Domain>> GetDomain(std::string_view account_id,
                                          std::string_view id) override;
  Result<std::optional<Domain>> FindDomainByName(std::string_view name) override;
  Result<Page<Domain>> ListDomains(std::string_view account_id,
                                   const ListQuery& query) override;
  Result<bool> UpdateDomain(const Domain& domain) override;
  Result<DeleteOutcome> DeleteDomain(std::string_view account_id, std::string_view id) override;
  Result<void> InsertEndpoint(const Endpoint& endpoint,
                              const std::optional<Certificate>& policy_certificate) override;
  Result<std::optional<Endpoint>> GetEndpoint(std::string_view account_id,
                                              std::string_view id) override;
  Result<Page<Endpoint>> ListEndpoints(std::string_view account_id,
                                       const ListQuery& query) override;
  Result<bool> UpdateEndpoint(const Endpoint& endpoint,
                              const std::optional<Certificate>& policy_certificate) override;
  Result<bool> DeleteEndpoint(std::string_view account_id, std::string_view id) override;
  Result<NameCheck> CheckNameOwnership() override;
  using EdgeFeed::LoadEdgeState;
  Result<EdgeState> LoadEdgeState(const EdgeDomainVisitor& visit) override;
  Result<EdgeChanges> ChangesSince(int64_t after, int limit) override;
  Result<std::optional<EdgeDomain>> EdgeDomainByName(std::string_view name) override;
  Result<std::vector<Endpoint>> EndpointsByHost(std::string_view host) override;
  // How many change-feed entries the store keeps (100,000 by default).
  void SetChangeRetention(size_t entries);
  Result<int64_t> ChangeSequence() override;
  void OnChange(std::function<void()> fn) override;
  Result<std::vector<SealedKeyRef>> ListSealedKeys(std::optional<std::string> after_id,
                                                   int limit) override;
  Result<bool> ReplaceSealedKey(std::string_view record_id, const SealedKey& expected,
                                const SealedKey& replacement) override;
  Result<int64_t> CountSealedKeysNotAtVersion(uint32_t version) override;
  Result<std::optional<AcmeAccount>> GetAcmeAccount(std::string_view directory_url) override;
  Result<void> InsertAcmeAccount(const AcmeAccount& account) override;
  Result<bool> DeleteAcmeAccount(std::string_view id) override;
  Result<std::vector<Domain>> ListDomainsNeedingCertificates(Time now, int limit) override;
  Result<bool> InsertProvisioningJob(const ProvisioningJob& job) override;
  Result<std::optional<ProvisioningJob>> GetProvisioningJobForDomain(
      std::string_view domain_id) override;
  Result<std::vector<ProvisioningJob>> ClaimDueJobs(std::string_view owner, Time now,
                                                    Time lease_until, int limit) override;
  Result<void> ReleaseJobLeases(std::string_view owner) override;
  Result<bool> UpdateProvisioningJob(const ProvisioningJob& job,
                                     std::optional<Time> hold_until) override;
  Result<bool> DeleteProvisioningJob(std::string_view id) override;
  Result<bool> CompleteProvisioningJob(const ProvisioningJob& job, const Certificate& cert,
                                       Time renews_at) override;
  Result<void> PutHttp01Challenge(const Http01Challenge& challenge) override;
  Result<std::optional<std::string>> GetHttp01KeyAuthorization(std::string_view token) override;
  Result<bool> DeleteHttp01Challenge(std::string_view token) override;
  Result<std::vector<std::pair<std::string, std::string>>> ListHttp01Challenges() override;
  Result<void> PutDnsTxtRecord(std::string_view name, std::string_view value,
                               std::string_view job_id) override;
  Result<std::vector<std::string>> ListDnsTxtRecords(std::string_view name) override;
  Result<bool> DeleteDnsTxtRecord(std::string_view name, std::string_view value) override;
  Result<bool> HasReservedNamesBelow(std::string_view name) override;
  Result<bool> IsEdgeName(std::string_view name) override;
  Result<int64_t> LoadZone(std::string_view zone, const ZoneVisitor& visit) override;
  Result<bool> IsCnameTarget(std::string_view name) override;
  Result<std::optional<std::string>> GetSetting(std::string_view name) override;
  Result<void> SetSetting(std::string_view name, std::string_view value) override;
  Result<bool> CompareAndSetSetting(std::string_view name,
                                    const std::optional<std::string>& expected,
                                    std::string_view value) override;

 private:
  explicit MemoryStore(std::shared_ptr<MemoryStoreData> data);

  // With data_->mu held.
  Result<void> CreateAccountLocked(const Account& account);
  Result<void> CreateApiKeyLocked(const ApiKey& key, std::string_view token_hash);
  // Calls the OnChange callbacks. Called with no lock of the data held.
  void AnnounceChange();
  // AnnounceChange if a write's result says it changed something.
  template <class R>
  R Announced(R result);

  std::shared_ptr<MemoryStoreData> data_;

  // Never removed, so a copy of the pointers can be called without the lock
  // (and a callback may call OnChange itself).
  std::mutex callbacks_mu_;
  std::vector<std::shared_ptr<const std::function<void()>>>
      callbacks_;  // GUARDED_BY(callbacks_mu_)
};

}  // namespace certgate::store::testing
