// The /endpoints resource, in ngrok's shape (cloud endpoints) with
// certgate's upstream_url: where the edge accepts traffic for a host
// (https://host or tls://host:443) and where it sends it, with an optional
// traffic policy. Scoped to the caller's account; an endpoint's host
// must be one of the account's reserved domains (or one label under one of
// its wildcard domains). Thread-safe.
#pragma once

#include "api/call.h"
#include "core/time.h"
#include "seal/key_vault.h"
#include "store/certificate_store.h"
#include "store/domain_store.h"
#include "store/endpoint_store.h"

namespace certgate::api {

class EndpointsApi {
 public:
  // domains: the owners of endpoint hosts; certificates: the endpoints'
  // terminate-tls certificates. The stores, vault and clock must outlive the
  // resource.
  EndpointsApi(store::EndpointStore& endpoints, store::DomainStore& domains,
               store::CertificateStore& certificates, seal::KeyVault& vault, const Clock& clock)
      : endpoints_(endpoints),
        domains_(domains),
        certificates_(certificates),
        vault_(vault),
        clock_(clock) {}

  Response Create(Call& call);
  Response List(Call& call);
  Response Get(Call& call, std::string_view id);
  Response Update(Call& call, std::string_view id);
  Response Delete(Call& call, std::string_view id);

 private:
  struct PolicyInput {
    std::string stored_json;  // normalized, without certificate or key
    std::string shown_text;   // what the API returns (policy::PolicyWithText::text)
    std::optional<store::Certificate> certificate;  // from terminate-tls, sealed
  };
  Result<PolicyInput> ReadPolicy(const Call& call, std::string_view text, const std::string& host,
                                 const std::string& endpoint_id);
  Result<std::string> OwningDomain(const Call& call, const std::string& host);
  Result<boost::json::object> ToJson(const Call& call, const store::Endpoint& e);

  store::EndpointStore& endpoints_;
  store::DomainStore& domains_;
  store::CertificateStore& certificates_;
  seal::KeyVault& vault_;
  const Clock& clock_;
};

// Normalizes an endpoint url: "https://host" (port 443 only) or
// "tls://host:443"; returns {scheme, host, port, normalized url}.
struct EndpointUrl {
  std::string scheme;
  std::string host;
  uint16_t port = 443;
  std::string url;
};
Result<EndpointUrl> ParseEndpointUrl(std::string_view text);

// Normalizes an upstream for an endpoint of the given scheme: https
// endpoints take http:// or https://, tls endpoints tcp://; always with an
// explicit port, no path. field names the input in messages.
Result<std::string> NormalizeUpstream(std::string_view text, std::string_view endpoint_scheme,
                                      std::string_view field = "upstream");

}  // namespace certgate::api
