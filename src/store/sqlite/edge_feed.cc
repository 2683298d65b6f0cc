// The edge's feed: its state in one snapshot, and the change sequence in the SQLite backend.
#include "store/sqlite/sqlite_store_impl.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "store/sqlite/rows.h"
#include "store/sqlite/statements.h"

namespace certgate::store::sqlite {
namespace {

constexpr char kAllEndpoints[] = "SELECT " CG_ENDPOINT_COLUMNS " FROM endpoints ORDER BY id";
constexpr char kAllEdgeDomains[] =
    "SELECT domain, certificate_id FROM reserved_domains ORDER BY id";
constexpr char kChangeSequence[] = "SELECT value FROM change_sequence WHERE id = 1";

}  // namespace

Result<EdgeState> SqliteStore::LoadEdgeState() {
  constexpr std::string_view kOp = "loading the edge state";
  return Read(kOp, [&](Connection& conn) -> Result<EdgeState> {
    EdgeState state;
    {
      Query q(conn, kChangeSequence, kOp);
      CG_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) return CorruptRow(kOp, "the change_sequence row is missing");
      state.change_sequence = q.ColumnInt(0);
    }
    {
      Query q(conn, kAllEdgeDomains, kOp);
      while (true) {
        CG_ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        state.domains.push_back(EdgeDomain{q.ColumnText(0), q.OptionalColumnText(1)});
      }
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

Result<int64_t> SqliteStore::ChangeSequence() {
  constexpr std::string_view kOp = "reading the change sequence";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kChangeSequence, kOp);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return CorruptRow(kOp, "the change_sequence row is missing");
  return q.ColumnInt(0);
}

}  // namespace certgate::store::sqlite
