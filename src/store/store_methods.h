// Every Store method (store.h) as an implementation declares it, in one
// list for the classes that implement them all (SqliteStore, PgStore,
// MemoryStore), rather than a copy in each. The role interfaces that
// store.h unites (account_store.h, certificate_store.h, ...) remain the
// source of truth, with the contracts: a method added there is added here
// too. The compiler checks the list against them: a signature that differs
// fails `override`, and a method the list misses leaves the class abstract,
// which the static_assert after each class reports.
#pragma once

// Inside the class body, in a public section:
//   class SqliteStore final : public Store, ... {
//    public:
//     CERTGATE_STORE_METHODS_OVERRIDE
#define CERTGATE_STORE_METHODS_OVERRIDE                                                        \
  /* AccountStore (account_store.h) */                                                        \
  Result<void> CreateAccount(const Account& account) override;                                \
  Result<std::optional<Account>> GetAccount(std::string_view id) override;                    \
  Result<int64_t> CountAccounts() override;                                                   \
  Result<bool> CreateFirstAccount(const Account& account, const ApiKey& key,                  \
                                  std::string_view token_hash) override;                      \
  Result<void> CreateApiKey(const ApiKey& key, std::string_view token_hash) override;         \
  Result<std::optional<std::pair<ApiKey, Account>>> FindApiKeyByHash(                        \
      std::string_view token_hash) override;                                                  \
  /* CertificateStore (certificate_store.h) */                                                \
  Result<void> InsertCertificate(const Certificate& cert) override;                           \
  Result<std::optional<Certificate>> GetCertificate(std::string_view account_id,              \
                                                    std::string_view id) override;            \
  Result<std::optional<Certificate>> GetCertificateById(std::string_view id) override;        \
  Result<Page<Certificate>> ListCertificates(std::string_view account_id,                     \
                                             const ListQuery& query) override;                \
  Result<std::optional<Certificate>> UpdateCertificate(                                       \
      std::string_view account_id, std::string_view id, const CertificatePatch& patch)        \
      override;                                                                               \
  Result<DeleteOutcome> DeleteCertificate(std::string_view account_id, std::string_view id)   \
      override;                                                                               \
  Result<std::vector<UnsummarizedCertificate>> ListUnsummarizedCertificates(                  \
      std::optional<std::string> after_id, int limit) override;                               \
  Result<std::vector<CertificateExpiry>> ListCertificateExpiries(                             \
      std::optional<std::string> after_id, int limit) override;                               \
  Result<bool> SetCertificateSummary(std::string_view id, const CertificateSummary& summary)  \
      override;                                                                               \
  /* DomainStore (domain_store.h) */                                                          \
  Result<void> InsertDomain(const Domain& domain) override;                                   \
  Result<InsertDomainsOutcome> InsertDomains(const std::vector<Domain>& domains) override;    \
  Result<std::optional<Domain>> GetDomain(std::string_view account_id, std::string_view id)   \
      override;                                                                               \
  Result<std::optional<Domain>> FindDomainByName(std::string_view name) override;             \
  Result<Page<Domain>> ListDomains(std::string_view account_id, const ListQuery& query)       \
      override;                                                                               \
  Result<bool> UpdateDomain(const Domain& domain) override;                                   \
  Result<DeleteOutcome> DeleteDomain(std::string_view account_id, std::string_view id)        \
      override;                                                                               \
  /* EndpointStore (endpoint_store.h) */                                                      \
  Result<void> InsertEndpoint(const Endpoint& endpoint,                                       \
                              const std::optional<Certificate>& policy_certificate) override; \
  Result<std::optional<Endpoint>> GetEndpoint(std::string_view account_id,                    \
                                              std::string_view id) override;                  \
  Result<Page<Endpoint>> ListEndpoints(std::string_view account_id, const ListQuery& query)   \
      override;                                                                               \
  Result<bool> UpdateEndpoint(const Endpoint& endpoint,                                       \
                              const std::optional<Certificate>& policy_certificate) override; \
  Result<bool> DeleteEndpoint(std::string_view account_id, std::string_view id) override;     \
  /* EdgeFeed (edge_feed.h); its LoadEdgeState() overload stays visible */                    \
  using EdgeFeed::LoadEdgeState;                                                              \
  Result<EdgeState> LoadEdgeState(const EdgeDomainVisitor& visit) override;                   \
  Result<int64_t> ChangeSequence() override;                                                  \
  Result<EdgeChanges> ChangesSince(int64_t after, int limit) override;                        \
  Result<std::optional<EdgeDomain>> EdgeDomainByName(std::string_view name) override;         \
  Result<std::vector<Endpoint>> EndpointsByHost(std::string_view host) override;              \
  void OnChange(std::function<void()> fn) override;                                           \
  /* SealedKeyStore (sealed_key_store.h) */                                                   \
  Result<std::vector<SealedKeyRef>> ListSealedKeys(std::optional<std::string> after_id,       \
                                                   int limit) override;                       \
  Result<bool> ReplaceSealedKey(std::string_view record_id, const SealedKey& expected,        \
                                const SealedKey& replacement) override;                       \
  Result<int64_t> CountSealedKeysNotAtVersion(uint32_t version) override;                     \
  /* AcmeAccountStore (acme_account_store.h) */                                               \
  Result<std::optional<AcmeAccount>> GetAcmeAccount(std::string_view directory_url)           \
      override;                                                                               \
  Result<void> InsertAcmeAccount(const AcmeAccount& account) override;                        \
  Result<bool> DeleteAcmeAccount(std::string_view id) override;                               \
  /* JobStore (job_store.h) */                                                                \
  Result<std::vector<Domain>> ListDomainsNeedingCertificates(Time now, int limit) override;   \
  Result<bool> InsertProvisioningJob(const ProvisioningJob& job) override;                    \
  Result<std::vector<ProvisioningJob>> ListFailingJobs(int limit) override;                   \
  Result<std::vector<ProvisioningJob>> ListFailingRenewals(                                   \
      int min_failures, std::optional<std::string> after_id, int limit) override;             \
  Result<std::vector<ProvisioningJob>> CreateDueJobs(Time now, int limit,                     \
                                                     const JobMaker& make) override;          \
  Result<std::optional<ProvisioningJob>> GetProvisioningJobForDomain(                         \
      std::string_view domain_id) override;                                                   \
  Result<std::vector<ProvisioningJob>> ClaimDueJobs(std::string_view owner, Time now,         \
                                                    Time lease_until, int limit) override;    \
  Result<void> ReleaseJobLeases(std::string_view owner) override;                             \
  Result<bool> UpdateProvisioningJob(const ProvisioningJob& job,                              \
                                     std::optional<Time> hold_until) override;                \
  Result<bool> DeleteProvisioningJob(std::string_view id) override;                           \
  Result<bool> CompleteProvisioningJob(const ProvisioningJob& job, const Certificate& cert,   \
                                       Time renews_at,                                        \
                                       const std::vector<Notification>& notifications)        \
      override;                                                                               \
  /* ChallengeStore (challenge_store.h) */                                                    \
  Result<void> PutHttp01Challenge(const Http01Challenge& challenge) override;                 \
  Result<std::optional<std::string>> GetHttp01KeyAuthorization(std::string_view token)        \
      override;                                                                               \
  Result<bool> DeleteHttp01Challenge(std::string_view token) override;                        \
  Result<std::vector<std::pair<std::string, std::string>>> ListHttp01Challenges() override;   \
  Result<void> PutDnsTxtRecord(std::string_view name, std::string_view value,                 \
                               std::string_view job_id) override;                             \
  Result<std::vector<std::string>> ListDnsTxtRecords(std::string_view name) override;         \
  Result<bool> DeleteDnsTxtRecord(std::string_view name, std::string_view value) override;    \
  /* ZoneNames (zone_names.h) */                                                              \
  Result<bool> HasReservedNamesBelow(std::string_view name) override;                         \
  Result<bool> IsEdgeName(std::string_view name) override;                                    \
  Result<int64_t> LoadZone(std::string_view zone, const ZoneVisitor& visit) override;         \
  Result<bool> IsCnameTarget(std::string_view name) override;                                 \
  /* SettingStore (setting_store.h) */                                                        \
  Result<std::optional<std::string>> GetSetting(std::string_view name) override;              \
  Result<void> SetSetting(std::string_view name, std::string_view value) override;            \
  Result<bool> CompareAndSetSetting(std::string_view name,                                    \
                                    const std::optional<std::string>& expected,               \
                                    std::string_view value) override;                         \
  /* NotificationStore (notification_store.h) */                                              \
  Result<int> EnqueueNotifications(const std::vector<Notification>& notifications) override;  \
  Result<std::vector<Notification>> ClaimDueNotifications(                                    \
      std::string_view owner, const std::vector<std::string>& recipients, Time now,           \
      Time lease_until, int limit) override;                                                  \
  Result<bool> FinishNotificationAttempt(const Notification& n, Outcome outcome, Time at)     \
      override;                                                                               \
  Result<int64_t> CountUndeliveredNotifications() override;                                   \
  Result<int64_t> PruneNotifications(Time before) override;
