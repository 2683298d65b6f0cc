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
  // True if a record was deleted.
  virtual Result<bool> DeleteCertificate(std::string_view account_id, std::string_view id) = 0;

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
