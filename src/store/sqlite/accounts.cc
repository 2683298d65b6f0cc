// Accounts and API keys in the SQLite backend.
#include "store/sqlite/sqlite_store_impl.h"

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include "store/sql/accounts.h"
#include "store/sqlite/rows.h"

namespace certgate::store::sqlite {
namespace {

// The statements of store/sql/accounts.h.
struct AccountSql {
  static constexpr const char* kInsertAccount =
      "INSERT INTO accounts (id, name, plan, created_at) VALUES (?1, ?2, ?3, ?4)";
  static constexpr const char* kSelectAccount =
      "SELECT id, name, plan, created_at FROM accounts WHERE id = ?1";
  static constexpr const char* kCountAccounts = "SELECT COUNT(*) FROM accounts";
  static constexpr const char* kAnyAccount = "SELECT 1 FROM accounts LIMIT 1";
  static constexpr const char* kInsertApiKey =
      "INSERT INTO api_keys (id, account_id, description, token_hash, created_at)"
      " VALUES (?1, ?2, ?3, ?4, ?5)";
  static constexpr const char* kSelectApiKeyByHash =
      "SELECT k.id, k.account_id, k.description, k.created_at,"
      " a.id, a.name, a.plan, a.created_at"
      " FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.token_hash = ?1";
};

}  // namespace

Result<void> SqliteStore::CreateAccount(const Account& account) {
  constexpr std::string_view kOp = "creating an account";
  return Write(kOp, [&](Connection& conn) {
    return sql::InsertAccountRow<AccountSql>(conn, account, kOp);
  });
}

Result<bool> SqliteStore::CreateFirstAccount(const Account& account, const ApiKey& key,
                                             std::string_view token_hash) {
  constexpr std::string_view kOp = "creating the first account";
  return Write(kOp, [&](Connection& conn) {
    return sql::CreateFirstAccount<AccountSql>(conn, account, key, token_hash, kOp);
  });
}

Result<std::optional<Account>> SqliteStore::GetAccount(std::string_view id) {
  constexpr std::string_view kOp = "reading an account";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::GetAccount<AccountSql>(lease.conn(), id, kOp);
}

Result<int64_t> SqliteStore::CountAccounts() {
  constexpr std::string_view kOp = "counting accounts";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::CountAccounts<AccountSql>(lease.conn(), kOp);
}

Result<void> SqliteStore::CreateApiKey(const ApiKey& key, std::string_view token_hash) {
  constexpr std::string_view kOp = "creating an API key";
  return Write(kOp, [&](Connection& conn) {
    return sql::InsertApiKeyRow<AccountSql>(conn, key, token_hash, kOp);
  });
}

Result<std::optional<std::pair<ApiKey, Account>>> SqliteStore::FindApiKeyByHash(
    std::string_view token_hash) {
  constexpr std::string_view kOp = "looking up an API key";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::FindApiKeyByHash<AccountSql>(lease.conn(), token_hash, kOp);
}

}  // namespace certgate::store::sqlite
