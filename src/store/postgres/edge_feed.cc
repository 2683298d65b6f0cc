// The edge's feed in the PostgreSQL backend: its state in one snapshot, the
// change log that triggers write (edge_changes, numbered by
// edge_change_log.last_seq; see migrations.cc), and the current state of one
// key.
#include "store/postgres/pg_store_impl.h"

#include <algorithm>
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

// A full load reads the domains in pages of this many, by keyset on the
// unique domain index, inside its one REPEATABLE READ transaction (so every
// page sees the same snapshot): libpq holds a statement's whole result in
// memory, and the edge may serve a million names.
#define CG_EDGE_PAGE_ROWS 10000
#define CG_EDGE_STRINGIFY(x) #x
#define CG_EDGE_LIMIT(x) " LIMIT " CG_EDGE_STRINGIFY(x)
constexpr int kEdgePageRows = CG_EDGE_PAGE_ROWS;

constexpr char kAllEndpoints[] = "SELECT " CG_PG_ENDPOINT_COLUMNS " FROM endpoints ORDER BY id";
// The first page, then each page after the last name read.
constexpr char kEdgeDomains[] =
    "SELECT domain, certificate_id FROM reserved_domains"
    " ORDER BY domain" CG_EDGE_LIMIT(CG_EDGE_PAGE_ROWS);
constexpr char kEdgeDomainsAfter[] =
    "SELECT domain, certificate_id FROM reserved_domains"
    " WHERE domain > $1 ORDER BY domain" CG_EDGE_LIMIT(CG_EDGE_PAGE_ROWS);
#undef CG_EDGE_LIMIT
#undef CG_EDGE_STRINGIFY
#undef CG_EDGE_PAGE_ROWS
constexpr char kOldestChange[] =
    "SELECT MIN(seq), (SELECT retention FROM edge_change_log WHERE id = 1) FROM edge_changes";
constexpr char kChangesSince[] =
    "SELECT seq, kind, key FROM edge_changes WHERE seq > $1 ORDER BY seq LIMIT $2";
constexpr char kEdgeDomainByName[] =
    "SELECT domain, certificate_id FROM reserved_domains WHERE domain = $1";
constexpr char kEndpointsByHost[] =
    "SELECT " CG_PG_ENDPOINT_COLUMNS " FROM endpoints WHERE host = $1 ORDER BY id";

std::optional<EdgeChangeKind> KindOf(std::string_view text) {
  if (text == "certificate") return EdgeChangeKind::kCertificate;
  if (text == "domain") return EdgeChangeKind::kDomain;
  if (text == "endpoint") return EdgeChangeKind::kEndpoint;
  if (text == "http01") return EdgeChangeKind::kHttp01;
  if (text == "txt") return EdgeChangeKind::kDnsTxt;
  if (text == "cname_target") return EdgeChangeKind::kCnameTarget;
  return std::nullopt;
}

}  // namespace

Result<EdgeState> PgStore::LoadEdgeState(const EdgeDomainVisitor& visit) {
  constexpr std::string_view kOp = "loading the edge state";
  return Read(kOp, [&](Connection& conn) -> Result<EdgeState> {
    EdgeState state;
    CG_ASSIGN_OR_RETURN(state.change_sequence, ReadChangeSequence(conn, kOp));
    std::optional<std::string> after;  // the last name of a full page
    while (true) {
      Query q(conn, after ? kEdgeDomainsAfter : kEdgeDomains, kOp);
      if (after) q.Text(1, *after);
      int rows = 0;
      while (true) {
        CG_ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        std::optional<std::string_view> certificate_id;
        if (!q.IsNull(1)) certificate_id = q.ColumnView(1);
        visit(q.ColumnView(0), certificate_id);
        if (++rows == kEdgePageRows) after = q.ColumnText(0);
      }
      if (rows < kEdgePageRows) break;
    }
    Query q(conn, kAllEndpoints, kOp);
    while (true) {
      CG_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      CG_ASSIGN_OR_RETURN(Endpoint endpoint, ReadEndpoint(q, kOp));
      state.endpoints.push_back(std::move(endpoint));
    }
    return state;
  });
}

Result<int64_t> PgStore::ChangeSequence() {
  constexpr std::string_view kOp = "reading the change sequence";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return ReadChangeSequence(lease.conn(), kOp);
}

Result<EdgeChanges> PgStore::ChangesSince(int64_t after, int limit) {
  constexpr std::string_view kOp = "reading the edge's change feed";
  if (limit < 1) {
    return MakeError(ErrorCode::kInternal, fmt::format("{}: limit {} is below 1", kOp, limit));
  }
  return Read(kOp, [&](Connection& conn) -> Result<EdgeChanges> {
    // The newest entry never goes back (pruning keeps it). Sequences have
    // no gaps: each writer numbers its entries one past the newest while it
    // holds the log's row lock, and one that rolls back takes its numbers
    // back with it.
    CG_ASSIGN_OR_RETURN(const int64_t newest, ReadChangeSequence(conn, kOp));
    std::optional<int64_t> oldest;
    {
      Query q(conn, kOldestChange, kOp);
      CG_ASSIGN_OR_RETURN(bool row, q.Step());
      if (row && !q.IsNull(0)) oldest = q.ColumnInt(0);
      // Only the newest `retention` count, pruned or not yet (see the schema).
      if (row && oldest) oldest = std::max(*oldest, newest - q.ColumnInt(1) + 1);
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
    Query q(conn, kChangesSince, kOp);
    q.Int(1, after).Int(2, limit);
    while (true) {
      CG_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      std::optional<EdgeChangeKind> kind = KindOf(q.ColumnView(1));
      if (!kind) return CorruptRow(kOp, "an edge_changes row has an unknown kind");
      out.changes.push_back(EdgeChange{q.ColumnInt(0), *kind, q.ColumnText(2)});
      out.sequence = out.changes.back().sequence;
    }
    out.more = out.sequence < newest && out.changes.size() == static_cast<size_t>(limit);
    return out;
  });
}

Result<std::optional<EdgeDomain>> PgStore::EdgeDomainByName(std::string_view name) {
  constexpr std::string_view kOp = "reading a domain for the edge";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kEdgeDomainByName, kOp);
  q.Text(1, name);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<EdgeDomain>();
  return std::optional<EdgeDomain>(EdgeDomain{q.ColumnText(0), q.OptionalColumnText(1)});
}

Result<std::vector<Endpoint>> PgStore::EndpointsByHost(std::string_view host) {
  constexpr std::string_view kOp = "reading an endpoint host for the edge";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kEndpointsByHost, kOp);
  q.Text(1, host);
  std::vector<Endpoint> endpoints;
  while (true) {
    CG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    CG_ASSIGN_OR_RETURN(Endpoint endpoint, ReadEndpoint(q, kOp));
    endpoints.push_back(std::move(endpoint));
  }
  return endpoints;
}

}  // namespace certgate::store::pg
