#include "store/postgres/connection.h"

#include <charconv>
#include <utility>

#include <fmt/format.h>

#include "core/hex.h"

namespace certgate::store::pg {
namespace {

// libpq's message without its trailing newline.
std::string_view Trimmed(const char* message) {
  std::string_view s = message != nullptr ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool IsConnectionFailure(std::string_view sqlstate) {
  // 08: connection exception; 57P01-57P03: the server is shutting down or
  // starting; 53300: too many connections; 55P03: a lock (the cluster's
  // write lock) not granted within lock_timeout; 25P03: the session ended
  // for idling in a transaction.
  return sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" ||
         sqlstate == "57P03" || sqlstate == "53300" || sqlstate == "55P03" ||
         sqlstate == "25P03";
}

Error PgError(std::string_view sqlstate, std::string_view detail, std::string_view op) {
  if (sqlstate == "23505") {
    return MakeError(
        ErrorCode::kStoreConflict,
        fmt::format("{}: a record with that identity exists already ({})", op, detail));
  }
  if (sqlstate == "23503") {
    return MakeError(ErrorCode::kStoreConflict,
                     fmt::format("{}: a record it refers to does not exist, or another record "
                                 "still refers to it ({})",
                                 op, detail));
  }
  if (sqlstate.empty() || IsConnectionFailure(sqlstate)) {
    return MakeError(ErrorCode::kStoreUnavailable,
                     fmt::format("{}: the PostgreSQL database cannot be reached: {}", op, detail));
  }
  return MakeError(ErrorCode::kStoreIo,
                   fmt::format("{} failed in PostgreSQL ({}): {}", op, sqlstate, detail));
}

Error PgResultError(const PGresult* res, PGconn* conn, std::string_view op) {
  const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = res != nullptr ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string_view detail = primary != nullptr ? Trimmed(primary) : Trimmed(PQerrorMessage(conn));
  // No SQLSTATE: libpq's own failure, which is the connection's.
  return PgError(state != nullptr ? state : "", detail, op);
}

namespace {

// Defaults first: a later keyword overrides an earlier one, and dbname,
// last, expands conninfo, so whatever it sets wins.
struct ConnectParams {
  explicit ConnectParams(const std::string& conninfo)
      : values{"10", "1", "30", "10", "3", "certgate", conninfo.c_str(), nullptr} {}
  const char* const keywords[8] = {"connect_timeout",     "keepalives",       "keepalives_idle",
                                   "keepalives_interval", "keepalives_count", "application_name",
                                   "dbname",              nullptr};
  const char* const values[8];
};

}  // namespace

PGconn* StartConnecting(const std::string& conninfo) {
  ConnectParams params(conninfo);
  return PQconnectStartParams(params.keywords, params.values, /*expand_dbname=*/1);
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& conninfo) {
  // libpq's complaint about a string it cannot parse quotes the string,
  // password and all: checked first, and refused in words of our own.
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &parse_error);
  if (parsed == nullptr) {
    if (parse_error != nullptr) PQfreemem(parse_error);
    return MakeError(ErrorCode::kStoreUrlInvalid,
                     "the PostgreSQL connection string does not parse: a postgresql:// URL "
                     "must percent-encode reserved characters in the user and password, and "
                     "a key=value string must quote values with spaces ('...')");
  }
  PQconninfoFree(parsed);
  ConnectParams params(conninfo);
  PGconn* conn = PQconnectdbParams(params.keywords, params.values, /*expand_dbname=*/1);
  if (conn == nullptr) {
    return MakeError(ErrorCode::kStoreUnavailable,
                     "connecting to PostgreSQL failed: out of memory");
  }
  if (PQstatus(conn) != CONNECTION_OK) {
    Error error = MakeError(
        ErrorCode::kStoreUnavailable,
        fmt::format("connecting to PostgreSQL failed: {}", Trimmed(PQerrorMessage(conn))));
    PQfinish(conn);
    return error;
  }
  std::unique_ptr<Connection> c(new Connection(conn));
  // - Times are read as epoch seconds and written with to_timestamp, so the
  //   zone changes nothing; UTC keeps psql sessions readable alike.
  // - Notices ("relation already exists, skipping") are not for the log.
  // - bytea comes as hex, whatever the database's or role's default.
  // - Every write holds the cluster's write lock: a node paused (or cut
  //   off) inside a transaction must not hold it for long, so the server
  //   ends such a session after 30 s, and a writer waits at most 30 s for
  //   the lock; the server's own keepalives notice a vanished peer.
  CG_RETURN_IF_ERROR(c->Exec(
      "SET TIME ZONE 'UTC'; SET client_min_messages = warning; SET bytea_output = 'hex';"
      " SET idle_in_transaction_session_timeout = '30s'; SET lock_timeout = '30s';"
      " SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10;"
      " SET tcp_keepalives_count = 3",
      "configuring the connection"));
  // Text is compared and measured as UTF-8 (list filters, size()).
  const char* reported = PQparameterStatus(conn, "server_encoding");
  if (std::string_view encoding = reported != nullptr ? reported : ""; encoding != "UTF8") {
    return MakeError(ErrorCode::kStoreIo,
                     fmt::format("the PostgreSQL database's encoding is {}, not UTF8; create it "
                                 "with ENCODING 'UTF8'",
                                 encoding.empty() ? "unknown" : encoding));
  }
  return c;
}

Connection::~Connection() { PQfinish(conn_); }

bool Connection::healthy() const {
  return PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) != PQTRANS_UNKNOWN;
}

Result<const std::string*> Connection::Prepare(const char* sql, std::string_view op) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return &it->second;
  std::string name = fmt::format("cg{}", statements_.size() + 1);
  ResultPtr res(PQprepare(conn_, name.c_str(), sql, 0, nullptr));
  if (PQresultStatus(res.get()) != PGRES_COMMAND_OK) return PgResultError(res.get(), conn_, op);
  auto [inserted, _] = statements_.emplace(sql, std::move(name));
  return &inserted->second;
}

