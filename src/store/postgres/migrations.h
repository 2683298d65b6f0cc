// The PostgreSQL backend's schema: numbered migrations applied in order,
// recorded in schema_migrations. A migration, once shipped, is never edited:
// databases made by it exist.
#pragma once

#include <span>

#include "core/result.h"
#include "store/postgres/connection.h"

namespace certgate::store::pg {

struct Migration {
  int version;
  const char* sql;
};

std::span<const Migration> Migrations();
// The version the last migration brings a database to.
int SchemaVersion();

// Applies the migrations a database lacks, all in one transaction under an
// advisory lock (kMigrationLock): nodes started at once migrate once, the
// others wait and find it done. kStoreSchemaTooNew if a newer certgate
// migrated it.
Result<void> Migrate(Connection& conn);

}  // namespace certgate::store::pg
