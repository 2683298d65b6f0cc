// ShardedMap: a persistent map from names to values. Immutable once built;
// With() returns a new map that shares every shard its changes did not
// touch, so a change costs the size of one shard, not of the map.
//
// Keys are split by hash into 2^k shards of about kTargetShard entries each,
// held in pages of kPage shards. With() copies the page list (a pointer per
// kPage shards), each touched page (kPage pointers) and rebuilds each touched
// shard from its entries: at a million names, about 64 + 64 pointers and 256
// entries per changed name. When the map has grown or shrunk eightfold
// since its shard count was chosen, With() re-shards it whole, which spread
// over the changes that grew it is O(1) each.
//
// Shard is an immutable table with:
//   using Value = ...;  // cheap to copy while building: a view or a shared_ptr
//   explicit Shard(std::span<const std::pair<std::string_view, Value>> entries);
//   Find(std::string_view key) const;  // whatever it returns, returned as is
//   template <class Fn> void ForEach(Fn fn) const;  // fn(std::string_view key, Value)
//   size_t size() const;
// and the views it is built from need live only while its constructor runs.
// Readers on any thread; lookups take no lock and allocate nothing.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace certgate::edge {

template <class Shard>
class ShardedMap {
 public:
  using Value = typename Shard::Value;
  // A key and its new value; nullopt removes it.
  using Change = std::pair<std::string_view, std::optional<Value>>;
  using Entries = std::vector<std::pair<std::string_view, Value>>;

  static constexpr size_t kTargetShard = 256;
  static constexpr size_t kPage = 64;

  ShardedMap() : ShardedMap(Entries{}) {}
  // A later duplicate key is the Shard's to handle (NameTable ignores it).
  explicit ShardedMap(const Entries& entries) {
    bits_ = BitsFor(entries.size());
    const size_t shards = size_t{1} << bits_;
    // The entries grouped by shard (a counting sort): one array, each
    // shard's run of it given to its constructor.
    std::vector<uint32_t> shard_of(entries.size());
    std::vector<size_t> starts(shards + 1, 0);
    for (size_t i = 0; i < entries.size(); ++i) {
      shard_of[i] = static_cast<uint32_t>(ShardOf(entries[i].first));
      ++starts[shard_of[i] + 1];
    }
    for (size_t s = 0; s < shards; ++s) starts[s + 1] += starts[s];
    Entries grouped(entries.size());
    {
      std::vector<size_t> next(starts.begin(), starts.end() - 1);
      for (size_t i = 0; i < entries.size(); ++i) grouped[next[shard_of[i]]++] = entries[i];
    }
    const std::span<const typename Entries::value_type> all(grouped);
    const size_t page_size = std::min(shards, kPage);
    for (size_t first = 0; first < shards; first += page_size) {
      auto page = std::make_shared<Page>();
      page->reserve(page_size);
      for (size_t s = first; s < first + page_size; ++s) {
        const auto run = all.subspan(starts[s], starts[s + 1] - starts[s]);
        page->push_back(std::make_shared<const Shard>(run));
        size_ += page->back()->size();
      }
      pages_.push_back(std::move(page));
    }
  }

  // This map with changes applied; a later change to the same key wins.
  ShardedMap With(std::span<const Change> changes) const {
    if (changes.empty()) return *this;
    // Changes by shard, in order.
    std::vector<std::pair<size_t, size_t>> order;  // (shard, index in changes)
    order.reserve(changes.size());
    for (size_t i = 0; i < changes.size(); ++i) order.emplace_back(ShardOf(changes[i].first), i);
    std::sort(order.begin(), order.end());
    ShardedMap next = *this;
    for (size_t at = 0; at < order.size();) {
      const size_t shard = order[at].first;
      size_t end = at;
      while (end < order.size() && order[end].first == shard) ++end;
      next.Replace(shard, Rebuilt(At(shard), changes, std::span(order).subspan(at, end - at)));
      at = end;
    }
    if (BitsFor(next.size_) + 3 <= next.bits_ || next.bits_ + 3 <= BitsFor(next.size_)) {
      return next.Resharded();
    }
    return next;
  }

  auto Find(std::string_view key) const { return At(ShardOf(key)).Find(key); }

  template <class Fn>
  void ForEach(Fn fn) const {
    for (const auto& page : pages_) {
      for (const auto& shard : *page) shard->ForEach(fn);
    }
  }

  size_t size() const { return size_; }
  size_t shard_count() const { return size_t{1} << bits_; }
  // Shards this map holds by the same pointer as other: those a change from
  // one to the other did not copy (for tests).
  size_t SharedShards(const ShardedMap& other) const {
    if (other.bits_ != bits_) return 0;
    size_t shared = 0;
    for (size_t s = 0; s < shard_count(); ++s) shared += &At(s) == &other.At(s) ? 1 : 0;
    return shared;
  }

 private:
  using ShardPtr = std::shared_ptr<const Shard>;
  using Page = std::vector<ShardPtr>;
  using PagePtr = std::shared_ptr<Page>;  // never changed once published

  // Shards for n entries: about kTargetShard each, at least 16.
  static unsigned BitsFor(size_t n) {
    const size_t shards = std::max<size_t>(16, std::bit_ceil(n / kTargetShard + 1));
    return static_cast<unsigned>(std::countr_zero(shards));
  }

  // The shard of a key, from the high bits of a mixed hash (the shard's own
  // table uses the low bits of the plain hash).
  size_t ShardOf(std::string_view key) const {
    const uint64_t h = std::hash<std::string_view>{}(key) * 0x9E3779B97F4A7C15ull;
    return static_cast<size_t>(h >> (64 - bits_));
  }

  const Shard& At(size_t shard) const {
    const size_t page_size = std::min(shard_count(), kPage);
    return *(*pages_[shard / page_size])[shard % page_size];
  }

  // Puts a new shard in place, copying its page first (the old page may be
  // shared with earlier maps); a page copied once is this map's own.
  void Replace(size_t shard, ShardPtr replacement) {
    const size_t page_size = std::min(shard_count(), kPage);
    PagePtr& page = pages_[shard / page_size];
    if (page.use_count() > 1) page = std::make_shared<Page>(*page);
    ShardPtr& slot = (*page)[shard % page_size];
    size_ = size_ - slot->size() + replacement->size();
    slot = std::move(replacement);
  }

  // shard's entries with its changes (those of `picks`) applied.
  static ShardPtr Rebuilt(const Shard& shard, std::span<const Change> changes,
                          std::span<const std::pair<size_t, size_t>> picks) {
    std::unordered_map<std::string_view, const std::optional<Value>*> changed;
    changed.reserve(picks.size());
    for (const auto& [s, i] : picks) changed.insert_or_assign(changes[i].first, &changes[i].second);
    Entries entries;
    entries.reserve(shard.size() + picks.size());
    shard.ForEach([&](std::string_view key, const Value& value) {
      if (!changed.contains(key)) entries.emplace_back(key, value);
    });
    for (const auto& [key, value] : changed) {
      if (*value) entries.emplace_back(key, **value);
    }
    return std::make_shared<const Shard>(entries);
  }

  ShardedMap Resharded() const {
    Entries entries;
    entries.reserve(size_);
    ForEach([&](std::string_view key, const Value& value) { entries.emplace_back(key, value); });
    return ShardedMap(entries);
  }

  std::vector<PagePtr> pages_;
  unsigned bits_ = 4;
  size_t size_ = 0;
};

}  // namespace certgate::edge
