// Service settings in the SQLite backend.
#include "store/sqlite/sqlite_store_impl.h"

#include <optional>
#include <string>
#include <string_view>

#include "store/sql/settings.h"

namespace certgate::store::sqlite {
namespace {

// The statements of store/sql/settings.h.
struct SettingSql {
  static constexpr const char* kGetSetting = "SELECT value FROM settings WHERE name = ?1";
  static constexpr const char* kSetSetting =
      "INSERT INTO settings (name, value) VALUES (?1, ?2)"
      " ON CONFLICT (name) DO UPDATE SET value = excluded.value";
  static constexpr const char* kCreateSettingIfAbsent =
      "INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING";
  static constexpr const char* kReplaceSetting =
      "UPDATE settings SET value = ?2 WHERE name = ?1 AND value = ?3";
};

}  // namespace

Result<std::optional<std::string>> SqliteStore::GetSetting(std::string_view name) {
  constexpr std::string_view kOp = "reading a setting";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::GetSetting<SettingSql>(lease.conn(), name, kOp);
}

Result<void> SqliteStore::SetSetting(std::string_view name, std::string_view value) {
  constexpr std::string_view kOp = "writing a setting";
  return Write(kOp, [&](Connection& conn) {
    return sql::SetSetting<SettingSql>(conn, name, value, kOp);
  });
}

Result<bool> SqliteStore::CompareAndSetSetting(std::string_view name,
                                               const std::optional<std::string>& expected,
                                               std::string_view value) {
  constexpr std::string_view kOp = "writing a setting";
  return Write(kOp, [&](Connection& conn) {
    return sql::CompareAndSetSetting<SettingSql>(conn, name, expected, value, kOp);
  });
}

}  // namespace certgate::store::sqlite
