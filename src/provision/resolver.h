// Resolver: how the certificate manager looks up the CNAME records a branded
// domain needs before it is worth ordering a certificate (see
// dns/required_records.h). Implementations must be thread-safe: every job
// runner asks concurrently.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace certgate::provision {

class Resolver {
 public:
  virtual ~Resolver() = default;

  // The CNAME target `name` owns (lower-case, no trailing dot); nullopt when
  // it has none (NXDOMAIN or NODATA). Errors: why nobody could say
  // (kDnsUnreachable, kDnsServerFailure, kConfigInvalid when certgate has no
  // resolver to ask, ...); the job retries later.
  virtual Result<std::optional<std::string>> LookupCname(std::string_view name) const = 0;
};

}  // namespace certgate::provision
