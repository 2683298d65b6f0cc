#include "app/serve_metrics.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "app/health.h"
#include "dns/responder.h"
#include "edge/acme_tokens.h"
#include "edge/edge_server.h"
#include "edge/snapshot_publisher.h"
#include "notify/notifier.h"
#include "provision/certificate_manager.h"

#ifndef CERTGATE_VERSION
#define CERTGATE_VERSION "unknown"
#endif

namespace certgate::app {
namespace {

using metrics::Sample;
using metrics::Type;

constexpr int kPage = 1000;
constexpr std::array<int, 4> kExpiringWithinDays = {1, 7, 14, 30};
constexpr std::array<std::string_view, 3> kSources = {"uploaded", "managed", "service"};

std::string_view SourceOf(const store::CertificateExpiry& c) {
  if (c.issued) return "managed";
  if (c.account_id.empty() && c.owner_endpoint_id.empty()) return "service";
  return "uploaded";
}

double Seconds(Time t) {
  return static_cast<double>(ToUnixSeconds(t));
}

// One pass over every certificate in the store, turned into the samples of
// the four certificate families. Reused until the store changes (any
// process's write: EdgeFeed::OnChange), but read again at most once a
// second, and at least every max_age (time alone moves certificates into
// "expiring"); kept when a pass fails (the store away).
class CertificateReading {
 public:
  CertificateReading(store::CertificateStore& certificates, const Clock& clock,
                     std::chrono::seconds max_age)
      : certificates_(certificates), clock_(clock), max_age_(max_age) {}

  void MarkChanged() { changed_ = true; }

  struct Samples {
    std::vector<Sample> counts;
    std::vector<Sample> expiring;
    std::vector<Sample> earliest;
    std::vector<Sample> uploaded;
  };

  Samples Get() {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (!read_at_ || now - *read_at_ >= max_age_ ||
        (changed_ && now - *read_at_ >= std::chrono::seconds(1))) {
      changed_ = false;
      if (auto fresh = Read(); fresh) {
        samples_ = std::move(*fresh);
      } else {
        changed_ = true;  // read again once the store answers
        spdlog::debug("metrics: reading the certificates failed; showing the last reading: {}",
                      fresh.error().message);
      }
      read_at_ = now;
    }
    return samples_;
  }

 private:
  Result<Samples> Read() {
    const Time now = clock_.Now();
    std::map<std::string_view, int64_t> count;
    std::map<std::pair<std::string_view, int>, int64_t> expiring;
    std::map<std::string_view, Time> earliest;
    std::vector<store::CertificateExpiry> uploaded;
    Samples out;
    std::optional<std::string> after;
    for (;;) {
      CG_ASSIGN_OR_RETURN(auto page, certificates_.ListCertificateExpiries(after, kPage));
      for (const store::CertificateExpiry& c : page) {
        const std::string_view source = SourceOf(c);
        ++count[source];
        for (int days : kExpiringWithinDays) {
          if (c.not_after - now <= std::chrono::hours(24 * days)) ++expiring[{source, days}];
        }
        auto [it, added] = earliest.emplace(source, c.not_after);
        if (!added && c.not_after < it->second) it->second = c.not_after;
        if (source == "uploaded") uploaded.push_back(c);
      }
      if (page.size() < static_cast<size_t>(kPage)) break;
      after = page.back().id;
    }
    out.uploaded = SoonestExpiries(std::move(uploaded), kMaxExpirySeries);
    for (std::string_view source : kSources) {
      out.counts.push_back(Sample{{{"source", std::string(source)}},
                                  static_cast<double>(count[source])});
      for (int days : kExpiringWithinDays) {
        out.expiring.push_back(Sample{
            {{"source", std::string(source)}, {"within_days", std::to_string(days)}},
            static_cast<double>(expiring[{source, days}])});
      }
      if (auto it = earliest.find(source); it != earliest.end()) {
        out.earliest.push_back(Sample{{{"source", std::string(source)}}, Seconds(it->second)});
      }
    }
    return out;
  }

  store::CertificateStore& certificates_;
  const Clock& clock_;
  const std::chrono::seconds max_age_;
  std::atomic<bool> changed_{false};
  std::mutex mu_;
  std::optional<std::chrono::steady_clock::time_point> read_at_;  // GUARDED_BY(mu_)
  Samples samples_;                                                // GUARDED_BY(mu_)
};

// The failing managed domains, read at most every 5 s however often the
// metrics are scraped; the last reading when the store does not answer.
class FailingDomains {
 public:
  explicit FailingDomains(store::JobStore& jobs) : jobs_(jobs) {}

