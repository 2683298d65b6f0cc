// Watchdog: one deadline per connection. Arm() moves the deadline (cheap:
// no timer operation unless none is running); when it passes, on_expire runs
// once, typically shutting the connection's sockets so that pending reads
// and writes fail and the connection's coroutine unwinds.
// Not thread-safe: use on the connection's executor only.
#pragma once

#include <boost/asio.hpp>
#include <chrono>
#include <functional>

namespace certgate::edge {

class Watchdog {
 public:
  using Clock = std::chrono::steady_clock;

  template <class Executor>
  Watchdog(const Executor& ex, std::function<void()> on_expire)
      : timer_(ex), on_expire_(std::move(on_expire)) {}
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void Arm(Clock::duration timeout) {
    deadline_ = Clock::now() + timeout;
    // A wait due no later than the new deadline re-waits when it fires.
    if (waiting_ && timer_.expiry() <= deadline_) return;
    Wait();
  }
  // Stops watching; the pending timer wait is cancelled so that it holds no
  // memory and wakes nobody while the connection idles.
  void Disarm() {
    deadline_ = Clock::time_point::max();
    if (waiting_) {
      waiting_ = false;
      timer_.cancel();
    }
  }
  bool expired() const { return expired_; }

 private:
  void Wait() {
    waiting_ = true;
    timer_.expires_at(deadline_);  // cancels a pending wait, whose handler then returns
    timer_.async_wait([this](const boost::system::error_code& ec) {
      // Cancelled: re-armed (a newer wait runs) or destroyed with the
      // connection. Either way, touch nothing.
      if (ec) return;
      waiting_ = false;
      if (deadline_ == Clock::time_point::max()) return;
      if (Clock::now() < deadline_) return Wait();
      expired_ = true;
      on_expire_();
    });
  }

  boost::asio::steady_timer timer_;
  std::function<void()> on_expire_;
  Clock::time_point deadline_ = Clock::time_point::max();
  bool waiting_ = false;
  bool expired_ = false;
};

}  // namespace certgate::edge
