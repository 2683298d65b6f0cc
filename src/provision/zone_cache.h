// ZoneCache: the authoritative DNS zone's data in memory, fed by the store's
// change feed, so that the responder never waits on the store: A/AAAA for
// every cname_target and reserved name in the zone (a reserved "*.x" covers
// one label below x), TXT for DNS-01, and the empty non-terminals above them.
//
// It loads the zone once (ZoneNames::LoadZone, on the follower's thread when
// Start comes before Load: until then it answers from the store, so that
// serve need not wait for a million names), then follows the feed like
// the edge's snapshot does (store::FeedFollower): for each batch it re-reads
// only the reserved names, cname_targets and TXT names the batch touched,
// with no lock held, then applies them under a short exclusive lock. A reader
// that fell behind the feed's retention loads everything again. Names are
// kept as keyed 64-bit hashes (provision::NameHashes); TXT values as text.
//
// Thread-safe: the responder's thread asks (ZoneSource), the follower's
// thread applies, and CatchUp may be called from any thread (the DNS-01
// solver calls it so that a TXT record it wrote is served before it asks the
// CA to look).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "dns/zone_source.h"
#include "provision/name_hashes.h"
#include "store/challenge_store.h"
#include "store/edge_feed.h"
#include "store/feed_follower.h"
#include "store/zone_names.h"

namespace certgate::provision {

class ZoneCache final : public dns::ZoneSource {
 public:
  // How much the cache has read from the store, for tests and logs.
  struct Stats {
    int64_t full_loads = 0;  // LoadZone calls
    int64_t key_reads = 0;   // per-name reads while applying changes
    int64_t changes = 0;     // change-feed entries read
    int64_t store_answers = 0;  // questions answered from the store before the first load
  };

  // zone: the base domain, normalized. The stores must outlive the cache.
  ZoneCache(store::EdgeFeed& feed, store::ZoneNames& names, store::ChallengeStore& challenges,
            std::string zone, std::chrono::milliseconds poll_interval = std::chrono::milliseconds(250));
  ~ZoneCache() override;
  ZoneCache(const ZoneCache&) = delete;
  ZoneCache& operator=(const ZoneCache&) = delete;

  // Loads the whole zone, synchronously (Start does it too, on its thread).
  Result<void> Load();
  // Applies every change the feed holds now (loading first if nothing is
  // loaded yet). Any thread; calls are serialized.
  Result<void> CatchUp();
  // Follows the feed on a thread of its own.
  void Start();
  void Stop();
  Stats stats() const;

  // dns::ZoneSource: from memory, once loaded; before that, from the store.
  Result<bool> IsEdgeName(std::string_view name) override;
  Result<std::vector<std::string>> TxtRecords(std::string_view name) override;
  Result<bool> HasNamesBelow(std::string_view name) override;

 private:
  struct State;
  // Whether name lies strictly below the zone.
  bool InZone(std::string_view name) const;
  // Adds delta to the count of every name between name and the zone apex
  // (both excluded) in state.
  void CountAncestors(State& state, std::string_view name, int delta) const;
  Result<void> LoadLocked();

  const NameHashes::Key key_ = NameHashes::RandomKey();
  const std::string zone_;
  const std::string cname_parent_;  // "cname.<zone>"
  const std::string acme_parent_;   // "acme.<zone>"
  store::EdgeFeed& feed_;
  store::ZoneNames& names_;
  store::ChallengeStore& challenges_;

  std::mutex apply_mu_;  // one Load or CatchUp at a time
  mutable std::shared_mutex mu_;
  std::unique_ptr<State> state_;  // GUARDED_BY(mu_); written under apply_mu_ too
  std::atomic<int64_t> full_loads_{0};
  std::atomic<int64_t> key_reads_{0};
  std::atomic<int64_t> changes_{0};
  std::atomic<int64_t> store_answers_{0};
  store::FeedFollower follower_;  // last: stopped before the rest goes
};

}  // namespace certgate::provision
