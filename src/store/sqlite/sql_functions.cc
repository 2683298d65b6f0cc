#include "store/sqlite/sql_functions.h"

#include <string>
#include <string_view>

#include "store/list_filter.h"
#include "store/name_key.h"

namespace certgate::store::sqlite {

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

void SizeSqlFunction(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  const int type = argc == 1 ? sqlite3_value_type(argv[0]) : SQLITE_NULL;
  if (type != SQLITE_TEXT && type != SQLITE_BLOB) {
    sqlite3_result_null(ctx);
    return;
  }
  const void* bytes = sqlite3_value_blob(argv[0]);  // no conversion, NULs kept
  const size_t n = static_cast<size_t>(sqlite3_value_bytes(argv[0]));
  FieldValue size = SizeOf(std::string(bytes == nullptr ? "" : static_cast<const char*>(bytes), n));
  sqlite3_result_int64(ctx, std::get<int64_t>(*size));
}

}  // namespace certgate::store::sqlite
