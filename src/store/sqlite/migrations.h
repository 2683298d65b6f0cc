// The SQLite backend's schema: numbered migrations applied in order, each in
// its own transaction, recorded in schema_migrations. A migration, once
// shipped, is never edited: databases made by it exist.
#pragma once

#include <span>
#include <string_view>

#include "core/result.h"
#include "store/sqlite/connection.h"

namespace certgate::store::sqlite {

struct Migration {
  int version;
  const char* sql;
};

std::span<const Migration> Migrations();
// The version the last migration brings a database to.
int SchemaVersion();

// Applies the migrations a database lacks. Safe beside other processes
// doing the same: each migration re-reads the version under the write lock.
// kStoreSchemaTooNew if a newer certgate migrated it. path is for messages.
Result<void> Migrate(Connection& conn, std::string_view path);

}  // namespace certgate::store::sqlite
