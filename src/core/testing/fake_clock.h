// A Clock for tests: time stands still until the test moves it, so expiry,
// renewal windows and backoff are tested without sleeping. Thread-safe: the
// code under test may read it from any thread while the test advances it.
#pragma once

#include <mutex>

#include "core/time.h"

namespace certgate::testing {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(Time start) : now_(start) {}

  Time Now() const override {
    std::lock_guard lock(mu_);
    return now_;
  }
  void Set(Time t) {
    std::lock_guard lock(mu_);
    now_ = t;
  }
  // REQUIRES: step is not negative (time never goes back by Advance).
  void Advance(Time::duration step) {
    std::lock_guard lock(mu_);
    now_ += step;
  }

 private:
  mutable std::mutex mu_;
  Time now_;  // GUARDED_BY(mu_)
};

}  // namespace certgate::testing
