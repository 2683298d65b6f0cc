#include "provision/manager.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "acme/client.h"
#include "core/ids.h"
#include "dns/required_records.h"
#include "dns/resolver.h"
#include "names/domain_name.h"
#include "pki/certificate.h"
#include "pki/generate.h"
#include "pki/private_key.h"
#include "seal/key_vault.h"

namespace certgate::provision {
namespace {

using std::chrono::seconds;

// How many domains one scheduler pass turns into jobs, and how often it runs.
constexpr int kJobsPerPass = 200;
constexpr auto kTick = std::chrono::seconds(1);
// A claimed job is this runner's until then; attempts end well before.
constexpr auto kLease = std::chrono::minutes(30);

constexpr std::string_view kDnsError = "DNS_ERROR";
constexpr std::string_view kInternalError = "INTERNAL_ERROR";

// Whether a failure is the user's to fix (records missing, validation failed,
// a name or CAA record the CA refuses) rather than a transient one on our
// side or the CA's.
bool IsUsersToFix(const Error& error) {
  if (error.code == ErrorCode::kDnsRecordMissing || error.code == ErrorCode::kAcmeOrderFailed) {
    return true;
  }
  return acme::IsProblem(error, "rejectedIdentifier") || acme::IsProblem(error, "caa") ||
         acme::IsProblem(error, "dns");
}

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

// The longest a CA's Retry-After may park a job.
constexpr auto kMaxRetryAfter = std::chrono::hours(24 * 7);

double Jitter() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

Result<store::SealedKey> SealKey(seal::KeyVault& vault, EVP_PKEY* key, std::string_view id) {
  CG_ASSIGN_OR_RETURN(SecretBytes der, pki::EncodePrivateKeyDer(key));
  CG_ASSIGN_OR_RETURN(auto blob, vault.Seal(der.span(), id));
  CG_ASSIGN_OR_RETURN(uint32_t version, seal::KeyVault::BlobKeyVersion(blob));
  return store::SealedKey{version, std::move(blob)};
}

Result<pki::EvpPkeyPtr> UnsealKey(seal::KeyVault& vault, const store::SealedKey& sealed,
                                  std::string_view id) {
  CG_ASSIGN_OR_RETURN(SecretBytes der, vault.Unseal(sealed.blob, id));
  return pki::DecodePrivateKeyDer(der.span());
}

}  // namespace

struct Manager::Account {
  std::string id;
  std::string url;
  pki::EvpPkeyPtr key;
};

Manager::Manager(ManagerOptions options, store::Store& store, seal::KeyVault& vault,
                 const Clock& clock)
    : options_(std::move(options)), store_(store), vault_(vault), clock_(clock) {}

Result<std::unique_ptr<Manager>> Manager::Create(ManagerOptions options, store::Store& store,
                                                 seal::KeyVault& vault, const Clock& clock) {
  if (options.concurrency < 1) {
    return MakeError(ErrorCode::kConfigInvalid, "--acme-concurrency must be at least 1");
  }
  if (options.node_id.empty()) {
    return MakeError(ErrorCode::kConfigInvalid, "the certificate manager needs a node id");
  }
  std::unique_ptr<Manager> m(new Manager(std::move(options), store, vault, clock));
  acme::ClientOptions client_options;
  client_options.directory_url = m->options_.directory_url;
  client_options.ca_file = m->options_.ca_file;
  CG_ASSIGN_OR_RETURN(m->acme_, acme::Client::Create(client_options));
  dns::ResolverOptions resolver_options;
  resolver_options.server = m->options_.resolver;
  auto resolver = dns::Resolver::Create(resolver_options);
  if (resolver) {
    m->resolver_ = std::make_unique<dns::Resolver>(std::move(*resolver));
  } else if (m->options_.resolver) {
    return resolver.error();  // --resolver was given and is wrong
  } else {
    // No usable /etc/resolv.conf: serve runs; managed domains report it.
    m->resolver_error_ = resolver.error().message;
    spdlog::warn("acme: no DNS resolver ({}); managed domains wait until --resolver is given",
                 m->resolver_error_);
  }
  return m;
}

Manager::~Manager() { Stop(); }

Result<void> Manager::Start() {
  CG_RETURN_IF_ERROR(store_.ReleaseJobLeases(options_.node_id));
  scheduler_ = std::thread([this] { SchedulerLoop(); });
  for (int i = 0; i < options_.concurrency; ++i) {
    workers_.emplace_back([this] {
      for (;;) {
        store::ProvisioningJob job;
        {
          std::unique_lock lock(mu_);
          cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
          if (stop_) return;
          job = std::move(queue_.back());
          queue_.pop_back();
          ++running_;
        }
        RunJob(std::move(job));
        {
          std::lock_guard lock(mu_);
          --running_;
          wake_ = true;
        }
        cv_.notify_all();
      }
    });
  }
  return {};
}

void Manager::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stop_ && !scheduler_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (scheduler_.joinable()) scheduler_.join();
  for (auto& w : workers_) {
    if (w.joinable()) w.join();
  }
  workers_.clear();
  // Queued but unstarted jobs keep their lease until the next start releases it.
}

