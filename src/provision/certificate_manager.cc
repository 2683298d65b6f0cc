#include "provision/certificate_manager.h"

#include <spdlog/spdlog.h>

#include "core/ids.h"

namespace certgate::provision {
namespace {

// How many domains one scheduler pass turns into jobs, and how often it runs.
constexpr int kJobsPerPass = 200;
constexpr auto kTick = std::chrono::seconds(1);

}  // namespace

CertificateManager::CertificateManager(CertificateManagerOptions options,
                                       ProvisioningServices services)
    : options_(std::move(options)),
      jobs_(services.jobs),
      clock_(services.clock),
      runner_(options_.runner, std::move(services)) {}

Result<std::unique_ptr<CertificateManager>> CertificateManager::Create(
    CertificateManagerOptions options, ProvisioningServices services) {
  if (options.concurrency < 1) {
    return MakeError(ErrorCode::kConfigInvalid, "--acme-concurrency must be at least 1");
  }
  if (options.node_id.empty()) {
    return MakeError(ErrorCode::kConfigInvalid, "the certificate manager needs a node id");
  }
  return std::unique_ptr<CertificateManager>(
      new CertificateManager(std::move(options), std::move(services)));
}

CertificateManager::~CertificateManager() { Stop(); }

Result<void> CertificateManager::Start() {
  CG_RETURN_IF_ERROR(jobs_.ReleaseJobLeases(options_.node_id));
  scheduler_ = std::thread([this] { SchedulerLoop(); });
  for (int i = 0; i < options_.concurrency; ++i) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
  return {};
}

void CertificateManager::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stop_ && !scheduler_.joinable()) return;
    stop_ = true;
  }
  runner_.RequestStop();
  cv_.notify_all();
  if (scheduler_.joinable()) scheduler_.join();
  for (auto& w : workers_) {
    if (w.joinable()) w.join();
  }
  workers_.clear();
  // Queued but unstarted jobs keep their lease until the next start releases it.
}

void CertificateManager::Wake() {
  {
    std::lock_guard lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

void CertificateManager::WorkerLoop() {
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
    runner_.Run(std::move(job));
    {
      std::lock_guard lock(mu_);
      --running_;
      wake_ = true;
    }
    cv_.notify_all();
  }
}

void CertificateManager::SchedulerLoop() {
  const auto enqueue = [this](store::ProvisioningJob job) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(job));
    }
    cv_.notify_all();
  };
  for (;;) {
    int free_slots;
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, kTick, [this] { return stop_ || wake_; });
      if (stop_) return;
      wake_ = false;
      free_slots = options_.concurrency - running_ - static_cast<int>(queue_.size());
    }
    if (auto r = SchedulePass(free_slots, enqueue); !r) {
      spdlog::error("acme: claiming provisioning jobs failed: {}", r.error().message);
    }
  }
}

Result<int> CertificateManager::RunOnce() {
  return SchedulePass(options_.concurrency,
                      [this](store::ProvisioningJob job) { runner_.Run(std::move(job)); });
}

Result<int> CertificateManager::SchedulePass(
    int free_slots, const std::function<void(store::ProvisioningJob)>& run) {
  if (auto r = CreateJobs(); !r) {
    spdlog::error("acme: looking for domains that need certificates failed: {}",
                  r.error().message);
  }
  if (free_slots <= 0) return 0;
  const Time now = clock_.Now();
  CG_ASSIGN_OR_RETURN(auto jobs, jobs_.ClaimDueJobs(options_.node_id, now,
                                                    now + runner_.options().lease, free_slots));
  const int claimed = static_cast<int>(jobs.size());
  for (auto& job : jobs) run(std::move(job));
  return claimed;
}

Result<void> CertificateManager::CreateJobs() {
  const Time now = clock_.Now();
  CG_ASSIGN_OR_RETURN(auto made, jobs_.CreateDueJobs(now, kJobsPerPass, [&](const store::Domain& d) {
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
    return job;
  }));
  for (const store::ProvisioningJob& job : made) {
    spdlog::info("acme: {} for {} ({})", job.renewal ? "renewal" : "provisioning", job.domain,
                 job.id);
  }
  return {};
}

}  // namespace certgate::provision
