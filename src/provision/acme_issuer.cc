#include "provision/acme_issuer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/ids.h"
#include "pki/generate.h"
#include "provision/sealed_private_key.h"

namespace certgate::provision {
namespace {

// Whether a failed challenge's problem is about the domain (its records, or
// what answered at it) rather than the CA's own trouble.
bool IsDomainProblem(const std::optional<acme::Problem>& problem) {
  if (!problem) return true;  // invalid without a reason: assume the domain
  static constexpr std::string_view kDomainTypes[] = {
      "dns", "caa", "connection", "incorrectResponse", "unauthorized", "rejectedIdentifier",
      "tls"};
  const std::string suffix = problem->TypeSuffix();
  return std::find(std::begin(kDomainTypes), std::end(kDomainTypes), suffix) !=
         std::end(kDomainTypes);
}

// The error for an order or authorization the CA gave up on; the next
// attempt makes a new order. Domain problems are the user's to fix
// (kAcmeOrderFailed, shown as DNS_ERROR); the CA's own are not.
Error OrderFailed(const IssueRequest& request, IssueProgress& progress,
                  const std::optional<acme::Problem>& problem) {
  progress.SetOrder("");
  return MakeError(
      IsDomainProblem(problem) ? ErrorCode::kAcmeOrderFailed : ErrorCode::kAcmeProblem,
      fmt::format("the CA could not validate {}: {}", request.domain,
                  problem ? acme::DescribeProblem(*problem) : "the order became invalid"));
}

// Calls CleanUp for a presented challenge when the authorization's attempt
// ends, however it ends, unless told to keep the answer (see Solver).
class CleanUpGuard {
 public:
  CleanUpGuard(Solver& solver, const Challenge& challenge)
      : solver_(solver), challenge_(challenge) {}
  ~CleanUpGuard() {
    if (keep_) return;
    if (auto r = solver_.CleanUp(challenge_); !r) {
      spdlog::warn("acme: cleaning up the {} answer for {} failed: {}",
                   ChallengeTypeName(challenge_.type), challenge_.identifier, r.error().message);
    }
  }
  CleanUpGuard(const CleanUpGuard&) = delete;
  CleanUpGuard& operator=(const CleanUpGuard&) = delete;

  // Whether the answer stays when the attempt ends. Default: it goes.
  void Keep(bool keep) { keep_ = keep; }

