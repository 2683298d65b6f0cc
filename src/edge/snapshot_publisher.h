// SnapshotPublisher: keeps the edge's snapshot in step with the store. A
// write through this process's store (OnChange) triggers a rebuild at once;
// writes by other processes or nodes are noticed by polling the store's
// change sequence. Rebuilds run on the publisher's own thread, one at a
// time; changes arriving meanwhile coalesce into the next one.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/result.h"
#include "edge/edge_server.h"
#include "store/edge_feed.h"

namespace certgate::edge {

class SnapshotPublisher {
 public:
  // feed and edge must outlive the publisher.
  SnapshotPublisher(store::EdgeFeed& feed, EdgeServer& edge, std::string default_certificate_id,
                    std::chrono::milliseconds poll_interval = std::chrono::milliseconds(250));
  ~SnapshotPublisher();

  // Builds and publishes the first snapshot, synchronously.
  Result<void> PublishNow();
  // Starts following changes.
  void Start();
  void Stop();

 private:
  void Run();

  // Shared with the store's OnChange callback, which may outlive us.
  struct Signal {
    std::mutex mu;
    std::condition_variable cv;
    bool dirty = false;     // GUARDED_BY(mu)
    bool stopping = false;  // GUARDED_BY(mu)
  };

  store::EdgeFeed& feed_;
  EdgeServer& edge_;
  const std::string default_certificate_id_;
  const std::chrono::milliseconds poll_interval_;
  std::shared_ptr<Signal> signal_ = std::make_shared<Signal>();
  int64_t published_sequence_ = -1;  // only the publisher thread (or before Start)
  std::thread thread_;
};

}  // namespace certgate::edge
