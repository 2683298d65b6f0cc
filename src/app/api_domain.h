// --api-domain NAME: the API and dashboard over TLS for a name whose
// certificate certgate obtains and renews itself, like any other managed
// domain: NAME is a reserved domain of the service (no account's; account
// id ""), managed with an ECDSA key, with no CNAME to wait for (its A/AAAA
// records point at certgate's edge: HTTP-01 reaches the edge's port 80).
// Until the CA's certificate arrives the API presents a self-signed one for
// NAME (made again each day, so it never expires while the CA is away);
// from then on it follows the domain's certificate as it is renewed.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "api/api_tls.h"
#include "core/result.h"
#include "core/time.h"
#include "seal/key_vault.h"
#include "store/certificate_store.h"
#include "store/domain_store.h"

namespace certgate::app {

// Makes sure the store holds NAME (normalized, not a wildcard) as the
// service's managed domain; returns the normalized name. Error
// kConfigInvalid when an account holds NAME, or a name that NAME would be
// under or over (the store's ownership rules).
Result<std::string> EnsureApiDomain(store::DomainStore& domains, std::string_view name,
                                    const Clock& clock);

class ApiDomainTls {
 public:
  // Serves the domain's certificate if it has one, else a self-signed one
  // for name.
  static Result<std::unique_ptr<ApiDomainTls>> Create(std::string name,
                                                      store::DomainStore& domains,
                                                      store::CertificateStore& certificates,
                                                      seal::KeyVault& vault, const Clock& clock);

  api::ApiTls& tls() { return *tls_; }
  // Reads the domain's certificate, and serves it when it is another than
  // the one served. Returns whether it changed; an error keeps what serves.
  // Not concurrent with itself (one caller, a timer).
  Result<bool> Refresh();

 private:
  ApiDomainTls(std::string name, store::DomainStore& domains,
               store::CertificateStore& certificates, seal::KeyVault& vault, const Clock& clock)
      : name_(std::move(name)),
        domains_(domains),
        certificates_(certificates),
        vault_(vault),
        clock_(clock) {}

  // Serves a new self-signed certificate for name_.
  Result<void> UseSelfSigned();

  const std::string name_;
  store::DomainStore& domains_;
  store::CertificateStore& certificates_;
  seal::KeyVault& vault_;
  const Clock& clock_;
  std::unique_ptr<api::ApiTls> tls_;
  Time self_signed_at_;  // while serving_ is nullopt
  std::optional<std::string> serving_;  // the certificate's id; nullopt: self-signed
};

}  // namespace certgate::app
