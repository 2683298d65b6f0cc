// The PostgreSQL backend's connections, statements and error mapping, shaped
// like the SQLite backend's (store/sqlite/connection.h) so that a resource's
// code reads the same in both. A Connection is used by one thread at a time
// (the store's pool hands it out); a Query is one execution of one of
// its prepared statements.
//
// Parameters are $1, $2, ... and go as text (bytea as binary); results come
// as text. Times are timestamptz columns, bound as unix seconds through
// to_timestamp($N) and read through CG_PG_EPOCH(column).
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "store/sql/rows.h"

// A timestamptz column read as unix seconds (what Query::ColumnInt reads).
#define CG_PG_EPOCH(column) "(extract(epoch from " #column ")::bigint)"

namespace certgate::store::pg {

// Transactions. Every write transaction of every node takes one advisory
// lock first (kWriteLock), so writes run one at a time across the cluster,
// each seeing all that committed before it (READ COMMITTED takes a new
// snapshot per statement): the check-then-write logic of the name rules and
// the change feed's commit order need nothing more. Reads see one snapshot.
inline constexpr char kBeginWrite[] = "BEGIN ISOLATION LEVEL READ COMMITTED";
inline constexpr char kTakeWriteLock[] = "SELECT pg_advisory_xact_lock(7306041801243680001)";
inline constexpr char kBeginRead[] = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
inline constexpr char kCommit[] = "COMMIT";
// The database's clock now (not the transaction's start), in unix
// microseconds.
inline constexpr char kDatabaseClock[] =
    "SELECT (extract(epoch from clock_timestamp()) * 1000000)::bigint";
// Held while migrating, so that nodes started at once migrate once.
inline constexpr int64_t kMigrationLock = 7306041801243680002;

// SQLSTATE classes the backend tells apart.
bool IsConnectionFailure(std::string_view sqlstate);

// PostgreSQL's failure as an Error naming the operation: unique and foreign
// key violations are conflicts (kStoreConflict, as in the SQLite backend), a
// lost or refused connection is kStoreUnavailable, anything else kStoreIo.
// Never holds the connection string (it may hold a password).
Error PgError(std::string_view sqlstate, std::string_view detail, std::string_view op);
Error PgResultError(const PGresult* res, PGconn* conn, std::string_view op);

// A row that breaks the schema's promises (kStoreIo).
using sql::CorruptRow;

struct ResultDeleter {
  void operator()(PGresult* res) const { PQclear(res); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

// Starts a non-blocking connection (PQconnectStartParams) with the same
// defaults as Connection::Open; the caller drives PQconnectPoll and
// PQfinishes it. nullptr only when libpq is out of memory.
PGconn* StartConnecting(const std::string& conninfo);

class Query;

class Connection {
 public:
  // What the logic shared by the SQL backends (store/sql) runs statements with.
  using QueryType = Query;

  // conninfo: a postgresql:// or postgres:// URI, or key=value pairs.
  // TCP keepalives and a connect timeout are set unless conninfo sets them.
  static Result<std::unique_ptr<Connection>> Open(const std::string& conninfo);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  PGconn* raw() const { return conn_; }
  // False once the server is gone: the pool drops the connection.
  bool healthy() const;

  // The name of sql's prepared statement, prepared on first use and kept.
  // sql must be a constant of this backend: statements are keyed by address.
  Result<const std::string*> Prepare(const char* sql, std::string_view op);

  // Runs SQL that returns no rows, possibly several statements, unprepared.
  Result<void> Exec(const char* sql, std::string_view op);

  // Ends a failed transaction; harmless when none is open.
  void Rollback();

 private:
  explicit Connection(PGconn* conn) : conn_(conn) {}

  PGconn* conn_;
  std::unordered_map<const char*, std::string> statements_;
};

// One execution of a prepared statement (or of a one-off text), with its
// parameters and the rows it returned. Binding is by number (1-based, as
// $N); Step executes on its first call and then walks the rows. The first
// failure is kept and reported by Step or Run.
class Query {
 public:
  Query(Connection& conn, const char* sql, std::string_view op);
  // A statement built for this one use (a filtered list). sql holds only
  // this backend's text and $N parameters, never a value from outside.
  struct OneOff {};
  Query(Connection& conn, std::string sql, std::string_view op, OneOff);
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& Text(int i, std::string_view v);
  // "" binds NULL: how the service's own certificates are stored.
  Query& AccountId(int i, std::string_view account_id) {
    return account_id.empty() ? Null(i) : Text(i, account_id);
  }
  Query& OptionalText(int i, const std::optional<std::string>& v) {
    return v.has_value() ? Text(i, *v) : Null(i);
  }
  Query& Int(int i, int64_t v);
  Query& Bool(int i, bool v) { return Text(i, v ? "t" : "f"); }
  Query& Blob(int i, std::span<const uint8_t> v);
  Query& Null(int i);

  // True when a row is ready to read, false when there are no more.
  Result<bool> Step();
  // Executes, for statements whose rows are not wanted.
  Result<void> Run();

  bool IsNull(int col) const;
  int64_t ColumnInt(int col) const;
  bool ColumnBool(int col) const;
  std::string ColumnText(int col) const { return std::string(ColumnView(col)); }
  // Valid until the Query ends.
  std::string_view ColumnView(int col) const;
  std::optional<std::string> OptionalColumnText(int col) const {
    if (IsNull(col)) return std::nullopt;
    return ColumnText(col);
  }
  std::vector<uint8_t> ColumnBlob(int col) const;
  // Rows the statement inserted, updated or deleted.
  int64_t Changes() const;

 private:
  struct Param {
    std::optional<std::string> value;  // nullopt: NULL
    bool binary = false;
  };
  Param& Slot(int i);
  Result<void> Execute();

  Connection& conn_;
  std::string_view op_;
  const char* sql_ = nullptr;  // a constant, prepared
  std::string one_off_;        // or this text, run once
  std::vector<Param> params_;
  ResultPtr res_;
  int row_ = -1;
  std::optional<Error> error_;
};

}  // namespace certgate::store::pg
