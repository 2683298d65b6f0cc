// A stopped server's SQLite file, opened by the bench for a direct store
// load (scale/store_load.h, scale/distinct_load.h): statements and bindings
// whose every failure throws std::runtime_error with SQLite's message.
// Not thread-safe: one loader at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include <sqlite3.h>

namespace certgate::bench::scale {

class SqliteFile {
 public:
  // A prepared statement; Bind* return *this, Step runs it once and resets.
  class Statement {
   public:
    Statement(SqliteFile& file, const char* sql);
    Statement& Text(int index, std::string_view text);
    Statement& Int(int index, int64_t value);
    Statement& Blob(int index, std::span<const uint8_t> bytes);
    Statement& Null(int index);
    // One step: true for a row (read it with ColumnText before the next
    // call), false when done, which also resets the statement for reuse.
    bool Step(std::string_view what);
    std::string ColumnText(int column) const;

   private:
    struct Finalize {
      void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
    };
    SqliteFile& file_;
    std::unique_ptr<sqlite3_stmt, Finalize> stmt_;
  };

  // Opens db for writing (it must exist) with settings for a bulk load:
  // synchronous off (nothing needs to survive a power cut mid-load) and a
  // 256 MB page cache (the indexes of a million rows).
  explicit SqliteFile(const std::filesystem::path& db);
  void Exec(const char* sql);
  // Checkpoints the WAL into the file and truncates it, so that the server
  // starts from the database file, not from a long WAL.
  void Checkpoint();
  [[noreturn]] void Fail(std::string_view what) const;

 private:
  struct Close {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  std::unique_ptr<sqlite3, Close> db_;
};

// The account that owns a stored certificate (the loaded domains are that
// account's); throws when the certificate is not in the store.
std::string AccountOf(SqliteFile& db, const std::string& certificate_id);

}  // namespace certgate::bench::scale
