// The SQLite backend's connections, statements, transactions and error
// mapping. A Connection is used by one thread at a time (the store's pool
// hands it out), so it is opened without SQLite's own mutex; a Query is one
// use of one of its cached statements.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <memory>
#include <span>
#include <unordered_map>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/result.h"
#include "store/sql/rows.h"
#include "store/sqlite/sql_functions.h"

namespace certgate::store::sqlite {

// So that `certgate admin` can write beside a running `certgate serve`.
inline constexpr int kBusyTimeoutMs = 5000;

// Transactions.
inline constexpr char kBegin[] = "BEGIN IMMEDIATE";
inline constexpr char kBeginRead[] = "BEGIN DEFERRED";
inline constexpr char kCommit[] = "COMMIT";
// Around each write of a shared transaction (SqliteStore::RunWriteJob).
inline constexpr char kSavepoint[] = "SAVEPOINT cg_write";
inline constexpr char kReleaseSavepoint[] = "RELEASE cg_write";
inline constexpr char kRollbackToSavepoint[] = "ROLLBACK TO cg_write";

std::string ErrnoText(int err);

// SQLite's failure as an Error naming the operation. Primary and unique key
// violations are conflicts (the caller sent an identity that exists), and so
// are foreign key violations (a record referred to is gone, or one still
// refers to it: the store checks first, so these mean a bug or a write that
// bypassed it); anything else is an I/O failure of the store.
Error SqliteError(sqlite3* db, int rc, std::string_view op);

// A row that breaks the schema's promises (kStoreIo).
using sql::CorruptRow;

struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

class Query;

// One SQLite connection and its prepared statements. Used by one thread at a
// time (the pool hands it out), so it is opened without SQLite's own mutex.
class Connection {
 public:
  // What the logic shared by the SQL backends (store/sql) runs statements with.
  using QueryType = Query;

  static Result<std::unique_ptr<Connection>> Open(const std::string& path) {
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(
        path.c_str(), &db,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
        nullptr);
    if (rc != SQLITE_OK) {
      Error error = SqliteError(db, rc, fmt::format("opening database {}", path));
      sqlite3_close_v2(db);
      return error;
    }
    std::unique_ptr<Connection> conn(new Connection(db));
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, kBusyTimeoutMs);
    CG_RETURN_IF_ERROR(conn->CheckWal(path));
    // NORMAL: COMMIT does not wait for the disk; the store's WalSync then
    // syncs the WAL for a group of commits at once before any of their
    // writes returns (wal_sync.h), so a commit that returned survives power
    // loss, as the Store contract promises. Checkpoints sync as with FULL.
    CG_RETURN_IF_ERROR(conn->Exec("PRAGMA synchronous = NORMAL", "configuring the connection"));
    CG_RETURN_IF_ERROR(conn->Exec("PRAGMA foreign_keys = ON", "configuring the connection"));
    rc = sqlite3_create_function_v2(db, "certgate_name_key", 1,
                                    SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
                                    nullptr, NameKeySqlFunction, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db, rc, "configuring the connection");
    rc = sqlite3_create_function_v2(db, "certgate_size", 1,
                                    SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
                                    nullptr, SizeSqlFunction, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db, rc, "configuring the connection");
    return conn;
  }

  ~Connection() {
    statements_.clear();  // finalize before closing
    sqlite3_close_v2(db_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* db() const { return db_; }

  // The statement for sql, prepared on first use and kept. sql must be a
  // constant of this backend (a kName[] array): statements are keyed by address.
  Result<sqlite3_stmt*> Prepare(const char* sql, std::string_view op) {
    auto it = statements_.find(sql);
    if (it != statements_.end()) return it->second.get();
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return SqliteError(db_, rc, op);
    }
    statements_.emplace(sql, StmtPtr(stmt));
    return stmt;
  }

  // Runs SQL that returns no rows, possibly several statements.
  Result<void> Exec(const char* sql, std::string_view op) {
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, op);
    return {};
  }

  // Ends a failed transaction; harmless when none is open.
  void Rollback() {
    if (sqlite3_get_autocommit(db_) == 0) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}

  // WAL lets readers run beside the one writer. Some file systems cannot do
  // it (no shared memory); refuse those rather than silently lose concurrency.
  Result<void> CheckWal(const std::string& path) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db_, "PRAGMA journal_mode = WAL", -1, &raw, nullptr);
    StmtPtr stmt(raw);
    // Switching a new file to WAL needs it to itself, and SQLite answers
    // "locked" at once, without its busy handler, while another process
    // does the same (processes started at once on one new file): wait as
    // the busy timeout would.
    const auto give_up =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(kBusyTimeoutMs);
    if (rc == SQLITE_OK) {
      while ((rc = sqlite3_step(raw)) == SQLITE_BUSY || rc == SQLITE_LOCKED) {
        if (std::chrono::steady_clock::now() > give_up) break;
        sqlite3_reset(raw);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    if (rc != SQLITE_ROW) return SqliteError(db_, rc, "switching the database to WAL mode");
    const unsigned char* mode = sqlite3_column_text(raw, 0);
    if (mode == nullptr || std::string_view(reinterpret_cast<const char*>(mode)) != "wal") {
      return MakeError(ErrorCode::kStoreIo,
                       fmt::format("database {} cannot use WAL mode on this file system", path));
    }
    return {};
  }

  sqlite3* db_;
  std::unordered_map<const char*, StmtPtr> statements_;
};