Result<void> Connection::Exec(const char* sql, std::string_view op) {
  ResultPtr res(PQexec(conn_, sql));
  ExecStatusType status = PQresultStatus(res.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return PgResultError(res.get(), conn_, op);
  }
  return {};
}

void Connection::Rollback() {
  const PGTransactionStatusType status = PQtransactionStatus(conn_);
  if (status == PQTRANS_INTRANS || status == PQTRANS_INERROR) {
    ResultPtr res(PQexec(conn_, "ROLLBACK"));
  }
}

Query::Query(Connection& conn, const char* sql, std::string_view op)
    : conn_(conn), op_(op), sql_(sql) {}

Query::Query(Connection& conn, std::string sql, std::string_view op, OneOff)
    : conn_(conn), op_(op), one_off_(std::move(sql)) {}

Query::Param& Query::Slot(int i) {
  if (i < 1) i = 1;  // a caller's bug; the statement then fails on its count
  if (params_.size() < static_cast<size_t>(i)) params_.resize(static_cast<size_t>(i));
  return params_[static_cast<size_t>(i) - 1];
}

Query& Query::Text(int i, std::string_view v) {
  // libpq would cut the value at the NUL, and PostgreSQL's text cannot hold
  // one: refused, never stored shortened (the API refuses it first).
  if (v.find('\0') != std::string_view::npos && !error_.has_value()) {
    error_ = MakeError(ErrorCode::kFieldNul,
                       fmt::format("{}: a text value holds a NUL character, which PostgreSQL "
                                   "cannot store",
                                   op_));
  }
  Param& p = Slot(i);
  p.value.emplace(v);
  p.binary = false;
  return *this;
}

Query& Query::Int(int i, int64_t v) { return Text(i, fmt::format("{}", v)); }

Query& Query::Blob(int i, std::span<const uint8_t> v) {
  Param& p = Slot(i);
  p.value.emplace(reinterpret_cast<const char*>(v.data()), v.size());
  p.binary = true;
  return *this;
}

Query& Query::Null(int i) {
  Param& p = Slot(i);
  p.value.reset();
  p.binary = false;
  return *this;
}

Result<void> Query::Execute() {
  std::vector<const char*> values(params_.size());
  std::vector<int> lengths(params_.size());
  std::vector<int> formats(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    if (params_[i].value.has_value()) {
      values[i] = params_[i].value->data();
      lengths[i] = static_cast<int>(params_[i].value->size());
    }
    formats[i] = params_[i].binary ? 1 : 0;
  }
  const int n = static_cast<int>(params_.size());
  if (sql_ != nullptr) {
    CG_ASSIGN_OR_RETURN(const std::string* name, conn_.Prepare(sql_, op_));
    res_.reset(PQexecPrepared(conn_.raw(), name->c_str(), n, values.data(), lengths.data(),
                              formats.data(), 0));
  } else {
    res_.reset(PQexecParams(conn_.raw(), one_off_.c_str(), n, nullptr, values.data(),
                            lengths.data(), formats.data(), 0));
  }
  ExecStatusType status = PQresultStatus(res_.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    Error error = PgResultError(res_.get(), conn_.raw(), op_);
    res_.reset();
    return error;
  }
  return {};
}

Result<bool> Query::Step() {
  if (error_.has_value()) return *error_;
  if (res_ == nullptr) {
    if (auto r = Execute(); !r.ok()) {
      error_ = std::move(r).error();
      return *error_;
    }
  }
  ++row_;
  return row_ < PQntuples(res_.get());
}

Result<void> Query::Run() {
  if (error_.has_value()) return *error_;
  if (res_ != nullptr) return {};
  if (auto r = Execute(); !r.ok()) {
    error_ = std::move(r).error();
    return *error_;
  }
  return {};
}

bool Query::IsNull(int col) const { return PQgetisnull(res_.get(), row_, col) != 0; }

std::string_view Query::ColumnView(int col) const {
  if (res_ == nullptr || row_ < 0) return {};
  return std::string_view(PQgetvalue(res_.get(), row_, col),
                          static_cast<size_t>(PQgetlength(res_.get(), row_, col)));
}

int64_t Query::ColumnInt(int col) const {
  std::string_view s = ColumnView(col);
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

bool Query::ColumnBool(int col) const { return ColumnView(col) == "t"; }

std::vector<uint8_t> Query::ColumnBlob(int col) const {
  // bytea in text form: "\x" and two hex digits a byte.
  std::string_view s = ColumnView(col);
  if (!s.starts_with("\\x")) return {};
  return HexDecode(s.substr(2)).value_or(std::vector<uint8_t>());
}

int64_t Query::Changes() const {
  if (res_ == nullptr) return 0;
  std::string_view s = PQcmdTuples(res_.get());
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

}  // namespace certgate::store::pg
