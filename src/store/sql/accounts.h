// Accounts and API keys, shared by the SQL backends (store/sqlite,
// store/postgres). Each function runs on a connection its caller holds,
// inside the transaction the caller chose (Write) or on a lease from its
// pool; S holds the backend's statements (struct AccountSql in its
// accounts.cc):
//   kInsertAccount (id, name, plan, created_at)
//   kSelectAccount (id): id, name, plan, created_at
//   kCountAccounts: one row, the count; kAnyAccount: a row if any exists
//   kInsertApiKey (id, account_id, description, token_hash, created_at)
//   kSelectApiKeyByHash (token_hash): the key's id, account_id,
//     description, created_at, then its account's four columns
// Times are bound and read as unix seconds.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include "core/result.h"
#include "core/time.h"
#include "store/records.h"
#include "store/sql/rows.h"

namespace certgate::store::sql {

// Inside a write transaction.
template <class S, class Conn>
Result<void> InsertAccountRow(Conn& conn, const Account& account, std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kInsertAccount, op);
  q.Text(1, account.id)
      .Text(2, account.name)
      .Text(3, PlanName(account.plan))
      .Int(4, ToUnixSeconds(account.created_at));
  return q.Run();
}

// Inside a write transaction.
template <class S, class Conn>
Result<void> InsertApiKeyRow(Conn& conn, const ApiKey& key, std::string_view token_hash,
                             std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kInsertApiKey, op);
  q.Text(1, key.id)
      .Text(2, key.account_id)
      .Text(3, key.description)
      .Text(4, token_hash)
      .Int(5, ToUnixSeconds(key.created_at));
  return q.Run();
}

// Inside a write transaction, which runs alone among the store's writers:
// no account can commit between the check and the insert.
template <class S, class Conn>
Result<bool> CreateFirstAccount(Conn& conn, const Account& account, const ApiKey& key,
                                std::string_view token_hash, std::string_view op) {
  using Q = typename Conn::QueryType;
  Q any(conn, S::kAnyAccount, op);
  CG_ASSIGN_OR_RETURN(bool exists, any.Step());
  if (exists) return false;
  CG_RETURN_IF_ERROR(InsertAccountRow<S>(conn, account, op));
  CG_RETURN_IF_ERROR(InsertApiKeyRow<S>(conn, key, token_hash, op));
  return true;
}

template <class S, class Conn>
Result<std::optional<Account>> GetAccount(Conn& conn, std::string_view id, std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kSelectAccount, op);
  q.Text(1, id);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<Account>();
  CG_ASSIGN_OR_RETURN(Account account, ReadAccount(q, 0, op));
  return std::optional<Account>(std::move(account));
}

template <class S, class Conn>
Result<int64_t> CountAccounts(Conn& conn, std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kCountAccounts, op);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.ColumnInt(0) : int64_t{0};
}

template <class S, class Conn>
Result<std::optional<std::pair<ApiKey, Account>>> FindApiKeyByHash(Conn& conn,
                                                                   std::string_view token_hash,
                                                                   std::string_view op) {
  using Q = typename Conn::QueryType;
  using Found = std::optional<std::pair<ApiKey, Account>>;
  Q q(conn, S::kSelectApiKeyByHash, op);
  q.Text(1, token_hash);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return Found();
  ApiKey key;
  key.id = q.ColumnText(0);
  key.account_id = q.ColumnText(1);
  key.description = q.ColumnText(2);
  key.created_at = FromUnixSeconds(q.ColumnInt(3));
  CG_ASSIGN_OR_RETURN(Account account, ReadAccount(q, 4, op));
  return Found(std::in_place, std::move(key), std::move(account));
}

}  // namespace certgate::store::sql
