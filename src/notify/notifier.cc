#include "notify/notifier.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace certgate::notify {
namespace {

namespace http = boost::beast::http;

constexpr size_t kMaxSecret = 4096;
constexpr int kClaimBatch = 16;
constexpr int kPageSize = 1000;
constexpr int kFailingJobs = 1000;
// A job whose renewal failed this often "keeps failing".
constexpr int kFailuresToAlert = 2;
constexpr auto kUploadedRereadAlways = std::chrono::minutes(10);

// What logs say of a webhook: its scheme and host, not its path or query,
// which often carry the receiver's own secret (Slack's, for one).
std::string ForLog(std::string_view recipient) {
  auto url = http_client::ParseHttpsUrl(recipient, "the webhook URL");
  if (!url) return "a webhook";
  return fmt::format("{}://{}/…", url->tls ? "https" : "http", url->origin().HostHeader());
}

Result<int> HttpPost(const http_client::HttpClient& client, const http_client::HttpUrl& url,
                     const std::vector<std::pair<std::string, std::string>>& headers,
                     const std::string& body) {
  http_client::HttpRequest request{.method = http::verb::post,
                                   .target = url.target,
                                   .headers = headers,
                                   .body = body,
                                   .limits = {.head = 16 * 1024, .body = 64 * 1024}};
  http_client::ExchangeResult result = client.Send(url.origin(), request);
  if (!result.ok()) {
    // The host only: a webhook's path often carries its own secret.
    return MakeError(ErrorCode::kIo, result.failure().Describe(url.origin().HostHeader()));
  }
  return result.response().status;
}

}  // namespace

Result<SecretBytes> ReadWebhookSecret(const std::string& file) {
  std::string text;
  if (!file.empty()) {
    struct stat st {};
    if (stat(file.c_str(), &st) != 0) {
      return MakeError(ErrorCode::kConfigInvalid,
                       fmt::format("--notify-webhook-secret-file {}: cannot read it", file));
    }
    if ((st.st_mode & S_IROTH) != 0) {
      return MakeError(ErrorCode::kConfigInvalid,
                       fmt::format("--notify-webhook-secret-file {} is readable by every user; "
                                   "make it readable by its owner (and group) only: chmod o-r",
                                   file));
    }
    if (st.st_size > static_cast<off_t>(kMaxSecret) + 2) {
      return MakeError(ErrorCode::kConfigInvalid,
                       fmt::format("--notify-webhook-secret-file {} is longer than {} bytes",
                                   file, kMaxSecret));
    }
    std::ifstream in(file, std::ios::binary);
    std::ostringstream buf;
    buf << in.rdbuf();
    if (!in.good() && !in.eof()) {
      return MakeError(ErrorCode::kConfigInvalid,
                       fmt::format("--notify-webhook-secret-file {}: cannot read it", file));
    }
    text = buf.str();
    if (!text.empty() && text.back() == '\n') text.pop_back();
    if (!text.empty() && text.back() == '\r') text.pop_back();
  } else if (const char* env = std::getenv("CERTGATE_NOTIFY_WEBHOOK_SECRET"); env != nullptr) {
    text = env;
  } else {
    return MakeError(ErrorCode::kConfigInvalid,
                     "--notify-webhook needs a signing key: set CERTGATE_NOTIFY_WEBHOOK_SECRET "
                     "or pass --notify-webhook-secret-file FILE");
  }
  SecretBytes secret = SecretBytes::CopyOf(text);
  std::fill(text.begin(), text.end(), '\0');
  if (secret.empty() || secret.size() > kMaxSecret) {
    return MakeError(ErrorCode::kConfigInvalid,
                     fmt::format("the webhook signing key must be 1 to {} bytes", kMaxSecret));
  }
  return secret;
}

Result<std::unique_ptr<Notifier>> Notifier::Create(NotifierOptions options, SecretBytes secret,
                                                   store::Store& store, const Clock& clock,
                                                   PostFn post) {
  std::vector<http_client::HttpUrl> urls;
  for (const std::string& webhook : options.webhooks) {
    CG_ASSIGN_OR_RETURN(auto url, http_client::ParseHttpsUrl(webhook, "the webhook URL"));
    urls.push_back(std::move(url));
  }
  if (options.node_id.empty()) {
    return MakeError(ErrorCode::kInternal, "the notifier needs a node id");
  }
  if (!post) {
    CG_ASSIGN_OR_RETURN(auto made,
                        http_client::HttpClient::Create(
                            {.tls = http_client::TlsTrust{options.ca_file},
                             .timeout = options.timeout}));
    std::shared_ptr<http_client::HttpClient> client = std::move(made);
    post = [client](const http_client::HttpUrl& url,
                    const std::vector<std::pair<std::string, std::string>>& headers,
                    const std::string& body) { return HttpPost(*client, url, headers, body); };
  }
  return std::unique_ptr<Notifier>(new Notifier(std::move(options), std::move(secret), store,
                                                clock, std::move(post), std::move(urls)));
}

