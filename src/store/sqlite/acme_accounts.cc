// Accounts at ACME CAs in the SQLite backend.
#include "store/sqlite/sqlite_store_impl.h"

#include <optional>
#include <string_view>

#include "store/sqlite/rows.h"
#include "store/sql/acme_accounts.h"

namespace certgate::store::sqlite {
namespace {

// The statements of store/sql/acme_accounts.h.
struct AcmeAccountSql {
  static constexpr const char* kGetAcmeAccount =
      "SELECT id, directory_url, account_url, key_version, sealed_key, created_at"
      " FROM acme_accounts WHERE directory_url = ?1";
  static constexpr const char* kInsertAcmeAccount =
      "INSERT INTO acme_accounts (id, directory_url, account_url, key_version, sealed_key,"
      " created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
  static constexpr const char* kDeleteAcmeAccount = "DELETE FROM acme_accounts WHERE id = ?1";
};

}  // namespace

Result<std::optional<AcmeAccount>> SqliteStore::GetAcmeAccount(std::string_view directory_url) {
  constexpr std::string_view kOp = "reading an ACME account";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::GetAcmeAccount<AcmeAccountSql>(lease.conn(), directory_url, kOp);
}

Result<void> SqliteStore::InsertAcmeAccount(const AcmeAccount& account) {
  constexpr std::string_view kOp = "inserting an ACME account";
  return Write(kOp, [&](Connection& conn) {
    return sql::InsertAcmeAccount<AcmeAccountSql>(conn, account, kOp);
  });
}

Result<bool> SqliteStore::DeleteAcmeAccount(std::string_view id) {
  constexpr std::string_view kOp = "deleting an ACME account";
  return Write(kOp, [&](Connection& conn) {
    return sql::DeleteAcmeAccount<AcmeAccountSql>(conn, id, kOp);
  });
}

}  // namespace certgate::store::sqlite
