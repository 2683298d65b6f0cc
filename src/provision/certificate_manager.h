// CertificateManager: gets every domain with a certificate management policy
// its certificate from a CA, and keeps it renewed.
//
// All of its state is in the store, so it survives restarts and SIGKILL:
// - a scheduler thread notices managed domains that need a certificate (none
//   yet, due for renewal, or of another key type than the policy asks for)
//   and makes a durable provisioning job for each;
// - it claims due jobs (a lease in the store) and hands them to a bounded
//   pool of threads, each running a JobRunner attempt (provision/job_runner.h:
//   CNAME checks through the Resolver, the order through the Issuer, the
//   challenges through the Solvers, backoff after failures).
//
// Tests drive the same scheduling synchronously with RunOnce and a fake Clock.
//
// Thread-safe: Wake() may be called from any thread (the store's OnChange).
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/result.h"
#include "provision/job_runner.h"
#include "store/job_store.h"

namespace certgate::provision {

struct CertificateManagerOptions {
  // This node's id, the owner of the job leases it takes: stable across
  // restarts, so that Start releases what a killed process of this node
  // held, and no other node's. REQUIRES: not empty.
  std::string node_id;
  int concurrency = 8;  // jobs worked on at once; REQUIRES: >= 1
  JobRunnerOptions runner;
};

class CertificateManager {
 public:
  // Error kConfigInvalid for a concurrency below 1 or no node id.
  static Result<std::unique_ptr<CertificateManager>> Create(CertificateManagerOptions options,
                                                            ProvisioningServices services);
  ~CertificateManager();
  CertificateManager(const CertificateManager&) = delete;
  CertificateManager& operator=(const CertificateManager&) = delete;

  // Releases the leases a previous process of this node held and starts the
  // scheduler and the pool.
  Result<void> Start();
  // Stops taking jobs and waits for running ones to reach a step boundary.
  void Stop();
  // Look for work now rather than at the next tick.
  void Wake();
  // How the attempts of this process ended (JobRunner::Stats).
  JobRunner::Stats stats() const { return runner_.stats(); }

  // One scheduler pass on the calling thread, as the scheduler thread makes
  // every tick: jobs for the domains that need one, then up to concurrency
  // due jobs claimed and attempted here, one after another. Returns how many
  // were attempted. REQUIRES: not started.
  Result<int> RunOnce();

 private:
  CertificateManager(CertificateManagerOptions options, ProvisioningServices services);

  void SchedulerLoop();
  void WorkerLoop();
  // Makes jobs, then claims up to `free_slots` due jobs and hands each to
  // `run`. Returns how many were claimed.
  Result<int> SchedulePass(int free_slots,
                           const std::function<void(store::ProvisioningJob)>& run);
  Result<void> CreateJobs();

  const CertificateManagerOptions options_;
  store::JobStore& jobs_;
  const Clock& clock_;
  JobRunner runner_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool wake_ = false;  // GUARDED_BY(mu_)
  bool stop_ = false;  // GUARDED_BY(mu_)
  int running_ = 0;    // GUARDED_BY(mu_)
  std::thread scheduler_;
  std::vector<std::thread> workers_;
  std::vector<store::ProvisioningJob> queue_;  // GUARDED_BY(mu_)
};

}  // namespace certgate::provision
