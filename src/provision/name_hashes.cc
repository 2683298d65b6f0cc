#include "provision/name_hashes.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <tuple>

#include <sodium.h>

namespace certgate::provision {

static_assert(crypto_shorthash_KEYBYTES == std::tuple_size_v<NameHashes::Key> &&
              crypto_shorthash_BYTES == sizeof(uint64_t));

NameHashes::Key NameHashes::RandomKey() {
  if (sodium_init() < 0) std::abort();
  Key key;
  randombytes_buf(key.data(), key.size());
  return key;
}

NameHashes::NameHashes(const Key& key) : key_(key), keys_(16, 0), counts_(16, 0) {}

uint64_t NameHashes::Hash(std::string_view name) const {
  unsigned char out[crypto_shorthash_BYTES];
  crypto_shorthash(out, reinterpret_cast<const unsigned char*>(name.data()), name.size(),
                   key_.data());
  uint64_t h = 0;
  std::memcpy(&h, out, sizeof h);
  return h == 0 ? 1 : h;
}

uint32_t NameHashes::CountOf(uint64_t hash) const {
  for (size_t i = Home(hash);; i = (i + 1) & (keys_.size() - 1)) {
    if (keys_[i] == 0) return 0;
    if (keys_[i] == hash) return counts_[i];
  }
}

void NameHashes::Add(std::string_view name, int64_t delta) {
  if (delta == 0) return;
  const uint64_t hash = Hash(name);
  const size_t mask = keys_.size() - 1;
  size_t i = Home(hash);
  while (keys_[i] != 0 && keys_[i] != hash) i = (i + 1) & mask;
  if (keys_[i] == 0) {
    if (delta < 0) return;
    keys_[i] = hash;
    counts_[i] = static_cast<uint32_t>(std::min<int64_t>(delta, UINT32_MAX));
    if (++used_ * 4 > keys_.size() * 3) Grow();
    return;
  }
  const int64_t count = std::clamp<int64_t>(counts_[i] + delta, 0, UINT32_MAX);
  if (count > 0) {
    counts_[i] = static_cast<uint32_t>(count);
    return;
  }
  // Remove slot i, then move back every entry of the run after it that
  // would no longer be found past the gap.
  --used_;
  size_t gap = i;
  for (size_t j = (i + 1) & mask; keys_[j] != 0; j = (j + 1) & mask) {
    const size_t home = Home(keys_[j]);
    // j's entry may fill the gap if its home is not in (gap, j], cyclically.
    const bool stays = gap <= j ? (gap < home && home <= j) : (gap < home || home <= j);
    if (stays) continue;
    keys_[gap] = keys_[j];
    counts_[gap] = counts_[j];
    gap = j;
  }
  keys_[gap] = 0;
  counts_[gap] = 0;
}

void NameHashes::Grow() {
  std::vector<uint64_t> keys(keys_.size() * 2, 0);
  std::vector<uint32_t> counts(counts_.size() * 2, 0);
  keys.swap(keys_);
  counts.swap(counts_);
  const size_t mask = keys_.size() - 1;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i] == 0) continue;
    size_t j = Home(keys[i]);
    while (keys_[j] != 0) j = (j + 1) & mask;
    keys_[j] = keys[i];
    counts_[j] = counts[i];
  }
}

}  // namespace certgate::provision
