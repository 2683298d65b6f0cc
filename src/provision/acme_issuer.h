// AcmeIssuer: the Issuer that speaks RFC 8555 to one ACME CA through
// acme::Client. It keeps certgate's account at that CA in the store (made on
// first use, its key sealed; forgotten when the CA no longer knows it),
// resumes a job's order while the CA still has it, answers each pending
// authorization with the job's Solver, polls through IssueProgress::Pause,
// finalizes with a CSR for the job's key and downloads the chain. Renewal
// windows come from ACME Renewal Information (RFC 9773) when the CA offers it.
//
// Thread-safe: jobs share one AcmeIssuer; account registration is serialized.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "acme/client.h"
#include "core/time.h"
#include "pki/ossl_ptr.h"
#include "provision/issuer.h"
#include "seal/key_vault.h"
#include "store/acme_account_store.h"

namespace certgate::provision {

struct AcmeIssuerOptions {
  std::string directory_url;          // the CA "letsencrypt" maps to
  std::string ca_file;                // extra trust for the CA's own HTTPS
  std::vector<std::string> contacts;  // "mailto:..." for the ACME account
  std::optional<acme::ExternalAccountBinding> eab;  // for CAs that require one
  // Told of every request to the CA (acme::ClientOptions::observe).
  std::function<void(std::string_view endpoint, int status, std::chrono::duration<double> took)>
      observe;
};

class AcmeIssuer final : public Issuer {
 public:
  // Errors: the client's (kConfigInvalid: a bad directory URL or ca_file).
  // accounts, vault and clock must outlive the issuer.
  static Result<std::unique_ptr<AcmeIssuer>> Create(AcmeIssuerOptions options,
                                                    store::AcmeAccountStore& accounts,
                                                    seal::KeyVault& vault, const Clock& clock);

  Result<std::string> Issue(const IssueRequest& request, Solver& solver,
                            IssueProgress& progress) override;
  Result<std::optional<RenewalWindow>> GetRenewalWindow(X509* leaf) override;

 private:
  struct Account {
    std::string id;
    std::string url;
    pki::EvpPkeyPtr key;
  };

  AcmeIssuer(AcmeIssuerOptions options, std::unique_ptr<acme::Client> client,
             store::AcmeAccountStore& accounts, seal::KeyVault& vault, const Clock& clock);

  Result<Account> EnsureAccount();
  // Stores a new account key for the directory, with no URL yet; the
  // account another node stored first if it won. REQUIRES: account_mu_.
  Result<std::optional<store::AcmeAccount>> StoreAccountKey();
  void ForgetAccount(const std::string& id);
  // The order to work on: the resumed one, or a new one.
  Result<acme::Order> ResumeOrOrder(const IssueRequest& request, const Account& account,
                                    IssueProgress& progress);
  // Answers one authorization and waits until the CA decides it.
  Result<void> Authorize(const IssueRequest& request, const Account& account,
                         const std::string& authz_url, Solver& solver, IssueProgress& progress);

  const AcmeIssuerOptions options_;
  const std::unique_ptr<acme::Client> client_;
  store::AcmeAccountStore& accounts_;
  seal::KeyVault& vault_;
  const Clock& clock_;
  std::mutex account_mu_;  // one registration at a time
  // The CA's URL for a stored account whose row has none (one made by
  // EnsureAccount: see there), once this process registered its key.
  std::string registered_id_;   // GUARDED_BY(account_mu_)
  std::string registered_url_;  // GUARDED_BY(account_mu_)
};

}  // namespace certgate::provision