void Manager::Wake() {
  {
    std::lock_guard lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

bool Manager::stopping() const {
  std::lock_guard lock(mu_);
  return stop_;
}

void Manager::SchedulerLoop() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, kTick, [this] { return stop_ || wake_; });
      if (stop_) return;
      wake_ = false;
    }
    if (auto r = CreateJobs(); !r) {
      spdlog::error("acme: looking for domains that need certificates failed: {}",
                    r.error().message);
    }
    int free_slots;
    {
      std::lock_guard lock(mu_);
      free_slots = options_.concurrency - running_ - static_cast<int>(queue_.size());
    }
    if (free_slots <= 0) continue;
    const Time now = clock_.Now();
    auto jobs = store_.ClaimDueJobs(options_.node_id, now, now + kLease, free_slots);
    if (!jobs) {
      spdlog::error("acme: claiming provisioning jobs failed: {}", jobs.error().message);
      continue;
    }
    if (jobs->empty()) continue;
    {
      std::lock_guard lock(mu_);
      for (auto& job : *jobs) queue_.push_back(std::move(job));
    }
    cv_.notify_all();
  }
}

Result<void> Manager::CreateJobs() {
  const Time now = clock_.Now();
  CG_ASSIGN_OR_RETURN(auto domains, store_.ListDomainsNeedingCertificates(now, kJobsPerPass));
  for (const store::Domain& d : domains) {
    store::ProvisioningJob job;
    job.id = NewId("job");
    job.domain_id = d.id;
    job.account_id = d.account_id;
    job.domain = d.domain;
    job.key_type = d.policy->private_key_type;
    job.renewal = d.certificate_id.has_value() && d.issued_key_type == job.key_type;
    job.started_at = now;
    job.msg = job.renewal ? "renewing the certificate" : "waiting to start";
    job.next_run_at = now;
    CG_ASSIGN_OR_RETURN(bool inserted, store_.InsertProvisioningJob(job));
    if (inserted) {
      spdlog::info("acme: {} for {} ({})", job.renewal ? "renewal" : "provisioning", d.domain,
                   job.id);
    }
  }
  return {};
}

std::chrono::seconds Manager::Backoff(int failures) const {
  const int doublings = std::clamp(failures - 1, 0, 20);
  const double base = static_cast<double>(options_.retry_min.count()) * std::pow(2.0, doublings);
  const double capped = std::min(base, static_cast<double>(options_.retry_max.count()));
  // Up to a quarter more, so that many jobs failing together spread out;
  // rounded to whole seconds at random (stochastically), so that short
  // delays spread too rather than all truncating to the same second.
  const double jittered = capped * (1.0 + 0.25 * Jitter());
  return seconds(static_cast<int64_t>(std::floor(jittered + Jitter())));
}

Result<void> Manager::RecordProgress(store::ProvisioningJob& job, std::string msg) {
  job.msg = std::move(msg);
  job.error_code.reset();
  job.retries_at.reset();
  // Each step renews the hold, so that no other runner takes the job over.
  CG_ASSIGN_OR_RETURN(bool exists, store_.UpdateProvisioningJob(job, clock_.Now() + kLease));
  if (!exists) {
    return MakeError(ErrorCode::kNotFound, "the job was cancelled (the domain changed)");
  }
  return {};
}

void Manager::RecordFailure(store::ProvisioningJob& job, const Error& error) {
  ++job.failures;
  seconds delay = Backoff(job.failures);
  if (error.retry_after) {
    delay = std::max(delay, std::min<seconds>(*error.retry_after, kMaxRetryAfter));
  }
  const Time now = clock_.Now();
  job.msg = error.code == ErrorCode::kAcmeUnreachable
                ? "could not reach the certificate authority: " + error.message
                : error.message;
  job.error_code = std::string(IsUsersToFix(error) ? kDnsError : kInternalError);
  job.retries_at = now + delay;
  job.next_run_at = now + delay;
  auto r = store_.UpdateProvisioningJob(job, std::nullopt);
  if (!r) {
    spdlog::error("acme: recording the failure of {} failed: {}", job.id, r.error().message);
  }
  spdlog::warn("acme: {} for {} failed (attempt {}), retrying in {} s: {}", job.id, job.domain,
               job.failures, delay.count(), error.message);
}

