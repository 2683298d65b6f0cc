#include "app/api_domain.h"

#include <chrono>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/ids.h"
#include "names/domain_name.h"
#include "pki/generate.h"
#include "pki/private_key.h"

namespace certgate::app {

Result<std::string> EnsureApiDomain(store::DomainStore& domains, std::string_view name,
                                    const Clock& clock) {
  auto normalized = names::NormalizeDomain(name);
  if (!normalized) {
    return MakeError(ErrorCode::kConfigInvalid,
                     fmt::format("--api-domain {}: {}", name, normalized.error().message));
  }
  if (names::IsWildcard(*normalized)) {
    return MakeError(ErrorCode::kConfigInvalid,
                     fmt::format("--api-domain {}: give one name, not a wildcard", name));
  }
  CG_ASSIGN_OR_RETURN(auto existing, domains.FindDomainByName(*normalized));
  if (existing) {
    if (!existing->account_id.empty()) {
      return MakeError(ErrorCode::kConfigInvalid,
                       fmt::format("--api-domain {}: account {} holds that domain; the API's "
                                   "name must be one no account holds",
                                   *normalized, existing->account_id));
    }
    return *normalized;  // made by an earlier start
  }
  store::Domain d;
  d.id = NewId("rd");
  d.account_id = "";  // the service's
  d.created_at = clock.Now();
  d.description = "the API's domain (--api-domain)";
  d.domain = *normalized;
  d.policy = store::ManagementPolicy{};
  if (auto r = domains.InsertDomain(d); !r) {
    switch (r.error().code) {
      case ErrorCode::kDomainReservedHere:
        return *normalized;  // another node made it meanwhile
      case ErrorCode::kDomainReservedElsewhere:
      case ErrorCode::kDomainWildcardOverOthers:
      case ErrorCode::kDomainOverOthers:
        return MakeError(ErrorCode::kConfigInvalid,
                         fmt::format("--api-domain {}: {}", *normalized, r.error().message));
      default:
        return r.error();
    }
  }
  spdlog::info("api: {} is the API's domain; certgate orders its certificate", *normalized);
  return *normalized;
}

Result<std::unique_ptr<ApiDomainTls>> ApiDomainTls::Create(std::string name,
                                                           store::DomainStore& domains,
                                                           store::CertificateStore& certificates,
                                                           seal::KeyVault& vault,
                                                           const Clock& clock) {
  std::unique_ptr<ApiDomainTls> out(
      new ApiDomainTls(std::move(name), domains, certificates, vault, clock));
  CG_RETURN_IF_ERROR(out->UseSelfSigned());
  if (auto r = out->Refresh(); !r) {
    spdlog::warn("api: serving a self-signed certificate for {} for now: {}", out->name_,
                 r.error().message);
  }
  return out;
}

Result<void> ApiDomainTls::UseSelfSigned() {
  const Time now = clock_.Now();
  CG_ASSIGN_OR_RETURN(auto key, pki::GenerateKey(pki::GeneratedKeyType::kEcdsaP256));
  CG_ASSIGN_OR_RETURN(auto cert, pki::MakeSelfSignedCertificate(key.get(), {name_}, now,
                                                                std::chrono::hours(24 * 7)));
  pki::Chain chain;
  chain.certs.push_back(std::move(cert));
  if (tls_) {
    CG_RETURN_IF_ERROR(tls_->Use(chain, key.get()));
  } else {
    CG_ASSIGN_OR_RETURN(tls_, api::ApiTls::FromChain(chain, key.get()));
  }
  self_signed_at_ = now;
  return {};
}

Result<bool> ApiDomainTls::Refresh() {
  // Still waiting for the CA: a fresh self-signed certificate every day.
  if (!serving_ && clock_.Now() - self_signed_at_ >= std::chrono::hours(24)) {
    CG_RETURN_IF_ERROR(UseSelfSigned());
  }
  CG_ASSIGN_OR_RETURN(auto domain, domains_.FindDomainByName(name_));
  if (!domain || !domain->certificate_id || domain->certificate_id == serving_) return false;
  CG_ASSIGN_OR_RETURN(auto cert, certificates_.GetCertificateById(*domain->certificate_id));
  if (!cert) return false;  // replaced meanwhile: the next refresh reads the new one
  CG_ASSIGN_OR_RETURN(pki::Chain chain, pki::ParseStoredChain(cert->certificate_pem));
  CG_ASSIGN_OR_RETURN(SecretBytes der, vault_.Unseal(cert->private_key.blob, cert->id));
  CG_ASSIGN_OR_RETURN(pki::EvpPkeyPtr key, pki::DecodePrivateKeyDer(der.span()));
  CG_RETURN_IF_ERROR(tls_->Use(chain, key.get()));
  serving_ = cert->id;
  spdlog::info("api: serving {}'s certificate {} ({})", name_, cert->id, tls_->Describe());
  return true;
}

}  // namespace certgate::app
