// AcmeTokens: the HTTP-01 answers (token -> key authorization) in memory,
// fed by the store's change feed, so that the edge's plain-HTTP listener
// answers the CA without a store query, and a flood of requests for made-up
// tokens costs the store at most a few reads at a time (in a cluster, one
// database serves every node: Caddy's per-request storage reads took a
// database down under such a flood, certmagic#185).
//
// It loads every answer once (ChallengeStore::ListHttp01Challenges), then
// follows the feed (store::FeedFollower: at once after a write through this
// process's store, on the cluster's change notifications, and on a poll),
// re-reading only the tokens the feed names. An answer written a moment ago
// by another node may not have arrived yet: ReadThrough reads one token
// from the store, and the edge calls it off its event loop, a bounded
// number at a time (TryBeginReadThrough).
//
// Thread-safe: edge workers call Find, the follower's thread applies.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "core/result.h"
#include "edge/source_limits.h"
#include "store/challenge_store.h"
#include "store/edge_feed.h"
#include "store/feed_follower.h"

namespace certgate::edge {

class AcmeTokens {
 public:
  struct Stats {
    int64_t full_loads = 0;
    int64_t token_reads = 0;     // per-token reads while applying changes
    int64_t read_throughs = 0;   // misses read from the store
    int64_t refused_reads = 0;   // misses answered 404 because enough reads were under way
  };
  // Read-throughs under way at once, at most: more misses than that (a
  // flood of made-up tokens) get "not found" without a store query. One
  // source address (an IPv6 /64) may hold only a few of them, so that one
  // client's flood leaves the rest to the CA's checks.
  static constexpr int kMaxReadThroughs = 8;
  static constexpr int kMaxReadThroughsPerSource = 2;

  // The stores must outlive this object.
  AcmeTokens(store::EdgeFeed& feed, store::ChallengeStore& challenges,
             std::chrono::milliseconds poll_interval = std::chrono::milliseconds(250));
  ~AcmeTokens();
  AcmeTokens(const AcmeTokens&) = delete;
  AcmeTokens& operator=(const AcmeTokens&) = delete;

  // Loads every answer now (Start does it too, on its thread).
  Result<void> Load();
  // Applies what the feed holds now. Any thread; calls are serialized.
  Result<void> CatchUp();
  void Start();
  void Stop();

  // The answer if it is in memory.
  std::optional<std::string> Find(std::string_view token) const;
  // Reserves one of kMaxReadThroughs for a request from source; false when
  // all are taken, or source holds kMaxReadThroughsPerSource. Each true must
  // be followed by EndReadThrough with the same source.
  bool TryBeginReadThrough(const SourceLimits::Key& source);
  void EndReadThrough(const SourceLimits::Key& source);
  // Reads token's answer from the store. Blocks: call it off the event loop.
  Result<std::optional<std::string>> ReadThrough(std::string_view token);

  Stats stats() const;

 private:
  Result<void> LoadLocked();

  store::EdgeFeed& feed_;
  store::ChallengeStore& challenges_;
  std::mutex apply_mu_;  // one Load or CatchUp at a time
  mutable std::shared_mutex mu_;
  std::map<std::string, std::string, std::less<>> answers_;  // GUARDED_BY(mu_)
  std::optional<int64_t> sequence_;  // GUARDED_BY(apply_mu_): nullopt until loaded
  std::atomic<int> reading_{0};
  SourceLimits reading_by_source_{kMaxReadThroughsPerSource};
  std::atomic<int64_t> full_loads_{0};
  std::atomic<int64_t> token_reads_{0};
  std::atomic<int64_t> read_throughs_{0};
  std::atomic<int64_t> refused_reads_{0};
  store::FeedFollower follower_;  // last: stopped before the rest goes
};

}  // namespace certgate::edge
