#include "store/sqlite/connection.h"

#include <system_error>

namespace certgate::store::sqlite {

std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

Error SqliteError(sqlite3* db, int rc, std::string_view op) {
  const char* detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
    return MakeError(
        ErrorCode::kStoreConflict,
        fmt::format("{}: a record with that identity exists already ({})", op, detail));
  }
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
    return MakeError(ErrorCode::kStoreConflict,
                     fmt::format("{}: a record it refers to does not exist, or another record "
                                 "still refers to it ({})",
                                 op, detail));
  }
  return MakeError(ErrorCode::kStoreIo, fmt::format("{} failed in SQLite: {}", op, detail));
}

}  // namespace certgate::store::sqlite
