// Service settings in the PostgreSQL backend.
#include "store/postgres/pg_store_impl.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "store/postgres/rows.h"
#include "store/postgres/statements.h"

namespace certgate::store::pg {
namespace {

constexpr char kGetSetting[] = "SELECT value FROM settings WHERE name = $1";
constexpr char kSetSetting[] =
    "INSERT INTO settings (name, value) VALUES ($1, $2)"
    " ON CONFLICT (name) DO UPDATE SET value = excluded.value";
constexpr char kCreateSettingIfAbsent[] =
    "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING";
constexpr char kReplaceSetting[] = "UPDATE settings SET value = $2 WHERE name = $1 AND value = $3";

}  // namespace

Result<std::optional<std::string>> PgStore::GetSetting(std::string_view name) {
  constexpr std::string_view kOp = "reading a setting";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kGetSetting, kOp);
  q.Text(1, name);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(q.ColumnText(0));
}

Result<void> PgStore::SetSetting(std::string_view name, std::string_view value) {
  constexpr std::string_view kOp = "writing a setting";
  return Write(kOp, [&](Connection& conn) {
    Query q(conn, kSetSetting, kOp);
    q.Text(1, name).Text(2, value);
    return q.Run();
  });
}

Result<bool> PgStore::CompareAndSetSetting(std::string_view name,
                                           const std::optional<std::string>& expected,
                                           std::string_view value) {
  constexpr std::string_view kOp = "writing a setting";
  return Write(kOp, [&](Connection& conn) -> Result<bool> {
    Query q(conn, expected.has_value() ? kReplaceSetting : kCreateSettingIfAbsent, kOp);
    q.Text(1, name).Text(2, value);
    if (expected.has_value()) q.Text(3, *expected);
    CG_RETURN_IF_ERROR(q.Run());
    return q.Changes() == 1;
  });
}

}  // namespace certgate::store::pg
