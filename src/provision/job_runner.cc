#include "provision/job_runner.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "acme/problem.h"
#include "core/ids.h"
#include "dns/required_records.h"
#include "names/domain_name.h"
#include "pki/generate.h"
#include "pki/private_key.h"
#include "provision/sealed_private_key.h"

namespace certgate::provision {
namespace {

using std::chrono::seconds;

constexpr std::string_view kDnsError = "DNS_ERROR";
constexpr std::string_view kInternalError = "INTERNAL_ERROR";

// The longest a CA's Retry-After may park a job.
constexpr auto kMaxRetryAfter = std::chrono::hours(24 * 7);

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

double ThreadRandom() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

}  // namespace

// The job's side of one Issue call: steps recorded in the job (renewing the
// lease), the order kept in it, pauses bounded by the attempt's deadline and
// cut short by RequestStop.
class JobRunner::Progress final : public IssueProgress {
 public:
  Progress(JobRunner& runner, store::ProvisioningJob& job)
      : runner_(runner),
        job_(job),
        deadline_(std::chrono::steady_clock::now() + runner.options_.attempt_timeout) {}

  Result<void> Step(std::string msg) override {
    CG_RETURN_IF_ERROR(runner_.RecordStep(job_, std::move(msg)));
    renewed_at_ = std::chrono::steady_clock::now();
    return {};
  }
  void SetOrder(std::string order_url) override { job_.order_url = std::move(order_url); }
  Result<void> Pause(std::optional<seconds> retry_after) override {
    if (std::chrono::steady_clock::now() >= deadline_) {
      return MakeError(ErrorCode::kAcmeTimedOut,
                       fmt::format("the CA did not finish the order for {} within {} s; "
                                   "continuing later",
                                   job_.domain, runner_.options_.attempt_timeout.count()));
    }
    // The CA's Retry-After, within reason for a job that waits in a worker,
    // and never past the time the lease must be renewed.
    seconds pause = retry_after ? std::clamp(*retry_after, seconds(1), seconds(30))
                                : runner_.options_.poll_interval;
    const auto renew_at = renewed_at_ + runner_.RenewEvery();
    const auto until_renewal =
        std::chrono::ceil<seconds>(renew_at - std::chrono::steady_clock::now());
    pause = std::max(seconds(1), std::min(pause, until_renewal));
    if (!runner_.WaitUnlessStopping(pause)) {
      return MakeError(ErrorCode::kAcmeTimedOut, "certgate is stopping; continuing after restart");
    }
    // A long wait for the CA renews the lease as steps do, so that the job
    // stays this runner's, and ends here if another runner has it now.
    if (std::chrono::steady_clock::now() < renew_at) return {};
    CG_RETURN_IF_ERROR(runner_.WriteHeldJob(job_));
    renewed_at_ = std::chrono::steady_clock::now();
    return {};
  }

 private:
  JobRunner& runner_;
  store::ProvisioningJob& job_;
  const std::chrono::steady_clock::time_point deadline_;
  // When this attempt last renewed the lease (the caller's last step came
  // just before it was made).
  std::chrono::steady_clock::time_point renewed_at_ = std::chrono::steady_clock::now();
};

JobRunner::JobRunner(JobRunnerOptions options, ProvisioningServices services)
    : options_(std::move(options)),
      services_(std::move(services)),
      jobs_(services_.jobs),
      domains_(services_.domains),
      clock_(services_.clock) {}

void JobRunner::RequestStop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
}

bool JobRunner::stopping() const {
  std::lock_guard lock(mu_);
  return stop_;
}

bool JobRunner::WaitUnlessStopping(seconds pause) {
  std::unique_lock lock(mu_);
  return !stop_cv_.wait_for(lock, pause, [this] { return stop_; });
}

double JobRunner::Random() const {
  return services_.random ? services_.random() : ThreadRandom();
}

seconds JobRunner::Backoff(int failures) const {
  const int doublings = std::clamp(failures - 1, 0, 20);
  const double base = static_cast<double>(options_.retry_min.count()) * std::pow(2.0, doublings);
  const double capped = std::min(base, static_cast<double>(options_.retry_max.count()));
  // Up to a quarter more, so that many jobs failing together spread out;
  // rounded to whole seconds at random (stochastically), so that short
  // delays spread too rather than all truncating to the same second.
  const double jittered = capped * (1.0 + 0.25 * Random());
  return seconds(static_cast<int64_t>(std::floor(jittered + Random())));
}

seconds JobRunner::RenewEvery() const { return std::max(seconds(1), options_.lease / 3); }

Result<void> JobRunner::RecordStep(store::ProvisioningJob& job, std::string msg) {
  job.msg = std::move(msg);
  job.error_code.reset();
  job.retries_at.reset();
  // Each step renews the hold, so that no other runner takes the job over.
  return WriteHeldJob(job);
}

Result<void> JobRunner::WriteHeldJob(store::ProvisioningJob& job) {
  CG_ASSIGN_OR_RETURN(bool exists, jobs_.UpdateProvisioningJob(job, clock_.Now() + options_.lease));
  if (!exists) {
    // Gone (the domain changed), or claimed by another runner after this
    // one's lease ran out: either way no longer this runner's to write.
    return MakeError(ErrorCode::kNotFound,
                     "the job was cancelled (the domain changed) or taken over");
  }
  return {};
}

