// The edge's feed in the PostgreSQL backend: its state in one snapshot, the
// change log that triggers write (edge_changes, numbered by
// edge_change_log.last_seq; see migrations.cc), and the current state of one
// key.
#include "store/postgres/pg_store_impl.h"

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "store/postgres/rows.h"
#include "store/postgres/statements.h"
#include "store/sql/edge_feed.h"

namespace certgate::store::pg {
namespace {

// A full load reads the domains in pages of this many, by keyset on the
// unique domain index, inside its one REPEATABLE READ transaction (so every
// page sees the same snapshot): libpq holds a statement's whole result in
// memory, and the edge may serve a million names.
#define CG_EDGE_PAGE_ROWS 10000
#define CG_EDGE_STRINGIFY(x) #x
#define CG_EDGE_LIMIT(x) " LIMIT " CG_EDGE_STRINGIFY(x)

// The statements of store/sql/edge_feed.h.
struct EdgeFeedSql {
  static constexpr const char* kAllEndpoints =
      "SELECT " CG_PG_ENDPOINT_COLUMNS " FROM endpoints ORDER BY id";
  static constexpr int kEdgePageRows = CG_EDGE_PAGE_ROWS;
  // The first page, then each page after the last name read.
  static constexpr const char* kEdgeDomains =
      "SELECT domain, certificate_id FROM reserved_domains"
      " ORDER BY domain" CG_EDGE_LIMIT(CG_EDGE_PAGE_ROWS);
  static constexpr const char* kEdgeDomainsAfter =
      "SELECT domain, certificate_id FROM reserved_domains"
      " WHERE domain > $1 ORDER BY domain" CG_EDGE_LIMIT(CG_EDGE_PAGE_ROWS);
  // The newest entry never goes back (pruning keeps it). Sequences have no
  // gaps: each writer numbers its entries one past the newest while it holds
  // the log's row lock, and one that rolls back takes its numbers back with
  // it. Entries are pruned only every 1024 (see the schema), so the oldest
  // entry kept is not where the feed starts: the retention is read too, and
  // applied (kOldestChangeHasRetention).
  static constexpr const char* kOldestChange =
      "SELECT MIN(seq), (SELECT retention FROM edge_change_log WHERE id = 1) FROM edge_changes";
  static constexpr bool kOldestChangeHasRetention = true;
  static constexpr const char* kChangesSince =
      "SELECT seq, kind, key FROM edge_changes WHERE seq > $1 ORDER BY seq LIMIT $2";
  static constexpr const char* kEdgeDomainByName =
      "SELECT domain, certificate_id FROM reserved_domains WHERE domain = $1";
  static constexpr const char* kEndpointsByHost =
      "SELECT " CG_PG_ENDPOINT_COLUMNS " FROM endpoints WHERE host = $1 ORDER BY id";
  static constexpr auto kReadChangeSequence = &pg::ReadChangeSequence;
};

#undef CG_EDGE_LIMIT
#undef CG_EDGE_STRINGIFY
#undef CG_EDGE_PAGE_ROWS

}  // namespace

Result<EdgeState> PgStore::LoadEdgeState(const EdgeDomainVisitor& visit) {
  constexpr std::string_view kOp = "loading the edge state";
  return Read(kOp, [&](Connection& conn) {
    return sql::LoadEdgeState<EdgeFeedSql>(conn, visit, kOp);
  });
}

Result<int64_t> PgStore::ChangeSequence() {
  constexpr std::string_view kOp = "reading the change sequence";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return ReadChangeSequence(lease.conn(), kOp);
}

Result<EdgeChanges> PgStore::ChangesSince(int64_t after, int limit) {
  constexpr std::string_view kOp = "reading the edge's change feed";
  CG_RETURN_IF_ERROR(sql::CheckChangesLimit(limit, kOp));
  return Read(kOp, [&](Connection& conn) {
    return sql::ChangesSince<EdgeFeedSql>(conn, after, limit, kOp);
  });
}

Result<std::optional<EdgeDomain>> PgStore::EdgeDomainByName(std::string_view name) {
  constexpr std::string_view kOp = "reading a domain for the edge";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::EdgeDomainByName<EdgeFeedSql>(lease.conn(), name, kOp);
}

Result<std::vector<Endpoint>> PgStore::EndpointsByHost(std::string_view host) {
  constexpr std::string_view kOp = "reading an endpoint host for the edge";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::EndpointsByHost<EdgeFeedSql>(lease.conn(), host, kOp);
}

}  // namespace certgate::store::pg
