// Notifier: the alerts' two loops, on one thread.
//   - The scan (every scan_interval): uploaded certificates inside an expiry
//     threshold (a copy of them, kept by following the store's change feed),
//     and renewals that keep failing with less than a third of the
//     certificate's lifetime left; each new event goes into the outbox,
//     once per webhook, in one transaction per scan. Issued and renewed
//     certificates, and renewals that find a domain's CNAME gone, need no
//     scan: the job runner hands them over as they happen (IssuedAlerts,
//     in the transaction that attaches the certificate; OnJobFailure).
//   - Delivery (every poll_interval, for at most a scan interval at a
//     time): claims the due notifications of this node's webhooks under a
//     lease, POSTs each one signed while the lease has time for it, and
//     records the outcome; a failure is retried with exponential backoff,
//     and one undelivered after give_up is abandoned, with an error logged.
// Every node of a cluster runs both, with the same webhooks: the outbox's
// unique keys make the scans' overlap harmless, and the leases give each
// delivery to one node. Delivery is at least once: a process killed between
// a webhook's 2xx and the write recording it sends that alert again (the
// same event id).
//
// Thread-safe: Start, Stop, IssuedAlerts, OnJobFailure from any thread; the
// *Once calls are for tests, not concurrent with Start.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
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
  std::chrono::seconds lease{60};  // longer than timeout: each POST must fit in what is left
  std::chrono::seconds give_up{std::chrono::hours(24 * 7)};
  // Delivered and abandoned alerts older than this leave the outbox (those
  // whose event cannot come again; see NotificationStore::PruneNotifications).
  std::chrono::seconds keep{std::chrono::hours(24 * 30)};
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
// file is not a regular file, or every user may read or write it.
Result<SecretBytes> ReadWebhookSecret(const std::string& file);

// How the outbox names a webhook: "sha256:" and the hex SHA-256 of its URL
// (its path often holds the receiver's own secret).
std::string RecipientKey(std::string_view url);

// What logs say of a webhook: its scheme and host, not its path.
std::string WebhookForLog(std::string_view url);

// The --notify-webhook URLs parsed. Error kConfigInvalid naming the first
// bad one by its position and host, never its path.
Result<std::vector<http_client::HttpUrl>> ParseWebhooks(const std::vector<std::string>& webhooks);

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

  // What the job runner enqueues with an issued certificate
  // (ProvisioningServices::issued_alerts).
  std::vector<store::Notification> IssuedAlerts(const store::ProvisioningJob& job,
                                                const store::Certificate& cert) const;
  // Told of each failed attempt (ProvisioningServices::on_failure): a
  // renewal that found a DNS record the user must keep missing alerts
  // (domain.cname_missing). Errors are logged.
  void OnJobFailure(const store::ProvisioningJob& job, const Error& error);

  // One scan: returns how many notifications it added to the outbox.
  Result<int> ScanOnce();
  // One round of delivery: returns how many notifications were attempted.
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
  // Brings the copy of the uploaded certificates up to date.
  Result<void> FollowUploaded();
  Result<void> ReadAllUploaded();
  Result<void> ScanExpiries(Time now, std::vector<Event>& events);
  Result<void> ScanFailingRenewals(Time now, std::vector<Event>& events);
  // Enqueues the events not already known to be in the outbox, in one
  // transaction; returns how many notifications were added.
  Result<int> EnqueueNew(const std::vector<Event>& events, Time now);
  // One attempt at n; records the outcome.
  void Attempt(store::Notification n, Time now);
  std::chrono::seconds Backoff(int attempts) const;

  NotifierOptions options_;
  SecretBytes secret_;
  store::Store& store_;
  const Clock& clock_;
  PostFn post_;
  std::vector<http_client::HttpUrl> urls_;  // options_.webhooks parsed, same order
  std::vector<std::string> recipients_;     // their RecipientKey, same order

  // Used by the scan's thread only:
  // the uploaded certificates (not issued, of an account), by id, as of
  // feed_sequence_ of the change feed.
  std::map<std::string, store::CertificateExpiry, std::less<>> uploaded_;
  std::optional<int64_t> feed_sequence_;
  // Event keys known to be in the outbox (rows stay until pruned, and only
  // events that cannot come again are pruned): a scan writes only new ones.
  std::set<std::string, std::less<>> known_;
  std::optional<std::chrono::steady_clock::time_point> pruned_at_;

  std::atomic<uint64_t> delivered_{0}, failed_{0}, abandoned_{0}, enqueued_{0};

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;  // started and joined under start_mu_
  std::mutex start_mu_;
};

}  // namespace certgate::notify
