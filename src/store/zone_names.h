// What the authoritative DNS responder asks about the names under its zone.
// Thread-safe, and every backend keeps the contracts stated in store.h
// (one transaction per write; "not found" is a value, and records of another
// account are not found).
#pragma once

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
};

}  // namespace certgate::store
