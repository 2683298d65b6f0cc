// JobRunner: one attempt at one claimed provisioning job. It re-reads the
// domain (a job whose domain lost its policy, or asks for another key type,
// is dropped), checks the user's CNAME records through the Resolver, makes
// the certificate's key once per job (sealed in the job, so a restart never
// makes a second one), has the Issuer order the certificate with the Solver
// for the domain's challenge type, checks the chain, and attaches it to the
// domain in one store transaction with its renewal time: inside the CA's
// renewal window when it gives one, else at two thirds of the lifetime.
//
// Each step is recorded in the job (msg) and renews the runner's lease; a
// failure is recorded (msg, error_code, retries_at) and retried after an
// exponential backoff with jitter.
//
// Thread-safe: several threads may Run different jobs at once; RequestStop
// may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <openssl/x509.h>

#include "core/result.h"
#include "core/time.h"
#include "pki/certificate.h"
#include "provision/issuer.h"
#include "provision/resolver.h"
#include "provision/solver.h"
#include "seal/key_vault.h"
#include "store/domain_store.h"
#include "store/job_store.h"

namespace certgate::provision {

// What runners work with. Every reference must outlive the runner.
struct ProvisioningServices {
  store::JobStore& jobs;
  store::DomainStore& domains;  // a job's domain, re-read by each attempt
  seal::KeyVault& vault;
  Issuer& issuer;
  Resolver& resolver;  // for the CNAME preconditions of branded domains
  Solver& http01;      // for every name but wildcards
  Solver& dns01;       // for wildcards
  const Clock& clock;
  // Uniform in [0, 1): spreads retries and renewals of many domains. Called
  // from any runner thread. Default (empty): a per-thread random generator.
  std::function<double()> random;
  // The alerts of an attached certificate, enqueued with it in one
  // transaction (notify::Notifier::IssuedAlerts). Default (empty): none.
  std::function<std::vector<store::Notification>(const store::ProvisioningJob&,
                                                 const store::Certificate&)>
      issued_alerts;
  // Told of each failed attempt once it is recorded, with its error (for
  // alerts: notify::Notifier::OnJobFailure). Default (empty): nothing.
  std::function<void(const store::ProvisioningJob&, const Error&)> on_failure;
};

struct JobRunnerOptions {
  std::chrono::seconds retry_min{10};  // the first retry's delay
  std::chrono::seconds retry_max{std::chrono::hours(1)};
  // How long one attempt may wait for the CA (validation, issuance) before
  // it gives up and retries later with the same order.
  std::chrono::seconds attempt_timeout{300};
  std::chrono::seconds poll_interval{1};  // when the CA gives no Retry-After
  // A claimed job is its runner's this long; each step, and each third of
  // it spent waiting for the CA, extends it. A node that dies leaves its
  // jobs to the others this long after its last renewal.
  std::chrono::seconds lease{std::chrono::minutes(30)};
};

class JobRunner {
 public:
  JobRunner(JobRunnerOptions options, ProvisioningServices services);
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  // One attempt at a job this process claimed. Never fails: the outcome is
  // in the store (the certificate attached, the job dropped, or the failure
  // recorded with its retry time); nothing is written once the job is gone
  // or its lease (the job's lease_owner and lease_token) was taken over.
  // An attempt cut short by RequestStop is not a failure: the job keeps its
  // state and resumes at the next start.
  void Run(store::ProvisioningJob job);

  // Ends waits of running attempts now and makes them stop at their next
  // step. Irreversible.
  void RequestStop();
  bool stopping() const;

  // The delay after the n-th consecutive failure (n >= 1): retry_min
  // doubled each time up to retry_max, plus up to a quarter of jitter.
  std::chrono::seconds Backoff(int failures) const;
  // When an issued certificate is due for renewal.
  Time RenewalTime(X509* leaf, const pki::CertificateInfo& info);

  const JobRunnerOptions& options() const { return options_; }

  // How attempts ended, since the start: a certificate attached; a failure
  // the user must fix (DNS_ERROR), or one on our or the CA's side
  // (INTERNAL_ERROR), each retried later; or the job no longer this
  // runner's (its domain changed, or another runner took it over).
  struct Stats {
    uint64_t issued = 0;
    uint64_t failed_dns = 0;
    uint64_t failed_internal = 0;
    uint64_t ended = 0;
  };
  Stats stats() const;

 private:
  class Progress;

  Result<void> Attempt(store::ProvisioningJob& job);
  Result<void> CheckDnsRecords(const store::Domain& domain);
  Result<void> RecordStep(store::ProvisioningJob& job, std::string msg);
  // Writes the job as it stands and extends the lease; kNotFound if the job
  // is gone or another runner holds it now.
  Result<void> WriteHeldJob(store::ProvisioningJob& job);
  // How often a waiting attempt renews its lease: a third of it.
  std::chrono::seconds RenewEvery() const;
  void RecordFailure(store::ProvisioningJob& job, const Error& error);
  // Waits `pause` unless stopping first; true if it waited the whole time.
  bool WaitUnlessStopping(std::chrono::seconds pause);
  double Random() const;

  const JobRunnerOptions options_;
  ProvisioningServices services_;
  store::JobStore& jobs_;
  store::DomainStore& domains_;
  const Clock& clock_;

  std::atomic<uint64_t> issued_{0};
  std::atomic<uint64_t> failed_dns_{0};
  std::atomic<uint64_t> failed_internal_{0};
  std::atomic<uint64_t> ended_{0};

  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
};

}  // namespace certgate::provision
