// The edge's feed in the SQLite backend: its state in one snapshot, the change
// log that triggers write (migration 8), and the current state of one key.
#include "store/sqlite/sqlite_store_impl.h"

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "store/sql/edge_feed.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/statements.h"

namespace certgate::store::sqlite {
namespace {

// The statements of store/sql/edge_feed.h.
struct EdgeFeedSql {
  static constexpr const char* kAllEndpoints =
      "SELECT " CG_ENDPOINT_COLUMNS " FROM endpoints ORDER BY id";
  // One statement reads every domain: SQLite steps through its rows one at a
  // time, never holding the whole result.
  static constexpr int kEdgePageRows = 0;
  // From the covering index reserved_domains_for_edge (migration 9), in its
  // order: no order is needed (names are unique), and ORDER BY id would look
  // each row up again through the id index.
  static constexpr const char* kEdgeDomains = "SELECT domain, certificate_id FROM reserved_domains";
  static constexpr const char* kEdgeDomainsAfter = nullptr;
  // A trigger (edge_changes_pruned) prunes the log beyond its retention at
  // every entry, so the oldest entry kept is where the feed starts.
  static constexpr const char* kOldestChange = "SELECT MIN(seq) FROM edge_changes";
  static constexpr bool kOldestChangeHasRetention = false;
  static constexpr const char* kChangesSince =
      "SELECT seq, kind, key FROM edge_changes WHERE seq > ?1 ORDER BY seq LIMIT ?2";
  static constexpr const char* kEdgeDomainByName =
      "SELECT domain, certificate_id FROM reserved_domains WHERE domain = ?1";
  static constexpr const char* kEndpointsByHost =
      "SELECT " CG_ENDPOINT_COLUMNS " FROM endpoints WHERE host = ?1 ORDER BY id";
  static constexpr auto kReadChangeSequence = &sqlite::ReadChangeSequence;
};

}  // namespace

Result<EdgeState> SqliteStore::LoadEdgeState(const EdgeDomainVisitor& visit) {
  constexpr std::string_view kOp = "loading the edge state";
  return Read(kOp, [&](Connection& conn) {
    return sql::LoadEdgeState<EdgeFeedSql>(conn, visit, kOp);
  });
}

Result<int64_t> SqliteStore::ChangeSequence() {
  constexpr std::string_view kOp = "reading the change sequence";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return ReadChangeSequence(lease.conn(), kOp);
}

Result<EdgeChanges> SqliteStore::ChangesSince(int64_t after, int limit) {
  constexpr std::string_view kOp = "reading the edge's change feed";
  CG_RETURN_IF_ERROR(sql::CheckChangesLimit(limit, kOp));
  return Read(kOp, [&](Connection& conn) {
    return sql::ChangesSince<EdgeFeedSql>(conn, after, limit, kOp);
  });
}

Result<std::optional<EdgeDomain>> SqliteStore::EdgeDomainByName(std::string_view name) {
  constexpr std::string_view kOp = "reading a domain for the edge";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::EdgeDomainByName<EdgeFeedSql>(lease.conn(), name, kOp);
}

Result<std::vector<Endpoint>> SqliteStore::EndpointsByHost(std::string_view host) {
  constexpr std::string_view kOp = "reading an endpoint host for the edge";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::EndpointsByHost<EdgeFeedSql>(lease.conn(), host, kOp);
}

}  // namespace certgate::store::sqlite
