#include "notify/notifier.h"

#include <fcntl.h>
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>

#include <boost/url.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/hex.h"

namespace certgate::notify {
namespace {

namespace http = boost::beast::http;

constexpr size_t kMaxSecret = 4096;
constexpr int kClaimBatch = 16;
constexpr int kPageSize = 1000;
// A renewal that failed this often in a row "keeps failing".
constexpr int kFailuresToAlert = 2;
// A POST starts only while its lease has its timeout and this much left.
constexpr auto kLeaseMargin = std::chrono::seconds(5);
constexpr auto kPruneEvery = std::chrono::hours(24);

Result<int> HttpPost(const http_client::HttpClient& client, const http_client::HttpUrl& url,
                     const std::vector<std::pair<std::string, std::string>>& headers,
                     const std::string& body) {
  http_client::HttpRequest request{.method = http::verb::post,
                                   .target = url.target,
                                   .headers = headers,
                                   .body = body,
                                   .limits = {.head = 16 * 1024, .body = 1024 * 1024}};
  http_client::ExchangeResult result = client.Send(url.origin(), request);
  if (!result.ok()) {
    // The host only: a webhook's path often carries its own secret.
    return MakeError(ErrorCode::kIo, result.failure().Describe(url.origin().HostHeader()));
  }
  return result.response().status;
}

store::CertificateExpiry ExpiryOf(const store::Certificate& c) {
  return store::CertificateExpiry{.id = c.id,
                                  .account_id = c.account_id,
                                  .issued = c.issued_at.has_value(),
                                  .not_after = c.not_after,
                                  .subject_common_name = c.subject_common_name,
                                  .owner_endpoint_id = c.owner_endpoint_id};
}

bool IsUploaded(const store::CertificateExpiry& c) { return !c.issued && !c.account_id.empty(); }

}  // namespace

std::string RecipientKey(std::string_view url) {
  std::array<uint8_t, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const uint8_t*>(url.data()), url.size(), digest.data());
  return "sha256:" + HexEncode(std::span<const uint8_t>(digest.data(), digest.size()));
}

std::string WebhookForLog(std::string_view url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed || parsed->host().empty()) return "a webhook";
  // Userinfo would be a secret too: host and port only.
  return fmt::format("{}://{}/…", std::string_view(parsed->scheme()),
                     std::string_view(parsed->encoded_host_and_port()));
}

Result<SecretBytes> ReadWebhookSecret(const std::string& file) {
  std::string text;
  if (!file.empty()) {
    auto bad = [&](std::string_view why) {
      return MakeError(ErrorCode::kConfigInvalid,
                       fmt::format("--notify-webhook-secret-file {}: {}", file, why));
    };
    const int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return bad("cannot open it");
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      close(fd);
      return bad("not a regular file");
    }
    if ((st.st_mode & (S_IROTH | S_IWOTH)) != 0) {
      close(fd);
      return bad("every user may read or change it; make it its owner's (and group's) only: "
                 "chmod o-rw");
    }
    text.resize(kMaxSecret + 3);
    size_t got = 0;
    while (got < text.size()) {
      const ssize_t n = read(fd, text.data() + got, text.size() - got);
      if (n < 0) {
        close(fd);
        std::fill(text.begin(), text.end(), '\0');
        return bad("cannot read it");
      }
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    close(fd);
    text.resize(got);
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
                     fmt::format("the webhook signing key ({}) must be 1 to {} bytes",
                                 file.empty() ? "CERTGATE_NOTIFY_WEBHOOK_SECRET" : file,
                                 kMaxSecret));
  }
  return secret;
}

Result<std::vector<http_client::HttpUrl>> ParseWebhooks(const std::vector<std::string>& webhooks) {
  std::vector<http_client::HttpUrl> urls;
  for (size_t i = 0; i < webhooks.size(); ++i) {
    auto url = http_client::ParseHttpsUrl(webhooks[i], "the webhook URL");
    if (!url) {
      // Not the URL itself: its path may be a secret.
      return MakeError(ErrorCode::kConfigInvalid,
                       fmt::format("--notify-webhook #{} ({}): an absolute https:// URL with a "
                                   "host is needed (plain http:// only to 127.0.0.1, ::1 or "
                                   "localhost)",
                                   i + 1, WebhookForLog(webhooks[i])));
    }
    urls.push_back(std::move(*url));
  }
  return urls;
}

Result<std::unique_ptr<Notifier>> Notifier::Create(NotifierOptions options, SecretBytes secret,
                                                   store::Store& store, const Clock& clock,
                                                   PostFn post) {
  CG_ASSIGN_OR_RETURN(auto urls, ParseWebhooks(options.webhooks));
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
      urls_(std::move(urls)) {
  for (const std::string& webhook : options_.webhooks) recipients_.push_back(RecipientKey(webhook));
}

Notifier::~Notifier() { Stop(); }

void Notifier::Start() {
  std::lock_guard start(start_mu_);
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
  }
  if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
}

