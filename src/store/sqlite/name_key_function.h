// certgate_name_key(name), the SQL function of store::NameKey that every
// connection registers, so that migrations can fill the name_key column
// (see migration 4). Pure; thread-safe.
#pragma once

#include <sqlite3.h>

namespace certgate::store::sqlite {

// certgate_name_key(name): NameKey(name) for a text argument, else NULL.
void NameKeySqlFunction(sqlite3_context* ctx, int argc, sqlite3_value** argv);

}  // namespace certgate::store::sqlite
