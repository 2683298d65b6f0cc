// Accounts at ACME CAs in the PostgreSQL backend.
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

constexpr char kGetAcmeAccount[] =
    "SELECT id, directory_url, account_url, key_version, sealed_key, " CG_PG_EPOCH(created_at)
    " FROM acme_accounts WHERE directory_url = $1";
constexpr char kInsertAcmeAccount[] =
    "INSERT INTO acme_accounts (id, directory_url, account_url, key_version, sealed_key,"
    " created_at) VALUES ($1, $2, $3, $4, $5, to_timestamp($6))";
constexpr char kDeleteAcmeAccount[] = "DELETE FROM acme_accounts WHERE id = $1";

}  // namespace

Result<std::optional<AcmeAccount>> PgStore::GetAcmeAccount(std::string_view directory_url) {
  constexpr std::string_view kOp = "reading an ACME account";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kGetAcmeAccount, kOp);
  q.Text(1, directory_url);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<AcmeAccount>();
  AcmeAccount account;
  account.id = q.ColumnText(0);
  account.directory_url = q.ColumnText(1);
  account.account_url = q.ColumnText(2);
  CG_ASSIGN_OR_RETURN(account.key.key_version, ReadKeyVersion(q, 3, account.id, kOp));
  account.key.blob = q.ColumnBlob(4);
  account.created_at = FromUnixSeconds(q.ColumnInt(5));
  return std::optional<AcmeAccount>(std::move(account));
}

Result<void> PgStore::InsertAcmeAccount(const AcmeAccount& account) {
  constexpr std::string_view kOp = "inserting an ACME account";
  return Write(kOp, [&](Connection& conn) {
    Query q(conn, kInsertAcmeAccount, kOp);
    q.Text(1, account.id)
        .Text(2, account.directory_url)
        .Text(3, account.account_url)
        .Int(4, account.key.key_version)
        .Blob(5, account.key.blob)
        .Int(6, ToUnixSeconds(account.created_at));
    return q.Run();
  });
}

Result<bool> PgStore::DeleteAcmeAccount(std::string_view id) {
  constexpr std::string_view kOp = "deleting an ACME account";
  return Write(kOp, [&](Connection& conn) -> Result<bool> {
    Query q(conn, kDeleteAcmeAccount, kOp);
    q.Text(1, id);
    CG_RETURN_IF_ERROR(q.Run());
    return q.Changes() > 0;
  });
}

}  // namespace certgate::store::pg
