// ZoneSource: what the authoritative DNS responder (dns::Responder) knows
// about its zone beyond the fixed apex records. The responder asks it on every
// query; certgate's is provision::ZoneCache, the zone in memory.
//
// Names passed in are lower-case ASCII, without a trailing dot, and inside the
// responder's zone (the zone apex included). Implementations are called from
// the responder's single I/O thread, one call at a time; they must be safe
// against concurrent use by other threads of their own. A call blocks the
// responder for its duration, so it must be quick: ZoneCache looks up memory
// (and asks the store only until its first load is done). An error makes the
// responder answer SERVFAIL; error messages are logged and must not contain
// secrets.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace certgate::dns {

class ZoneSource {
 public:
  virtual ~ZoneSource() = default;

  // True if `name` should have A/AAAA records with the edge's addresses: a
  // domain's cname_target, or a reserved subdomain of the base domain.
  virtual Result<bool> IsEdgeName(std::string_view name) = 0;

  // The TXT values at `name` (DNS-01 key authorization digests), one string
  // per TXT record; empty if none. Values longer than 255 bytes are split
  // into several character-strings of one record.
  virtual Result<std::vector<std::string>> TxtRecords(std::string_view name) = 0;

  // True if some name strictly below `name` has records (an "empty
  // non-terminal": `x.certgate.test` when only `_acme-challenge.x.certgate.test`
  // has a TXT record). Such a name must answer NODATA rather than NXDOMAIN
  // (RFC 8020: resolvers may treat everything below an NXDOMAIN as absent).
  // Default: false, right when every record sits one label below a name that
  // exists anyway (the apex or an edge name); override otherwise.
  virtual Result<bool> HasNamesBelow(std::string_view /*name*/) { return false; }
};

}  // namespace certgate::dns
