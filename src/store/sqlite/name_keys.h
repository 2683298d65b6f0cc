// Name keys of the SQLite backend: the index key of a domain name (labels
// last to first, see migration 4), so that every name below a domain is one
// range of the name_key index. Pure functions; thread-safe.
#pragma once

#include <sqlite3.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace certgate::store::sqlite {

// "*.wa.example.com" -> "com.example.wa.*.".
std::string NameKey(std::string_view name);
// NameKey's inverse.
std::string NameFromKey(std::string_view key);
// The bounds (exclusive) of the keys of every name strictly below name.
std::pair<std::string, std::string> NameKeyRange(std::string_view name);
// "*.x" -> "x"; a name without a wildcard is returned whole.
std::string_view BaseOf(std::string_view name);
// The names above a name, nearest first: "a.b.example.com" -> "b.example.com",
// "example.com", "com".
std::vector<std::string_view> Ancestors(std::string_view name);
// certgate_name_key(name), the SQL function migrations use to fill name_key.
void NameKeySqlFunction(sqlite3_context* ctx, int argc, sqlite3_value** argv);

}  // namespace certgate::store::sqlite
