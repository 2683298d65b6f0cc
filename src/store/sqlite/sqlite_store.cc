#include "store/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

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

Result<SqliteStore::Lease> SqliteStore::Acquire(std::string_view op) {
  std::unique_lock lock(pool_mu_);
  pool_cv_.wait(lock, [this] { return !idle_.empty() || open_connections_ < kMaxConnections; });
  if (!idle_.empty()) {
    std::unique_ptr<Connection> conn = std::move(idle_.back());
    idle_.pop_back();
    return Lease(this, std::move(conn));
  }
  ++open_connections_;
  lock.unlock();
  auto conn = Connection::Open(path_);
  if (!conn.ok()) {
    lock.lock();
    --open_connections_;
    pool_cv_.notify_one();
    Error error = std::move(conn).error();
    error.message = fmt::format("{}: {}", op, error.message);
    return error;
  }
  return Lease(this, std::move(conn).value());
}

void SqliteStore::Release(std::unique_ptr<Connection> conn) {
  {
    std::lock_guard lock(pool_mu_);
    idle_.push_back(std::move(conn));
  }
  pool_cv_.notify_one();
}

void SqliteStore::AnnounceChange() {
  std::vector<std::shared_ptr<const std::function<void()>>> callbacks;
  {
    std::lock_guard lock(callbacks_mu_);
    callbacks = callbacks_;
  }
  for (const auto& fn : callbacks) (*fn)();
}

void SqliteStore::OnChange(std::function<void()> fn) {
  auto shared = std::make_shared<const std::function<void()>>(std::move(fn));
  std::lock_guard lock(callbacks_mu_);
  callbacks_.push_back(std::move(shared));
}

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

}  // namespace certgate::store