void Manager::RunJob(store::ProvisioningJob job) {
  auto r = Work(job);
  if (r) return;
  if (r.error().code == ErrorCode::kNotFound) {
    spdlog::info("acme: {} for {} ended: {}", job.id, job.domain, r.error().message);
    return;
  }
  if (stopping()) {
    // Not a failure: the next start resumes the job where it stands.
    spdlog::info("acme: {} for {} paused for shutdown", job.id, job.domain);
    return;
  }
  RecordFailure(job, r.error());
}

Result<void> Manager::CheckDnsRecords(const store::Domain& domain) {
  if (!domain.cname_target) return {};  // under the service's own domain
  if (!resolver_) {
    return MakeError(ErrorCode::kConfigInvalid,
                     fmt::format("certgate has no DNS resolver to check the domain's records "
                                 "({}); start it with --resolver",
                                 resolver_error_));
  }
  for (const dns::RequiredRecord& record : dns::RequiredRecords(
           domain.domain, domain.cname_target, domain.acme_challenge_cname_target)) {
    CG_ASSIGN_OR_RETURN(dns::RecordCheck check, dns::CheckRecord(*resolver_, record));
    if (check.state != dns::RecordState::kPresent) {
      return MakeError(ErrorCode::kDnsRecordMissing, dns::DescribeProblem(record, check));
    }
  }
  return {};
}

Result<Manager::Account> Manager::EnsureAccount() {
  std::lock_guard lock(account_mu_);
  CG_ASSIGN_OR_RETURN(auto stored, store_.GetAcmeAccount(options_.directory_url));
  if (stored) {
    CG_ASSIGN_OR_RETURN(auto key, UnsealKey(vault_, stored->key, stored->id));
    return Account{stored->id, stored->account_url, std::move(key)};
  }
  CG_ASSIGN_OR_RETURN(auto key, pki::GenerateKey(pki::GeneratedKeyType::kEcdsaP256));
  acme::AccountOptions account_options;
  account_options.contacts = options_.contacts;
  account_options.terms_agreed = true;
  account_options.eab = options_.eab;
  CG_ASSIGN_OR_RETURN(std::string url, acme_->RegisterAccount(key.get(), account_options));
  store::AcmeAccount record;
  record.id = NewId("acmeacct");
  record.directory_url = options_.directory_url;
  record.account_url = url;
  record.created_at = clock_.Now();
  CG_ASSIGN_OR_RETURN(record.key, SealKey(vault_, key.get(), record.id));
  CG_RETURN_IF_ERROR(store_.InsertAcmeAccount(record));
  spdlog::info("acme: registered account {} at {}", url, options_.directory_url);
  return Account{record.id, url, std::move(key)};
}

void Manager::ForgetAccount(const std::string& id) {
  std::lock_guard lock(account_mu_);
  auto r = store_.DeleteAcmeAccount(id);
  if (!r) spdlog::error("acme: forgetting account {} failed: {}", id, r.error().message);
}

Time Manager::RenewalTime(X509* leaf, const pki::CertificateInfo& info) {
  // Inside the CA's ACME Renewal Information window when it offers one, at a
  // random point (RFC 9773 §4.2)...
  auto window = acme_->GetRenewalInfo(leaf);
  if (!window) {
    spdlog::warn("acme: renewal information for {} unavailable, renewing at two thirds of its "
                 "lifetime: {}",
                 info.subject_common_name, window.error().message);
  } else if (*window) {
    const auto span = (*window)->end - (*window)->start;
    const Time at = (*window)->start +
                    std::chrono::duration_cast<Time::duration>(span * Jitter());
    return std::max(at, clock_.Now());
  }
  // ...else at two thirds of the lifetime, less up to a thirtieth for jitter.
  const auto lifetime = info.not_after - info.not_before;
  const auto jitter = std::chrono::duration_cast<Time::duration>(lifetime * (Jitter() / 30.0));
  return info.not_before + lifetime * 2 / 3 - jitter;
}