  std::vector<Sample> Get() {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (read_at_ && now - *read_at_ < std::chrono::seconds(5)) return samples_;
    read_at_ = now;
    auto failing = jobs_.ListFailingJobs(1000);
    if (!failing) return samples_;
    samples_.clear();
    for (const store::ProvisioningJob& job : *failing) {
      samples_.push_back(Sample{{{"domain", job.domain},
                                 {"error_code", job.error_code.value_or("")}},
                                static_cast<double>(job.failures)});
    }
    return samples_;
  }

 private:
  store::JobStore& jobs_;
  std::mutex mu_;
  std::optional<std::chrono::steady_clock::time_point> read_at_;  // GUARDED_BY(mu_)
  std::vector<Sample> samples_;                                    // GUARDED_BY(mu_)
};

// RCODE names as dig prints them.
std::string RcodeName(size_t rcode) {
  static constexpr std::array<std::string_view, 11> kNames = {
      "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
      "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"};
  return rcode < kNames.size() ? std::string(kNames[rcode]) : "RCODE" + std::to_string(rcode);
}

Sample Value(double v) { return Sample{{}, v}; }

// 127.0.0.0/8 and ::1, and 127.0.0.0/8 as an IPv4-mapped IPv6 address.
bool IsLoopback(const boost::asio::ip::address& a) {
  if (a.is_loopback()) return true;
  if (!a.is_v6() || !a.to_v6().is_v4_mapped()) return false;
  return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6()).is_loopback();
}

}  // namespace

std::vector<Sample> SoonestExpiries(std::vector<store::CertificateExpiry> uploaded,
                                    size_t limit) {
  if (uploaded.size() > limit) {
    auto soonest = [](const store::CertificateExpiry& a, const store::CertificateExpiry& b) {
      return a.not_after != b.not_after ? a.not_after < b.not_after : a.id < b.id;
    };
    std::nth_element(uploaded.begin(), uploaded.begin() + static_cast<ptrdiff_t>(limit),
                     uploaded.end(), soonest);
    uploaded.resize(limit);
  }
  std::vector<Sample> out;
  out.reserve(uploaded.size());
  for (const store::CertificateExpiry& c : uploaded) {
    out.push_back(Sample{{{"certificate_id", c.id},
                          {"account_id", c.account_id},
                          {"common_name", c.subject_common_name}},
                         Seconds(c.not_after)});
  }
  return out;
}

AcmeMetrics RegisterAcmeMetrics(metrics::Registry& r) {
  auto& requests = r.AddCounter("certgate_acme_requests_total",
                                "Requests to the ACME CA by endpoint and HTTP status (none: no "
                                "answer).",
                                {"endpoint", "code"});
  auto& durations = r.AddHistogram("certgate_acme_request_duration_seconds",
                                   "How long requests to the ACME CA took, by endpoint.",
                                   {"endpoint"});
  return AcmeMetrics{[&requests, &durations](std::string_view endpoint, int status,
                                             std::chrono::duration<double> took) {
    requests.With({std::string(endpoint), status == 0 ? "none" : std::to_string(status)}).Inc();
    durations.With({std::string(endpoint)}).Observe(took.count());
  }};
}

StoreLatencyMetrics::StoreLatencyMetrics(metrics::Registry& r)
    : family_(r.AddHistogram(
          "certgate_store_operation_duration_seconds",
          "How long the store took: read (one use of a connection, the wait for it included), "
          "write (a whole write transaction: the turn of the one writer, the work, the commit "
          "and the sync).",
          {"operation"})),
      read_(family_.With({"read"})),
      write_(family_.With({"write"})) {}

void StoreLatencyMetrics::ObserveRead(std::chrono::steady_clock::duration took) {
  read_.Observe(std::chrono::duration<double>(took).count());
}

void StoreLatencyMetrics::ObserveWrite(std::chrono::steady_clock::duration took) {
  write_.Observe(std::chrono::duration<double>(took).count());
}

