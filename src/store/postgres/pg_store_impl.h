// PgStore, the PostgreSQL backend of Store (see pg_store.h for what it
// promises). Its methods are defined one resource per file beside this one,
// as in the SQLite backend, most as thin calls of the logic the SQL backends
// share (store/sql/); opening and the pool's policy are in pg_store.cc, the
// transactions below. Thread-safe: a small pool of connections
// (store/sql/connection_pool.h), one per concurrent caller.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/result.h"
#include "core/time.h"
#include "store/change_callbacks.h"
#include "store/postgres/connection.h"
#include "store/sql/connection_pool.h"
#include "store/store.h"
#include "store/store_latency.h"
#include "store/store_methods.h"

namespace certgate::store::pg {

// Connections per node: the API's and the edge's readers, and one writer at
// a time (writes take the cluster's write lock, kTakeWriteLock).
inline constexpr size_t kMaxConnections = 8;

class PgStore final : public Store, public NameOwnershipAudit, public LatencyReporter {
 public:
  static Result<std::unique_ptr<PgStore>> Open(std::string conninfo, const Clock& node_clock);

  CERTGATE_STORE_METHODS_OVERRIDE
  Result<NameCheck> CheckNameOwnership() override;

  const std::string& conninfo() const { return conninfo_; }
  // See store::AnnounceOutsideChange.
  void AnnounceOutsideChange() { callbacks_.Announce(); }

 private:
  using Lease = sql::ConnectionPool<Connection>::Lease;

  PgStore(std::string conninfo, const Clock& node_clock);

  // Waits for an idle connection, or opens one while fewer than
  // kMaxConnections exist.
  Result<Lease> Acquire(std::string_view op) { return pool_.Acquire(op); }

  // Runs body(conn) in a write transaction holding the cluster's write lock
  // (kTakeWriteLock) and commits if it succeeds; any failure rolls back.
  template <class F>
  auto Write(std::string_view op, F&& body) -> decltype(body(std::declval<Connection&>()));
  // Write, for writes to certificates, domains or endpoints: once committed
  // and the connection given back, tells the OnChange callbacks if the
  // result says something changed (Changed()).
  template <class F>
  auto WriteAndAnnounce(std::string_view op, F&& body)
      -> decltype(body(std::declval<Connection&>()));
  // Runs body(conn) in one read-only REPEATABLE READ transaction: every
  // statement in it sees the same snapshot.
  template <class F>
  auto Read(std::string_view op, F&& body) -> decltype(body(std::declval<Connection&>()));

  // How far the database's clock is ahead of this node's. Job leases are
  // kept on the database's clock, so that nodes whose clocks differ agree
  // on when one ends: each node moves its times by this before they meet a
  // lease. Read from the database once a minute, and kept unless it moved
  // by a second or more.
  Result<Time::duration> LeaseClockOffset(std::string_view op);

  const std::string conninfo_;  // may hold a password: never in a message
  const Clock& node_clock_;     // what lease times given to the store are read from

  std::mutex lease_clock_mu_;
  std::optional<Time::duration> lease_clock_offset_;        // GUARDED_BY(lease_clock_mu_)
  std::chrono::steady_clock::time_point lease_clock_measured_;  // GUARDED_BY(lease_clock_mu_)

  ChangeCallbacks callbacks_;
  // This process's writers, one at a time before they take a connection:
  // writes run one at a time across the cluster anyway, and writers
  // waiting on the cluster's lock must not hold every pooled connection
  // while readers (a first handshake's certificate, the feed) wait.
  std::mutex write_mu_;
  // Drops a connection given back broken, and then the idle ones too
  // (CheckReturned in pg_store.cc).
  sql::ConnectionPool<Connection> pool_;
};
static_assert(!std::is_abstract_v<PgStore>, "CERTGATE_STORE_METHODS_OVERRIDE misses a method");

// Runs body(conn) between begin_sql (and, for a write, the write lock) and
// COMMIT on conn; any failure rolls the transaction back and is returned.
template <class F>
auto RunTransaction(Connection& conn, const char* begin_sql, bool write, std::string_view op,
                    F&& body) -> decltype(body(std::declval<Connection&>())) {
  CG_RETURN_IF_ERROR(conn.Exec(begin_sql, op));
  if (write) {
    Query lock(conn, kTakeWriteLock, op);
    if (auto locked = lock.Run(); !locked) {
      conn.Rollback();
      return std::move(locked).error();
    }
  }
  auto result = body(conn);
  if (!result.ok()) {
    conn.Rollback();
    return result;
  }
  if (auto committed = conn.Exec(kCommit, op); !committed) {
    conn.Rollback();
    return std::move(committed).error();
  }
  return result;
}

template <class F>
auto PgStore::Write(std::string_view op, F&& body) -> decltype(body(std::declval<Connection&>())) {
  const auto started = std::chrono::steady_clock::now();
  auto result = [&]() -> decltype(body(std::declval<Connection&>())) {
    std::lock_guard one_writer(write_mu_);
    CG_ASSIGN_OR_RETURN(Lease lease, pool_.Acquire(op, /*observed=*/false));
    return RunTransaction(lease.conn(), kBeginWrite, true, op, std::forward<F>(body));
  }();
  ReportWrite(std::chrono::steady_clock::now() - started);
  return result;
}

template <class F>
auto PgStore::WriteAndAnnounce(std::string_view op, F&& body)
    -> decltype(body(std::declval<Connection&>())) {
  return callbacks_.AnnounceIfChanged(Write(op, std::forward<F>(body)));
}

template <class F>
auto PgStore::Read(std::string_view op, F&& body) -> decltype(body(std::declval<Connection&>())) {
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(op));
  return RunTransaction(lease.conn(), kBeginRead, false, op, std::forward<F>(body));
}

}  // namespace certgate::store::pg
