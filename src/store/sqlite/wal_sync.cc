#include "store/sqlite/wal_sync.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "store/sqlite/connection.h"

namespace certgate::store::sqlite {

WalSync::WalSync(std::string database_path) : wal_path_(std::move(database_path) + "-wal") {}

WalSync::~WalSync() {
  if (fd_ >= 0) ::close(fd_);
}

Result<void> WalSync::WaitDurable(uint64_t commit) {
  std::unique_lock lock(mu_);
  while (durable_ < commit) {
    if (syncing_) {
      // A sync is under way, but it may have begun before this commit was
      // written: wait for it, then look again.
      cv_.wait(lock);
      continue;
    }
    syncing_ = true;
    // Every commit numbered up to here has been written to the WAL.
    const uint64_t covers = committed_.load();
    lock.unlock();
    Result<void> synced = SyncWal();
    lock.lock();
    syncing_ = false;
    if (synced.ok() && covers > durable_) durable_ = covers;
    cv_.notify_all();
    if (!synced.ok()) return synced;
  }
  return {};
}

Result<void> WalSync::SyncWal() {
  if (fd_ >= 0) {
    struct stat st{};
    if (::fstat(fd_, &st) != 0 || st.st_nlink == 0) {  // removed by SQLite: reopen
      ::close(fd_);
      fd_ = -1;
    }
  }
  if (fd_ < 0) {
    fd_ = ::open(wal_path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      // No WAL: SQLite checkpointed it into the database (syncing that) and
      // removed it, so no commit waits in one.
      if (errno == ENOENT) return {};
      return MakeError(ErrorCode::kStoreIo,
                       fmt::format("cannot open {} to sync it: {}", wal_path_, ErrnoText(errno)));
    }
  }
  ++syncs_;
  if (::fdatasync(fd_) != 0) {
    return MakeError(ErrorCode::kStoreIo,
                     fmt::format("syncing {} failed ({}): the last writes may not be on disk",
                                 wal_path_, ErrnoText(errno)));
  }
  return {};
}

}  // namespace certgate::store::sqlite
