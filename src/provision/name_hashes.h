// NameHashes: a count per domain name, held as a 64-bit keyed hash of the
// name (SipHash-2-4 under a key the owner draws with RandomKey) in one open-addressed
// table: 16 to 32 bytes per name (12 a slot, three quarters full at most),
// where a set of strings costs over 100.
// Two names share a hash with probability 2^-64 per pair, and the random key
// keeps anyone who picks names from aiming at a collision; the DNS zone
// (provision::ZoneCache) uses it only for answers where such a collision
// costs nothing worse than an A record or a NODATA for a name that has
// none. Not thread-safe: the owner locks.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace certgate::provision {

class NameHashes {
 public:
  using Key = std::array<unsigned char, 16>;
  static Key RandomKey();

  explicit NameHashes(const Key& key);

  uint32_t Count(std::string_view name) const { return CountOf(Hash(name)); }
  bool Contains(std::string_view name) const { return Count(name) > 0; }
  // Adds delta (negative: removes) to name's count, never below 0; an entry
  // that reaches 0 is gone.
  void Add(std::string_view name, int64_t delta);
  size_t size() const { return used_; }

 private:
  uint64_t Hash(std::string_view name) const;
  uint32_t CountOf(uint64_t hash) const;
  size_t Home(uint64_t hash) const { return static_cast<size_t>(hash) & (keys_.size() - 1); }
  void Grow();

  Key key_;
  // keys_[i] == 0: empty (a hash of 0 is stored as 1). Linear probing; a
  // removal shifts the run after it back, so there are no tombstones.
  std::vector<uint64_t> keys_;
  std::vector<uint32_t> counts_;
  size_t used_ = 0;
};

}  // namespace certgate::provision