Result<void> Manager::Work(store::ProvisioningJob& job) {
  // The domain as it is now: it may have changed since the job was made.
  CG_ASSIGN_OR_RETURN(auto domain, store_.GetDomain(job.account_id, job.domain_id));
  if (!domain || !domain->policy || domain->policy->private_key_type != job.key_type) {
    CG_RETURN_IF_ERROR(store_.DeleteProvisioningJob(job.id));
    return MakeError(ErrorCode::kNotFound, "the domain's policy changed; the job is dropped");
  }
  const bool wildcard = names::IsWildcard(domain->domain);

  CG_RETURN_IF_ERROR(RecordProgress(job, "checking the domain's DNS records"));
  CG_RETURN_IF_ERROR(CheckDnsRecords(*domain));

  CG_ASSIGN_OR_RETURN(Account account, EnsureAccount());
  const acme::AccountRef ref{account.key.get(), account.url};

  // The certificate's key: made once, kept sealed in the job.
  pki::EvpPkeyPtr key;
  if (job.private_key) {
    CG_ASSIGN_OR_RETURN(key, UnsealKey(vault_, *job.private_key, job.id));
  } else {
    CG_ASSIGN_OR_RETURN(key, pki::GenerateKey(job.key_type == "rsa"
                                                  ? pki::GeneratedKeyType::kRsa4096
                                                  : pki::GeneratedKeyType::kEcdsaP256));
    CG_ASSIGN_OR_RETURN(job.private_key, SealKey(vault_, key.get(), job.id));
  }

  // Resume the order this job made, unless the CA gave up on it.
  std::optional<acme::Order> order;
  if (!job.order_url.empty()) {
    auto resumed = acme_->GetOrder(ref, job.order_url);
    if (resumed) {
      if (resumed->status != "invalid") order = std::move(*resumed);
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
  if (!order) {
    CG_RETURN_IF_ERROR(RecordProgress(job, "ordering a certificate"));
    auto made = acme_->NewOrder(ref, {domain->domain});
    if (!made) {
      if (acme::IsProblem(made.error(), "accountDoesNotExist")) ForgetAccount(account.id);
      return made.error();
    }
    order = std::move(*made);
    job.order_url = order->url;
    CG_RETURN_IF_ERROR(RecordProgress(job, "answering the CA's challenges"));
  }

  const auto deadline = std::chrono::steady_clock::now() + options_.attempt_timeout;
  auto wait = [&](std::optional<seconds> retry_after) -> Result<void> {
    if (std::chrono::steady_clock::now() >= deadline) {
      return MakeError(ErrorCode::kAcmeTimedOut,
                       fmt::format("the CA did not finish the order for {} within {} s; "
                                   "continuing later",
                                   job.domain, options_.attempt_timeout.count()));
    }
    // The CA's Retry-After, within reason for a job that waits in a worker.
    const seconds pause = retry_after ? std::clamp(*retry_after, seconds(1), seconds(30))
                                      : options_.poll_interval;
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, pause, [this] { return stop_; })) {
      return MakeError(ErrorCode::kAcmeTimedOut, "certgate is stopping; continuing after restart");
    }
    return {};
  };
  auto order_failed = [&](const std::optional<acme::Problem>& problem) {
    job.order_url.clear();  // the next attempt makes a new order
    // Domain problems are the user's to fix (DNS_ERROR); the CA's own are not.
    return MakeError(IsDomainProblem(problem) ? ErrorCode::kAcmeOrderFailed
                                              : ErrorCode::kAcmeProblem,
                     fmt::format("the CA could not validate {}: {}", job.domain,
                                 problem ? acme::DescribeProblem(*problem)
                                         : "the order became invalid"));
  };

  // Challenges: answer each pending authorization, then wait for it.
  if (order->status == "pending") {
    for (const std::string& authz_url : order->authorizations) {
      CG_ASSIGN_OR_RETURN(auto authz, acme_->GetAuthorization(ref, authz_url));
      if (authz.status == "valid") continue;
      if (authz.status != "pending") {
        auto failed = std::find_if(authz.challenges.begin(), authz.challenges.end(),
                                   [](const acme::Challenge& c) { return c.error.has_value(); });
        return order_failed(failed != authz.challenges.end() ? failed->error : std::nullopt);
      }
      const std::string type = wildcard ? "dns-01" : "http-01";
      auto challenge =
          std::find_if(authz.challenges.begin(), authz.challenges.end(),
                       [&](const acme::Challenge& c) { return c.type == type; });
      if (challenge == authz.challenges.end()) {
        return MakeError(ErrorCode::kAcmeBadResponse,
                         fmt::format("the CA offers no {} challenge for {}", type, job.domain));
      }
      if (type == "http-01") {
        CG_ASSIGN_OR_RETURN(std::string key_auth,
                            acme::Client::KeyAuthorization(account.key.get(), challenge->token));
        CG_RETURN_IF_ERROR(store_.PutHttp01Challenge({challenge->token, key_auth, job.id}));
      } else {
        if (!domain->acme_challenge_cname_target) {
          return MakeError(ErrorCode::kInternal,
                           fmt::format("{} needs DNS-01 but has no acme_challenge_cname_target",
                                       job.domain));
        }
        CG_ASSIGN_OR_RETURN(std::string value,
                            acme::Client::Dns01TxtValue(account.key.get(), challenge->token));
        CG_RETURN_IF_ERROR(
            store_.PutDnsTxtRecord(*domain->acme_challenge_cname_target, value, job.id));
      }
      if (challenge->status == "pending") {
        CG_RETURN_IF_ERROR(acme_->RespondToChallenge(ref, challenge->url));
      }
      CG_RETURN_IF_ERROR(RecordProgress(
          job, fmt::format("waiting for the CA to check {} ({})", job.domain, type)));
      for (;;) {
        CG_ASSIGN_OR_RETURN(authz, acme_->GetAuthorization(ref, authz_url));
        if (authz.status == "valid") break;
        if (authz.status != "pending") {
          auto it = std::find_if(authz.challenges.begin(), authz.challenges.end(),
                                 [&](const acme::Challenge& c) { return c.type == type; });
          return order_failed(it != authz.challenges.end() ? it->error : std::nullopt);
        }
        CG_RETURN_IF_ERROR(wait(authz.retry_after));
      }
    }
  }

  // Issuance: finalize once ready, then wait for the certificate.
  for (;;) {
    CG_ASSIGN_OR_RETURN(*order, acme_->GetOrder(ref, job.order_url));
    if (order->status == "valid") break;
    if (order->status == "invalid") return order_failed(order->error);
    if (order->status == "ready") {
      CG_RETURN_IF_ERROR(RecordProgress(job, "requesting the certificate"));
      CG_ASSIGN_OR_RETURN(auto csr, pki::MakeCsr(key.get(), {domain->domain}));
      CG_ASSIGN_OR_RETURN(*order, acme_->Finalize(ref, order->finalize, csr));
      if (order->status == "valid") break;
      if (order->status == "invalid") return order_failed(order->error);
    }
    CG_RETURN_IF_ERROR(wait(order->retry_after));
  }
  if (order->certificate.empty()) {
    return MakeError(ErrorCode::kAcmeBadResponse, "the CA's valid order has no certificate URL");
  }
  CG_ASSIGN_OR_RETURN(auto issued, acme_->DownloadCertificate(ref, order->certificate));

  // What the CA sent must be a proper chain for our key and name.
  CG_ASSIGN_OR_RETURN(pki::Chain chain, pki::ParseCertificateBundle(issued.pem));
  CG_RETURN_IF_ERROR(pki::CheckChainOrder(chain));
  CG_RETURN_IF_ERROR(pki::CheckKeyMatchesCertificate(key.get(), chain.leaf()));
  if (!pki::CertificateCoversDomain(chain.leaf(), domain->domain)) {
    return MakeError(ErrorCode::kAcmeBadResponse,
                     fmt::format("the CA issued a certificate that does not cover {}",
                                 domain->domain));
  }
  const pki::CertificateInfo info = pki::DescribeCertificate(chain.leaf());

  store::Certificate cert;
  cert.id = NewId("cert");
  cert.account_id = job.account_id;
  cert.created_at = clock_.Now();
  cert.description = fmt::format("issued automatically for {}", domain->domain);
  cert.certificate_pem = pki::EncodeChainPem(chain);
  cert.issued_at = cert.created_at;
  cert.not_after = info.not_after;
  CG_ASSIGN_OR_RETURN(cert.private_key, SealKey(vault_, key.get(), cert.id));

  const Time renews_at = RenewalTime(chain.leaf(), info);

  CG_ASSIGN_OR_RETURN(bool attached, store_.CompleteProvisioningJob(job, cert, renews_at));
  if (!attached) {
    return MakeError(ErrorCode::kNotFound, "the domain's policy changed before the certificate "
                                           "arrived; it was not attached");
  }
  spdlog::info("acme: issued {} for {} (expires {}, renews at {})", cert.id, domain->domain,
               FormatRfc3339(info.not_after), FormatRfc3339(renews_at));
  return {};
}

}  // namespace certgate::provision
