#include "edge/name_table.h"

#include <functional>
#include <unordered_map>

namespace certgate::edge {
namespace {

size_t Hash(std::string_view name) { return std::hash<std::string_view>{}(name); }

}  // namespace

NameTable::NameTable(const std::vector<std::pair<std::string_view, uint32_t>>& entries) {
  size_t capacity = 16;
  while (capacity < entries.size() * 2) capacity *= 2;
  slots_.assign(capacity, 0);
  size_t bytes = 0;
  for (const auto& [name, value] : entries) bytes += 1 + name.size();
  names_.reserve(bytes);
  const size_t mask = capacity - 1;
  for (const auto& [name, value] : entries) {
    // No SNI name is longer (and offsets stay 32-bit): such a name could
    // never be looked up, so it is left out.
    if (name.size() > 255 || names_.size() + 1 + name.size() >= UINT32_MAX) continue;
    size_t i = Hash(name) & mask;
    bool duplicate = false;
    while (slots_[i] != 0) {
      if (NameAt(static_cast<uint32_t>(slots_[i] >> 32) - 1) == name) {
        duplicate = true;
        break;
      }
      i = (i + 1) & mask;
    }
    if (duplicate) continue;
    const auto offset = static_cast<uint32_t>(names_.size());
    names_ += static_cast<char>(name.size());
    names_ += name;
    slots_[i] = (static_cast<uint64_t>(offset) + 1) << 32 | value;
    ++size_;
  }
}

std::optional<uint32_t> NameTable::Find(std::string_view name) const {
  if (slots_.empty()) return std::nullopt;
  const size_t mask = slots_.size() - 1;
  for (size_t i = Hash(name) & mask;; i = (i + 1) & mask) {
    const uint64_t slot = slots_[i];
    if (slot == 0) return std::nullopt;
    if (NameAt(static_cast<uint32_t>(slot >> 32) - 1) == name) return static_cast<uint32_t>(slot);
  }
}

NameShard::NameShard(std::span<const std::pair<std::string_view, std::string_view>> entries) {
  ids_.push_back('\0');  // offset 0: ""
  std::unordered_map<std::string_view, uint32_t> interned;
  std::vector<std::pair<std::string_view, uint32_t>> names;
  names.reserve(entries.size());
  for (const auto& [name, id] : entries) {
    uint32_t at = 0;
    // A certificate id is a short generated token; a longer one cannot be
    // stored with a length byte, and none is ever that long.
    if (!id.empty() && id.size() <= 255) {
      auto [it, added] = interned.try_emplace(id, static_cast<uint32_t>(ids_.size()));
      if (added) {
        ids_ += static_cast<char>(id.size());
        ids_ += id;
      }
      at = it->second;
    }
    names.emplace_back(name, at);
  }
  ids_.shrink_to_fit();
  table_ = NameTable(names);
}

}  // namespace certgate::edge
