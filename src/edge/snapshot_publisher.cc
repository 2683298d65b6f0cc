#include "edge/snapshot_publisher.h"

#include <spdlog/spdlog.h>

namespace certgate::edge {

SnapshotPublisher::SnapshotPublisher(store::EdgeFeed& feed, EdgeServer& edge,
                                     std::string default_certificate_id,
                                     std::chrono::milliseconds poll_interval)
    : feed_(feed),
      edge_(edge),
      default_certificate_id_(std::move(default_certificate_id)),
      poll_interval_(poll_interval) {}

SnapshotPublisher::~SnapshotPublisher() { Stop(); }

Result<void> SnapshotPublisher::PublishNow() {
  const auto started = std::chrono::steady_clock::now();
  CG_ASSIGN_OR_RETURN(store::EdgeState state, feed_.LoadEdgeState());
  auto snapshot = Snapshot::Build(state, default_certificate_id_);
  published_sequence_ = snapshot->change_sequence();
  const size_t names = snapshot->name_count();
  edge_.SetSnapshot(std::move(snapshot));
  spdlog::debug("edge: published snapshot {} ({} names) in {} ms", published_sequence_, names,
                std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - started)
                    .count());
  return {};
}

void SnapshotPublisher::Start() {
  feed_.OnChange([signal = signal_] {
    std::lock_guard lock(signal->mu);
    signal->dirty = true;
    signal->cv.notify_one();
  });
  thread_ = std::thread([this] { Run(); });
}

void SnapshotPublisher::Stop() {
  {
    std::lock_guard lock(signal_->mu);
    signal_->stopping = true;
    signal_->cv.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

void SnapshotPublisher::Run() {
  // A rebuild reads and indexes every domain and endpoint. During a burst of
  // writes (a bulk upload), rebuilding after each one would cost O(n) per
  // write; instead the next rebuild waits twice as long as the last one took
  // (at most 40 ms), so rebuilds use at most a third of a core and a change
  // still reaches handshakes well within 100 ms.
  constexpr auto kMaxSpacing = std::chrono::milliseconds(40);
  auto next_allowed = std::chrono::steady_clock::now();
  for (;;) {
    bool rebuild = false;
    {
      std::unique_lock lock(signal_->mu);
      signal_->cv.wait_for(lock, poll_interval_,
                           [&] { return signal_->dirty || signal_->stopping; });
      if (signal_->stopping) return;
      if (signal_->dirty) {
        signal_->cv.wait_until(lock, next_allowed, [&] { return signal_->stopping; });
        if (signal_->stopping) return;
        rebuild = true;
        signal_->dirty = false;
      }
    }
    if (!rebuild) {
      auto sequence = feed_.ChangeSequence();
      if (!sequence) {
        spdlog::warn("edge: cannot read the store's change sequence: {}", sequence.error().message);
        continue;
      }
      rebuild = *sequence != published_sequence_;
    }
    if (!rebuild) continue;
    const auto started = std::chrono::steady_clock::now();
    if (auto r = PublishNow(); !r) {
      // Retried at the next poll: the published sequence no longer matches.
      spdlog::error("edge: cannot rebuild the snapshot: {}", r.error().message);
      published_sequence_ = -1;
    }
    const auto finished = std::chrono::steady_clock::now();
    next_allowed = finished + std::min<std::chrono::steady_clock::duration>(
                                  2 * (finished - started), kMaxSpacing);
  }
}

}  // namespace certgate::edge
