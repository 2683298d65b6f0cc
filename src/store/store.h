// The store: certgate's durable state behind one interface, so that SQLite
// (the embedded default) and PostgreSQL (clusters) are interchangeable. The
// record types are in records.h.
//
// Contracts for every backend:
// - Implementations are thread-safe: any method may be called from any thread
//   concurrently.
// - Every write is one transaction: after a crash at any instant a record is
//   either wholly present or absent, and a call that returned success is
//   durable.
// - "Not found" is a value (std::optional / false), not an error. Records of
//   another account are not found, exactly like ids that never existed.
// - The store sees sealed key blobs only, never plaintext keys.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/time.h"
#include "store/records.h"

namespace certgate::store {

// Name ownership. Every name belongs to at most one account: an account that
// reserves "x" owns x and every name below it; one that reserves "*.x" owns
// every name below x, at any depth (as ngrok's wildcards route). Two domains
// of different accounts may not own a name in common, so InsertDomain
// refuses, in the same write transaction as the insert (race-free):
// - the same name in the same account: kDomainReservedHere;
// - the same name in another account, or a name below another account's
//   domain "a" or wildcard "*.a" (including "*.a" when another holds "a"):
//   kDomainReservedElsewhere;
// - a wildcard "*.x" while another account holds a domain below x:
//   kDomainWildcardOverOthers;
// - an exact "x" while another account holds a domain below x, or "*.x":
//   kDomainOverOthers.
// InsertEndpoint refuses a host that another account's domain owns
// (kEndpointHostReservedElsewhere). Messages name the conflicting domain,
// never its account.

class Store {
 public:
  virtual ~Store() = default;

  // Accounts.
  virtual Result<void> CreateAccount(const Account& account) = 0;
  virtual Result<std::optional<Account>> GetAccount(std::string_view id) = 0;
  virtual Result<int64_t> CountAccounts() = 0;

  // API keys, stored by the SHA-256 of the secret token only.
  virtual Result<void> CreateApiKey(const ApiKey& key, std::string_view token_hash) = 0;
  // The key and its account for a token hash; nullopt if no key has it.
  virtual Result<std::optional<std::pair<ApiKey, Account>>> FindApiKeyByHash(
      std::string_view token_hash) = 0;

  // TLS certificates. An account_id of "" addresses the service's own.
  // kStoreConflict if the id exists.
  virtual Result<void> InsertCertificate(const Certificate& cert) = 0;
  virtual Result<std::optional<Certificate>> GetCertificate(std::string_view account_id,
                                                            std::string_view id) = 0;
  // Any account's certificate, for maintenance (key verification, the edge).
  virtual Result<std::optional<Certificate>> GetCertificateById(std::string_view id) = 0;
  // Newest first; ids strictly below before_id when given; 1 <= limit <= 1000.
  virtual Result<Page<Certificate>> ListCertificates(std::string_view account_id,
                                                     std::optional<std::string> before_id,
                                                     int limit) = 0;
  // Applies the patch; returns the updated record, or nullopt if not found.
  virtual Result<std::optional<Certificate>> UpdateCertificate(std::string_view account_id,
                                                               std::string_view id,
                                                               const CertificatePatch& patch) = 0;
  // Deletes unless a domain references it (kInUse, used_by = the domain
  // names), atomically. Certificates owned by an endpoint (see
  // Endpoint::policy_certificate_id) are not found here.
  virtual Result<DeleteOutcome> DeleteCertificate(std::string_view account_id,
                                                  std::string_view id) = 0;
  // Reserved domains. The name is unique across all accounts, and names
  // belong to one account (see "Name ownership" above for the errors).
  // certificate_id must name a certificate of the same account
  // (kStoreConflict otherwise, also when it is deleted concurrently). The
  // checks are index lookups: one per label of the name, and for a name
  // with something below it, one range of the name index.
  virtual Result<void> InsertDomain(const Domain& domain) = 0;
  virtual Result<std::optional<Domain>> GetDomain(std::string_view account_id,
                                                  std::string_view id) = 0;
  // Any account's domain by its normalized name.
  virtual Result<std::optional<Domain>> FindDomainByName(std::string_view name) = 0;
  virtual Result<Page<Domain>> ListDomains(std::string_view account_id,
                                           std::optional<std::string> before_id, int limit) = 0;
  // Replaces every field but id, account_id, created_at, domain, renews_at
  // and issued_key_type. While a policy is set, certificate_id is left as it
  // is (automatic management attaches certificates); without one, the
  // domain's provisioning job is deleted and renews_at and issued_key_type
  // are cleared. False if not found in that account.
  virtual Result<bool> UpdateDomain(const Domain& domain) = 0;
  // Deletes unless an endpoint uses it (kInUse, used_by = endpoint URLs).
  virtual Result<DeleteOutcome> DeleteDomain(std::string_view account_id,
                                             std::string_view id) = 0;

