// The edge's feed, shared by the SQL backends (store/sqlite,
// store/postgres): its state in one snapshot, the change log the backend's
// triggers write (edge_changes), and the current state of one key. Each
// function runs on a connection its caller holds, inside the read
// transaction the caller opened (Read) or on a lease from its pool; S holds
// the backend's statements (struct EdgeFeedSql in its edge_feed.cc):
//   kEdgeDomains: domain and certificate_id rows; with kEdgePageRows > 0,
//     the first page of that many in domain order, and kEdgeDomainsAfter
//     (domain) the page after it
//   kAllEndpoints, kEndpointsByHost (host): CG_*_ENDPOINT_COLUMNS rows
//   kOldestChange: the lowest seq kept (NULL: none), and, with
//     kOldestChangeHasRetention, the log's retention
//   kChangesSince (after, limit): seq, kind and key rows in seq order
//   kEdgeDomainByName (domain): its domain and certificate_id
// S::kReadChangeSequence is the backend's ReadChangeSequence (its rows.h).
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/result.h"
#include "store/edge_feed.h"
#include "store/records.h"
#include "store/sql/rows.h"

namespace certgate::store::sql {

// The EdgeChangeKind an edge_changes row's kind names (nullopt: none).
inline std::optional<EdgeChangeKind> EdgeChangeKindOf(std::string_view text) {
  if (text == "certificate") return EdgeChangeKind::kCertificate;
  if (text == "domain") return EdgeChangeKind::kDomain;
  if (text == "endpoint") return EdgeChangeKind::kEndpoint;
  if (text == "http01") return EdgeChangeKind::kHttp01;
  if (text == "txt") return EdgeChangeKind::kDnsTxt;
  if (text == "cname_target") return EdgeChangeKind::kCnameTarget;
  return std::nullopt;
}

// Inside a read transaction, so that every row visited and the sequence
// returned belong to one snapshot.
template <class S, class Conn>
Result<EdgeState> LoadEdgeState(Conn& conn, const EdgeFeed::EdgeDomainVisitor& visit,
                                std::string_view op) {
  using Q = typename Conn::QueryType;
  EdgeState state;
  CG_ASSIGN_OR_RETURN(state.change_sequence, S::kReadChangeSequence(conn, op));
  // One statement for every domain when S::kEdgePageRows is 0; else pages of
  // that many, each after the last name of the one before (why a backend
  // pages: its EdgeFeedSql).
  std::optional<std::string> after;  // the last name of a full page
  while (true) {
    Q q(conn, after ? S::kEdgeDomainsAfter : S::kEdgeDomains, op);
    if (after) q.Text(1, *after);
    int64_t rows = 0;
    while (true) {
      CG_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      std::optional<std::string_view> certificate_id;
      if (!q.IsNull(1)) certificate_id = q.ColumnView(1);
      visit(q.ColumnView(0), certificate_id);
      if (++rows == S::kEdgePageRows) after = q.ColumnText(0);
    }
    if (S::kEdgePageRows == 0 || rows < S::kEdgePageRows) break;
  }
  Q q(conn, S::kAllEndpoints, op);
  CG_ASSIGN_OR_RETURN(state.endpoints, ReadAllRows<Endpoint>(q, op, ReadEndpoint<Q>));
  return state;
}

// What ChangesSince checks before it touches the store.
inline Result<void> CheckChangesLimit(int limit, std::string_view op) {
  if (limit < 1) {
    return MakeError(ErrorCode::kInternal, fmt::format("{}: limit {} is below 1", op, limit));
  }
  return {};
}

// Inside a read transaction: the newest sequence, the oldest change kept and
// the changes read must come from one snapshot.
template <class S, class Conn>
Result<EdgeChanges> ChangesSince(Conn& conn, int64_t after, int limit, std::string_view op) {
  using Q = typename Conn::QueryType;
  CG_ASSIGN_OR_RETURN(const int64_t newest, S::kReadChangeSequence(conn, op));
  std::optional<int64_t> oldest;
  {
    Q q(conn, S::kOldestChange, op);
    CG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (row && !q.IsNull(0)) oldest = q.ColumnInt(0);
    if constexpr (S::kOldestChangeHasRetention) {
      // Only the newest `retention` count, pruned or not yet (see the schema).
      if (row && oldest) oldest = std::max(*oldest, newest - q.ColumnInt(1) + 1);
    }
  }
  // Every change after `after` must still be here: the oldest kept one
  // follows it directly, or there are none after it at all.
  const bool pruned = after < newest && (!oldest || *oldest > after + 1);
  if (after > newest || pruned) {
    return MakeError(ErrorCode::kChangesExpired,
                     fmt::format("the change feed starts at {} and ends at {}; changes after {} "
                                 "are no longer kept",
                                 oldest.value_or(newest + 1), newest, after));
  }
  EdgeChanges out;
  out.sequence = after;
  Q q(conn, S::kChangesSince, op);
  q.Int(1, after).Int(2, limit);
  while (true) {
    CG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    std::optional<EdgeChangeKind> kind = EdgeChangeKindOf(q.ColumnView(1));
    if (!kind) return CorruptRow(op, "an edge_changes row has an unknown kind");
    out.changes.push_back(EdgeChange{q.ColumnInt(0), *kind, q.ColumnText(2)});
    out.sequence = out.changes.back().sequence;
  }
  out.more = out.sequence < newest && out.changes.size() == static_cast<size_t>(limit);
  return out;
}

template <class S, class Conn>
Result<std::optional<EdgeDomain>> EdgeDomainByName(Conn& conn, std::string_view name,
                                                   std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kEdgeDomainByName, op);
  q.Text(1, name);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<EdgeDomain>();
  return std::optional<EdgeDomain>(EdgeDomain{q.ColumnText(0), q.OptionalColumnText(1)});
}

template <class S, class Conn>
Result<std::vector<Endpoint>> EndpointsByHost(Conn& conn, std::string_view host,
                                              std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kEndpointsByHost, op);
  q.Text(1, host);
  return ReadAllRows<Endpoint>(q, op, ReadEndpoint<Q>);
}

}  // namespace certgate::store::sql
