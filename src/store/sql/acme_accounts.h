// Accounts at ACME CAs, shared by the SQL backends (store/sqlite,
// store/postgres). Each function runs on a connection its caller holds,
// inside the transaction the caller chose (Write) or on a lease from its
// pool; S holds the backend's statements (struct AcmeAccountSql in its
// acme_accounts.cc):
//   kGetAcmeAccount (directory_url): id, directory_url, account_url,
//     key_version, sealed_key, created_at
//   kInsertAcmeAccount (the same six, in that order)
//   kDeleteAcmeAccount (id)
// Times are bound and read as unix seconds.
#pragma once

#include <optional>
#include <string_view>
#include <utility>

#include "core/result.h"
#include "core/time.h"
#include "store/records.h"
#include "store/sql/rows.h"

namespace certgate::store::sql {

template <class S, class Conn>
Result<std::optional<AcmeAccount>> GetAcmeAccount(Conn& conn, std::string_view directory_url,
                                                  std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kGetAcmeAccount, op);
  q.Text(1, directory_url);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<AcmeAccount>();
  AcmeAccount account;
  account.id = q.ColumnText(0);
  account.directory_url = q.ColumnText(1);
  account.account_url = q.ColumnText(2);
  CG_ASSIGN_OR_RETURN(account.key.key_version, ReadKeyVersion(q, 3, account.id, op));
  account.key.blob = q.ColumnBlob(4);
  account.created_at = FromUnixSeconds(q.ColumnInt(5));
  return std::optional<AcmeAccount>(std::move(account));
}

// Inside a write transaction.
template <class S, class Conn>
Result<void> InsertAcmeAccount(Conn& conn, const AcmeAccount& account, std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kInsertAcmeAccount, op);
  q.Text(1, account.id)
      .Text(2, account.directory_url)
      .Text(3, account.account_url)
      .Int(4, account.key.key_version)
      .Blob(5, account.key.blob)
      .Int(6, ToUnixSeconds(account.created_at));
  return q.Run();
}

// Inside a write transaction.
template <class S, class Conn>
Result<bool> DeleteAcmeAccount(Conn& conn, std::string_view id, std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kDeleteAcmeAccount, op);
  q.Text(1, id);
  CG_RETURN_IF_ERROR(q.Run());
  return q.Changes() > 0;
}

}  // namespace certgate::store::sql