Notifier::Notifier(NotifierOptions options, SecretBytes secret, store::Store& store,
                   const Clock& clock, PostFn post, std::vector<http_client::HttpUrl> urls)
    : options_(std::move(options)),
      secret_(std::move(secret)),
      store_(store),
      clock_(clock),
      post_(std::move(post)),
      urls_(std::move(urls)) {}

Notifier::~Notifier() { Stop(); }

void Notifier::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stop_) return;
  thread_ = std::thread([this] { Loop(); });
}

void Notifier::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Notifier::Wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

Notifier::Stats Notifier::stats() const {
  return Stats{delivered_.load(), failed_.load(), abandoned_.load(), enqueued_.load()};
}

std::vector<store::Notification> Notifier::IssuedAlerts(const store::ProvisioningJob& job,
                                                        const store::Certificate& cert) const {
  return MakeNotifications(IssuedEvent(job, cert), options_.webhooks, clock_.Now());
}

void Notifier::Loop() {
  auto next_scan = std::chrono::steady_clock::now();
  while (true) {
    if (std::chrono::steady_clock::now() >= next_scan) {
      next_scan = std::chrono::steady_clock::now() + options_.scan_interval;
      if (auto r = ScanOnce(); !r) {
        spdlog::warn("notify: the scan for alerts failed, retrying in {} s: {}",
                     options_.scan_interval.count(), r.error().message);
      }
    }
    // Deliver until a round finds nothing more (or the store fails).
    while (true) {
      {
        std::lock_guard lock(mu_);
        if (stop_) return;
      }
      auto r = DeliverOnce();
      if (!r) {
        spdlog::warn("notify: reading the outbox failed: {}", r.error().message);
        break;
      }
      if (*r == 0) break;
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, options_.poll_interval, [&] { return stop_ || woken_; });
    if (stop_) return;
    woken_ = false;
  }
}

Result<int> Notifier::Enqueue(const Event& event, Time now) {
  CG_ASSIGN_OR_RETURN(
      int added, store_.EnqueueNotifications(MakeNotifications(event, options_.webhooks, now)));
  if (added > 0) {
    enqueued_ += static_cast<uint64_t>(added);
    spdlog::info("notify: {} ({} webhook{})", event.key, added, added == 1 ? "" : "s");
  }
  return added;
}

Result<int> Notifier::ScanOnce() {
  const Time now = clock_.Now();
  CG_ASSIGN_OR_RETURN(int expiring, ScanExpiries(now));
  CG_ASSIGN_OR_RETURN(int failing, ScanFailingJobs(now));
  return expiring + failing;
}

Result<int> Notifier::ScanExpiries(Time now) {
  // Read the uploaded certificates again when the store changed, at most
  // every other scan (a new upload alerts within three), else every 10
  // minutes (a million managed certificates are read with them); between
  // reads, the thresholds are judged against the copy.
  const auto steady = std::chrono::steady_clock::now();
  CG_ASSIGN_OR_RETURN(int64_t sequence, store_.ChangeSequence());
  const bool stale =
      !uploaded_.sequence || steady - uploaded_.read_at >= kUploadedRereadAlways ||
      (*uploaded_.sequence != sequence && steady - uploaded_.read_at >= 2 * options_.scan_interval);
  if (stale) {
    std::vector<store::CertificateExpiry> uploaded;
    std::optional<std::string> after;
    while (true) {
      CG_ASSIGN_OR_RETURN(auto page, store_.ListCertificateExpiries(after, kPageSize));
      for (auto& cert : page) {
        if (!cert.issued && !cert.account_id.empty()) uploaded.push_back(std::move(cert));
      }
      if (page.size() < static_cast<size_t>(kPageSize)) break;
      after = page.back().id;
    }
    uploaded_ = Uploaded{std::move(uploaded), sequence, steady};
  }
  int added = 0;
  for (const store::CertificateExpiry& cert : uploaded_.certificates) {
    if (auto event = ExpiryEvent(cert, now)) {
      CG_ASSIGN_OR_RETURN(int n, Enqueue(*event, now));
      added += n;
    }
  }
  return added;
}

