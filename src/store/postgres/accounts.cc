// Accounts and API keys in the PostgreSQL backend.
#include "store/postgres/pg_store_impl.h"

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include "store/postgres/rows.h"
#include "store/sql/accounts.h"

namespace certgate::store::pg {
namespace {

// The statements of store/sql/accounts.h.
struct AccountSql {
  static constexpr const char* kInsertAccount =
      "INSERT INTO accounts (id, name, plan, created_at) VALUES ($1, $2, $3, to_timestamp($4))";
  static constexpr const char* kSelectAccount =
      "SELECT id, name, plan, " CG_PG_EPOCH(created_at) " FROM accounts WHERE id = $1";
  static constexpr const char* kCountAccounts = "SELECT COUNT(*) FROM accounts";
  static constexpr const char* kAnyAccount = "SELECT 1 FROM accounts LIMIT 1";
  static constexpr const char* kInsertApiKey =
      "INSERT INTO api_keys (id, account_id, description, token_hash, created_at)"
      " VALUES ($1, $2, $3, $4, to_timestamp($5))";
  static constexpr const char* kSelectApiKeyByHash =
      "SELECT k.id, k.account_id, k.description, " CG_PG_EPOCH(k.created_at) ","
      " a.id, a.name, a.plan, " CG_PG_EPOCH(a.created_at)
      " FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.token_hash = $1";
};

}  // namespace

Result<void> PgStore::CreateAccount(const Account& account) {
  constexpr std::string_view kOp = "creating an account";
  return Write(kOp, [&](Connection& conn) {
    return sql::InsertAccountRow<AccountSql>(conn, account, kOp);
  });
}

Result<bool> PgStore::CreateFirstAccount(const Account& account, const ApiKey& key,
                                         std::string_view token_hash) {
  constexpr std::string_view kOp = "creating the first account";
  // Under the cluster's write lock, the check sees every account committed
  // before it, and none can commit between the check and the insert.
  return Write(kOp, [&](Connection& conn) {
    return sql::CreateFirstAccount<AccountSql>(conn, account, key, token_hash, kOp);
  });
}

Result<std::optional<Account>> PgStore::GetAccount(std::string_view id) {
  constexpr std::string_view kOp = "reading an account";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::GetAccount<AccountSql>(lease.conn(), id, kOp);
}

Result<int64_t> PgStore::CountAccounts() {
  constexpr std::string_view kOp = "counting accounts";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::CountAccounts<AccountSql>(lease.conn(), kOp);
}

Result<void> PgStore::CreateApiKey(const ApiKey& key, std::string_view token_hash) {
  constexpr std::string_view kOp = "creating an API key";
  return Write(kOp, [&](Connection& conn) {
    return sql::InsertApiKeyRow<AccountSql>(conn, key, token_hash, kOp);
  });
}

Result<std::optional<std::pair<ApiKey, Account>>> PgStore::FindApiKeyByHash(
    std::string_view token_hash) {
  constexpr std::string_view kOp = "looking up an API key";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::FindApiKeyByHash<AccountSql>(lease.conn(), token_hash, kOp);
}

}  // namespace certgate::store::pg
