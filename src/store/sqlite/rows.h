// Row decoding and encoding of the SQLite backend: records from the columns
// statements.h lists, and the certificate row several resources insert.
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

namespace certgate::store::sqlite {

inline constexpr int kMaxListLimit = 1000;

Result<Account> ReadAccount(const Query& q, int col, std::string_view op);
Result<uint32_t> ReadKeyVersion(const Query& q, int col, std::string_view id, std::string_view op);
// Each reads the columns statements.h's CG_*_COLUMNS lists, in that order.
Result<Certificate> ReadCertificate(const Query& q, std::string_view op);
Result<Domain> ReadDomain(const Query& q, std::string_view op);
Result<Endpoint> ReadEndpoint(const Query& q, std::string_view op);
Result<ProvisioningJob> ReadJob(const Query& q, std::string_view op);
// Binds a job's key to ?version_index and the next parameter (NULLs if none).
void BindJobKey(Query& q, int version_index, const std::optional<SealedKey>& key);
// A domain's resolves_to values as stored: one per line (a value never holds
// a line break: the API allows PoP codes and address:port only).
std::string JoinResolvesTo(const std::vector<std::string>& values);
std::vector<std::string> SplitResolvesTo(std::string_view text);
// kInvalidPaging unless 1 <= limit <= kMaxListLimit.
Result<void> CheckLimit(int limit);
// The first column of every row, e.g. the names of what uses a record.
Result<std::vector<std::string>> ReadTextColumn(Query& q);
// The sequence of the newest change in the feed (edge_changes).
Result<int64_t> ReadChangeSequence(Connection& conn, std::string_view op);
// Inside a write transaction. owner_endpoint_id "" stores NULL: an account
// (or the service's) certificate.
Result<void> InsertCertificateRow(Connection& conn, const Certificate& cert,
                                  std::string_view account_id, std::string_view owner_endpoint_id,
                                  std::string_view op);

// Reads up to limit rows of a bound list statement asked for limit + 1.
template <class T, class ReadRow>
Result<Page<T>> ReadRows(Query& q, int limit, std::string_view op, ReadRow read) {
  Page<T> page;
  while (true) {
    CG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    if (page.items.size() == static_cast<size_t>(limit)) {
      page.has_more = true;
      break;
    }
    CG_ASSIGN_OR_RETURN(T item, read(q, op));
    page.items.push_back(std::move(item));
  }
  return page;
}

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