 private:
  Solver& solver_;
  const Challenge& challenge_;
  bool keep_ = false;
};

}  // namespace

AcmeIssuer::AcmeIssuer(AcmeIssuerOptions options, std::unique_ptr<acme::Client> client,
                       store::AcmeAccountStore& accounts, seal::KeyVault& vault, const Clock& clock)
    : options_(std::move(options)),
      client_(std::move(client)),
      accounts_(accounts),
      vault_(vault),
      clock_(clock) {}

Result<std::unique_ptr<AcmeIssuer>> AcmeIssuer::Create(AcmeIssuerOptions options,
                                                       store::AcmeAccountStore& accounts,
                                                       seal::KeyVault& vault, const Clock& clock) {
  acme::ClientOptions client_options;
  client_options.directory_url = options.directory_url;
  client_options.ca_file = options.ca_file;
  client_options.observe = options.observe;
  CG_ASSIGN_OR_RETURN(auto client, acme::Client::Create(client_options));
  return std::unique_ptr<AcmeIssuer>(
      new AcmeIssuer(std::move(options), std::move(client), accounts, vault, clock));
}

// The account key goes into the store before the CA hears of it, so that
// nodes of a cluster starting together end up with one account: the first
// insert wins, and every node registers the winner's key, which the CA
// answers with the same account each time (RFC 8555 section 7.3.1). Such a
// row keeps no URL; each process learns it by registering the key once.
Result<AcmeIssuer::Account> AcmeIssuer::EnsureAccount() {
  std::lock_guard lock(account_mu_);
  CG_ASSIGN_OR_RETURN(auto stored, accounts_.GetAcmeAccount(options_.directory_url));
  if (!stored) {
    CG_ASSIGN_OR_RETURN(stored, StoreAccountKey());
  }
  Account account{stored->id, stored->account_url, nullptr};
  CG_ASSIGN_OR_RETURN(account.key, UnsealPrivateKey(vault_, stored->key, stored->id));
  if (!account.url.empty()) return account;
  if (registered_id_ == account.id) {
    account.url = registered_url_;
    return account;
  }
  acme::AccountOptions account_options;
  account_options.contacts = options_.contacts;
  account_options.terms_agreed = true;
  account_options.eab = options_.eab;
  CG_ASSIGN_OR_RETURN(account.url, client_->RegisterAccount(account.key.get(), account_options));
  registered_id_ = account.id;
  registered_url_ = account.url;
  spdlog::info("acme: using account {} at {}", account.url, options_.directory_url);
  return account;
}

Result<std::optional<store::AcmeAccount>> AcmeIssuer::StoreAccountKey() {
  store::AcmeAccount record;
  record.id = NewId("acmeacct");
  record.directory_url = options_.directory_url;
  record.created_at = clock_.Now();
  {
    CG_ASSIGN_OR_RETURN(auto key, pki::GenerateKey(pki::GeneratedKeyType::kEcdsaP256));
    CG_ASSIGN_OR_RETURN(record.key, SealPrivateKey(vault_, key.get(), record.id));
  }
  auto inserted = accounts_.InsertAcmeAccount(record);
  if (inserted) return std::optional<store::AcmeAccount>(std::move(record));
  if (inserted.error().code != ErrorCode::kStoreConflict) return std::move(inserted).error();
  // Another node stored its key first: that one is the account.
  CG_ASSIGN_OR_RETURN(auto winner, accounts_.GetAcmeAccount(options_.directory_url));
  if (!winner) {
    return MakeError(ErrorCode::kStoreConflict,
                     "the ACME account changed while it was being made; trying again later");
  }
  return winner;
}

void AcmeIssuer::ForgetAccount(const std::string& id) {
  std::lock_guard lock(account_mu_);
  if (registered_id_ == id) registered_id_.clear();
  auto r = accounts_.DeleteAcmeAccount(id);
  if (!r) spdlog::error("acme: forgetting account {} failed: {}", id, r.error().message);
}

Result<acme::Order> AcmeIssuer::ResumeOrOrder(const IssueRequest& request,
                                              const Account& account, IssueProgress& progress) {
  const acme::AccountRef ref{account.key.get(), account.url};
  // Resume the order this job made, unless the CA gave up on it.
  if (!request.order_url.empty()) {
    auto resumed = client_->GetOrder(ref, request.order_url);
    if (resumed) {
      if (resumed->status != "invalid") {
        spdlog::info("acme: {} resumes order {} for {} ({})", request.job_id, request.order_url,
                     request.domain, resumed->status);
        return std::move(*resumed);
      }
    } else if (acme::IsProblem(resumed.error(), "accountDoesNotExist")) {
      ForgetAccount(account.id);
      return resumed.error();
    } else if (resumed.error().code == ErrorCode::kAcmeUnreachable ||
               resumed.error().code == ErrorCode::kAcmeRateLimited) {
      // Try this order again later rather than pile up new ones at the CA.
      return resumed.error();
    }
    // Otherwise the CA no longer knows the order (a 404, or not for this
    // account after it forgot the old one): make a new one.
  }
  CG_RETURN_IF_ERROR(progress.Step("ordering a certificate"));
  auto made = client_->NewOrder(ref, {request.domain});
  if (!made) {
    if (acme::IsProblem(made.error(), "accountDoesNotExist")) ForgetAccount(account.id);
    return made.error();
  }
  spdlog::info("acme: {} ordered {} for {}", request.job_id, made->url, request.domain);
  progress.SetOrder(made->url);
  CG_RETURN_IF_ERROR(progress.Step("answering the CA's challenges"));
  return std::move(*made);
}

Result<void> AcmeIssuer::Authorize(const IssueRequest& request, const Account& account,
                                   const std::string& authz_url, Solver& solver,
                                   IssueProgress& progress) {
  const acme::AccountRef ref{account.key.get(), account.url};
  CG_ASSIGN_OR_RETURN(auto authz, client_->GetAuthorization(ref, authz_url));
  if (authz.status == "valid") return {};
  if (authz.status != "pending") {
    auto failed = std::find_if(authz.challenges.begin(), authz.challenges.end(),
                               [](const acme::Challenge& c) { return c.error.has_value(); });
    return OrderFailed(request, progress,
                       failed != authz.challenges.end() ? failed->error : std::nullopt);
  }
  const std::string_view type = ChallengeTypeName(request.challenge_type);
  const acme::Challenge* offered = authz.Find(type);
  if (!offered) {
    return MakeError(ErrorCode::kAcmeBadResponse,
                     fmt::format("the CA offers no {} challenge for {}", type, request.domain));
  }
  Challenge challenge;
  challenge.type = request.challenge_type;
  challenge.job_id = request.job_id;
  challenge.identifier = authz.identifier;
  challenge.token = offered->token;
  CG_ASSIGN_OR_RETURN(challenge.key_authorization,
                      acme::Client::KeyAuthorization(account.key.get(), offered->token));
  if (request.challenge_type == ChallengeType::kDns01) {
    CG_ASSIGN_OR_RETURN(challenge.dns01_txt_value,
                        acme::Client::Dns01TxtValue(account.key.get(), offered->token));
    challenge.dns01_record_name = request.dns01_record_name;
  }

  CleanUpGuard clean_up(solver, challenge);
  CG_RETURN_IF_ERROR(solver.Present(challenge));
  CG_RETURN_IF_ERROR(solver.Wait(challenge));
  // The CA may check the answer from now on: an attempt that stops before
  // the authorization is decided leaves it for the one that resumes this
  // order, and only a decision withdraws it.
  clean_up.Keep(true);
  if (offered->status == "pending") {
    CG_RETURN_IF_ERROR(client_->RespondToChallenge(ref, offered->url));
  }
  CG_RETURN_IF_ERROR(progress.Step(
      fmt::format("waiting for the CA to check {} ({})", request.domain, type)));
  for (;;) {
    CG_ASSIGN_OR_RETURN(authz, client_->GetAuthorization(ref, authz_url));
    if (authz.status != "pending") clean_up.Keep(false);  // decided
    if (authz.status == "valid") return {};
    if (authz.status != "pending") {
      const acme::Challenge* decided = authz.Find(type);
      return OrderFailed(request, progress, decided ? decided->error : std::nullopt);
    }
    CG_RETURN_IF_ERROR(progress.Pause(authz.retry_after));
  }
}

Result<std::string> AcmeIssuer::Issue(const IssueRequest& request, Solver& solver,
                                      IssueProgress& progress) {
  CG_ASSIGN_OR_RETURN(Account account, EnsureAccount());
  const acme::AccountRef ref{account.key.get(), account.url};
  CG_ASSIGN_OR_RETURN(acme::Order order, ResumeOrOrder(request, account, progress));

  // Challenges: answer each pending authorization, then wait for it.
  if (order.status == "pending") {
    for (const std::string& authz_url : order.authorizations) {
      CG_RETURN_IF_ERROR(Authorize(request, account, authz_url, solver, progress));
    }
  }

  // Issuance: finalize once ready, then wait for the certificate. The order
  // is read again by the URL it was made at (a Finalize answer may lack it).
  const std::string order_url = order.url;
  for (;;) {
    CG_ASSIGN_OR_RETURN(order, client_->GetOrder(ref, order_url));
    if (order.status == "valid") break;
    if (order.status == "invalid") return OrderFailed(request, progress, order.error);
    if (order.status == "ready") {
      CG_RETURN_IF_ERROR(progress.Step("requesting the certificate"));
      CG_ASSIGN_OR_RETURN(auto csr, pki::MakeCsr(request.key, {request.domain}));
      CG_ASSIGN_OR_RETURN(order, client_->Finalize(ref, order.finalize, csr));
      if (order.status == "valid") break;
      if (order.status == "invalid") return OrderFailed(request, progress, order.error);
    }
    CG_RETURN_IF_ERROR(progress.Pause(order.retry_after));
  }
  if (order.certificate.empty()) {
    return MakeError(ErrorCode::kAcmeBadResponse, "the CA's valid order has no certificate URL");
  }
  CG_ASSIGN_OR_RETURN(auto issued, client_->DownloadCertificate(ref, order.certificate));
  return std::move(issued.pem);
}

Result<std::optional<RenewalWindow>> AcmeIssuer::GetRenewalWindow(X509* leaf) {
  CG_ASSIGN_OR_RETURN(auto window, client_->GetRenewalInfo(leaf));
  if (!window) return std::optional<RenewalWindow>();
  return std::optional<RenewalWindow>(RenewalWindow{window->start, window->end});
}

}  // namespace certgate::provision
