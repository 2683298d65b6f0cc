// Sealed keys of every record, for master key rotation in the SQLite backend.
#include "store/sqlite/sqlite_store_impl.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/sql/paging.h"
#include "store/sql/sealed_keys.h"

namespace certgate::store::sqlite {
namespace {

// Every sealed key: certificates, ACME accounts, and jobs that made one.
#define CG_SEALED_KEYS                                                            \
  "(SELECT id, key_version, sealed_key FROM tls_certificates"                     \
  " UNION ALL SELECT id, key_version, sealed_key FROM acme_accounts"              \
  " UNION ALL SELECT id, key_version, sealed_key FROM provisioning_jobs"          \
  " WHERE sealed_key IS NOT NULL)"

// The statements of store/sql/sealed_keys.h.
struct SealedKeySql {
  static constexpr const char* kListSealedKeys =
      "SELECT id, key_version, sealed_key FROM " CG_SEALED_KEYS " ORDER BY id LIMIT ?1";
  static constexpr const char* kListSealedKeysAfter =
      "SELECT id, key_version, sealed_key FROM " CG_SEALED_KEYS
      " WHERE id > ?1 ORDER BY id LIMIT ?2";
  static constexpr const char* kCountNotAtVersion =
      "SELECT COUNT(*) FROM " CG_SEALED_KEYS " WHERE key_version <> ?1";
  static constexpr const char* const kReplaceSealedKeyIn[] = {
      "UPDATE tls_certificates SET key_version = ?2, sealed_key = ?3"
      " WHERE id = ?1 AND key_version = ?4 AND sealed_key = ?5",
      "UPDATE acme_accounts SET key_version = ?2, sealed_key = ?3"
      " WHERE id = ?1 AND key_version = ?4 AND sealed_key = ?5",
      "UPDATE provisioning_jobs SET key_version = ?2, sealed_key = ?3"
      " WHERE id = ?1 AND key_version = ?4 AND sealed_key = ?5",
  };
};
#undef CG_SEALED_KEYS

}  // namespace

Result<std::vector<SealedKeyRef>> SqliteStore::ListSealedKeys(std::optional<std::string> after_id,
                                                              int limit) {
  constexpr std::string_view kOp = "listing sealed keys";
  CG_RETURN_IF_ERROR(sql::CheckBatchLimit(limit));
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::ListSealedKeys<SealedKeySql>(lease.conn(), after_id, limit, kOp);
}

Result<bool> SqliteStore::ReplaceSealedKey(std::string_view record_id, const SealedKey& expected,
                                           const SealedKey& replacement) {
  constexpr std::string_view kOp = "replacing a sealed key";
  // A re-seal changes no served bytes, but the edge may keep sealed blobs, so
  // it is announced (and counted by the triggers) like any other change.
  return WriteAndAnnounce(kOp, [&](Connection& conn) {
    return sql::ReplaceSealedKey<SealedKeySql>(conn, record_id, expected, replacement, kOp);
  });
}

Result<int64_t> SqliteStore::CountSealedKeysNotAtVersion(uint32_t version) {
  constexpr std::string_view kOp = "counting sealed keys";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::CountSealedKeysNotAtVersion<SealedKeySql>(lease.conn(), version, kOp);
}

}  // namespace certgate::store::sqlite
