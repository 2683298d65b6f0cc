// SourceLimits: how many connections each source address holds open, so
// that one client cannot take every connection the edge will accept. An
// IPv4 source is its address; an IPv6 source is its /64 (one host is
// typically given a whole /64, so counting addresses would not bound it).
//
// Thread-safe: the edge's workers share one. Each call takes one of 64
// shard locks for a hash probe; nothing else on the accept path locks.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include <boost/asio/ip/address.hpp>

namespace certgate::edge {

class SourceLimits {
 public:
  // The key of a source: the IPv4 address, or an IPv6 address's /64.
  struct Key {
    uint64_t high = 0;  // IPv4: 0
    uint64_t low = 0;   // IPv4: the address; IPv6: 0 (only the /64 counts)
    bool operator==(const Key&) const = default;
  };
  static Key KeyOf(const boost::asio::ip::address& address);

  // per_source: connections one source may hold open; 0 means no limit.
  explicit SourceLimits(size_t per_source) : per_source_(per_source) {}

  // Counts one more connection for key; false (and nothing counted) when
  // the source holds per_source already.
  bool TryAcquire(const Key& key);
  // Gives back one connection counted by TryAcquire.
  void Release(const Key& key);
  // Connections open from key (for tests and metrics).
  size_t Count(const Key& key) const;

 private:
  struct KeyHash {
    size_t operator()(const Key& k) const noexcept;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<Key, uint32_t, KeyHash> open;  // guarded by mu; no zero entries
  };
  Shard& ShardOf(const Key& key) const;

  const size_t per_source_;
  mutable std::array<Shard, 64> shards_;
};

}  // namespace certgate::edge
