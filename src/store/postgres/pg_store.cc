#include "store/postgres/pg_store.h"

#include <functional>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "store/postgres/migrations.h"
#include "store/postgres/pg_store_impl.h"

namespace certgate::store::pg {
namespace {

constexpr char kPruneChanges[] =
    "DELETE FROM edge_changes WHERE seq <= (SELECT MAX(seq) FROM edge_changes)"
    " - (SELECT retention FROM edge_change_log WHERE id = 1)";

using Returned = sql::ConnectionPool<Connection>::Returned;

// What becomes of a connection given back to the pool. When the server went
// away (or a transaction was left open by a bug), the next caller opens a
// new connection. The idle ones most likely went with the server (a restart
// ends every session) and are closed too: one request finds out, not one
// per pooled connection.
Returned CheckReturned(const Connection& conn) {
  if (!conn.healthy()) return Returned::kCloseAll;
  if (PQtransactionStatus(conn.raw()) != PQTRANS_IDLE) return Returned::kClose;
  return Returned::kIdle;
}

}  // namespace

PgStore::PgStore(std::string conninfo, const Clock& node_clock)
    : conninfo_(std::move(conninfo)),
      node_clock_(node_clock),
      pool_(kMaxConnections, [this] { return Connection::Open(conninfo_); }, CheckReturned,
            [this](std::chrono::steady_clock::duration took) { ReportRead(took); }) {}

void PgStore::OnChange(std::function<void()> fn) { callbacks_.Add(std::move(fn)); }

Result<std::unique_ptr<PgStore>> PgStore::Open(std::string conninfo, const Clock& node_clock) {
  if (conninfo.empty()) {
    return MakeError(ErrorCode::kStoreUrlInvalid, "no PostgreSQL connection string was given");
  }
  if (conninfo.find('\0') != std::string::npos) {
    return MakeError(ErrorCode::kStoreUrlInvalid,
                     "the PostgreSQL connection string holds a NUL character");
  }
  std::unique_ptr<PgStore> store(new PgStore(std::move(conninfo), node_clock));
  CG_ASSIGN_OR_RETURN(Lease lease, store->Acquire("opening the PostgreSQL store"));
  CG_RETURN_IF_ERROR(Migrate(lease.conn()));
  // What the writers' windowed pruning leaves (after the retention was
  // lowered): entries that no longer count, deleted once per start.
  Query prune(lease.conn(), kPruneChanges, "pruning the change feed");
  CG_RETURN_IF_ERROR(prune.Run());
  return store;
}

}  // namespace certgate::store::pg

namespace certgate::store {

Result<std::unique_ptr<Store>> OpenPostgresStore(std::string_view conninfo,
                                                 const Clock& node_clock) {
  CG_ASSIGN_OR_RETURN(std::unique_ptr<pg::PgStore> store,
                      pg::PgStore::Open(std::string(conninfo), node_clock));
  return std::unique_ptr<Store>(std::move(store));
}

int PostgresSchemaVersion() { return pg::SchemaVersion(); }

std::optional<std::string> PostgresConninfo(const Store& store) {
  const auto* pg = dynamic_cast<const pg::PgStore*>(&store);
  if (pg == nullptr) return std::nullopt;
  return pg->conninfo();
}

void AnnounceOutsideChange(Store& store) {
  if (auto* pg = dynamic_cast<pg::PgStore*>(&store)) pg->AnnounceOutsideChange();
}

}  // namespace certgate::store
