// Row encoding of the SQLite backend (the certificate row several resources
// insert), paging, and the shared row decoders (store/sql/rows.h) for the
// columns statements.h lists.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/result.h"
#include "store/list_filter.h"
#include "store/records.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/filter_sql.h"
#include "store/sql/rows.h"

namespace certgate::store::sqlite {

using sql::CheckLimit;
using sql::JoinResolvesTo;
using sql::kMaxListLimit;
using sql::ReadAccount;
using sql::ReadCertificate;
using sql::ReadDomain;
using sql::ReadEndpoint;
using sql::ReadJob;
using sql::ReadKeyVersion;
using sql::ReadRows;
using sql::ReadTextColumn;
using sql::SplitResolvesTo;

// Binds a job's key to ?version_index and the next parameter (NULLs if none).
void BindJobKey(Query& q, int version_index, const std::optional<SealedKey>& key);
// The sequence of the newest change in the feed (edge_changes).
Result<int64_t> ReadChangeSequence(Connection& conn, std::string_view op);
// Inside a write transaction. owner_endpoint_id "" stores NULL: an account
// (or the service's) certificate.
Result<void> InsertCertificateRow(Connection& conn, const Certificate& cert,
                                  std::string_view account_id, std::string_view owner_endpoint_id,
                                  std::string_view op);

// Binds account_id (?1), before_id and the limit of a kList*/kList*Before
// pair, and reads one page with read(q, op). One row more than asked for
// tells whether a further page exists.
template <class T, class ReadRow>
Result<Page<T>> ReadPage(Query& q, std::string_view account_id,
                         const std::optional<std::string>& before_id, int limit,
                         std::string_view op, ReadRow read) {
  q.AccountId(1, account_id);
  if (before_id.has_value()) {
    q.Text(2, *before_id).Int(3, limit + 1);
  } else {
    q.Int(2, limit + 1);
  }
  return ReadRows<T>(q, limit, op, read);
}

// The statements of one list: `list` and `list_before` are constants for
// the unfiltered pages (?1 account, [?2 before_id], then the limit);
// `select_where` is their text up to ORDER BY, from which a filtered page's
// statement is built.
struct ListStatements {
  const char* list;
  const char* list_before;
  std::string_view select_where;
  std::span<const FilterColumn> columns;
};

// One page of a list as query asks: read(q, op) decodes a row.
template <class T, class ReadRow>
Result<Page<T>> ListPage(Connection& conn, const ListStatements& s, std::string_view account_id,
                         const ListQuery& query, std::string_view op, ReadRow read) {
  CG_RETURN_IF_ERROR(CheckLimit(query.limit));
  if (!query.filter.has_value()) {
    Query q(conn, query.before_id.has_value() ? s.list_before : s.list, op);
    return ReadPage<T>(q, account_id, query.before_id, query.limit, op, read);
  }
  const int first = query.before_id.has_value() ? 3 : 2;
  CG_ASSIGN_OR_RETURN(FilterSql filter, FilterToSql(*query.filter, s.columns, first));
  const int limit_param = first + static_cast<int>(filter.params.size());
  std::string sql(s.select_where);
  if (query.before_id.has_value()) sql += " AND id < ?2";
  sql += fmt::format(" AND {} ORDER BY id DESC LIMIT ?{}", filter.condition, limit_param);
  Query q(conn, sql, op, Query::OneOff{});
  q.AccountId(1, account_id);
  if (query.before_id.has_value()) q.Text(2, *query.before_id);
  BindFilter(q, filter);
  q.Int(limit_param, query.limit + 1);
  return ReadRows<T>(q, query.limit, op, read);
}

}  // namespace certgate::store::sqlite
