#include "edge/source_limits.h"

#include <cstring>

namespace certgate::edge {

SourceLimits::Key SourceLimits::KeyOf(const boost::asio::ip::address& address) {
  Key key;
  if (address.is_v4()) {
    key.low = address.to_v4().to_uint();
    return key;
  }
  const auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) {
    key.low = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_uint();
    return key;
  }
  const auto bytes = v6.to_bytes();
  std::memcpy(&key.high, bytes.data(), sizeof key.high);
  key.low = 0;
  // Distinct from every IPv4 key, whose high half is 0.
  if (key.high == 0) key.low = 1ULL << 63;
  return key;
}

size_t SourceLimits::KeyHash::operator()(const Key& k) const noexcept {
  // splitmix64 of the two halves: addresses from one block spread over shards.
  uint64_t x = k.high * 0x9e3779b97f4a7c15ULL ^ k.low;
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return static_cast<size_t>(x);
}

SourceLimits::Shard& SourceLimits::ShardOf(const Key& key) const {
  return shards_[(KeyHash{}(key) >> 7) % shards_.size()];
}

bool SourceLimits::TryAcquire(const Key& key) {
  Shard& shard = ShardOf(key);
  std::lock_guard lock(shard.mu);
  uint32_t& n = shard.open[key];
  if (per_source_ != 0 && n >= per_source_) return false;
  ++n;
  return true;
}

void SourceLimits::Release(const Key& key) {
  Shard& shard = ShardOf(key);
  std::lock_guard lock(shard.mu);
  auto it = shard.open.find(key);
  if (it == shard.open.end()) return;
  if (--it->second == 0) shard.open.erase(it);
}

size_t SourceLimits::Count(const Key& key) const {
  Shard& shard = ShardOf(key);
  std::lock_guard lock(shard.mu);
  auto it = shard.open.find(key);
  return it == shard.open.end() ? 0 : it->second;
}

}  // namespace certgate::edge
