// The real Resolver: dns::Resolver asking a recursive resolver (--resolver,
// or the system's). Thread-safe.
#pragma once

#include <memory>
#include <optional>

#include "core/host_port.h"
#include "core/result.h"
#include "provision/resolver.h"

namespace certgate::provision {

// A Resolver asking `server`, or the system's resolvers when nullopt.
// Errors: kConfigInvalid when a server was given and is unusable. Without
// one and without a usable /etc/resolv.conf, certgate still serves: the
// result then fails every lookup with kConfigInvalid saying to start with
// --resolver, so managed domains report it and wait.
Result<std::unique_ptr<Resolver>> MakeDnsResolver(const std::optional<HostPort>& server);

}  // namespace certgate::provision
