// The SQL functions every connection registers. Pure; thread-safe.
//   certgate_name_key(name): store::NameKey, so that migrations can fill the
//     name_key column (see migration 4).
//   certgate_size(text): the code points of a text as list filters count them
//     (store::SizeOf), NUL bytes included, which SQLite's length() stops at.
#pragma once

#include <sqlite3.h>

namespace certgate::store::sqlite {

// certgate_name_key(name): NameKey(name) for a text argument, else NULL.
void NameKeySqlFunction(sqlite3_context* ctx, int argc, sqlite3_value** argv);

// certgate_size(text): SizeOf(text) for a text or blob argument, else NULL.
void SizeSqlFunction(sqlite3_context* ctx, int argc, sqlite3_value** argv);

}  // namespace certgate::store::sqlite
