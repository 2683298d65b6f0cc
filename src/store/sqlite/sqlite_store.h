// The embedded SQLite backend: one database file in WAL mode, every write
// on disk before it returns (group commit: concurrent writes share one sync
// of the WAL, sqlite/wal_sync.h), foreign keys on,
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

#include <filesystem>
#include <memory>

#include "store/store.h"

namespace certgate::store {

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::filesystem::path& path);

// The schema version this build migrates to.
int SqliteSchemaVersion();

}  // namespace certgate::store
