#include "app/bootstrap.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <string>

#include "core/ids.h"
#include "pki/certificate.h"
#include "pki/generate.h"
#include "pki/private_key.h"

namespace certgate::app {
namespace {

constexpr auto kDefaultLifetime = std::chrono::hours(24 * 365);
constexpr auto kRenewBefore = std::chrono::hours(24 * 30);
constexpr int kBackfillPage = 100;

// True if the stored certificate still fits: right names, not near expiry.
bool StillGood(const store::Certificate& cert, const std::string& base_domain, Time now) {
  auto chain = pki::ParseStoredChain(cert.certificate_pem);
  if (!chain) return false;
  auto info = pki::DescribeCertificate(chain->leaf());
  auto has = [&](const std::string& name) {
    return std::find(info.dns_names.begin(), info.dns_names.end(), name) != info.dns_names.end();
  };
  return has(base_domain) && has("*." + base_domain) && info.not_after - kRenewBefore > now;
}

}  // namespace

Result<std::string> EnsureDefaultCertificate(store::SettingStore& settings,
                                             store::CertificateStore& certificates,
                                             seal::KeyVault& vault, const std::string& base_domain,
                                             Time now) {
  CG_ASSIGN_OR_RETURN(auto current_id, settings.GetSetting(kDefaultCertificateSetting));
  if (current_id) {
    CG_ASSIGN_OR_RETURN(auto current, certificates.GetCertificate("", *current_id));
    if (current && StillGood(*current, base_domain, now)) return *current_id;
  }

  CG_ASSIGN_OR_RETURN(auto key, pki::GenerateKey(pki::GeneratedKeyType::kEcdsaP256));
  CG_ASSIGN_OR_RETURN(auto x509, pki::MakeSelfSignedCertificate(
                                     key.get(), {base_domain, "*." + base_domain}, now,
                                     kDefaultLifetime));
  pki::Chain chain;
  chain.certs.push_back(std::move(x509));
  CG_ASSIGN_OR_RETURN(auto der, pki::EncodePrivateKeyDer(key.get()));

  store::Certificate cert;
  cert.id = NewId("cert");
  cert.created_at = now;
  cert.description = "certgate default certificate for " + base_domain;
  cert.certificate_pem = pki::EncodeChainPem(chain);
  const pki::CertificateInfo info = pki::DescribeCertificate(chain.leaf());
  cert.not_after = info.not_after;
  cert.subject_common_name = info.subject_common_name;
  cert.serial_number = info.serial_number;
  cert.not_before = info.not_before;
  CG_ASSIGN_OR_RETURN(auto blob, vault.Seal(der.span(), cert.id));
  CG_ASSIGN_OR_RETURN(uint32_t version, seal::KeyVault::BlobKeyVersion(blob));
  cert.private_key = store::SealedKey{version, std::move(blob)};
  CG_RETURN_IF_ERROR(certificates.InsertCertificate(cert));
  // Only over the id read above: a node started beside this one may have
  // made one meanwhile, and every node must serve the same default.
  CG_ASSIGN_OR_RETURN(bool won,
                      settings.CompareAndSetSetting(kDefaultCertificateSetting, current_id, cert.id));
  if (!won) {
    if (auto removed = certificates.DeleteCertificate("", cert.id); !removed.ok()) {
      spdlog::warn("could not remove the unused default certificate {}: {}", cert.id,
                   removed.error().message);
    }
    CG_ASSIGN_OR_RETURN(auto winner, settings.GetSetting(kDefaultCertificateSetting));
    if (!winner) {
      return MakeError(ErrorCode::kStoreConflict,
                       "the default certificate setting was removed while certgate started; "
                       "start again");
    }
    return *winner;
  }
  if (current_id) {
    auto removed = certificates.DeleteCertificate("", *current_id);
    if (!removed.ok() || removed->status != store::DeleteOutcome::Status::kDeleted) {
      spdlog::warn("could not remove the replaced default certificate {}: {}", *current_id,
                   removed.ok() ? "it is in use" : removed.error().message);
    }
  }
  spdlog::info("created the default certificate {} for {} and *.{}", cert.id, base_domain,
               base_domain);
  return cert.id;
}

Result<int64_t> BackfillCertificateSummaries(store::CertificateStore& certificates) {
  int64_t set = 0;
  std::optional<std::string> after;
  while (true) {
    CG_ASSIGN_OR_RETURN(auto page, certificates.ListUnsummarizedCertificates(after, kBackfillPage));
    for (const store::UnsummarizedCertificate& cert : page) {
      auto chain = pki::ParseStoredChain(cert.certificate_pem);
      const std::optional<pki::CertificateInfo> info =
          chain ? std::optional(pki::DescribeCertificate(chain->leaf())) : std::nullopt;
      if (!info || info->serial_number.empty()) {
        // It stays unknown (absent to filters), and is tried again next start.
        spdlog::warn("certificate {}: cannot read its stored leaf ({}); list filters on "
                     "subject_common_name, serial_number and not_before will not match it",
                     cert.id, chain ? "no serial number" : chain.error().message);
        continue;
      }
      const store::CertificateSummary summary{info->subject_common_name, info->serial_number,
                                              info->not_before};
      CG_ASSIGN_OR_RETURN(bool done, certificates.SetCertificateSummary(cert.id, summary));
      if (done) ++set;
    }
    if (page.size() < static_cast<size_t>(kBackfillPage)) break;
    after = page.back().id;
  }
  if (set > 0) {
    spdlog::info("backfilled subject_common_name, serial_number and not_before of {} "
                 "certificate(s) stored before certgate kept them",
                 set);
  }
  return set;
}

Result<store::Account> CreateAccount(store::AccountStore& accounts, std::string_view name,
                                     store::Plan plan, Time now) {
  if (name.empty() || name.size() > 255) {
    return MakeError(ErrorCode::kConfigInvalid,
                     "the account name must be 1 to 255 bytes long");
  }
  store::Account account{NewId("acct"), std::string(name), plan, now};
  CG_RETURN_IF_ERROR(accounts.CreateAccount(account));
  return account;
}

Result<std::optional<FirstAccount>> EnsureFirstAccount(store::AccountStore& accounts, Time now) {
  CG_ASSIGN_OR_RETURN(int64_t count, accounts.CountAccounts());
  if (count > 0) return std::optional<FirstAccount>();
  // Account and key in one transaction that writes only on an empty store:
  // of nodes started at once, one makes them and the others find accounts.
  store::Account account{NewId("acct"), "default", store::Plan::kPayg, now};
  api::CreatedApiKey key = api::MakeApiKey(account.id, "created on first start");
  CG_ASSIGN_OR_RETURN(bool created,
                      accounts.CreateFirstAccount(account, key.key, api::HashApiToken(key.token)));
  if (!created) return std::optional<FirstAccount>();
  return std::optional<FirstAccount>(FirstAccount{std::move(account), std::move(key)});
}

}  // namespace certgate::app
