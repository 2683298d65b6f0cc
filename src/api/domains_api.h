// The /reserved_domains resource: create, get, list, update, delete, and the
// two sub-resources DELETE .../certificate and
// DELETE .../certificate_management_policy. Scoped to the caller's account;
// domain names are unique across all accounts. Thread-safe.
#pragma once

#include <memory>
#include <string>

#include "api/call.h"
#include "api/leaf_cache.h"
#include "core/time.h"
#include "dns/resolver.h"
#include "store/certificate_store.h"
#include "store/domain_store.h"
#include "store/job_store.h"

namespace certgate::api {

class DomainsApi {
 public:
  // base_domain: the service's own domain; its subdomains need neither a
  // certificate nor a policy, and CNAME targets live under it.
  // resolver: checks the user's DNS records for DnsRecords; null when
  // certgate has none (resolver_error says why).
  // certificates: those a domain may attach; jobs: the provisioning status
  // of managed domains. The stores and clock must outlive the resource.
  DomainsApi(store::DomainStore& domains, store::CertificateStore& certificates,
             store::JobStore& jobs, const Clock& clock, std::string base_domain,
             std::unique_ptr<dns::Resolver> resolver, std::string resolver_error)
      : domains_(domains),
        certificates_(certificates),
        jobs_(jobs),
        clock_(clock),
        base_domain_(std::move(base_domain)),
        resolver_(std::move(resolver)),
        resolver_error_(std::move(resolver_error)) {}

  Response Create(Call& call);
  Response List(Call& call);
  Response Get(Call& call, std::string_view id);
  Response Update(Call& call, std::string_view id);
  Response Delete(Call& call, std::string_view id);
  Response DetachCertificate(Call& call, std::string_view id);
  Response RemovePolicy(Call& call, std::string_view id);
  // certgate's own GET /reserved_domains/{id}/dns_records: the records the
  // user must create at their DNS provider and whether certgate sees each
  // one now (looked up through the resolver at the time of the call).
  Response DnsRecords(Call& call, std::string_view id);

 private:
  boost::json::object ToJson(const Call& call, const store::Domain& domain) const;
  // certificate_management_status of a managed domain.
  boost::json::object ManagementStatus(const store::Domain& d) const;
  // Checks that certificate_id is the account's and covers domain.
  Result<void> CheckCertificate(const Call& call, std::string_view certificate_id,
                                const std::string& domain);
  Result<std::optional<store::ManagementPolicy>> ReadPolicy(const boost::json::object* o) const;
  Result<std::optional<store::Domain>> Load(const Call& call, std::string_view id);
  bool UnderBaseDomain(std::string_view domain) const;
  // For a domain under the base domain: refuses a policy
  // (kDomainUnderBaseDomain) or an uploaded certificate
  // (kDomainCertificateUnderBaseDomain), ngrok's 439 and 440.
  Result<void> CheckUnderBaseDomain(std::string_view domain, bool certificate_id,
                                    bool policy) const;

  store::DomainStore& domains_;
  store::CertificateStore& certificates_;
  store::JobStore& jobs_;
  const Clock& clock_;
  LeafCache leaves_;  // of the certificates domains attach
  const std::string base_domain_;
  const std::unique_ptr<dns::Resolver> resolver_;
  const std::string resolver_error_;
};

}  // namespace certgate::api
