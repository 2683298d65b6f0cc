// Paging of an account's records, shared by the SQL backends (store/sqlite,
// store/postgres): newest first (id descending), ids strictly below
// before_id when given, one row more than asked for to tell whether a
// further page exists. The backends differ only in how a parameter is
// written ('?N' or '$N', ListStatements' kMarker) and in their filter
// columns and FilterToSql/BindFilter (store/<backend>/filter_sql.h).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "core/result.h"
#include "store/list_filter.h"
#include "store/records.h"
#include "store/sql/rows.h"

namespace certgate::store::sql {

// kInvalidPaging unless limit >= 1: the batches of the summary backfill and
// of key rotation, which have no upper bound.
inline Result<void> CheckBatchLimit(int limit) {
  if (limit < 1) {
    return MakeError(ErrorCode::kInvalidPaging,
                     fmt::format("limit must be at least 1, not {}", limit));
  }
  return {};
}

// The statements of one list: `list` and `list_before` are constants for
// the unfiltered pages (parameter 1 the account, [2 before_id], then the
// limit); `select_where` is their text up to ORDER BY, from which a
// filtered page's statement is built. Column is the backend's FilterColumn
// and kMarker its parameter marker ('?' or '$'); each backend's rows.h
// names its own ListStatements.
template <class Column, char kMarker>
struct ListStatements {
  const char* list;
  const char* list_before;
  std::string_view select_where;
  std::span<const Column> columns;
};

// Binds account_id (1), before_id and the limit of a list/list_before
// pair, and reads one page with read(q, op).
template <class T, class Q, class ReadRow>
Result<Page<T>> ReadPage(Q& q, std::string_view account_id,
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

// One page of a list as query asks: read(q, op) decodes a row. FilterToSql
// and BindFilter are the backend's, found through Column's and the Query's
// namespace.
template <class T, class Conn, class Column, char kMarker, class ReadRow>
Result<Page<T>> ListPage(Conn& conn, const ListStatements<Column, kMarker>& s,
                         std::string_view account_id, const ListQuery& query,
                         std::string_view op, ReadRow read) {
  using Q = typename Conn::QueryType;
  CG_RETURN_IF_ERROR(CheckLimit(query.limit));
  if (!query.filter.has_value()) {
    Q q(conn, query.before_id.has_value() ? s.list_before : s.list, op);
    return ReadPage<T>(q, account_id, query.before_id, query.limit, op, read);
  }
  const int first = query.before_id.has_value() ? 3 : 2;
  CG_ASSIGN_OR_RETURN(auto filter, FilterToSql(*query.filter, s.columns, first));
  const int limit_param = first + static_cast<int>(filter.params.size());
  std::string sql(s.select_where);
  if (query.before_id.has_value()) sql += fmt::format(" AND id < {}2", kMarker);
  sql += fmt::format(" AND {} ORDER BY id DESC LIMIT {}{}", filter.condition, kMarker,
                     limit_param);
  Q q(conn, sql, op, typename Q::OneOff{});
  q.AccountId(1, account_id);
  if (query.before_id.has_value()) q.Text(2, *query.before_id);
  BindFilter(q, filter);
  q.Int(limit_param, query.limit + 1);
  return ReadRows<T>(q, query.limit, op, read);
}

}  // namespace certgate::store::sql