Result<int> Notifier::ScanFailingJobs(Time now) {
  CG_ASSIGN_OR_RETURN(auto jobs, store_.ListFailingJobs(kFailingJobs));
  int added = 0;
  for (const store::ProvisioningJob& job : jobs) {
    // Only renewals: a domain that never had a certificate has nothing to
    // lose, and its state is in the API and /metrics.
    if (!job.renewal) continue;
    if (job.error_code == std::optional<std::string>("DNS_ERROR")) {
      CG_ASSIGN_OR_RETURN(int n, Enqueue(CnameMissingEvent(job), now));
      added += n;
    }
    if (job.failures < kFailuresToAlert) continue;
    CG_ASSIGN_OR_RETURN(auto domain, store_.GetDomain(job.account_id, job.domain_id));
    if (!domain || !domain->certificate_id) continue;
    CG_ASSIGN_OR_RETURN(auto current, store_.GetCertificateById(*domain->certificate_id));
    if (!current) continue;
    const auto lifetime = current->not_after - current->not_before;
    if (current->not_after - now >= lifetime / 3) continue;
    CG_ASSIGN_OR_RETURN(int n, Enqueue(RenewalFailingEvent(job, *current), now));
    added += n;
  }
  return added;
}

Result<int> Notifier::DeliverOnce() {
  const Time now = clock_.Now();
  CG_ASSIGN_OR_RETURN(auto due, store_.ClaimDueNotifications(options_.node_id, now,
                                                             now + options_.lease, kClaimBatch));
  int delivered = 0;
  for (store::Notification& n : due) {
    {
      std::lock_guard lock(mu_);
      if (stop_) break;  // the rest wait for their leases to end
    }
    if (Attempt(std::move(n), clock_.Now())) ++delivered;
  }
  // Nothing delivered but something claimed: the caller may go on.
  return due.empty() ? 0 : std::max(delivered, 1);
}

std::chrono::seconds Notifier::Backoff(int attempts) const {
  auto delay = options_.retry_min;
  for (int i = 1; i < attempts && delay < options_.retry_max; ++i) delay *= 2;
  return std::min(delay, options_.retry_max);
}

bool Notifier::Attempt(store::Notification n, Time now) {
  const http_client::HttpUrl* url = nullptr;
  for (size_t i = 0; i < options_.webhooks.size(); ++i) {
    if (options_.webhooks[i] == n.recipient) url = &urls_[i];
  }
  ++n.attempts;
  std::string failure;
  if (url == nullptr) {
    // Made when this webhook was configured; it no longer is.
    failure = "the webhook is no longer configured (--notify-webhook)";
  } else {
    const std::vector<std::pair<std::string, std::string>> headers = {
        {"Content-Type", "application/json"},
        {"User-Agent", options_.user_agent},
        {"Certgate-Event-Type", n.event_type},
        {"Certgate-Delivery", n.id},
        {"Certgate-Signature", Signature(secret_.view(), n.body)},
    };
    auto status = post_(*url, headers, n.body);
    if (status && *status >= 200 && *status < 300) {
      auto recorded = store_.FinishNotificationAttempt(n, now);
      if (!recorded) {
        spdlog::warn("notify: {} was delivered to {}, but recording that failed (it may be sent "
                     "again): {}",
                     n.id, ForLog(n.recipient), recorded.error().message);
      }
      ++delivered_;
      return true;
    }
    failure = status ? fmt::format("the webhook answered {}", *status) : status.error().message;
  }
  n.last_error = failure;
  const bool give_up = url == nullptr || now - n.created_at >= options_.give_up;
  if (give_up) {
    // Never claimed again: its next attempt is out of reach.
    n.next_attempt_at = n.created_at + std::chrono::hours(24 * 365 * 100);
    ++abandoned_;
    spdlog::error("notify: giving up on {} ({}) to {} after {} attempts: {}", n.id, n.event_key,
                  ForLog(n.recipient), n.attempts, failure);
  } else {
    const auto delay = Backoff(n.attempts);
    n.next_attempt_at = now + delay;
    ++failed_;
    spdlog::warn("notify: {} ({}) to {} failed (attempt {}), retrying in {} s: {}", n.id,
                 n.event_key, ForLog(n.recipient), n.attempts, delay.count(), failure);
  }
  if (auto r = store_.FinishNotificationAttempt(n, std::nullopt); !r) {
    spdlog::warn("notify: recording a failed delivery of {} failed: {}", n.id,
                 r.error().message);
  }
  return false;
}

}  // namespace certgate::notify
