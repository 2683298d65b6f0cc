// The embedded SQLite backend: one database file in WAL mode, every write
// on disk before it returns (group commit: writes that arrive together share
// one transaction, each in its own savepoint so that it fails alone, and one
// sync of the WAL, sqlite/wal_sync.h), foreign keys on,
// busy timeout 5 s so that `certgate admin` can run beside `certgate serve`.
// Schema changes are numbered migrations applied in order, each in its own
// transaction, recorded in schema_migrations; a database migrated by a newer
// certgate is refused (kStoreSchemaTooNew).
// The edge's change feed is a table (edge_changes) that triggers append to on
// every row written to tls_certificates, reserved_domains, endpoints and the
// ACME challenge tables, so it sees writes of any process (and any tool)
// sharing the file; it keeps the newest edge_change_log.retention entries
// (100,000). OnChange callbacks run for writes
// through the same store object only, after the commit, with no connection
// or lock of the store held.
// Thread-safe: a small pool of connections, one per concurrent caller.
// The implementation beside this header: sqlite_store_impl.h (the class),
// one file per resource (accounts.cc, certificates.cc, domains.cc, ...),
// connection.h (connections, statements, errors), rows.h, migrations.h.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>

#include "store/store.h"

namespace certgate::store {

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::filesystem::path& path);

// The schema version this build migrates to.
int SqliteSchemaVersion();

// Write transactions a store OpenSqliteStore returned has begun (0 for any
// other store). Writes that arrive while one runs share the next, so under
// concurrent writers this is less than the number of writes (for tests).
uint64_t SqliteWriteTransactions(const Store& store);

}  // namespace certgate::store
