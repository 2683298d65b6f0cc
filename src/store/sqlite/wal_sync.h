// WalSync: group commit for the SQLite backend. Connections run with
// synchronous=NORMAL, so COMMIT writes the transaction's frames to the WAL
// without waiting for the disk; the writer then calls WaitDurable, which
// returns once an fdatasync of the WAL file has covered its commit. One
// fdatasync covers every commit written before it began, so writers that
// commit while a sync runs share the next one: under concurrent writes the
// disk is synced once per group, not once per write, and a write that
// returned success is still on disk, as with synchronous=FULL.
//
// The WAL is opened read-only beside SQLite and never written or locked
// (SQLite's locks are on the database and -shm files, never the WAL, so
// this descriptor cannot disturb them). If SQLite removed the WAL (it does
// so only after checkpointing it into the database and syncing that) the
// next sync reopens it; with none there, nothing is waiting in a WAL.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

#include "core/result.h"

namespace certgate::store::sqlite {

class WalSync {
 public:
  explicit WalSync(std::string database_path);
  ~WalSync();
  WalSync(const WalSync&) = delete;
  WalSync& operator=(const WalSync&) = delete;

  // Numbers a commit that has just returned: call after each COMMIT, in
  // commit order (by the one thread running the store's write batch).
  uint64_t Committed() { return committed_.fetch_add(1) + 1; }
  // Returns once commit (a number from Committed) is on disk: at once if a
  // sync already covered it, else after the next one. An error means the
  // sync failed: the write is visible but may not survive a power loss.
  Result<void> WaitDurable(uint64_t commit);

  // fdatasync calls so far (for tests of the grouping).
  uint64_t syncs() const { return syncs_.load(); }

 private:
  // One fdatasync of the WAL (reopened when SQLite has replaced it).
  Result<void> SyncWal();

  const std::string wal_path_;
  std::atomic<uint64_t> committed_{0};
  std::atomic<uint64_t> syncs_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t durable_ = 0;  // GUARDED_BY(mu_): every commit up to this one is on disk
  bool syncing_ = false;  // GUARDED_BY(mu_)
  // Only the thread that set syncing_ touches it.
  int fd_ = -1;
};

}  // namespace certgate::store::sqlite
