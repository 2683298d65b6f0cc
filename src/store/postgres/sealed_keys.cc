// Sealed keys of every record, for master key rotation in the PostgreSQL
// backend.
#include "store/postgres/pg_store_impl.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "store/postgres/rows.h"
#include "store/postgres/statements.h"

namespace certgate::store::pg {
namespace {

// Every sealed key: certificates, ACME accounts, and jobs that made one. Ids
// are COLLATE "C" in every table, so they order bytewise, as in SQLite.
#define CG_PG_SEALED_KEYS                                                         \
  "(SELECT id, key_version, sealed_key FROM tls_certificates"                     \
  " UNION ALL SELECT id, key_version, sealed_key FROM acme_accounts"              \
  " UNION ALL SELECT id, key_version, sealed_key FROM provisioning_jobs"          \
  " WHERE sealed_key IS NOT NULL) AS sealed_keys"
constexpr char kListSealedKeys[] =
    "SELECT id, key_version, sealed_key FROM " CG_PG_SEALED_KEYS " ORDER BY id LIMIT $1";
constexpr char kListSealedKeysAfter[] = "SELECT id, key_version, sealed_key FROM " CG_PG_SEALED_KEYS
                                        " WHERE id > $1 ORDER BY id LIMIT $2";
constexpr char kCountNotAtVersion[] =
    "SELECT COUNT(*) FROM " CG_PG_SEALED_KEYS " WHERE key_version <> $1";
// One per table that holds sealed keys; ids never collide across them.
constexpr const char* kReplaceSealedKeyIn[] = {
    "UPDATE tls_certificates SET key_version = $2, sealed_key = $3"
    " WHERE id = $1 AND key_version = $4 AND sealed_key = $5",
    "UPDATE acme_accounts SET key_version = $2, sealed_key = $3"
    " WHERE id = $1 AND key_version = $4 AND sealed_key = $5",
    "UPDATE provisioning_jobs SET key_version = $2, sealed_key = $3"
    " WHERE id = $1 AND key_version = $4 AND sealed_key = $5",
};
#undef CG_PG_SEALED_KEYS

}  // namespace

Result<std::vector<SealedKeyRef>> PgStore::ListSealedKeys(std::optional<std::string> after_id,
                                                          int limit) {
  constexpr std::string_view kOp = "listing sealed keys";
  if (limit < 1) {
    return MakeError(ErrorCode::kInvalidPaging,
                     fmt::format("limit must be at least 1, not {}", limit));
  }
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), after_id.has_value() ? kListSealedKeysAfter : kListSealedKeys, kOp);
  if (after_id.has_value()) {
    q.Text(1, *after_id).Int(2, limit);
  } else {
    q.Int(1, limit);
  }
  std::vector<SealedKeyRef> refs;
  while (true) {
    CG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    SealedKeyRef ref;
    ref.record_id = q.ColumnText(0);
    CG_ASSIGN_OR_RETURN(ref.key.key_version, ReadKeyVersion(q, 1, ref.record_id, kOp));
    ref.key.blob = q.ColumnBlob(2);
    refs.push_back(std::move(ref));
  }
  return refs;
}

Result<bool> PgStore::ReplaceSealedKey(std::string_view record_id, const SealedKey& expected,
                                       const SealedKey& replacement) {
  constexpr std::string_view kOp = "replacing a sealed key";
  // A re-seal changes no served bytes, but the edge may keep sealed blobs, so
  // it is announced (and counted by the triggers) like any other change.
  return WriteAndAnnounce(kOp, [&](Connection& conn) -> Result<bool> {
    for (const char* sql : kReplaceSealedKeyIn) {
      Query q(conn, sql, kOp);
      q.Text(1, record_id)
          .Int(2, replacement.key_version)
          .Blob(3, replacement.blob)
          .Int(4, expected.key_version)
          .Blob(5, expected.blob);
      CG_RETURN_IF_ERROR(q.Run());
      if (q.Changes() > 0) return true;
    }
    return false;
  });
}

Result<int64_t> PgStore::CountSealedKeysNotAtVersion(uint32_t version) {
  constexpr std::string_view kOp = "counting sealed keys";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kCountNotAtVersion, kOp);
  q.Int(1, version);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.ColumnInt(0) : int64_t{0};
}

}  // namespace certgate::store::pg
