// NameTable: an immutable hash table from domain names to small integers,
// built once and then only read, by any number of threads. The names are
// packed into one buffer (a length byte, then the bytes) and each slot is 8
// bytes (the name's offset and its value), open addressing with linear
// probing at a load of at most one half: about 16 bytes plus the name's
// length per entry, and no allocation per entry or per lookup. The edge's
// snapshot keeps its names in NameShards (below) of a ShardedMap.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "edge/sharded_map.h"

namespace certgate::edge {

class NameTable {
 public:
  NameTable() = default;
  // entries: (name, value). A later duplicate is ignored, and so is a name
  // over 255 bytes (no SNI name is longer; domain names are at most 253).
  explicit NameTable(const std::vector<std::pair<std::string_view, uint32_t>>& entries);

  std::optional<uint32_t> Find(std::string_view name) const;
  size_t size() const { return size_; }
  // Bytes held (names and slots), for the memory figures.
  size_t bytes() const { return names_.capacity() + slots_.capacity() * sizeof(uint64_t); }

  // fn(std::string_view name, uint32_t value) for every entry, in no order.
  template <class Fn>
  void ForEach(Fn fn) const {
    for (uint64_t slot : slots_) {
      if (slot == 0) continue;
      const std::string_view name = NameAt(static_cast<uint32_t>(slot >> 32) - 1);
      fn(name, static_cast<uint32_t>(slot));
    }
  }

 private:
  std::string_view NameAt(uint32_t offset) const {
    return std::string_view(names_).substr(offset + 1, static_cast<unsigned char>(names_[offset]));
  }

  std::string names_;
  // (offset + 1) << 32 | value; 0 is an empty slot. A power of two in size.
  std::vector<uint64_t> slots_;
  size_t size_ = 0;
};

// A shard of the edge's names for a ShardedMap (edge/sharded_map.h): names
// to certificate ids ("" for none yet), the ids packed once each into one
// buffer and the names in a NameTable whose values are their offsets.
class NameShard {
 public:
  using Value = std::string_view;
  explicit NameShard(std::span<const std::pair<std::string_view, std::string_view>> entries);

  std::optional<std::string_view> Find(std::string_view name) const {
    std::optional<uint32_t> at = table_.Find(name);
    if (!at) return std::nullopt;
    return IdAt(*at);
  }
  template <class Fn>
  void ForEach(Fn fn) const {
    table_.ForEach([&](std::string_view name, uint32_t at) { fn(name, IdAt(at)); });
  }
  size_t size() const { return table_.size(); }

 private:
  std::string_view IdAt(uint32_t offset) const {
    return std::string_view(ids_).substr(offset + 1, static_cast<unsigned char>(ids_[offset]));
  }

  // A length byte, then the id; offset 0 is "".
  std::string ids_;
  NameTable table_;
};

using NameIndex = ShardedMap<NameShard>;

}  // namespace certgate::edge