  // Endpoints. url is unique across all accounts (kStoreConflict); a host
  // another account's domain owns is kEndpointHostReservedElsewhere.
  // policy_certificate, when given, is inserted in the same transaction with
  // account_id = the endpoint's and becomes endpoint.policy_certificate_id
  // (its id must equal that field).
  virtual Result<void> InsertEndpoint(const Endpoint& endpoint,
                                      const std::optional<Certificate>& policy_certificate) = 0;
  virtual Result<std::optional<Endpoint>> GetEndpoint(std::string_view account_id,
                                                      std::string_view id) = 0;
  virtual Result<Page<Endpoint>> ListEndpoints(std::string_view account_id,
                                               std::optional<std::string> before_id,
                                               int limit) = 0;
  // Replaces every field but id, account_id, created_at. A new
  // policy_certificate replaces the endpoint's old one (deleted in the same
  // transaction); nullopt with endpoint.policy_certificate_id unset deletes
  // the old one; nullopt with it set keeps the old one. False if not found.
  virtual Result<bool> UpdateEndpoint(const Endpoint& endpoint,
                                      const std::optional<Certificate>& policy_certificate) = 0;
  // Deletes the endpoint and its policy certificate. False if not found.
  virtual Result<bool> DeleteEndpoint(std::string_view account_id, std::string_view id) = 0;

  // Every overlap of names between accounts, read in one transaction (for
  // `certgate admin check`). Visits every domain and endpoint once.
  virtual Result<NameCheck> CheckNameOwnership() = 0;

  // Everything the edge serves, read in one transaction.
  virtual Result<EdgeState> LoadEdgeState() = 0;
  // A number that grows with every committed write to certificates, domains
  // or endpoints, by any process. Cheap: the edge polls it.
  virtual Result<int64_t> ChangeSequence() = 0;
  // Calls fn (on the writing thread, after commit) for every write made
  // through this Store object, so that this process's edge reacts at once.
  // fn must be quick and thread-safe. Not removable; lives as long as the store.
  virtual void OnChange(std::function<void()> fn) = 0;

  // Every sealed key (certificates of all accounts, ACME accounts, jobs),
  // ordered by record id, after after_id (exclusive) when given; at most
  // limit. For key rotation.
  virtual Result<std::vector<SealedKeyRef>> ListSealedKeys(std::optional<std::string> after_id,
                                                           int limit) = 0;
  // Replaces a record's sealed key if it still equals expected (compare
  // and swap, so a concurrent change is never overwritten). True if replaced.
  virtual Result<bool> ReplaceSealedKey(std::string_view record_id, const SealedKey& expected,
                                        const SealedKey& replacement) = 0;
  // How many sealed keys use a master key version other than `version`.
  virtual Result<int64_t> CountSealedKeysNotAtVersion(uint32_t version) = 0;

  // ---- Automatic certificates ----

  // The account for an ACME directory, if one was made.
  virtual Result<std::optional<AcmeAccount>> GetAcmeAccount(std::string_view directory_url) = 0;
  // kStoreConflict if the directory has an account already.
  virtual Result<void> InsertAcmeAccount(const AcmeAccount& account) = 0;
  // Forgets an account (the CA no longer knows it). False if not found.
  virtual Result<bool> DeleteAcmeAccount(std::string_view id) = 0;

  // Managed domains (policy set) without a job whose certificate is missing,
  // due for renewal (renews_at <= now), or of another key type than the
  // policy asks for. Oldest first, at most limit.
  virtual Result<std::vector<Domain>> ListDomainsNeedingCertificates(Time now, int limit) = 0;
  // Inserts a job if its domain is still managed and has none. False if not.
  virtual Result<bool> InsertProvisioningJob(const ProvisioningJob& job) = 0;
  virtual Result<std::optional<ProvisioningJob>> GetProvisioningJobForDomain(
      std::string_view domain_id) = 0;
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
  virtual Result<bool> CompleteProvisioningJob(const ProvisioningJob& job, const Certificate& cert,
                                               Time renews_at) = 0;

  // Challenge answers, deleted with their job.
  virtual Result<void> PutHttp01Challenge(const Http01Challenge& challenge) = 0;
  virtual Result<std::optional<std::string>> GetHttp01KeyAuthorization(
      std::string_view token) = 0;
  // A TXT value at name (an acme_challenge_cname_target) for DNS-01.
  virtual Result<void> PutDnsTxtRecord(std::string_view name, std::string_view value,
                                       std::string_view job_id) = 0;
  virtual Result<std::vector<std::string>> ListDnsTxtRecords(std::string_view name) = 0;
  // Whether some reserved domain lies strictly below name (so that name
  // exists in DNS as an empty non-terminal).
  virtual Result<bool> HasReservedNamesBelow(std::string_view name) = 0;
  // Whether name is a domain's cname_target or a reserved domain itself (the
  // authoritative DNS answers these with the edge's addresses). A reserved
  // wildcard "*.x" covers the name one label below x.
  virtual Result<bool> IsEdgeName(std::string_view name) = 0;

  // Small service settings (e.g. the id of the default certificate).
  virtual Result<std::optional<std::string>> GetSetting(std::string_view name) = 0;
  virtual Result<void> SetSetting(std::string_view name, std::string_view value) = 0;
};

// Opens the store a --store URL names, migrating its schema:
//   "sqlite:/path/to/certgate.db" or "sqlite:relative/path.db"
// (PostgreSQL URLs are refused until that backend exists: kStoreUrlInvalid.)
Result<std::unique_ptr<Store>> OpenStore(std::string_view url);

}  // namespace certgate::store
