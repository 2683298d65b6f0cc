// FeedFollower: the thread that keeps an in-memory reader of the change feed
// (the edge's snapshot, the DNS zone) in step with the store. It calls the
// reader's catch_up at once after each write through this process's store
// (EdgeFeed::OnChange), and every poll_interval otherwise, which is how
// writes by other processes or nodes are found; one call at a time. catch_up
// reads EdgeFeed::ChangesSince itself and applies what it finds; an error is
// logged and retried at the next wake-up or poll.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/result.h"
#include "store/edge_feed.h"

namespace certgate::store {

class FeedFollower {
 public:
  // feed must outlive the follower; what names the reader in logs.
  FeedFollower(EdgeFeed& feed, std::string what, std::chrono::milliseconds poll_interval,
               std::function<Result<void>()> catch_up);
  ~FeedFollower();  // Stop()s
  FeedFollower(const FeedFollower&) = delete;
  FeedFollower& operator=(const FeedFollower&) = delete;

  // Starts the thread, which calls catch_up at once; once only.
  void Start();
  // Joins it (a catch_up under way finishes first). Idempotent.
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

  EdgeFeed& feed_;
  const std::string what_;
  const std::chrono::milliseconds poll_interval_;
  const std::function<Result<void>()> catch_up_;
  std::shared_ptr<Signal> signal_ = std::make_shared<Signal>();
  std::thread thread_;
};

}  // namespace certgate::store
