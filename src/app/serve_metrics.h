// The metrics of a `certgate serve` process, for Prometheus, and the
// /metrics endpoint that renders them.
//
// The series (all read at scrape time from the parts' own counters, or from
// the store, so that no hot path does more than it did):
//   certgate_build_info{version}                              gauge, 1
//   certgate_certificates{source}                             gauge
//   certgate_certificates_expiring{source,within_days}        gauge (1, 7, 14, 30 days)
//   certgate_certificate_earliest_expiry_timestamp_seconds{source}   gauge
//   certgate_certificate_expiry_timestamp_seconds{certificate_id,account_id,common_name}
//       gauge, uploaded certificates only (one series each: a million
//       managed names make no million series), the kMaxExpirySeries that
//       expire soonest (a tenant's many uploads cannot swell every scrape)
//   certgate_edge_handshakes_total{result}                    counter
//   certgate_edge_connections                                 gauge
//   certgate_edge_context_cache_entries                       gauge
//   certgate_edge_context_cache_hits_total, _misses_total     counter
//   certgate_edge_context_builds_failed_total                 counter
//   certgate_edge_feed_lag_changes                            gauge
//   certgate_http01_read_throughs_total, _refused_total       counter
//   certgate_api_responses_total{code}                        counter (code: 2xx ...)
//   certgate_dns_responses_total{rcode}, certgate_dns_dropped_total   counter
//   certgate_acme_requests_total{endpoint,code}               counter (code: the HTTP
//       status, or "none" when the CA did not answer)
//   certgate_acme_request_duration_seconds{endpoint}          histogram
//   certgate_acme_orders_total{outcome}                       counter (issued,
//       dns_error, internal_error, ended), this process's attempts
//   certgate_managed_domain_failures{domain,error_code}       gauge: consecutive failed
//       attempts of each managed domain whose last attempt failed (at most 1,000)
//   certgate_store_operation_duration_seconds{operation}      histogram (read: one use
//       of a connection; write: a whole write transaction, its wait and sync included)
//   certgate_alerts_total{result}                             counter (delivered, failed:
//       an attempt to be retried, abandoned), this process's webhook deliveries
//   certgate_alerts_enqueued_total                            counter, by this process's scans
//   certgate_alerts_undelivered                               gauge, the outbox's
// source is "uploaded", "managed" (issued over ACME) or "service" (the
// default certificate).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "api/http_server.h"
#include "api/http_types.h"
#include "core/time.h"
#include "metrics/metrics.h"
#include "store/certificate_store.h"
#include "store/edge_feed.h"
#include "store/job_store.h"
#include "store/notification_store.h"
#include "store/store_latency.h"

namespace certgate::edge {
class AcmeTokens;
class EdgeServer;
class SnapshotPublisher;
}  // namespace certgate::edge
namespace certgate::dns {
class Responder;
}
namespace certgate::provision {
class CertificateManager;
}
namespace certgate::notify {
class Notifier;
}

namespace certgate::app {

// The per-certificate expiry series: of the uploaded certificates, the
// `limit` that expire soonest (ties by id), in no particular order.
inline constexpr size_t kMaxExpirySeries = 1000;
std::vector<metrics::Sample> SoonestExpiries(std::vector<store::CertificateExpiry> uploaded,
                                             size_t limit);

// The ACME client's families, registered before the client exists.
struct AcmeMetrics {
  // For AcmeIssuerOptions::observe.
  std::function<void(std::string_view endpoint, int status, std::chrono::duration<double> took)>
      observe;
};
AcmeMetrics RegisterAcmeMetrics(metrics::Registry& registry);

// The store's latency histograms, fed as its LatencyObserver
// (store::AsLatencyReporting): set it once registered, and clear it before
// this goes.
class StoreLatencyMetrics final : public store::LatencyObserver {
 public:
  explicit StoreLatencyMetrics(metrics::Registry& registry);
  void ObserveRead(std::chrono::steady_clock::duration took) override;
  void ObserveWrite(std::chrono::steady_clock::duration took) override;

 private:
  metrics::Family<metrics::Histogram>& family_;
  metrics::Histogram& read_;
  metrics::Histogram& write_;
};

// What the metrics read; each must outlive the registry's use.
struct ServeMetricsSources {
  store::CertificateStore& certificates;
  store::EdgeFeed& feed;
  edge::EdgeServer& edge;
  edge::SnapshotPublisher& publisher;
  edge::AcmeTokens& tokens;
  api::HttpServer& api;
  dns::Responder* dns = nullptr;  // null when the DNS is off
  provision::CertificateManager* manager = nullptr;  // null when this node orders nothing
  store::JobStore* jobs = nullptr;  // for the failing domains; null: no such series
  notify::Notifier* notifier = nullptr;  // null: no webhooks, no alert series
  store::NotificationStore* outbox = nullptr;  // with notifier
  const Clock& clock;
  // The longest a reading of the certificates (a pass over every one in
  // the store) is reused; a change to the store makes the next scrape (at
  // most one a second) read them again.
  std::chrono::seconds certificates_max_age{300};
};

void RegisterServeMetrics(metrics::Registry& registry, const ServeMetricsSources& sources);

// GET /metrics: the registry rendered. nullopt for any other path, so the
// caller goes on to its own routes. With loopback_only, a client from
// another address gets 403: the series name tenants' certificates.
std::optional<api::Response> MetricsEndpoint(const metrics::Registry& registry,
                                             const api::Request& req,
                                             const api::RequestContext& ctx, bool loopback_only);

}  // namespace certgate::app
