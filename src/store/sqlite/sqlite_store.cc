#include "store/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <filesystem>
#include <functional>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "store/sqlite/migrations.h"
#include "store/sqlite/sqlite_store_impl.h"

namespace certgate::store::sqlite {
namespace {

namespace fs = std::filesystem;

// Creates dir and its missing parents with mode 0700: the database inside
// holds sealed keys and API key hashes, which are nobody else's business.
Result<void> MakeDirectories(const fs::path& dir) {
  std::error_code ec;
  if (dir.empty() || fs::is_directory(dir, ec)) return {};
  if (dir.has_parent_path() && dir.parent_path() != dir) {
    CG_RETURN_IF_ERROR(MakeDirectories(dir.parent_path()));
  }
  if (::mkdir(dir.c_str(), 0700) != 0) {
    if (errno == EEXIST && fs::is_directory(dir, ec)) return {};
    return MakeError(ErrorCode::kStoreIo,
                     fmt::format("cannot create directory {}: {}", dir.string(), ErrnoText(errno)));
  }
  ::chmod(dir.c_str(), 0700);  // exactly 0700 whatever the umask
  return {};
}

// Creates the database file 0600 before SQLite opens it. SQLite gives the -wal
// and -shm files the database file's mode, umask or not.
Result<void> CreateDatabaseFile(const fs::path& path) {
  int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return {};
    return MakeError(ErrorCode::kStoreIo, fmt::format("cannot create database file {}: {}",
                                                      path.string(), ErrnoText(errno)));
  }
  int rc = ::fchmod(fd, 0600);
  int err = errno;
  ::close(fd);
  if (rc != 0) {
    return MakeError(ErrorCode::kStoreIo,
                     fmt::format("cannot set the mode of {}: {}", path.string(), ErrnoText(err)));
  }
  return {};
}

}  // namespace

namespace {

Result<void> RunStatement(Connection& conn, const char* sql, std::string_view op) {
  Query q(conn, sql, op);
  return q.Run();
}

// Runs job's body on the leader's thread. A body that throws fails its own
// write: the exception must not leave the batch, or no writer could lead
// again.
bool RunBody(WriteJob& job, Connection& conn) {
  try {
    return job.run(conn);
  } catch (const std::exception& e) {
    job.fail(MakeError(ErrorCode::kInternal, fmt::format("{} failed: {}", job.op, e.what())));
    return false;
  }
}

}  // namespace

void SqliteStore::RunWriteJob(WriteJob& job) {
  std::unique_lock lock(batch_mu_);
  queued_.push_back(&job);
  while (!job.done) {
    if (leading_) {
      job.wake.wait(lock);
      continue;
    }
    leading_ = true;
    std::vector<WriteJob*> batch;
    while (!queued_.empty() && batch.size() < kMaxWriteBatch) {
      batch.push_back(queued_.front());
      queued_.pop_front();
    }
    lock.unlock();
    RunWriteBatch(batch);
    lock.lock();
    leading_ = false;
    // Each job belongs to its writer's stack, which may end once done is
    // set and the lock released: notified under the lock, then not touched.
    for (WriteJob* j : batch) {
      j->done = true;
      if (j != &job) j->wake.notify_one();
    }
    // The oldest writer still queued leads next.
    if (!queued_.empty()) queued_.front()->wake.notify_one();
  }
}

