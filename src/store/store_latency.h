// How long the store takes, for metrics: an optional capability of a
// backend (like NameOwnershipAudit), which the SQL backends have. A read is
// one use of a connection, the wait for it included; a write is a whole
// write transaction as its caller waits for it: the turn of the one writer
// (and in a cluster its lock), the work, the commit and the sync.
#pragma once

#include <atomic>
#include <chrono>

namespace certgate::store {

class Store;

class LatencyObserver {
 public:
  virtual ~LatencyObserver() = default;
  // Called from any thread, on the store's paths: must be quick.
  virtual void ObserveRead(std::chrono::steady_clock::duration took) = 0;
  virtual void ObserveWrite(std::chrono::steady_clock::duration took) = 0;
};

class LatencyReporting {
 public:
  virtual ~LatencyReporting() = default;
  // Where the backend reports from now on (nullptr: nowhere). Borrowed: it
  // must outlive the backend, or be cleared first.
  virtual void SetLatencyObserver(LatencyObserver* observer) = 0;
};

// The store's LatencyReporting, or nullptr when its backend has none.
LatencyReporting* AsLatencyReporting(Store& store);

// What a backend shares to implement it.
class LatencyReporter : public LatencyReporting {
 public:
  void SetLatencyObserver(LatencyObserver* observer) override {
    observer_.store(observer, std::memory_order_release);
  }

 protected:
  void ReportRead(std::chrono::steady_clock::duration took) const {
    if (LatencyObserver* o = observer_.load(std::memory_order_acquire)) o->ObserveRead(took);
  }
  void ReportWrite(std::chrono::steady_clock::duration took) const {
    if (LatencyObserver* o = observer_.load(std::memory_order_acquire)) o->ObserveWrite(took);
  }

 private:
  std::atomic<LatencyObserver*> observer_{nullptr};
};

}  // namespace certgate::store
