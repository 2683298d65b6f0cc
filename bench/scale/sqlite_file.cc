#include "scale/sqlite_file.h"

#include <stdexcept>

#include <fmt/format.h>

namespace certgate::bench::scale {

SqliteFile::SqliteFile(const std::filesystem::path& db) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
  db_.reset(raw);
  if (rc != SQLITE_OK) Fail(fmt::format("opening {}", db.string()));
  sqlite3_busy_timeout(db_.get(), 10000);
  Exec("PRAGMA synchronous = OFF");
  Exec("PRAGMA cache_size = -262144");
}

void SqliteFile::Exec(const char* sql) {
  if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr) != SQLITE_OK) Fail(sql);
}

void SqliteFile::Checkpoint() { Exec("PRAGMA wal_checkpoint(TRUNCATE)"); }

void SqliteFile::Fail(std::string_view what) const {
  throw std::runtime_error(fmt::format("direct store load: {}: {}", what,
                                       db_ ? sqlite3_errmsg(db_.get()) : "out of memory"));
}

SqliteFile::Statement::Statement(SqliteFile& file, const char* sql) : file_(file) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(file.db_.get(), sql, -1, &raw, nullptr) != SQLITE_OK) file.Fail(sql);
  stmt_.reset(raw);
}

SqliteFile::Statement& SqliteFile::Statement::Text(int index, std::string_view text) {
  if (sqlite3_bind_text(stmt_.get(), index, text.data(), static_cast<int>(text.size()),
                        SQLITE_TRANSIENT) != SQLITE_OK) {
    file_.Fail("binding a value");
  }
  return *this;
}

SqliteFile::Statement& SqliteFile::Statement::Int(int index, int64_t value) {
  if (sqlite3_bind_int64(stmt_.get(), index, value) != SQLITE_OK) file_.Fail("binding a value");
  return *this;
}

SqliteFile::Statement& SqliteFile::Statement::Blob(int index, std::span<const uint8_t> bytes) {
  if (sqlite3_bind_blob(stmt_.get(), index, bytes.data(), static_cast<int>(bytes.size()),
                        SQLITE_TRANSIENT) != SQLITE_OK) {
    file_.Fail("binding a value");
  }
  return *this;
}

SqliteFile::Statement& SqliteFile::Statement::Null(int index) {
  if (sqlite3_bind_null(stmt_.get(), index) != SQLITE_OK) file_.Fail("binding a value");
  return *this;
}

bool SqliteFile::Statement::Step(std::string_view what) {
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc != SQLITE_DONE) file_.Fail(what);
  sqlite3_reset(stmt_.get());
  return false;
}

std::string SqliteFile::Statement::ColumnText(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_.get(), column));
  return text != nullptr ? text : "";
}

std::string AccountOf(SqliteFile& db, const std::string& certificate_id) {
  SqliteFile::Statement q(db, "SELECT account_id FROM tls_certificates WHERE id = ?1");
  if (!q.Text(1, certificate_id).Step("reading a certificate's account")) {
    throw std::runtime_error(
        fmt::format("direct store load: certificate {} is not in the store", certificate_id));
  }
  std::string account = q.ColumnText(0);
  if (account.empty())
    throw std::runtime_error("direct store load: the certificate has no account");
  return account;
}

}  // namespace certgate::bench::scale