void SqliteStore::RunWriteBatch(const std::vector<WriteJob*>& batch) {
  // Not a read: the batch's writers are timed whole (Write).
  auto lease = pool_.Acquire(batch.front()->op, /*observed=*/false);
  if (!lease.ok()) {
    for (WriteJob* j : batch) j->fail(lease.error());
    return;
  }
  Connection& conn = lease->conn();
  write_transactions_.fetch_add(1);
  if (auto begun = RunStatement(conn, kBegin, batch.front()->op); !begun) {
    for (WriteJob* j : batch) j->fail(begun.error());
    return;
  }
  if (batch.size() == 1) {  // alone: no savepoint needed
    WriteJob& job = *batch.front();
    if (!RunBody(job, conn)) {
      conn.Rollback();
      return;
    }
    if (auto committed = RunStatement(conn, kCommit, job.op); !committed) {
      conn.Rollback();
      job.fail(committed.error());
      return;
    }
    job.commit = wal_sync_.Committed();
    return;
  }
  // Which jobs' bodies failed (their own error is kept, and nothing of
  // theirs is in the transaction).
  std::vector<bool> failed(batch.size(), false);
  // The transaction cannot go on: every job not failed on its own gets
  // why, and nothing of the batch is written.
  auto abandon = [&](const Error& why) {
    conn.Rollback();
    for (size_t i = 0; i < batch.size(); ++i) {
      if (failed[i]) continue;
      batch[i]->fail(MakeError(
          why.code, fmt::format("{}: the transaction this write shared with {} others failed: {}",
                                batch[i]->op, batch.size() - 1, why.message)));
    }
  };
  for (size_t i = 0; i < batch.size(); ++i) {
    WriteJob& job = *batch[i];
    if (auto saved = RunStatement(conn, kSavepoint, job.op); !saved) return abandon(saved.error());
    const bool ok = RunBody(job, conn);
    if (sqlite3_get_autocommit(conn.db()) != 0) {
      // SQLite rolled the whole transaction back (an I/O error, a full disk).
      failed[i] = !ok;
      return abandon(MakeError(ErrorCode::kStoreIo,
                               fmt::format("SQLite rolled the transaction back during {}", job.op)));
    }
    if (!ok) {
      failed[i] = true;
      if (auto undone = RunStatement(conn, kRollbackToSavepoint, job.op); !undone) {
        return abandon(undone.error());
      }
    }
    if (auto released = RunStatement(conn, kReleaseSavepoint, job.op); !released) {
      return abandon(released.error());
    }
  }
  if (auto committed = RunStatement(conn, kCommit, batch.front()->op); !committed) {
    return abandon(committed.error());
  }
  const uint64_t commit = wal_sync_.Committed();
  for (WriteJob* j : batch) j->commit = commit;
}

void SqliteStore::OnChange(std::function<void()> fn) { callbacks_.Add(std::move(fn)); }

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const fs::path& path) {
  if (path.empty()) {
    return MakeError(ErrorCode::kStoreUrlInvalid, "no SQLite database path was given");
  }
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec).lexically_normal();
  if (ec) {
    return MakeError(ErrorCode::kStoreIo, fmt::format("cannot resolve database path {}: {}",
                                                      path.string(), ec.message()));
  }
  CG_RETURN_IF_ERROR(MakeDirectories(absolute.parent_path()));
  CG_RETURN_IF_ERROR(CreateDatabaseFile(absolute));
  std::unique_ptr<SqliteStore> store(new SqliteStore(absolute.string()));
  {
    CG_ASSIGN_OR_RETURN(Lease lease, store->Acquire("opening the database"));
    CG_RETURN_IF_ERROR(Migrate(lease.conn(), store->path_));
  }
  // Whatever the migrations wrote is on disk before anything is served.
  CG_RETURN_IF_ERROR(store->wal_sync_.WaitDurable(store->wal_sync_.Committed()));
  return store;
}

}  // namespace certgate::store::sqlite

namespace certgate::store {

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::filesystem::path& path) {
  CG_ASSIGN_OR_RETURN(std::unique_ptr<sqlite::SqliteStore> store, sqlite::SqliteStore::Open(path));
  return std::unique_ptr<Store>(std::move(store));
}

int SqliteSchemaVersion() { return sqlite::SchemaVersion(); }

uint64_t SqliteWriteTransactions(const Store& store) {
  const auto* sqlite = dynamic_cast<const sqlite::SqliteStore*>(&store);
  return sqlite != nullptr ? sqlite->write_transactions() : 0;
}

}  // namespace certgate::store
