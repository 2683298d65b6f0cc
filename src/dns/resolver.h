// Resolver: the DNS client certgate uses to check users' records (the CNAME
// a branded domain must point at the edge, and TXT records), asked of a
// recursive resolver with RD set: the configured server, or the system's
// resolvers from /etc/resolv.conf.
//
// Transport: UDP (EDNS, payload size 1232) with retransmissions, then TCP
// when the answer comes back truncated. Every call returns within
// options.timeout (plus scheduling noise), whatever the servers do. Answers
// are accepted only from the server asked, with the query's id and question.
//
// Thread safety: a Resolver is immutable after Create; its lookups are const
// and may run concurrently from any threads (each call uses its own sockets
// and a private io_context). Copying is cheap.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/host_port.h"
#include "core/result.h"

namespace certgate::dns {

struct ResolverOptions {
  // nullopt: the system's resolvers (nameserver lines of /etc/resolv.conf).
  std::optional<HostPort> server;
  // The longest one lookup may take, retries and TCP fallback included.
  std::chrono::milliseconds timeout{5000};
};

class Resolver {
 public:
  // Errors: kConfigInvalid (bad server address, no usable resolv.conf, a
  // timeout that is not positive).
  static Result<Resolver> Create(ResolverOptions options);

  // The CNAME target of `name` (lower-case, no trailing dot); nullopt when the
  // name has no CNAME (NXDOMAIN or NODATA). Only the record owned by `name`
  // itself counts, not further links of a chain.
  // Errors: kDomainInvalid (`name` is not a domain name), kDnsUnreachable (no
  // answer within the timeout), kDnsServerFailure (SERVFAIL, REFUSED or
  // another error RCODE), kDnsMalformed (an answer that does not parse).
  Result<std::optional<std::string>> LookupCname(std::string_view name) const;

  // The TXT records at `name`, each one's character-strings joined; empty if
  // none (NXDOMAIN or NODATA). CNAMEs on the way are followed (as the
  // recursive resolver reports them). Errors as for LookupCname.
  Result<std::vector<std::string>> LookupTxt(std::string_view name) const;

  // The servers asked, in order.
  const std::vector<HostPort>& servers() const { return servers_; }
  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  Resolver(std::vector<HostPort> servers, std::chrono::milliseconds timeout)
      : servers_(std::move(servers)), timeout_(timeout) {}
  std::vector<HostPort> servers_;
  std::chrono::milliseconds timeout_;
};

}  // namespace certgate::dns
