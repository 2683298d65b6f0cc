#include "provision/dns_resolver.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "dns/resolver.h"

namespace certgate::provision {
namespace {

class DnsResolver final : public Resolver {
 public:
  explicit DnsResolver(dns::Resolver resolver) : resolver_(std::move(resolver)) {}
  Result<std::optional<std::string>> LookupCname(std::string_view name) const override {
    return resolver_.LookupCname(name);
  }

 private:
  const dns::Resolver resolver_;
};

// Stands in when no resolver could be made: says why at every lookup.
class MissingResolver final : public Resolver {
 public:
  explicit MissingResolver(std::string why) : why_(std::move(why)) {}
  Result<std::optional<std::string>> LookupCname(std::string_view) const override {
    return MakeError(ErrorCode::kConfigInvalid,
                     fmt::format("certgate has no DNS resolver to check the domain's records "
                                 "({}); start it with --resolver",
                                 why_));
  }

 private:
  const std::string why_;
};

}  // namespace

Result<std::unique_ptr<Resolver>> MakeDnsResolver(const std::optional<HostPort>& server) {
  dns::ResolverOptions options;
  options.server = server;
  auto resolver = dns::Resolver::Create(options);
  if (resolver) {
    return std::unique_ptr<Resolver>(std::make_unique<DnsResolver>(std::move(*resolver)));
  }
  if (server) return resolver.error();  // --resolver was given and is wrong
  // No usable /etc/resolv.conf: serve runs; managed domains report it.
  spdlog::warn("acme: no DNS resolver ({}); managed domains wait until --resolver is given",
               resolver.error().message);
  return std::unique_ptr<Resolver>(std::make_unique<MissingResolver>(resolver.error().message));
}

}  // namespace certgate::provision