void RegisterServeMetrics(metrics::Registry& r, const ServeMetricsSources& s) {
  r.AddGauge("certgate_build_info", "The running certgate's version (always 1).", {"version"})
      .With({CERTGATE_VERSION})
      .Set(1);

  auto reading =
      std::make_shared<CertificateReading>(s.certificates, s.clock, s.certificates_max_age);
  s.feed.OnChange([reading] { reading->MarkChanged(); });
  r.AddCollector("certgate_certificates",
                 "Certificates in the store by source: uploaded, managed (issued over ACME), "
                 "service (the default certificate).",
                 Type::kGauge, [reading] { return reading->Get().counts; });
  r.AddCollector("certgate_certificates_expiring",
                 "Certificates whose notAfter is at most within_days days away (expired ones "
                 "included), by source.",
                 Type::kGauge, [reading] { return reading->Get().expiring; });
  r.AddCollector("certgate_certificate_earliest_expiry_timestamp_seconds",
                 "The earliest notAfter of the certificates of each source, as a Unix time.",
                 Type::kGauge, [reading] { return reading->Get().earliest; });
  r.AddCollector("certgate_certificate_expiry_timestamp_seconds",
                 "Each uploaded certificate's notAfter, as a Unix time (certgate renews "
                 "managed ones itself); the 1,000 that expire soonest.",
                 Type::kGauge, [reading] { return reading->Get().uploaded; });

  edge::EdgeServer& edge = s.edge;
  r.AddCollector("certgate_edge_handshakes_total",
                 "TLS handshakes at the edge by result: ok, default_certificate (no "
                 "certificate serves the name asked for), version, no_shared_cipher, alert (the "
                 "client refused), timeout, closed, other.",
                 Type::kCounter, [&edge] {
                   const auto stats = edge.stats();
                   std::vector<Sample> out;
                   for (size_t i = 0; i < stats.handshakes.size(); ++i) {
                     out.push_back(Sample{
                         {{"result", std::string(edge::EdgeServer::HandshakeName(
                                         static_cast<edge::EdgeServer::Handshake>(i)))}},
                         static_cast<double>(stats.handshakes[i])});
                   }
                   return out;
                 });
  r.AddCollector(
      "certgate_edge_connections", "Connections open at the edge.", Type::kGauge,
      [&edge] { return std::vector<Sample>{Value(static_cast<double>(edge.open_connections()))}; });
  r.AddCollector(
      "certgate_edge_context_cache_entries",
      "TLS contexts (a certificate with its key, ready to serve) cached at the edge.", Type::kGauge,
      [&edge] { return std::vector<Sample>{Value(static_cast<double>(edge.contexts().size()))}; });
  r.AddCollector(
      "certgate_edge_context_cache_hits_total",
      "Handshakes whose certificate's context was cached.", Type::kCounter, [&edge] {
        return std::vector<Sample>{Value(static_cast<double>(edge.stats().context_hits))};
      });
  r.AddCollector(
      "certgate_edge_context_cache_misses_total",
      "Handshakes that had their certificate's context built first.", Type::kCounter, [&edge] {
        return std::vector<Sample>{Value(static_cast<double>(edge.stats().context_misses))};
      });
  r.AddCollector("certgate_edge_context_builds_failed_total",
                 "Context builds that failed (the default certificate was served instead).",
                 Type::kCounter, [&edge] {
                   return std::vector<Sample>{
                       Value(static_cast<double>(edge.stats().context_builds_failed))};
                 });

  store::EdgeFeed& feed = s.feed;
  edge::SnapshotPublisher& publisher = s.publisher;
  r.AddCollector("certgate_edge_feed_lag_changes",
                 "Changes committed to the store that the edge has not applied yet.",
                 Type::kGauge, [&feed, &publisher] {
                   auto newest = feed.ChangeSequence();
                   if (!newest) return std::vector<Sample>{};
                   const double lag =
                       static_cast<double>(*newest - publisher.stats().sequence);
                   return std::vector<Sample>{Value(lag < 0 ? 0 : lag)};
                 });

  edge::AcmeTokens& tokens = s.tokens;
  r.AddCollector("certgate_http01_read_throughs_total",
                 "HTTP-01 requests for a token not in memory yet, read from the store.",
                 Type::kCounter, [&tokens] {
                   return std::vector<Sample>{
                       Value(static_cast<double>(tokens.stats().read_throughs))};
                 });
  r.AddCollector("certgate_http01_read_throughs_refused_total",
                 "HTTP-01 requests for an unknown token answered 404 without a store read, as "
                 "enough reads were under way (for the node, or for the client's address).",
                 Type::kCounter, [&tokens] {
                   return std::vector<Sample>{
                       Value(static_cast<double>(tokens.stats().refused_reads))};
                 });

  api::HttpServer& api = s.api;
  r.AddCollector("certgate_api_responses_total", "API responses by status class.",
                 Type::kCounter, [&api] {
                   std::vector<Sample> out;
                   for (int c = 1; c <= 5; ++c) {
                     out.push_back(Sample{{{"code", std::to_string(c) + "xx"}},
                                          static_cast<double>(api.responses(c))});
                   }
                   return out;
                 });

  if (s.manager != nullptr) {
    r.AddCollector("certgate_acme_orders_total",
                   "Attempts at certificate orders by this process, by how they ended: issued, "
                   "dns_error (the user's to fix), internal_error (ours or the CA's), ended "
                   "(the domain changed, or another node took the job over).",
                   Type::kCounter, [manager = s.manager] {
                     const auto stats = manager->stats();
                     return std::vector<Sample>{
                         {{{"outcome", "issued"}}, static_cast<double>(stats.issued)},
                         {{{"outcome", "dns_error"}}, static_cast<double>(stats.failed_dns)},
                         {{{"outcome", "internal_error"}},
                          static_cast<double>(stats.failed_internal)},
                         {{{"outcome", "ended"}}, static_cast<double>(stats.ended)}};
                   });
  }
  if (s.notifier != nullptr) {
    r.AddCollector("certgate_alerts_total",
                   "Deliveries of alerts to webhooks by this process: delivered, failed (an "
                   "attempt that will be retried), abandoned (given up on).",
                   Type::kCounter, [notifier = s.notifier] {
                     const auto stats = notifier->stats();
                     return std::vector<Sample>{
                         {{{"result", "delivered"}}, static_cast<double>(stats.delivered)},
                         {{{"result", "failed"}}, static_cast<double>(stats.failed)},
                         {{{"result", "abandoned"}}, static_cast<double>(stats.abandoned)}};
                   });
    r.AddCollector("certgate_alerts_enqueued_total",
                   "Alerts this process's scans put in the outbox (one per event and webhook).",
                   Type::kCounter, [notifier = s.notifier] {
                     return std::vector<Sample>{
                         {{}, static_cast<double>(notifier->stats().enqueued)}};
                   });
  }
  if (s.outbox != nullptr) {
    r.AddCollector("certgate_alerts_undelivered",
                   "Alerts in the outbox not yet delivered (abandoned ones included).",
                   Type::kGauge, [outbox = s.outbox]() -> std::vector<Sample> {
                     auto n = outbox->CountUndeliveredNotifications();
                     if (!n) return {};
                     return {{{}, static_cast<double>(*n)}};
                   });
  }
  if (s.jobs != nullptr) {
    r.AddCollector("certgate_managed_domain_failures",
                   "Consecutive failed attempts of each managed domain whose last attempt "
                   "failed, with its error_code (DNS_ERROR: the user's to fix); at most 1,000, "
                   "most failures first.",
                   Type::kGauge, [failing = std::make_shared<FailingDomains>(*s.jobs)] {
                     return failing->Get();
                   });
  }

  if (s.dns != nullptr) {
    dns::Responder& dns = *s.dns;
    r.AddCollector("certgate_dns_responses_total",
                   "Answers of the authoritative DNS by RCODE.", Type::kCounter, [&dns] {
                     const auto stats = dns.stats();
                     std::vector<Sample> out;
                     for (size_t i = 0; i < stats.answers_by_rcode.size(); ++i) {
                       if (stats.answers_by_rcode[i] == 0 && i > 5) continue;
                       out.push_back(Sample{{{"rcode", RcodeName(i)}},
                                            static_cast<double>(stats.answers_by_rcode[i])});
                     }
                     return out;
                   });
    r.AddCollector("certgate_dns_dropped_total",
                   "UDP queries dropped unanswered: over their source's budget a second.",
                   Type::kCounter, [&dns] {
                     return std::vector<Sample>{Value(static_cast<double>(dns.stats().dropped))};
                   });
  }
}

std::optional<api::Response> MetricsEndpoint(const metrics::Registry& registry,
                                             const api::Request& req,
                                             const api::RequestContext& ctx, bool loopback_only) {
  auto route = BeginGetRoute(req, "/metrics");
  if (!route || route->refused) {
    return route ? std::optional<api::Response>(std::move(route->res)) : std::nullopt;
  }
  namespace http = api::http;
  api::Response& res = route->res;
  if (loopback_only &&
      (!IsLoopback(ctx.remote.address()) || req.count(http::field::forwarded) > 0 ||
       req.count("X-Forwarded-For") > 0 || req.count("X-Real-IP") > 0 ||
       req.count(http::field::via) > 0)) {
    // A reverse proxy on this machine connects from loopback too: a request
    // that says it was forwarded came from elsewhere.
    res.result(http::status::forbidden);
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() =
        "/metrics is answered to loopback clients only, and not through a proxy (its "
        "series name tenants' certificates); serve it elsewhere with --metrics-listen\n";
  } else {
    res.set(http::field::content_type, metrics::kContentType);
    res.body() = registry.Render();
  }
  return EndGetRoute(req, std::move(res));
}

}  // namespace certgate::app
