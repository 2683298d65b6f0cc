#include "api/new_domain.h"

#include <fmt/format.h>

#include "names/domain_name.h"

namespace certgate::api {

Result<std::string> NewDomainName(std::string_view given, std::string_view field,
                                  std::string_view base_domain) {
  auto name = names::NormalizeDomain(given);
  if (!name) return WithField(name.error(), field);
  // The service's own domain is to its accounts what a public suffix is:
  // whoever held it (or its wildcard) would own every account's names below.
  if (names::WildcardBase(*name) == base_domain) {
    return MakeFieldError(ErrorCode::kDomainPublicSuffix, field,
                          fmt::format("{} is the service's own domain, shared by every account: "
                                      "reserve a name below it, such as my-app.{}",
                                      *name, base_domain));
  }
  return name;
}

bool UnderBaseDomain(std::string_view domain, std::string_view base_domain) {
  std::string_view base = names::WildcardBase(domain);
  return base == base_domain || names::IsSubdomainOf(base, base_domain);
}

void SetDomainDefaults(store::Domain& d, std::string_view base_domain) {
  if (UnderBaseDomain(d.domain, base_domain)) return;
  // Automatic certificates are the default for a branded domain.
  if (!d.certificate_id && !d.policy) d.policy = store::ManagementPolicy{};
  d.cname_target = fmt::format("{}.cname.{}", names::RandomLabel(), base_domain);
  if (names::IsWildcard(d.domain)) {
    d.acme_challenge_cname_target = fmt::format("{}.acme.{}", names::RandomLabel(), base_domain);
  }
}

}  // namespace certgate::api
