// SnapshotPublisher: keeps the edge's snapshot in step with the store. It
// loads everything once, then follows the store's change feed: for each
// batch of changes it re-reads only the names and hosts they touched and
// publishes the current snapshot with that delta applied (Snapshot::With),
// so a change costs the same at a thousand names as at a million. A write
// through this process's store (OnChange) wakes it at once; writes by other
// processes or nodes are found by polling the feed. A reader that fell
// behind the feed's retention loads everything again. All work runs on the
// publisher's own thread, one batch at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/result.h"
#include "edge/snapshot.h"
#include "store/edge_feed.h"
#include "store/feed_follower.h"

namespace certgate::edge {

class SnapshotPublisher {
 public:
  // How much the publisher has read from the store, for tests and logs.
  struct Stats {
    int64_t full_loads = 0;   // LoadEdgeState calls
    int64_t key_reads = 0;    // EdgeDomainByName and EndpointsByHost calls
    int64_t changes = 0;      // change-feed entries applied
    int64_t published = 0;    // snapshots published
    int64_t sequence = 0;     // the change the published snapshot stands at
  };

  // feed and sink must outlive the publisher.
  SnapshotPublisher(store::EdgeFeed& feed, SnapshotSink& sink, std::string default_certificate_id,
                    std::chrono::milliseconds poll_interval = std::chrono::milliseconds(250));
  ~SnapshotPublisher();

  // Loads everything and publishes the first snapshot, synchronously.
  Result<void> PublishNow();
  // Applies every change the feed holds now, synchronously (the thread
  // Start runs does this on each wake-up). Not concurrently with Start.
  Result<void> CatchUp();
  // Starts following changes.
  void Start();
  void Stop();

  Stats stats() const;

 private:
  store::EdgeFeed& feed_;
  SnapshotSink& sink_;
  const std::string default_certificate_id_;
  // Only the follower's thread (or the caller, before Start).
  std::shared_ptr<const Snapshot> current_;
  std::atomic<int64_t> full_loads_{0};
  std::atomic<int64_t> key_reads_{0};
  std::atomic<int64_t> changes_{0};
  std::atomic<int64_t> published_{0};
  std::atomic<int64_t> sequence_{0};
  store::FeedFollower follower_;  // last: stopped before the rest goes
};

}  // namespace certgate::edge
