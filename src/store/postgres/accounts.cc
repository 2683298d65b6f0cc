// Accounts and API keys in the PostgreSQL backend.
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

constexpr char kInsertAccount[] =
    "INSERT INTO accounts (id, name, plan, created_at) VALUES ($1, $2, $3, to_timestamp($4))";
constexpr char kSelectAccount[] = "SELECT id, name, plan, " CG_PG_EPOCH(created_at)
                                  " FROM accounts WHERE id = $1";
constexpr char kCountAccounts[] = "SELECT COUNT(*) FROM accounts";
constexpr char kAnyAccount[] = "SELECT 1 FROM accounts LIMIT 1";
constexpr char kInsertApiKey[] =
    "INSERT INTO api_keys (id, account_id, description, token_hash, created_at)"
    " VALUES ($1, $2, $3, $4, to_timestamp($5))";
constexpr char kSelectApiKeyByHash[] =
    "SELECT k.id, k.account_id, k.description, " CG_PG_EPOCH(k.created_at) ","
    " a.id, a.name, a.plan, " CG_PG_EPOCH(a.created_at)
    " FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.token_hash = $1";

Result<void> InsertAccountRow(Connection& conn, const Account& account, std::string_view op) {
  Query q(conn, kInsertAccount, op);
  q.Text(1, account.id)
      .Text(2, account.name)
      .Text(3, PlanName(account.plan))
      .Int(4, ToUnixSeconds(account.created_at));
  return q.Run();
}

Result<void> InsertApiKeyRow(Connection& conn, const ApiKey& key, std::string_view token_hash,
                             std::string_view op) {
  Query q(conn, kInsertApiKey, op);
  q.Text(1, key.id)
      .Text(2, key.account_id)
      .Text(3, key.description)
      .Text(4, token_hash)
      .Int(5, ToUnixSeconds(key.created_at));
  return q.Run();
}

}  // namespace

Result<void> PgStore::CreateAccount(const Account& account) {
  constexpr std::string_view kOp = "creating an account";
  return Write(kOp, [&](Connection& conn) { return InsertAccountRow(conn, account, kOp); });
}

Result<bool> PgStore::CreateFirstAccount(const Account& account, const ApiKey& key,
                                         std::string_view token_hash) {
  constexpr std::string_view kOp = "creating the first account";
  // Under the cluster's write lock, the check sees every account committed
  // before it, and none can commit between the check and the insert.
  return Write(kOp, [&](Connection& conn) -> Result<bool> {
    Query any(conn, kAnyAccount, kOp);
    CG_ASSIGN_OR_RETURN(bool exists, any.Step());
    if (exists) return false;
    CG_RETURN_IF_ERROR(InsertAccountRow(conn, account, kOp));
    CG_RETURN_IF_ERROR(InsertApiKeyRow(conn, key, token_hash, kOp));
    return true;
  });
}

Result<std::optional<Account>> PgStore::GetAccount(std::string_view id) {
  constexpr std::string_view kOp = "reading an account";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kSelectAccount, kOp);
  q.Text(1, id);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<Account>();
  CG_ASSIGN_OR_RETURN(Account account, ReadAccount(q, 0, kOp));
  return std::optional<Account>(std::move(account));
}

Result<int64_t> PgStore::CountAccounts() {
  constexpr std::string_view kOp = "counting accounts";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kCountAccounts, kOp);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.ColumnInt(0) : int64_t{0};
}

Result<void> PgStore::CreateApiKey(const ApiKey& key, std::string_view token_hash) {
  constexpr std::string_view kOp = "creating an API key";
  return Write(kOp,
               [&](Connection& conn) { return InsertApiKeyRow(conn, key, token_hash, kOp); });
}

Result<std::optional<std::pair<ApiKey, Account>>> PgStore::FindApiKeyByHash(
    std::string_view token_hash) {
  constexpr std::string_view kOp = "looking up an API key";
  using Found = std::optional<std::pair<ApiKey, Account>>;
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kSelectApiKeyByHash, kOp);
  q.Text(1, token_hash);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return Found();
  ApiKey key;
  key.id = q.ColumnText(0);
  key.account_id = q.ColumnText(1);
  key.description = q.ColumnText(2);
  key.created_at = FromUnixSeconds(q.ColumnInt(3));
  CG_ASSIGN_OR_RETURN(Account account, ReadAccount(q, 4, kOp));
  return Found(std::in_place, std::move(key), std::move(account));
}

}  // namespace certgate::store::pg
