// What the edge reads to serve: one consistent snapshot, a cheap counter to
// poll for changes by any process, and a same-process change callback.
// Thread-safe, and every backend keeps the contracts stated in store.h
// (one transaction per write; "not found" is a value, and records of another
// account are not found).
#pragma once

#include <cstdint>
#include <functional>

#include "core/result.h"
#include "store/records.h"

namespace certgate::store {

class EdgeFeed {
 public:
  virtual ~EdgeFeed() = default;

  // Everything the edge serves, read in one transaction.
  virtual Result<EdgeState> LoadEdgeState() = 0;
  // A number that grows with every committed write to certificates, domains
  // or endpoints, by any process. Cheap: the edge polls it.
  virtual Result<int64_t> ChangeSequence() = 0;
  // Calls fn (on the writing thread, after commit) for every write made
  // through this Store object, so that this process's edge reacts at once.
  // fn must be quick and thread-safe. Not removable; lives as long as the store.
  virtual void OnChange(std::function<void()> fn) = 0;
};

}  // namespace certgate::store
