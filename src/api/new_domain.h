// What a new reserved domain is made of, shared by POST /reserved_domains and
// the operator's bulk import (`certgate admin domains import`), so that a
// name gets the same checks and defaults either way.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "store/records.h"

namespace certgate::api {

// The normalized name, or kDomainPublicSuffix for the service's own domain
// (or its wildcard), which no account may hold; errors carry field.
Result<std::string> NewDomainName(std::string_view given, std::string_view field,
                                  std::string_view base_domain);
// Whether domain (or, for "*.x", x) is the service's domain or below it.
bool UnderBaseDomain(std::string_view domain, std::string_view base_domain);
// Sets what a domain not under the service's domain gets by default: fresh
// cname_target (and acme_challenge_cname_target for a wildcard) in the
// service's zone, and automatic certificates when it has neither an uploaded
// certificate nor a policy. A name under the service's domain is served by
// the service's certificate and gets none of these.
void SetDomainDefaults(store::Domain& d, std::string_view base_domain);

}  // namespace certgate::api
