// The PostgreSQL backend, for a cluster of certgate nodes sharing one
// database. Same contracts as every backend (store.h) and the same
// conformance suite as SQLite. In short:
// - Writes run one at a time across the cluster: each takes one advisory
//   transaction lock first, so the name rules' checks and the writes they
//   guard are race-free between nodes, as SQLite's single writer makes them.
//   A write that returned success has committed (PostgreSQL's own
//   durability, synchronous_commit as the server sets it).
// - Reads see one snapshot (REPEATABLE READ, read only).
// - The edge's change feed (edge_changes) is written by triggers; its
//   sequence comes from a row updated in the writing transaction, so it is
//   given out in commit order. Every change NOTIFYs certgate_changes after
//   commit.
// - Times are timestamptz; ids and names compare bytewise (COLLATE "C").
// - The schema is migrated once, under an advisory lock, by whichever node
//   comes first.
// - A lost database is kStoreUnavailable (the API answers 503); the pool
//   drops broken connections and opens new ones when asked again.
// The implementation beside this header: pg_store_impl.h (the class), one
// file per resource, connection.h (connections, statements, errors),
// rows.h, migrations.h.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/time.h"
#include "store/store.h"

namespace certgate::store {

// conninfo: a postgresql:// or postgres:// URI, or libpq's key=value form
// ("host=/run/postgresql dbname=certgate"). Connects, and migrates.
// node_clock: this node's clock, which the job lease times given to the
// store are read from; the store keeps leases on the database's clock by
// measuring the difference (tests pass a clock that is off).
Result<std::unique_ptr<Store>> OpenPostgresStore(
    std::string_view conninfo, const Clock& node_clock = SystemClock::Instance());

// The schema version this build migrates to.
int PostgresSchemaVersion();

// For a store OpenPostgresStore made: its connection string, which the
// node's change listener (postgres/change_listener.h) connects with;
// nullopt for any other store.
std::optional<std::string> PostgresConninfo(const Store& store);
// Calls store's OnChange callbacks as a write through it does: for changes
// other nodes made, which the change listener hears of. Nothing for a
// store OpenPostgresStore did not make.
void AnnounceOutsideChange(Store& store);

}  // namespace certgate::store