// One use of a cached statement: binds, steps and reads, and resets the
// statement when the scope ends so that no read transaction stays open. The
// first failure is kept and reported by Step or Run.
class Query {
 public:
  Query(Connection& conn, const char* sql, std::string_view op) : conn_(conn), op_(op) {
    auto stmt = conn.Prepare(sql, op);
    if (stmt.ok()) {
      stmt_ = *stmt;
    } else {
      error_ = std::move(stmt).error();
    }
  }
  ~Query() {
    if (stmt_ != nullptr) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }
  // A statement built for this one use (a filtered list), finalized when the
  // Query ends. sql holds only this backend's text and ?N parameters, never a
  // value from outside.
  struct OneOff {};
  Query(Connection& conn, const std::string& sql, std::string_view op, OneOff)
      : conn_(conn), op_(op) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(conn.db(), sql.c_str(), static_cast<int>(sql.size()), &stmt,
                                nullptr);
    owned_.reset(stmt);
    if (rc != SQLITE_OK) {
      error_ = SqliteError(conn.db(), rc, op);
    } else {
      stmt_ = stmt;
    }
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& Text(int i, std::string_view v) {
    // A null pointer would bind SQL NULL; an empty view must bind ''.
    if (stmt_ != nullptr) {
      Check(sqlite3_bind_text(stmt_, i, v.data() != nullptr ? v.data() : "",
                              static_cast<int>(v.size()), SQLITE_TRANSIENT));
    }
    return *this;
  }
  // "" binds NULL: how the service's own certificates are stored.
  Query& AccountId(int i, std::string_view account_id) {
    return account_id.empty() ? Null(i) : Text(i, account_id);
  }
  Query& OptionalText(int i, const std::optional<std::string>& v) {
    return v.has_value() ? Text(i, *v) : Null(i);
  }
  Query& Int(int i, int64_t v) {
    if (stmt_ != nullptr) Check(sqlite3_bind_int64(stmt_, i, v));
    return *this;
  }
  // SQLite has no boolean type: 1 or 0, as the row decoders read it back.
  Query& Bool(int i, bool v) { return Int(i, v ? 1 : 0); }
  Query& Blob(int i, std::span<const uint8_t> v) {
    if (stmt_ == nullptr) return *this;
    if (v.empty()) {
      Check(sqlite3_bind_zeroblob(stmt_, i, 0));  // a null pointer would bind NULL
    } else {
      Check(sqlite3_bind_blob64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT));
    }
    return *this;
  }
  Query& Null(int i) {
    if (stmt_ != nullptr) Check(sqlite3_bind_null(stmt_, i));
    return *this;
  }

  // True when a row is ready to read, false when the statement is done.
  Result<bool> Step() {
    if (error_.has_value()) return *error_;
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    error_ = SqliteError(conn_.db(), rc, op_);
    return *error_;
  }
  // Steps to the end, for statements without rows.
  Result<void> Run() {
    while (true) {
      CG_ASSIGN_OR_RETURN(bool row, Step());
      if (!row) return {};
    }
  }

  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  int64_t ColumnInt(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string ColumnText(int col) const {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    if (p == nullptr) return {};
    return std::string(reinterpret_cast<const char*>(p),
                       static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  // The column's text without a copy: valid until the next Step or the
  // Query's end.
  std::string_view ColumnView(int col) const {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    if (p == nullptr) return {};
    return std::string_view(reinterpret_cast<const char*>(p),
                            static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  std::optional<std::string> OptionalColumnText(int col) const {
    if (IsNull(col)) return std::nullopt;
    return ColumnText(col);
  }
  std::vector<uint8_t> ColumnBlob(int col) const {
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, col));
    if (p == nullptr) return {};
    return std::vector<uint8_t>(p, p + sqlite3_column_bytes(stmt_, col));
  }
  // Rows changed by the last write on this connection.
  int64_t Changes() const { return sqlite3_changes64(conn_.db()); }

 private:
  void Check(int rc) {
    if (rc != SQLITE_OK && !error_.has_value()) error_ = SqliteError(conn_.db(), rc, op_);
  }

  Connection& conn_;
  std::string_view op_;
  StmtPtr owned_;  // a OneOff statement; declared first, so destroyed after the reset
  sqlite3_stmt* stmt_ = nullptr;
  std::optional<Error> error_;
};

}  // namespace certgate::store::sqlite
