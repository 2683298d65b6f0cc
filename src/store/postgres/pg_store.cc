#include "store/postgres/pg_store.h"

#include <utility>

#include <fmt/format.h>

#include "store/postgres/migrations.h"
#include "store/postgres/pg_store_impl.h"

namespace certgate::store::pg {
namespace {

constexpr char kPruneChanges[] =
    "DELETE FROM edge_changes WHERE seq <= (SELECT MAX(seq) FROM edge_changes)"
    " - (SELECT retention FROM edge_change_log WHERE id = 1)";

}  // namespace

Result<PgStore::Lease> PgStore::Acquire(std::string_view op) {
  std::unique_lock lock(pool_mu_);
  pool_cv_.wait(lock, [this] { return !idle_.empty() || open_connections_ < kMaxConnections; });
  if (!idle_.empty()) {
    std::unique_ptr<Connection> conn = std::move(idle_.back());
    idle_.pop_back();
    return Lease(this, std::move(conn));
  }
  ++open_connections_;
  lock.unlock();
  auto conn = Connection::Open(conninfo_);
  if (!conn.ok()) {
    lock.lock();
    --open_connections_;
    pool_cv_.notify_one();
    Error error = std::move(conn).error();
    error.message = fmt::format("{}: {}", op, error.message);
    return error;
  }
  return Lease(this, std::move(conn).value());
}

void PgStore::Release(std::unique_ptr<Connection> conn) {
  {
    std::lock_guard lock(pool_mu_);
    if (conn->healthy() && PQtransactionStatus(conn->raw()) == PQTRANS_IDLE) {
      idle_.push_back(std::move(conn));
    } else {
      // The server went away (or a transaction was left open by a bug):
      // the next caller opens a new connection.
      --open_connections_;
      conn.reset();
    }
  }
  pool_cv_.notify_one();
}

void PgStore::AnnounceChange() {
  std::vector<std::shared_ptr<const std::function<void()>>> callbacks;
  {
    std::lock_guard lock(callbacks_mu_);
    callbacks = callbacks_;
  }
  for (const auto& fn : callbacks) (*fn)();
}

void PgStore::OnChange(std::function<void()> fn) {
  auto shared = std::make_shared<const std::function<void()>>(std::move(fn));
  std::lock_guard lock(callbacks_mu_);
  callbacks_.push_back(std::move(shared));
}

Result<std::unique_ptr<PgStore>> PgStore::Open(std::string conninfo) {
  if (conninfo.empty()) {
    return MakeError(ErrorCode::kStoreUrlInvalid, "no PostgreSQL connection string was given");
  }
  if (conninfo.find('\0') != std::string::npos) {
    return MakeError(ErrorCode::kStoreUrlInvalid,
                     "the PostgreSQL connection string holds a NUL character");
  }
  std::unique_ptr<PgStore> store(new PgStore(std::move(conninfo)));
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

Result<std::unique_ptr<Store>> OpenPostgresStore(std::string_view conninfo) {
  CG_ASSIGN_OR_RETURN(std::unique_ptr<pg::PgStore> store,
                      pg::PgStore::Open(std::string(conninfo)));
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
