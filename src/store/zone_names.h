// What the authoritative DNS responder asks about the names under its zone.
// Thread-safe, and every backend keeps the contracts stated in store.h
// (one transaction per write; "not found" is a value, and records of another
// account are not found).
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "core/result.h"
#include "store/records.h"

namespace certgate::store {

class ZoneNames {
 public:
  virtual ~ZoneNames() = default;

  // Whether some reserved domain lies strictly below name (so that name
  // exists in DNS as an empty non-terminal).
  virtual Result<bool> HasReservedNamesBelow(std::string_view name) = 0;
  // Whether name is a domain's cname_target or a reserved domain itself (the
  // authoritative DNS answers these with the edge's addresses). A reserved
  // wildcard "*.x" covers the name one label below x.
  virtual Result<bool> IsEdgeName(std::string_view name) = 0;

  // What a reader that keeps the zone in memory (provision::ZoneCache) loads
  // first; afterwards it follows the change feed (EdgeFeed::ChangesSince).
  enum class ZoneRecord {
    kReserved,     // name: a reserved domain strictly below the zone
    kCnameTarget,  // name: a domain's cname_target (any, in the zone or not)
    kTxt,          // name and value: a DNS-01 TXT record
  };
  // Views live only during the call; value is "" but for kTxt.
  using ZoneVisitor =
      std::function<void(ZoneRecord kind, std::string_view name, std::string_view value)>;
  // Every record of the zone (a normalized name), read in one transaction,
  // each passed to visit; returns the change sequence they stand at.
  virtual Result<int64_t> LoadZone(std::string_view zone, const ZoneVisitor& visit) = 0;
  // Whether name is some domain's cname_target (an EdgeChangeKind::kCnameTarget
  // entry names one that came or went).
  virtual Result<bool> IsCnameTarget(std::string_view name) = 0;
};

}  // namespace certgate::store
