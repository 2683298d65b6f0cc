// Notifier: the alerts' two loops, on one thread.
//   - The scan (every scan_interval): uploaded certificates inside an expiry
//     threshold, managed certificates whose renewal keeps failing with less
//     than a third of their lifetime left, and managed domains whose DNS
//     records disappeared; each event goes into the outbox once per webhook.
//     Issued and renewed certificates need no scan: the job runner enqueues
//     their alerts in the transaction that attaches them (IssuedAlerts).
//   - Delivery (every poll_interval, and at once after a scan found
//     something): claims due notifications under a lease, POSTs each one
//     signed, and records the outcome; a failure is retried with exponential
//     backoff, and a notification undelivered after give_up is abandoned,
//     with an error logged.
// Every node of a cluster runs both: the outbox's unique keys make the
// scans' overlap harmless, and the leases give each delivery to one node.
// Delivery is at least once: a process killed between a webhook's 2xx and
// the write recording it sends that notification again (same event id).
//
// Thread-safe: Start, Stop, Wake and the *Once calls from any thread (the
// *Once calls are for tests, not concurrent with Start).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/secret_bytes.h"
#include "core/time.h"
#include "http_client/http_client.h"
#include "http_client/url.h"
#include "notify/alerts.h"
#include "store/store.h"

namespace certgate::notify {

struct NotifierOptions {
  std::vector<std::string> webhooks;  // https:// (http:// to loopback only)
  std::string node_id;                // the delivery leases' owner
  std::chrono::seconds scan_interval{15};
  std::chrono::milliseconds poll_interval{1000};
  std::chrono::seconds retry_min{10};  // the first retry's delay, doubled each time
  std::chrono::seconds retry_max{std::chrono::hours(1)};
  std::chrono::seconds lease{60};  // longer than timeout
  std::chrono::seconds give_up{std::chrono::hours(24 * 7)};
  std::chrono::milliseconds timeout{10000};  // one POST
  std::string ca_file;                       // for https webhooks; "" for the system store
  std::string user_agent = "certgate";
};

// One POST: the webhook's status, or an error saying why there is none.
// The seam for tests of the layers above; the default sends over HTTP.
using PostFn = std::function<Result<int>(const http_client::HttpUrl& url,
                                         const std::vector<std::pair<std::string, std::string>>&
                                             headers,
                                         const std::string& body)>;

// Reads the webhooks' signing key: the file's contents (a trailing newline
// dropped) if file is given, else $CERTGATE_NOTIFY_WEBHOOK_SECRET. Error
// kConfigInvalid when there is none, it is empty, longer than 4 KiB, or the
// file is readable by others than its owner.
Result<SecretBytes> ReadWebhookSecret(const std::string& file);

class Notifier {
 public:
  // Checks every webhook URL. Error kConfigInvalid naming the first bad one.
  static Result<std::unique_ptr<Notifier>> Create(NotifierOptions options, SecretBytes secret,
                                                  store::Store& store, const Clock& clock,
                                                  PostFn post = {});
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  void Start();
  // Ends the thread after the POST in progress, if any. Idempotent.
  void Stop();
  // Delivers now rather than at the next poll.
  void Wake();

  // What the job runner enqueues with an issued certificate
  // (ProvisioningServices::issued_alerts).
  std::vector<store::Notification> IssuedAlerts(const store::ProvisioningJob& job,
                                                const store::Certificate& cert) const;

  // One scan: returns how many notifications it added to the outbox.
  Result<int> ScanOnce();
  // One round of delivery: returns how many notifications were delivered.
  Result<int> DeliverOnce();

  struct Stats {
    uint64_t delivered = 0;
    uint64_t failed = 0;     // attempts that failed (each retried)
    uint64_t abandoned = 0;  // given up after give_up
    uint64_t enqueued = 0;   // by scans
  };
  Stats stats() const;
  const std::vector<std::string>& webhooks() const { return options_.webhooks; }

 private:
  Notifier(NotifierOptions options, SecretBytes secret, store::Store& store, const Clock& clock,
           PostFn post, std::vector<http_client::HttpUrl> urls);

  void Loop();
  Result<int> ScanExpiries(Time now);
  Result<int> ScanFailingJobs(Time now);
  Result<int> Enqueue(const Event& event, Time now);
  // One attempt at n; records the outcome. True if delivered.
  bool Attempt(store::Notification n, Time now);
  std::chrono::seconds Backoff(int attempts) const;

  NotifierOptions options_;
  SecretBytes secret_;
  store::Store& store_;
  const Clock& clock_;
  PostFn post_;
  std::vector<http_client::HttpUrl> urls_;  // options_.webhooks parsed, same order

  // The uploaded certificates of the last full read, judged against the
  // thresholds at every scan; read again when the store changed (at most
  // every other scan) and every 10 minutes.
  struct Uploaded {
    std::vector<store::CertificateExpiry> certificates;
    std::optional<int64_t> sequence;  // the change sequence it was read at
    std::chrono::steady_clock::time_point read_at;
  };
  Uploaded uploaded_;  // used by the scan's thread only

  std::atomic<uint64_t> delivered_{0}, failed_{0}, abandoned_{0}, enqueued_{0};

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;   // GUARDED_BY(mu_)
  bool woken_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace certgate::notify
