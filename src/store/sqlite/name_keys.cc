#include "store/sqlite/name_keys.h"

namespace certgate::store::sqlite {

// The index key of a normalized domain name (see migration 4): its labels last
// to first, each followed by '.'. "*.wa.example.com" -> "com.example.wa.*.".
// A name's key is a prefix of the key of every name below it, and '.' ends
// every label, so in key order a name comes right before all names below it
// ("wa-b" sorts before "wa", not between "wa" and "x.wa").
std::string NameKey(std::string_view name) {
  std::string key;
  key.reserve(name.size() + 1);
  while (!name.empty()) {
    size_t dot = name.rfind('.');
    std::string_view label = dot == std::string_view::npos ? name : name.substr(dot + 1);
    key.append(label).push_back('.');
    name = dot == std::string_view::npos ? std::string_view() : name.substr(0, dot);
  }
  return key;
}

// NameKey's inverse.
std::string NameFromKey(std::string_view key) {
  if (key.ends_with('.')) key.remove_suffix(1);
  return NameKey(key).substr(0, key.size());  // reversing the labels twice
}

// The bounds (exclusive) of the keys of every name strictly below name:
// everything after its key and before its key with the final '.' raised to '/'.
std::pair<std::string, std::string> NameKeyRange(std::string_view name) {
  std::string low = NameKey(name);
  std::string high = low;
  high.back() = '.' + 1;
  return {std::move(low), std::move(high)};
}

// "*.x" -> "x"; a name without a wildcard is returned whole.
std::string_view BaseOf(std::string_view name) {
  return name.starts_with("*.") ? name.substr(2) : name;
}

// The names above a name, nearest first: "a.b.example.com" -> "b.example.com",
// "example.com", "com".
std::vector<std::string_view> Ancestors(std::string_view name) {
  std::vector<std::string_view> out;
  for (size_t dot = name.find('.'); dot != std::string_view::npos; dot = name.find('.')) {
    name.remove_prefix(dot + 1);
    out.push_back(name);
  }
  return out;
}

// certgate_name_key(name), for migrations that fill name_key.
void NameKeySqlFunction(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  if (argc != 1 || sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
    sqlite3_result_null(ctx);
    return;
  }
  std::string_view name(reinterpret_cast<const char*>(sqlite3_value_text(argv[0])),
                        static_cast<size_t>(sqlite3_value_bytes(argv[0])));
  std::string key = NameKey(name);
  sqlite3_result_text(ctx, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
}

}  // namespace certgate::store::sqlite
