// The OnChange callbacks of a Store implementation (EdgeFeed::OnChange), and
// which write results announce a change: shared by the SQL backends and
// MemoryStore. Thread-safe: Add and Announce may be called from any thread,
// and a callback may itself call Add.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "core/result.h"
#include "store/records.h"

namespace certgate::store {

// Whether a finished write changed certificates, domains or endpoints (or a
// sealed key), and so must be announced to OnChange's callbacks.
inline bool Changed(const Result<void>& r) { return r.ok(); }
inline bool Changed(const Result<bool>& r) { return r.ok() && *r; }
inline bool Changed(const Result<DeleteOutcome>& r) {
  return r.ok() && r->status == DeleteOutcome::Status::kDeleted;
}
inline bool Changed(const Result<InsertDomainsOutcome>& r) { return r.ok() && r->inserted > 0; }
template <class T>
bool Changed(const Result<std::optional<T>>& r) {
  return r.ok() && r->has_value();
}

class ChangeCallbacks {
 public:
  void Add(std::function<void()> fn) {
    auto shared = std::make_shared<const std::function<void()>>(std::move(fn));
    std::lock_guard lock(mu_);
    callbacks_.push_back(std::move(shared));
  }

  // Calls every callback added so far, on this thread, with no lock held.
  void Announce() {
    std::vector<std::shared_ptr<const std::function<void()>>> callbacks;
    {
      std::lock_guard lock(mu_);
      callbacks = callbacks_;
    }
    for (const auto& fn : callbacks) (*fn)();
  }

  // A finished write's result, after Announce() if Changed(result).
  template <class R>
  R AnnounceIfChanged(R result) {
    if (Changed(result)) Announce();
    return result;
  }

 private:
  // Never removed, so a copy of the pointers can be called without the lock
  // (and a callback may call Add itself).
  std::mutex mu_;
  std::vector<std::shared_ptr<const std::function<void()>>> callbacks_;  // GUARDED_BY(mu_)
};

}  // namespace certgate::store
