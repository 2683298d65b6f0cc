// Domain name keys, shared by every backend: the index key of a name (its
// labels last to first), so that every name below a domain is one range of
// keys, and the few steps between a name and the names above it. Names are
// normalized ASCII and may start with "*.". Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace certgate::store {

// The labels of a name last to first, each followed by '.':
// "*.wa.example.com" -> "com.example.wa.*.". A name's key is a prefix of the
// key of every name below it, and '.' ends every label, so in key order a
// name comes right before all names below it ("wa-b" sorts before "wa", not
// between "wa" and "x.wa"). The SQLite backend keeps it in name_key (see its
// migration 4), so this spelling must never change.
std::string NameKey(std::string_view name);
// NameKey's inverse.
std::string NameFromKey(std::string_view key);
// The bounds (both exclusive) of the keys of every name strictly below name:
// its key, and its key with the final '.' raised to '/'.
std::pair<std::string, std::string> NameKeyRange(std::string_view name);
// Whether key is the key of a name strictly below the name whose key is above.
bool KeyIsBelow(std::string_view key, std::string_view above);
// "*.x" -> "x"; a name without a wildcard is returned whole.
std::string_view BaseOf(std::string_view name);
// The names above a name, nearest first: "a.b.example.com" -> "b.example.com",
// "example.com", "com".
std::vector<std::string_view> Ancestors(std::string_view name);
// The wildcard that covers name, one label below it: "a.b.c" -> "*.b.c";
// "" for a name of one label.
std::string WildcardOver(std::string_view name);

}  // namespace certgate::store