void Notifier::Stop() {
  std::lock_guard start(start_mu_);
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Notifier::Stats Notifier::stats() const {
  return Stats{delivered_.load(), failed_.load(), abandoned_.load(), enqueued_.load()};
}

std::vector<store::Notification> Notifier::IssuedAlerts(const store::ProvisioningJob& job,
                                                        const store::Certificate& cert) const {
  return MakeNotifications(IssuedEvent(job, cert), recipients_, clock_.Now());
}

void Notifier::OnJobFailure(const store::ProvisioningJob& job, const Error& error) {
  // Only a record the user must keep, found missing by a renewal: the
  // domain had its certificate, so its records were in place once.
  if (!job.renewal || error.code != ErrorCode::kDnsRecordMissing) return;
  const Event event = CnameMissingEvent(job);
  auto added = store_.EnqueueNotifications(MakeNotifications(event, recipients_, clock_.Now()));
  if (!added) {
    spdlog::warn("notify: enqueueing {} failed (the next failed attempt tries again): {}",
                 event.key, added.error().message);
  } else if (*added > 0) {
    spdlog::info("notify: {} ({} webhook{})", event.key, *added, *added == 1 ? "" : "s");
  }
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
    // Deliver until a round finds nothing more, the store fails, or the
    // next scan is due (a backlog for a dead webhook does not hold it up).
    while (std::chrono::steady_clock::now() < next_scan) {
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
    cv_.wait_for(lock, options_.poll_interval, [&] { return stop_; });
    if (stop_) return;
  }
}

Result<int> Notifier::ScanOnce() {
  const Time now = clock_.Now();
  std::vector<Event> events;
  CG_RETURN_IF_ERROR(ScanExpiries(now, events));
  CG_RETURN_IF_ERROR(ScanFailingRenewals(now, events));
  CG_ASSIGN_OR_RETURN(int added, EnqueueNew(events, now));
  const auto steady = std::chrono::steady_clock::now();
  if (!pruned_at_ || steady - *pruned_at_ >= kPruneEvery) {
    pruned_at_ = steady;
    auto pruned = store_.PruneNotifications(now - options_.keep);
    if (!pruned) {
      spdlog::warn("notify: pruning the outbox failed: {}", pruned.error().message);
    } else if (*pruned > 0) {
      spdlog::info("notify: pruned {} alerts older than {} days from the outbox", *pruned,
                   std::chrono::duration_cast<std::chrono::hours>(options_.keep).count() / 24);
    }
  }
  return added;
}

Result<int> Notifier::EnqueueNew(const std::vector<Event>& events, Time now) {
  std::vector<store::Notification> batch;
  std::vector<const Event*> fresh;
  for (const Event& event : events) {
    if (known_.count(event.key) > 0) continue;
    auto made = MakeNotifications(event, recipients_, now);
    batch.insert(batch.end(), std::make_move_iterator(made.begin()),
                 std::make_move_iterator(made.end()));
    fresh.push_back(&event);
  }
  if (batch.empty()) return 0;
  CG_ASSIGN_OR_RETURN(int added, store_.EnqueueNotifications(batch));
  for (const Event* event : fresh) {
    known_.insert(event->key);
    spdlog::info("notify: {}", event->key);
  }
  enqueued_ += static_cast<uint64_t>(added);
  return added;
}

Result<void> Notifier::ReadAllUploaded() {
  // The sequence first: changes made during the read are applied after it.
  CG_ASSIGN_OR_RETURN(int64_t sequence, store_.ChangeSequence());
  std::map<std::string, store::CertificateExpiry, std::less<>> uploaded;
  std::optional<std::string> after;
  while (true) {
    CG_ASSIGN_OR_RETURN(auto page, store_.ListCertificateExpiries(after, kPageSize));
    for (auto& cert : page) {
      if (IsUploaded(cert)) uploaded.emplace(cert.id, std::move(cert));
    }
    if (page.size() < static_cast<size_t>(kPageSize)) break;
    after = page.back().id;
  }
  uploaded_ = std::move(uploaded);
  feed_sequence_ = sequence;
  return {};
}

Result<void> Notifier::FollowUploaded() {
  if (!feed_sequence_) return ReadAllUploaded();
  while (true) {
    auto changes = store_.ChangesSince(*feed_sequence_, kPageSize);
    if (!changes && changes.error().code == ErrorCode::kChangesExpired) {
      return ReadAllUploaded();
    }
    if (!changes) return changes.error();
    for (const store::EdgeChange& change : changes->changes) {
      if (change.kind != store::EdgeChangeKind::kCertificate || change.key.empty()) continue;
      CG_ASSIGN_OR_RETURN(auto cert, store_.GetCertificateById(change.key));
      if (cert && IsUploaded(ExpiryOf(*cert))) {
        uploaded_.insert_or_assign(cert->id, ExpiryOf(*cert));
      } else {
        uploaded_.erase(change.key);
      }
    }
    feed_sequence_ = changes->sequence;
    if (!changes->more) return {};
  }
}

Result<void> Notifier::ScanExpiries(Time now, std::vector<Event>& events) {
  CG_RETURN_IF_ERROR(FollowUploaded());
  for (const auto& [id, cert] : uploaded_) {
    if (auto event = ExpiryEvent(cert, now)) events.push_back(std::move(*event));
  }
  return {};
}

Result<void> Notifier::ScanFailingRenewals(Time now, std::vector<Event>& events) {
  std::optional<std::string> after;
  while (true) {
    CG_ASSIGN_OR_RETURN(auto jobs,
                        store_.ListFailingRenewals(kFailuresToAlert, after, kPageSize));
    for (const store::ProvisioningJob& job : jobs) {
      CG_ASSIGN_OR_RETURN(auto domain, store_.GetDomain(job.account_id, job.domain_id));
      if (!domain || !domain->certificate_id) continue;
      // Once per certificate: known already, nothing more to read.
      const std::string key = RenewalFailingKey(job, *domain->certificate_id);
      if (known_.count(key) > 0) continue;
      CG_ASSIGN_OR_RETURN(auto current, store_.GetCertificateById(*domain->certificate_id));
      if (!current) continue;
      const auto lifetime = current->not_after - current->not_before;
      if (current->not_after - now >= lifetime / 3) continue;
      events.push_back(RenewalFailingEvent(job, *current));
    }
    if (jobs.size() < static_cast<size_t>(kPageSize)) return {};
    after = jobs.back().id;
  }
}

Result<int> Notifier::DeliverOnce() {
  const Time now = clock_.Now();
  const Time lease_end = now + options_.lease;
  CG_ASSIGN_OR_RETURN(auto due, store_.ClaimDueNotifications(options_.node_id, recipients_, now,
                                                             lease_end, kClaimBatch));
  int attempted = 0;
  for (store::Notification& n : due) {
    {
      std::lock_guard lock(mu_);
      if (stop_) break;  // the rest wait for their leases to end
    }
    // Only while the lease covers the whole POST: past it, another node may
    // claim the notification and send it too.
    const Time at = clock_.Now();
    if (at + options_.timeout + kLeaseMargin > lease_end) break;
    Attempt(std::move(n), at);
    ++attempted;
  }
  return attempted;
}

std::chrono::seconds Notifier::Backoff(int attempts) const {
  auto delay = options_.retry_min;
  for (int i = 1; i < attempts && delay < options_.retry_max; ++i) delay *= 2;
  return std::min(delay, options_.retry_max);
}

void Notifier::Attempt(store::Notification n, Time now) {
  using Outcome = store::NotificationStore::Outcome;
  const auto which = std::find(recipients_.begin(), recipients_.end(), n.recipient);
  if (which == recipients_.end()) return;  // claimed for this node's webhooks only
  const size_t i = static_cast<size_t>(which - recipients_.begin());
  const std::string webhook = WebhookForLog(options_.webhooks[i]);
  ++n.attempts;
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "application/json"},
      {"User-Agent", options_.user_agent},
      {"Certgate-Event-Type", n.event_type},
      {"Certgate-Delivery", n.id},
      {"Certgate-Signature", Signature(secret_.view(), n.body)},
  };
  auto status = post_(urls_[i], headers, n.body);
  if (status && *status >= 200 && *status < 300) {
    ++delivered_;
    auto recorded = store_.FinishNotificationAttempt(n, Outcome::kDelivered, now);
    if (!recorded || !*recorded) {
      spdlog::warn("notify: {} was delivered to {}, but recording that failed (it may be sent "
                   "again): {}",
                   n.id, webhook, recorded ? "its lease was taken over" : recorded.error().message);
    }
    return;
  }
  const std::string failure =
      status ? fmt::format("the webhook answered {}", *status) : status.error().message;
  n.last_error = failure;
  Outcome outcome = Outcome::kFailed;
  if (now - n.created_at >= options_.give_up) {
    outcome = Outcome::kAbandoned;
    ++abandoned_;
    spdlog::error("notify: giving up on {} ({}) to {} after {} attempts: {}", n.id, n.event_key,
                  webhook, n.attempts, failure);
  } else {
    const auto delay = Backoff(n.attempts);
    n.next_attempt_at = now + delay;
    ++failed_;
    spdlog::warn("notify: {} ({}) to {} failed (attempt {}), retrying in {} s: {}", n.id,
                 n.event_key, webhook, n.attempts, delay.count(), failure);
  }
  if (auto r = store_.FinishNotificationAttempt(n, outcome, now); !r) {
    spdlog::warn("notify: recording a failed delivery of {} failed: {}", n.id,
                 r.error().message);
  }
}

}  // namespace certgate::notify
