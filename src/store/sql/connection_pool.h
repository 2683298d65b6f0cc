// The connection pool of a SQL backend (SqliteStore, PgStore): at most
// max_connections connections, opened on demand and handed out one caller
// at a time as a Lease. Thread-safe. Each backend keeps its own
// transactions; the pool only lends connections.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/result.h"

namespace certgate::store::sql {

template <class Conn>
class ConnectionPool {
 public:
  // What becomes of a connection given back.
  enum class Returned {
    kIdle,      // kept for the next caller
    kClose,     // closed; the next caller opens a new one
    kCloseAll,  // closed, and so are the idle ones (they went the same way)
  };
  using Opener = std::function<Result<std::unique_ptr<Conn>>()>;
  using Checker = std::function<Returned(const Conn&)>;
  // Told how long each observed lease lasted, from Acquire's call (the wait
  // for a connection included) to its end.
  using Observer = std::function<void(std::chrono::steady_clock::duration)>;

  // open makes a new connection; check (default: always kIdle) judges each
  // one given back. Both are called without the pool's lock, and so is
  // observe (default: nothing).
  ConnectionPool(size_t max_connections, Opener open, Checker check = nullptr,
                 Observer observe = nullptr)
      : max_connections_(max_connections),
        open_(std::move(open)),
        check_(std::move(check)),
        observe_(std::move(observe)) {}
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // A connection borrowed from the pool, given back when the lease ends.
  class Lease {
   public:
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn_ == nullptr) return;
      pool_->Release(std::move(conn_));
      if (observed_ && pool_->observe_) {
        pool_->observe_(std::chrono::steady_clock::now() - acquired_);
      }
    }
    Conn& conn() { return *conn_; }

   private:
    friend class ConnectionPool;
    Lease(ConnectionPool* pool, std::unique_ptr<Conn> conn,
          std::chrono::steady_clock::time_point acquired, bool observed)
        : pool_(pool), conn_(std::move(conn)), acquired_(acquired), observed_(observed) {}

    ConnectionPool* pool_;
    std::unique_ptr<Conn> conn_;
    std::chrono::steady_clock::time_point acquired_;
    bool observed_;
  };

  // Waits for an idle connection, or opens one while fewer than
  // max_connections exist. A failure to open names op. An unobserved lease
  // is not reported to the observer (a write, which its backend times whole).
  Result<Lease> Acquire(std::string_view op, bool observed = true) {
    const auto acquired = std::chrono::steady_clock::now();
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return !idle_.empty() || open_connections_ < max_connections_; });
    if (!idle_.empty()) {
      std::unique_ptr<Conn> conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn), acquired, observed);
    }
    ++open_connections_;
    lock.unlock();
    auto conn = open_();
    if (!conn.ok()) {
      lock.lock();
      --open_connections_;
      cv_.notify_one();
      Error error = std::move(conn).error();
      error.message = fmt::format("{}: {}", op, error.message);
      return error;
    }
    return Lease(this, std::move(conn).value(), acquired, observed);
  }

 private:
  void Release(std::unique_ptr<Conn> conn) {
    const Returned returned = check_ != nullptr ? check_(*conn) : Returned::kIdle;
    {
      std::lock_guard lock(mu_);
      if (returned == Returned::kIdle) {
        idle_.push_back(std::move(conn));
      } else {
        --open_connections_;
        conn.reset();
        if (returned == Returned::kCloseAll) {
          open_connections_ -= idle_.size();
          idle_.clear();
        }
      }
    }
    // Closing them all frees more than one place: every waiter may go on.
    if (returned == Returned::kCloseAll) {
      cv_.notify_all();
    } else {
      cv_.notify_one();
    }
  }

  const size_t max_connections_;
  const Opener open_;
  const Checker check_;
  const Observer observe_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Conn>> idle_;  // GUARDED_BY(mu_)
  size_t open_connections_ = 0;              // GUARDED_BY(mu_)
};

}  // namespace certgate::store::sql
