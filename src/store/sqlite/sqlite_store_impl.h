// SqliteStore, the SQLite backend of Store (see sqlite_store.h for what it
// promises). Its methods are defined one resource per file beside this one,
// most as thin calls of the logic the SQL backends share (store/sql/);
// opening, file creation and the write batches are in sqlite_store.cc.
// Thread-safe: a small pool of connections (store/sql/connection_pool.h),
// one per concurrent caller.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
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
#include "store/change_callbacks.h"
#include "store/sql/connection_pool.h"
#include "store/store.h"
#include "store/store_latency.h"
#include "store/store_methods.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/wal_sync.h"

namespace certgate::store::sqlite {

// SQLite runs one writer at a time whatever we do; more connections only let
// readers proceed beside it. Eight covers the API's and the edge's readers.
inline constexpr size_t kMaxConnections = 8;
// At most this many writes share one transaction (RunWriteJob).
inline constexpr size_t kMaxWriteBatch = 32;

// One write waiting for its turn in SqliteStore::RunWriteJob: Write's body,
// type-erased.
struct WriteJob {
  std::string_view op;
  // Runs the body on conn inside the batch's transaction and keeps its
  // result; true if it succeeded.
  std::function<bool(Connection&)> run;
  // Replaces the kept result with error: the transaction never began, or
  // was lost (rolled back, or its COMMIT failed) after the body ran.
  std::function<void(Error)> fail;
  uint64_t commit = 0;  // WalSync's number for it, once committed
  bool done = false;    // GUARDED_BY(batch_mu_)
  // Its writer waits here, woken only when its job is done or it is to
  // lead the next batch: never for other writers' batches.
  std::condition_variable wake;
};

class SqliteStore final : public Store, public NameOwnershipAudit, public LatencyReporter {
 public:
  static Result<std::unique_ptr<SqliteStore>> Open(const std::filesystem::path& path);

  CERTGATE_STORE_METHODS_OVERRIDE
  Result<NameCheck> CheckNameOwnership() override;

 private:
  using Lease = sql::ConnectionPool<Connection>::Lease;

  explicit SqliteStore(std::string path)
      : path_(std::move(path)),
        wal_sync_(path_),
        pool_(
            kMaxConnections, [this] { return Connection::Open(path_); }, nullptr,
            [this](std::chrono::steady_clock::duration took) { ReportRead(took); }) {}

  // Waits for an idle connection, or opens one while fewer than
  // kMaxConnections exist.
  Result<Lease> Acquire(std::string_view op) { return pool_.Acquire(op); }

  // Runs body(conn) in a BEGIN IMMEDIATE transaction and commits if it
  // succeeds. IMMEDIATE takes the write lock up front, so the busy timeout
  // covers waiting for another writer and a transaction never fails halfway
  // for want of an upgrade to the write lock. Writes that arrive while
  // another runs share the next transaction (RunWriteJob); each still
  // succeeds or fails alone and returns once it is on disk.
  template <class F>
  auto Write(std::string_view op, F&& body) -> decltype(body(std::declval<Connection&>()));
  // Queues job and returns once it has run and its transaction committed or
  // failed. The first writer to find no batch running leads: it runs up to
  // kMaxWriteBatch queued jobs, its own among them, in one transaction, each
  // inside a SAVEPOINT so that a failed body rolls back only its own
  // changes. A lone job runs without a savepoint. Under concurrent API
  // writes this writes each B-tree page once per batch rather than once per
  // write, and the WAL is synced once for all of them.
  void RunWriteJob(WriteJob& job);
  // The leader's part: runs batch in one transaction (never empty).
  void RunWriteBatch(const std::vector<WriteJob*>& batch);

 public:
  // Write transactions begun so far (SqliteWriteTransactions, for tests).
  uint64_t write_transactions() const { return write_transactions_.load(); }

 private:
  // Write, for writes to certificates, domains or endpoints: once the
  // transaction has committed and its batch is over, the lease given back, tells
  // the OnChange callbacks if the result says something changed (Changed()).
  template <class F>
  auto WriteAndAnnounce(std::string_view op, F&& body)
      -> decltype(body(std::declval<Connection&>()));
  // Runs body(conn) in one read transaction: every SELECT in it sees the same
  // snapshot of the database.
  template <class F>
  auto Read(std::string_view op, F&& body) -> decltype(body(std::declval<Connection&>()));

  const std::string path_;
  // Makes each write durable before it returns, a group of writes per sync.
  WalSync wal_sync_;

  ChangeCallbacks callbacks_;
  sql::ConnectionPool<Connection> pool_;

  // Serialises this process's write transactions: SQLite would anyway, but it
  // makes waiters poll with sleeps; here a waiter is woken at once, and joins
  // the next batch. Held only around the queue, never during a transaction.
  std::mutex batch_mu_;
  std::deque<WriteJob*> queued_;  // GUARDED_BY(batch_mu_)
  bool leading_ = false;          // GUARDED_BY(batch_mu_): a batch is running
  std::atomic<uint64_t> write_transactions_{0};
};
static_assert(!std::is_abstract_v<SqliteStore>, "CERTGATE_STORE_METHODS_OVERRIDE misses a method");

// Runs body(conn) between begin_sql and COMMIT on conn; any failure rolls
// the transaction back and is returned.
template <class F>
auto RunTransaction(Connection& conn, const char* begin_sql, std::string_view op, F&& body)
    -> decltype(body(std::declval<Connection&>())) {
  {
    Query begin(conn, begin_sql, op);
    CG_RETURN_IF_ERROR(begin.Run());
  }
  auto result = body(conn);
  if (!result.ok()) {
    conn.Rollback();
    return result;
  }
  Result<void> committed;
  {
    Query commit(conn, kCommit, op);
    committed = commit.Run();
  }
  if (!committed.ok()) {
    conn.Rollback();
    return std::move(committed).error();
  }
  return result;
}

template <class F>
auto SqliteStore::Write(std::string_view op, F&& body)
    -> decltype(body(std::declval<Connection&>())) {
  using R = decltype(body(std::declval<Connection&>()));
  const auto started = std::chrono::steady_clock::now();
  std::optional<R> result;
  WriteJob job;
  job.op = op;
  job.run = [&](Connection& conn) {
    result.emplace(body(conn));
    return result->ok();
  };
  job.fail = [&](Error error) { result.emplace(std::move(error)); };
  RunWriteJob(job);
  // With the batch over and the connection given back, so that the next
  // writers can commit meanwhile and share the sync.
  if (result->ok()) {
    if (auto durable = wal_sync_.WaitDurable(job.commit); !durable) {
      result.emplace(std::move(durable).error());
    }
  }
  ReportWrite(std::chrono::steady_clock::now() - started);
  return std::move(*result);
}

template <class F>
auto SqliteStore::WriteAndAnnounce(std::string_view op, F&& body)
    -> decltype(body(std::declval<Connection&>())) {
  return callbacks_.AnnounceIfChanged(Write(op, std::forward<F>(body)));
}

template <class F>
auto SqliteStore::Read(std::string_view op, F&& body)
    -> decltype(body(std::declval<Connection&>())) {
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(op));
  return RunTransaction(lease.conn(), kBeginRead, op, std::forward<F>(body));
}

}  // namespace certgate::store::sqlite
