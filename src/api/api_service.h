// ApiService: the REST API behind HttpServer. Checks the version header,
// routes, authenticates, and hands the request to the resource. Also serves
// the dashboard ("/" and its files under "/assets/") and "/healthz" without
// authentication.
// Thread-safe: Handle may run on many worker threads at once.
#pragma once

#include <optional>
#include <string>

#include "api/certificates_api.h"
#include "api/domains_api.h"
#include "api/endpoints_api.h"
#include "api/http_types.h"
#include "core/host_port.h"
#include "core/time.h"
#include "seal/key_vault.h"
#include "store/account_store.h"
#include "store/certificate_store.h"
#include "store/domain_store.h"
#include "store/endpoint_store.h"
#include "store/job_store.h"

namespace certgate::api {

struct ApiServiceOptions {
  // The API's public base URL for "uri" fields, e.g. "https://api.example.com".
  // Empty: derived from the request's scheme and Host header.
  std::string public_url;
  // The service's own domain (see DomainsApi).
  std::string base_domain = "certgate.localhost";
  // The recursive resolver for checking users' DNS records (the dashboard's
  // "does certgate see it"); nullopt: the system's.
  std::optional<HostPort> resolver;
};

// The store roles the API uses; each must outlive the service.
struct ApiServiceStores {
  store::AccountStore& accounts;  // API keys, for authentication
  store::CertificateStore& certificates;
  store::DomainStore& domains;
  store::EndpointStore& endpoints;
  store::JobStore& jobs;  // the provisioning status of managed domains
};

class ApiService {
 public:
  // vault and clock must outlive the service.
  ApiService(ApiServiceStores stores, seal::KeyVault& vault, const Clock& clock,
             ApiServiceOptions options);

  Response Handle(Request& req, const RequestContext& ctx);

 private:
  std::string BaseUrl(const Request& req, const RequestContext& ctx) const;

  store::AccountStore& accounts_;
  const ApiServiceOptions options_;
  CertificatesApi certificates_;
  DomainsApi domains_;
  EndpointsApi endpoints_;
};

}  // namespace certgate::api
