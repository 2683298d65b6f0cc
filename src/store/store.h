// The store: certgate's durable state behind one interface, so that SQLite
// (the embedded default) and PostgreSQL (clusters) are interchangeable.
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

namespace certgate::store {

enum class Plan { kFree, kPayg };
std::string_view PlanName(Plan plan);  // "free", "payg"
std::optional<Plan> ParsePlan(std::string_view name);

struct Account {
  std::string id;  // acct_...
  std::string name;
  Plan plan = Plan::kFree;
  Time created_at;
};

struct ApiKey {
  std::string id;  // ak_...
  std::string account_id;
  std::string description;
  Time created_at;
};

// A private key sealed by seal::KeyVault, and the master key version that
// sealed it (kept beside the blob so rotation can find old ones).
struct SealedKey {
  uint32_t key_version = 0;
  std::vector<uint8_t> blob;
  bool operator==(const SealedKey&) const = default;
};

struct Certificate {
  std::string id;          // cert_...
  std::string account_id;  // empty for the service's own certificates
  Time created_at;
  std::string description;
  std::string metadata;
  std::string certificate_pem;  // canonical chain, leaf first
  std::optional<Time> issued_at;  // set for automatically issued certificates
  Time not_after;                 // of the leaf, for expiry scans
  SealedKey private_key;
  // Set for a certificate a terminate-tls action brought: it belongs to that
  // endpoint and is invisible to the account-scoped certificate calls.
  std::string owner_endpoint_id;
};

// Fields an update may change; absent means unchanged.
struct CertificatePatch {
  std::optional<std::string> description;
  std::optional<std::string> metadata;
};

// A page of a newest-first list. has_more says a further page exists.
template <class T>
struct Page {
  std::vector<T> items;
  bool has_more = false;
};

// Automatic certificate management of a domain.
struct ManagementPolicy {
  std::string authority = "letsencrypt";
  std::string private_key_type = "ecdsa";  // "ecdsa" or "rsa"
  bool operator==(const ManagementPolicy&) const = default;
};

// A reserved domain. `domain` is normalized ASCII and may start with "*.".
// With a policy, certificate_id is the certificate last issued for it (if
// any); without one, it is the uploaded certificate (if any).
struct Domain {
  std::string id;  // rd_...
  std::string account_id;
  Time created_at;
  std::string description;
  std::string metadata;
  std::string domain;
  std::optional<std::string> certificate_id;
  std::optional<ManagementPolicy> policy;
  std::optional<std::string> cname_target;
  std::optional<std::string> acme_challenge_cname_target;
};

// An endpoint: where the edge accepts traffic for a host and where it sends it.
struct Endpoint {
  std::string id;  // ep_...
  std::string account_id;
  Time created_at;
  std::string description;
  std::string metadata;
  std::string url;       // normalized: "https://host" or "tls://host:port"
  std::string scheme;    // "https" or "tls"
  std::string host;      // normalized ASCII
  uint16_t port = 443;
  std::string upstream;  // normalized: "http://h:p", "https://h:p" or "tcp://h:p"
  // Normalized JSON, never holding a private key ("" when there is none).
  std::string traffic_policy;
  std::string domain_id;  // the reserved domain whose name covers host
  // The certificate a terminate-tls action brought, stored as a certificate
  // owned by this endpoint (hidden from /tls_certificates, deleted with it).
  std::optional<std::string> policy_certificate_id;
};

// What deleting something found.
struct DeleteOutcome {
  enum class Status { kDeleted, kNotFound, kInUse };
  Status status = Status::kNotFound;
  // For kInUse: who uses it (domain names, or endpoint URLs), sorted.
  std::vector<std::string> used_by;
};

// What the edge needs of every account, in one consistent read.
struct EdgeDomain {
  std::string domain;
  std::optional<std::string> certificate_id;
};
struct EdgeState {
  std::vector<EdgeDomain> domains;
  std::vector<Endpoint> endpoints;
  int64_t change_sequence = 0;
};

// A sealed key located for rotation: which record, and its current blob.
struct SealedKeyRef {
  std::string certificate_id;
  SealedKey key;
};

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
  // Reserved domains. The name is unique across all accounts: inserting or
  // renaming onto an existing name is kStoreConflict. certificate_id must
  // name a certificate of the same account (kStoreConflict otherwise, also
  // when it is deleted concurrently).
  virtual Result<void> InsertDomain(const Domain& domain) = 0;
  virtual Result<std::optional<Domain>> GetDomain(std::string_view account_id,
                                                  std::string_view id) = 0;
  // Any account's domain by its normalized name.
  virtual Result<std::optional<Domain>> FindDomainByName(std::string_view name) = 0;
  virtual Result<Page<Domain>> ListDomains(std::string_view account_id,
                                           std::optional<std::string> before_id, int limit) = 0;
  // Replaces every field but id, account_id, created_at and domain. False if
  // not found in that account.
  virtual Result<bool> UpdateDomain(const Domain& domain) = 0;
  // Deletes unless an endpoint uses it (kInUse, used_by = endpoint URLs).
  virtual Result<DeleteOutcome> DeleteDomain(std::string_view account_id,
                                             std::string_view id) = 0;

  // Endpoints. url is unique across all accounts (kStoreConflict).
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

  // Everything the edge serves, read in one transaction.
  virtual Result<EdgeState> LoadEdgeState() = 0;
  // A number that grows with every committed write to certificates, domains
  // or endpoints, by any process. Cheap: the edge polls it.
  virtual Result<int64_t> ChangeSequence() = 0;
  // Calls fn (on the writing thread, after commit) for every write made
  // through this Store object, so that this process's edge reacts at once.
  // fn must be quick and thread-safe. Not removable; lives as long as the store.
  virtual void OnChange(std::function<void()> fn) = 0;

  // Sealed keys of all certificates of all accounts, ordered by id, after
  // after_id (exclusive) when given; at most limit. For key rotation.
  virtual Result<std::vector<SealedKeyRef>> ListSealedKeys(std::optional<std::string> after_id,
                                                           int limit) = 0;
  // Replaces a certificate's sealed key if it still equals expected (compare
  // and swap, so a concurrent change is never overwritten). True if replaced.
  virtual Result<bool> ReplaceSealedKey(std::string_view certificate_id, const SealedKey& expected,
                                        const SealedKey& replacement) = 0;
  // How many sealed keys use a master key version other than `version`.
  virtual Result<int64_t> CountSealedKeysNotAtVersion(uint32_t version) = 0;

  // Small service settings (e.g. the id of the default certificate).
  virtual Result<std::optional<std::string>> GetSetting(std::string_view name) = 0;
  virtual Result<void> SetSetting(std::string_view name, std::string_view value) = 0;
};

// Opens the store a --store URL names, migrating its schema:
//   "sqlite:/path/to/certgate.db" or "sqlite:relative/path.db"
// (PostgreSQL URLs are refused until that backend exists: kStoreUrlInvalid.)
Result<std::unique_ptr<Store>> OpenStore(std::string_view url);

}  // namespace certgate::store
