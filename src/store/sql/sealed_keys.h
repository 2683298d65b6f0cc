// Sealed keys of every record, for master key rotation, shared by the SQL
// backends (store/sqlite, store/postgres). Each function runs on a
// connection its caller holds, inside the transaction the caller chose
// (WriteAndAnnounce) or on a lease from its pool; S holds the backend's
// statements (struct SealedKeySql in its sealed_keys.cc), over every sealed
// key (certificates, ACME accounts, and jobs that made one) by id:
//   kListSealedKeys (limit), kListSealedKeysAfter (after_id, limit): id,
//     key_version, sealed_key, by id ascending
//   kCountNotAtVersion (version): one row, the count
//   kReplaceSealedKeyIn: one UPDATE per table that holds sealed keys (id,
//     new version, new blob, expected version, expected blob); ids never
//     collide across them
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "store/records.h"
#include "store/sql/rows.h"

namespace certgate::store::sql {

// REQUIRES: limit >= 1 (CheckBatchLimit, store/sql/paging.h).
template <class S, class Conn>
Result<std::vector<SealedKeyRef>> ListSealedKeys(Conn& conn,
                                                 const std::optional<std::string>& after_id,
                                                 int limit, std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, after_id.has_value() ? S::kListSealedKeysAfter : S::kListSealedKeys, op);
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
    CG_ASSIGN_OR_RETURN(ref.key.key_version, ReadKeyVersion(q, 1, ref.record_id, op));
    ref.key.blob = q.ColumnBlob(2);
    refs.push_back(std::move(ref));
  }
  return refs;
}

// Inside a write transaction: true once a table had the record with the
// expected key.
template <class S, class Conn>
Result<bool> ReplaceSealedKey(Conn& conn, std::string_view record_id, const SealedKey& expected,
                              const SealedKey& replacement, std::string_view op) {
  using Q = typename Conn::QueryType;
  for (const char* sql : S::kReplaceSealedKeyIn) {
    Q q(conn, sql, op);
    q.Text(1, record_id)
        .Int(2, replacement.key_version)
        .Blob(3, replacement.blob)
        .Int(4, expected.key_version)
        .Blob(5, expected.blob);
    CG_RETURN_IF_ERROR(q.Run());
    if (q.Changes() > 0) return true;
  }
  return false;
}

template <class S, class Conn>
Result<int64_t> CountSealedKeysNotAtVersion(Conn& conn, uint32_t version, std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kCountNotAtVersion, op);
  q.Int(1, version);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.ColumnInt(0) : int64_t{0};
}

}  // namespace certgate::store::sql