void JobRunner::RecordFailure(store::ProvisioningJob& job, const Error& error) {
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
  auto r = jobs_.UpdateProvisioningJob(job, std::nullopt);
  if (!r) {
    spdlog::error("acme: recording the failure of {} failed: {}", job.id, r.error().message);
  } else if (!*r) {
    ++ended_;
    spdlog::info("acme: {} for {} is gone or taken over; its failure is not recorded", job.id,
                 job.domain);
    return;
  }
  ++(IsUsersToFix(error) ? failed_dns_ : failed_internal_);
  spdlog::warn("acme: {} for {} failed (attempt {}), retrying in {} s: {}", job.id, job.domain,
               job.failures, delay.count(), error.message);
  if (services_.on_failure) services_.on_failure(job, error);
}

JobRunner::Stats JobRunner::stats() const {
  return Stats{issued_.load(), failed_dns_.load(), failed_internal_.load(), ended_.load()};
}

void JobRunner::Run(store::ProvisioningJob job) {
  auto r = Attempt(job);
  if (r) {
    ++issued_;
    return;
  }
  if (r.error().code == ErrorCode::kNotFound) {
    ++ended_;
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

Result<void> JobRunner::CheckDnsRecords(const store::Domain& domain) {
  for (const dns::RequiredRecord& record : dns::RequiredRecords(
           domain.domain, domain.cname_target, domain.acme_challenge_cname_target)) {
    CG_ASSIGN_OR_RETURN(auto found, services_.resolver.LookupCname(record.name));
    const dns::RecordCheck check = dns::JudgeRecord(record, found);
    if (check.state != dns::RecordState::kPresent) {
      return MakeError(ErrorCode::kDnsRecordMissing, dns::DescribeProblem(record, check));
    }
  }
  return {};
}

Time JobRunner::RenewalTime(X509* leaf, const pki::CertificateInfo& info) {
  // Inside the CA's renewal window when it offers one, at a random point
  // (RFC 9773 §4.2)...
  auto window = services_.issuer.GetRenewalWindow(leaf);
  if (!window) {
    spdlog::warn("acme: renewal information for {} unavailable, renewing at two thirds of its "
                 "lifetime: {}",
                 info.subject_common_name, window.error().message);
  } else if (*window) {
    const auto span = (*window)->end - (*window)->start;
    const Time at = (*window)->start +
                    std::chrono::duration_cast<Time::duration>(span * Random());
    return std::max(at, clock_.Now());
  }
  // ...else at two thirds of the lifetime, less up to a thirtieth for jitter.
  const auto lifetime = info.not_after - info.not_before;
  const auto jitter = std::chrono::duration_cast<Time::duration>(lifetime * (Random() / 30.0));
  return info.not_before + lifetime * 2 / 3 - jitter;
}

Result<void> JobRunner::Attempt(store::ProvisioningJob& job) {
  // The domain as it is now: it may have changed since the job was made.
  CG_ASSIGN_OR_RETURN(auto domain, domains_.GetDomain(job.account_id, job.domain_id));
  if (!domain || !domain->policy || domain->policy->private_key_type != job.key_type) {
    CG_RETURN_IF_ERROR(jobs_.DeleteProvisioningJob(job.id));
    return MakeError(ErrorCode::kNotFound, "the domain's policy changed; the job is dropped");
  }

  CG_RETURN_IF_ERROR(RecordStep(job, "checking the domain's DNS records"));
  CG_RETURN_IF_ERROR(CheckDnsRecords(*domain));

  // The certificate's key: made once, kept sealed in the job.
  pki::EvpPkeyPtr key;
  if (job.private_key) {
    CG_ASSIGN_OR_RETURN(key, UnsealPrivateKey(services_.vault, *job.private_key, job.id));
  } else {
    CG_ASSIGN_OR_RETURN(key, pki::GenerateKey(job.key_type == store::KeyType::kRsa
                                                  ? pki::GeneratedKeyType::kRsa4096
                                                  : pki::GeneratedKeyType::kEcdsaP256));
    CG_ASSIGN_OR_RETURN(job.private_key, SealPrivateKey(services_.vault, key.get(), job.id));
  }

  IssueRequest request;
  request.job_id = job.id;
  request.domain = domain->domain;
  request.key = key.get();
  request.order_url = job.order_url;
  // Wildcards can only be validated by DNS-01; everything else by HTTP-01,
  // which needs no delegation of _acme-challenge.
  request.challenge_type =
      names::IsWildcard(domain->domain) ? ChallengeType::kDns01 : ChallengeType::kHttp01;
  request.dns01_record_name = domain->acme_challenge_cname_target.value_or("");
  Solver& solver =
      request.challenge_type == ChallengeType::kDns01 ? services_.dns01 : services_.http01;
  Progress progress(*this, job);
  CG_ASSIGN_OR_RETURN(std::string issued, services_.issuer.Issue(request, solver, progress));

  // What the CA sent must be a proper chain for our key and name.
  CG_ASSIGN_OR_RETURN(pki::Chain chain, pki::ParseCertificateBundle(issued));
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
  cert.subject_common_name = info.subject_common_name;
  cert.serial_number = info.serial_number;
  cert.not_before = info.not_before;
  CG_ASSIGN_OR_RETURN(cert.private_key, SealPrivateKey(services_.vault, key.get(), cert.id));

  const Time renews_at = RenewalTime(chain.leaf(), info);

  std::vector<store::Notification> alerts;
  if (services_.issued_alerts) alerts = services_.issued_alerts(job, cert);
  CG_ASSIGN_OR_RETURN(bool attached,
                      jobs_.CompleteProvisioningJob(job, cert, renews_at, alerts));
  if (!attached) {
    return MakeError(ErrorCode::kNotFound,
                     "the domain's policy changed, or another runner took the job over, before "
                     "the certificate arrived; it was not attached");
  }
  spdlog::info("acme: issued {} for {} (expires {}, renews at {})", cert.id, domain->domain,
               FormatRfc3339(info.not_after), FormatRfc3339(renews_at));
  return {};
}

}  // namespace certgate::provision
