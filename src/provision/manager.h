// The certificate manager: gets every domain with a certificate management
// policy its certificate from an ACME CA, and keeps it renewed.
//
// All of its state is in the store, so it survives restarts and SIGKILL:
// - a scheduler thread notices managed domains that need a certificate (none
//   yet, due for renewal, or of another key type than the policy asks for)
//   and makes a durable provisioning job for each;
// - it hands due jobs to a bounded pool; a job checks the user's CNAME
//   records, orders, answers the challenges (HTTP-01 tokens and DNS-01 TXT
//   records go to the store, where the edge and the DNS responder find them),
//   finalizes with a key made once per job and sealed in the job, and attaches
//   the certificate to the domain in one transaction;
// - a failed step is recorded in the job (msg, error_code, retries_at) and
//   retried with exponential backoff and jitter.
//
// Thread-safe: Wake() may be called from any thread (the store's OnChange).
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "acme/client.h"
#include "core/host_port.h"
#include "core/result.h"
#include "core/time.h"
#include "pki/certificate.h"
#include "store/store.h"

namespace certgate::seal {
class KeyVault;
}
namespace certgate::dns {
class Resolver;
}

namespace certgate::provision {

struct ManagerOptions {
  // This node's id, the owner of the job leases it takes: stable across
  // restarts, so that Start releases what a killed process of this node
  // held, and no other node's. REQUIRES: not empty.
  std::string node_id;
  std::string directory_url;  // the CA "letsencrypt" maps to
  std::string ca_file;        // extra trust for the CA's own HTTPS
  std::vector<std::string> contacts;  // "mailto:..." for the ACME account
  std::optional<acme::ExternalAccountBinding> eab;  // for CAs that require one
  std::optional<HostPort> resolver;   // nullopt: the system's
  int concurrency = 8;                // jobs worked on at once
  std::chrono::seconds retry_min{10};
  std::chrono::seconds retry_max{std::chrono::hours(1)};
  // How long one attempt may wait for the CA (validation, issuance) before
  // it gives up and retries later with the same order.
  std::chrono::seconds attempt_timeout{300};
  std::chrono::seconds poll_interval{1};  // when the CA gives no Retry-After
};

class Manager {
 public:
  static Result<std::unique_ptr<Manager>> Create(ManagerOptions options, store::Store& store,
                                                 seal::KeyVault& vault, const Clock& clock);
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Releases the leases a previous process of this node held and starts the
  // scheduler and the pool.
  Result<void> Start();
  // Stops taking jobs and waits for running ones to reach a step boundary.
  void Stop();
  // Look for work now rather than at the next tick.
  void Wake();

 private:
  Manager(ManagerOptions options, store::Store& store, seal::KeyVault& vault, const Clock& clock);

  void SchedulerLoop();
  Result<void> CreateJobs();
  void RunJob(store::ProvisioningJob job);
  Result<void> Work(store::ProvisioningJob& job);
  Result<void> CheckDnsRecords(const store::Domain& domain);
  Result<void> RecordProgress(store::ProvisioningJob& job, std::string msg);
  void RecordFailure(store::ProvisioningJob& job, const Error& error);
  std::chrono::seconds Backoff(int failures) const;
  // When an issued certificate is due for renewal.
  Time RenewalTime(X509* leaf, const pki::CertificateInfo& info);
  bool stopping() const;

  struct Account;
  Result<Account> EnsureAccount();
  void ForgetAccount(const std::string& id);

  ManagerOptions options_;
  store::Store& store_;
  seal::KeyVault& vault_;
  const Clock& clock_;
  std::unique_ptr<acme::Client> acme_;
  std::unique_ptr<dns::Resolver> resolver_;  // null if none could be made
  std::string resolver_error_;               // why not

  std::mutex account_mu_;  // one registration at a time

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool wake_ = false;       // GUARDED_BY(mu_)
  bool stop_ = false;       // GUARDED_BY(mu_)
  int running_ = 0;         // GUARDED_BY(mu_)
  std::thread scheduler_;
  std::vector<std::thread> workers_;
  std::vector<store::ProvisioningJob> queue_;  // GUARDED_BY(mu_)
};

}  // namespace certgate::provision
