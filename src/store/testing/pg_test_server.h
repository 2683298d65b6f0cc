// A throw-away PostgreSQL for tests: one server per process (or per ctest
// run), and a fresh database per test, copied from a template that already
// holds the migrated schema, so a test starts from an empty store without
// migrating.
//
// Which server:
// - CERTGATE_TEST_PG_HOST, when set, is the socket directory of a running
//   server whose superuser "postgres" connects without a password (trust).
//   CTest's certgate_postgres fixture starts one for a whole run and sets
//   it for every test that asks (certgate_test(... POSTGRES) in the top
//   CMakeLists.txt).
// - Otherwise (a test binary run by hand) the first call starts one in a
//   fresh directory under /tmp with tests/support/pg_test_cluster.sh, which
//   also watches this process: the server is stopped and its directory
//   removed when the process ends, however it ends.
//
// The template is certgate_template_v<schema version>_<hash of the
// migrations' text>, so a server that outlives a schema change (a
// long-lived CERTGATE_TEST_PG_HOST) gets a new template instead of
// handing out stale copies. Test processes that share a server make it
// once between them (under an advisory lock).
//
// Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace certgate::store::testing {

// The conninfo ("host=<socket dir> user=postgres dbname=cg_<random hex>") of
// a new database with the migrated schema and no rows, for
// OpenPostgresStore. An error says why there is none: the server could not
// be started (with initdb's or the server's output) or reached, or the
// template could not be made.
Result<std::string> NewDatabase();

// Drops a database NewDatabase made, given its conninfo or its name, and
// ends the connections still open to it. Does nothing if it is gone
// already. A failure (or a name NewDatabase cannot have made) is a test
// failure (ADD_FAILURE), not an error to handle.
void DropDatabase(std::string_view conninfo_or_name);

}  // namespace certgate::store::testing
