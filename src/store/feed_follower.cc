#include "store/feed_follower.h"

#include <utility>

#include <spdlog/spdlog.h>

namespace certgate::store {

FeedFollower::FeedFollower(EdgeFeed& feed, std::string what,
                           std::chrono::milliseconds poll_interval,
                           std::function<Result<void>()> catch_up)
    : feed_(feed),
      what_(std::move(what)),
      poll_interval_(poll_interval),
      catch_up_(std::move(catch_up)) {}

FeedFollower::~FeedFollower() { Stop(); }

void FeedFollower::Start() {
  feed_.OnChange([signal = signal_] {
    std::lock_guard lock(signal->mu);
    signal->dirty = true;
    signal->cv.notify_one();
  });
  {
    std::lock_guard lock(signal_->mu);
    signal_->dirty = true;  // catch up at once: a reader may have loaded a while ago
  }
  thread_ = std::thread([this] { Run(); });
}

void FeedFollower::Stop() {
  {
    std::lock_guard lock(signal_->mu);
    signal_->stopping = true;
    signal_->cv.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

void FeedFollower::Run() {
  for (;;) {
    {
      std::unique_lock lock(signal_->mu);
      signal_->cv.wait_for(lock, poll_interval_,
                           [&] { return signal_->dirty || signal_->stopping; });
      if (signal_->stopping) return;
      signal_->dirty = false;
    }
    // Woken by a write here, or polling for writes elsewhere: either way the
    // feed says what, if anything, changed.
    if (auto r = catch_up_(); !r) {
      spdlog::error("{}: cannot apply the store's changes: {}", what_, r.error().message);
    }
  }
}

}  // namespace certgate::store
