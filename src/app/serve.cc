#include "app/serve.h"

#include <fmt/format.h>
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "api/api_service.h"
#include "api/api_tls.h"
#include "api/http_server.h"
#include "app/api_domain.h"
#include "app/bootstrap.h"
#include "app/health.h"
#include "app/serve_metrics.h"
#include "acme/client.h"
#include "core/host_port.h"
#include "dns/responder.h"
#include "edge/edge_server.h"
#include "edge/snapshot_publisher.h"
#include "metrics/metrics.h"
#include "names/domain_name.h"
#include "notify/notifier.h"
#include "provision/acme_issuer.h"
#include "provision/certificate_manager.h"
#include "provision/dns01_solver.h"
#include "provision/dns_resolver.h"
#include "provision/http01_solver.h"
#include "provision/zone_cache.h"
#include "store/postgres/change_listener.h"
#include "store/postgres/pg_store.h"

namespace certgate::app {
namespace {

namespace net = boost::asio;

constexpr auto kShutdownGrace = std::chrono::seconds(10);
// Well inside TicketKeyOptions::usable_after (2 min): every node knows a new
// ticket key before any node issues tickets with it.
constexpr auto kTicketKeyRefresh = std::chrono::seconds(60);
// How soon the API serves --api-domain's new certificate.
constexpr auto kApiDomainRefresh = std::chrono::seconds(2);

int Fail(const Error& error) {
  fmt::print(stderr, "certgate: {}\n", error.message);
  return 1;
}

// Every open connection is a descriptor: raise the soft limit toward what
// --max-connections needs (the hard limit caps it), and say so when it
// cannot reach it.
void RaiseOpenFileLimit(size_t connections) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
  const rlim_t want = static_cast<rlim_t>(connections) + 1024;  // upstreams, store, listeners
  rlim_t target = std::min(want, lim.rlim_max);
  if (target > lim.rlim_cur) {
    lim.rlim_cur = target;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0) getrlimit(RLIMIT_NOFILE, &lim);
  }
  if (lim.rlim_cur < want) {
    spdlog::warn("the open-file limit is {}: fewer than --max-connections {} connections can be "
                 "open at once (raise it with ulimit -n or LimitNOFILE=)",
                 lim.rlim_cur, connections);
  }
}

// glibc gives memory back to the kernel as soon as the free space at the top
// of a thread's heap passes 128 KiB (and the first frees of large blocks
// move that mark): under a burst of API writes the workers and followers
// then madvise pages away and fault them back in on nearly every request,
// each madvise flushing the TLBs of every cpu the process runs on. That
// cost ~40% of the server's CPU per domain create (scale_bench). A fixed
// mark of a few MiB keeps that working set; an operator's own
// GLIBC_TUNABLES for malloc still win. Set once serving has begun, from the
// main thread (mallopt is safe beside other threads).
void KeepWorkingMemory() {
  if (const char* tunables = std::getenv("GLIBC_TUNABLES");
      tunables != nullptr &&
      std::string_view(tunables).find("glibc.malloc.") != std::string_view::npos) {
    return;
  }
  constexpr int kTrimThreshold = 4 << 20;
  constexpr int kMmapThreshold = 1 << 20;
  mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
  mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
}

}  // namespace

int RunServe(const ServeOptions& options) {
  auto api_addr = ParseHostPort(options.api_listen, "--api-listen");
  if (!api_addr) return Fail(api_addr.error());
  if (options.api_tls_cert.empty() != options.api_tls_key.empty()) {
    return Fail(MakeError(ErrorCode::kConfigInvalid,
                          "--api-tls-cert and --api-tls-key go together"));
  }
  if (!options.api_domain.empty() && !options.api_tls_cert.empty()) {
    return Fail(MakeError(ErrorCode::kConfigInvalid,
                          "--api-domain and --api-tls-cert both name the API's certificate; "
                          "give one"));
  }
  std::unique_ptr<api::ApiTls> api_tls;
  if (!options.api_domain.empty()) {
    // TLS with the domain's managed certificate (below, once the store is open).
  } else if (!options.api_tls_cert.empty()) {
    auto loaded = api::ApiTls::Load(options.api_tls_cert, options.api_tls_key);
    if (!loaded) return Fail(loaded.error());
    api_tls = std::move(*loaded);
  } else if (!options.api_insecure_http) {
    boost::system::error_code ec;
    auto ip = net::ip::make_address(api_addr->host, ec);
    if (ec || !ip.is_loopback()) {
      return Fail(MakeError(
          ErrorCode::kConfigInvalid,
          fmt::format("--api-listen {}: the API would serve API keys over plain HTTP beyond "
                      "this machine; give --api-domain (a certificate certgate obtains) or "
                      "--api-tls-cert and --api-tls-key, listen on a loopback address, or pass "
                      "--api-insecure-http if a TLS proxy in front takes care of it",
                      options.api_listen)));
    }
  }
  auto https_addr = ParseHostPort(options.https_listen, "--https-listen");
  if (!https_addr) return Fail(https_addr.error());
  auto http_addr = ParseHostPort(options.http_listen, "--http-listen");
  if (!http_addr) return Fail(http_addr.error());
  auto normalized_base = names::NormalizeDomain(options.base_domain);
  if (!normalized_base || names::IsWildcard(*normalized_base)) {
    return Fail(MakeError(ErrorCode::kConfigInvalid,
                          fmt::format("--base-domain: {}",
                                      normalized_base ? "give the domain itself, not a wildcard"
                                                      : normalized_base.error().message)));
  }
  const std::string base_domain = *normalized_base;
  // Alerts' webhooks and signing key: checked before anything starts.
  std::optional<SecretBytes> notify_secret;
  if (!options.notify_webhooks.empty()) {
    if (auto parsed = notify::ParseWebhooks(options.notify_webhooks); !parsed) {
      return Fail(parsed.error());
    }
    auto secret = notify::ReadWebhookSecret(options.notify_webhook_secret_file);
    if (!secret) return Fail(secret.error());
    notify_secret = std::move(*secret);
  }
  std::optional<HostPort> metrics_addr;
  if (!options.metrics_listen.empty()) {
    auto parsed = ParseHostPort(options.metrics_listen, "--metrics-listen");
    if (!parsed) return Fail(parsed.error());
    metrics_addr = *parsed;
  }
  std::optional<HostPort> dns_addr;
  if (!options.dns_listen.empty()) {
    auto parsed = ParseHostPort(options.dns_listen, "--dns-listen");
    if (!parsed) return Fail(parsed.error());
    dns_addr = *parsed;
  }
  std::vector<net::ip::address> edge_ips;
  for (const std::string& text : options.edge_addresses) {
    boost::system::error_code ec;
    auto ip = net::ip::make_address(text, ec);
    if (ec) {
      return Fail(MakeError(ErrorCode::kConfigInvalid,
                            fmt::format("--edge-address: '{}' is not an IP address", text)));
    }
    edge_ips.push_back(ip);
  }
  if (dns_addr && edge_ips.empty()) {
    return Fail(MakeError(ErrorCode::kConfigInvalid,
                          "--dns-listen needs at least one --edge-address: the DNS answers "
                          "cname targets with the edge's public addresses"));
  }
  std::optional<HostPort> resolver_addr;
  if (!options.resolver.empty()) {
    auto parsed = ParseHostPort(options.resolver, "--resolver");
    if (!parsed) return Fail(parsed.error());
    resolver_addr = *parsed;
  }
  if (options.acme_eab_kid.empty() != options.acme_eab_hmac_key.empty()) {
    return Fail(MakeError(ErrorCode::kConfigInvalid,
                          "--acme-eab-kid and --acme-eab-hmac-key go together"));
  }
  if (options.acme_retry_min_seconds > options.acme_retry_max_seconds) {
    return Fail(MakeError(ErrorCode::kConfigInvalid,
                          "--acme-retry-min must not be more than --acme-retry-max"));
  }

  auto state = OpenLocal(options.local);
  if (!state) return Fail(state.error());
  // The whole store; each part below takes only the roles it uses.
  store::Store& store = *state->store;
  seal::KeyVault& vault = *state->vault;
  const Clock& clock = SystemClock::Instance();

  // The metrics: the ACME client's families and the store's latency now
  // (before any thread reads the store, and so outliving them all), the rest
  // once everything they read exists (RegisterServeMetrics); rendered only
  // after Start.
  metrics::Registry registry;
  const AcmeMetrics acme_metrics = RegisterAcmeMetrics(registry);
  StoreLatencyMetrics store_latency(registry);
  // Reported to from now until this scope ends, whichever way it does.
  struct LatencyObserved {
    store::LatencyReporting* reporting;
    ~LatencyObserved() {
      if (reporting != nullptr) reporting->SetLatencyObserver(nullptr);
    }
  } latency_observed{store::AsLatencyReporting(store)};
  if (latency_observed.reporting != nullptr) {
    latency_observed.reporting->SetLatencyObserver(&store_latency);
  }

  // Before anything lists certificates: rows from before the summary existed.
  if (auto r = BackfillCertificateSummaries(store); !r) return Fail(r.error());
  auto default_cert = EnsureDefaultCertificate(store, store, vault, base_domain, clock.Now());
  if (!default_cert) return Fail(default_cert.error());
  auto first = EnsureFirstAccount(store, clock.Now());
  if (!first) return Fail(first.error());
  // --api-domain: the API's certificate is the managed domain's.
  std::unique_ptr<ApiDomainTls> api_domain_tls;
  if (!options.api_domain.empty()) {
    auto name = EnsureApiDomain(store, options.api_domain, clock);
    if (!name) return Fail(name.error());
    auto made = ApiDomainTls::Create(*name, store, store, vault, clock);
    if (!made) return Fail(made.error());
    api_domain_tls = std::move(*made);
  }
  api::ApiTls* const api_tls_in_use =
      api_domain_tls ? &api_domain_tls->tls() : api_tls.get();
  if (*first) {
    fmt::print(
        "created account {} (plan payg) and its first API key; it is shown only this once:\n"
        "  {}\n"
        "  export CERTGATE_API_KEY={}\n",
        (*first)->account.id, (*first)->key.token, (*first)->key.token);
  }

  edge::EdgeOptions edge_options;
  edge_options.https_listen = *https_addr;
  edge_options.http_listen = *http_addr;
  edge_options.workers = options.edge_workers;
  edge_options.handshake_timeout = std::chrono::seconds(options.handshake_timeout_seconds);
  edge_options.http.idle_timeout = std::chrono::seconds(options.idle_timeout_seconds);
  edge_options.max_connections = static_cast<size_t>(options.max_connections);
  edge_options.http.io_timeout = std::chrono::seconds(options.io_timeout_seconds);
  edge_options.max_connections_per_source =
      static_cast<size_t>(options.max_connections_per_source);
  RaiseOpenFileLimit(edge_options.max_connections);
  edge_options.context_cache_capacity = static_cast<size_t>(options.context_cache);
  edge_options.session_tickets = options.session_tickets;
  // Ticket keys from the store, so that a session resumes on any node (and
  // across restarts); refreshed below, which also rotates them.
  edge::TicketKeyRing ticket_keys;
  if (options.session_tickets > 0) {
    if (auto r = ticket_keys.Refresh(store, vault, clock.Now()); !r) return Fail(r.error());
    edge_options.ticket_keys = &ticket_keys;
  }
  // The HTTP-01 answers in memory, loaded before the edge listens.
  edge::AcmeTokens acme_tokens(store, store);
  if (auto r = acme_tokens.Load(); !r) return Fail(r.error());
  // In a cluster, every certificate copied to this node's disk (keys still
  // sealed), so that it serves every name it knows while the database is
  // away, including names it never served before. Made before the edge,
  // which reads it, so that it goes after the edge on every way out.
  std::unique_ptr<edge::CertificateMirror> mirror;
  if (store::PostgresConninfo(store)) {
    auto opened = edge::CertificateMirror::Open(state->data_dir / "edge-certificates.db", store,
                                                store, store);
    if (!opened) return Fail(opened.error());
    mirror = std::move(*opened);
  }
  auto edge = edge::EdgeServer::Create(edge_options, store, acme_tokens, vault, *default_cert);
  if (!edge) return Fail(edge.error());
  if (mirror) (*edge)->UseCertificateMirror(*mirror);
  edge::SnapshotPublisher publisher(store, **edge, *default_cert);
  if (auto r = publisher.PublishNow(); !r) return Fail(r.error());
  // The zone in memory, so that the responder never waits on the store. It
  // loads on its follower's thread once everything has started (until then
  // it answers from the store), so that a million names do not hold up
  // the edge.
  provision::ZoneCache zone(store, store, store, base_domain);
  auto edge_addrs = (*edge)->Listen();
  if (!edge_addrs) return Fail(edge_addrs.error());
  std::unique_ptr<dns::Responder> dns_responder;
  std::optional<HostPort> dns_bound;
  if (dns_addr) {
    dns::ResponderOptions dns_options;
    dns_options.listen = *dns_addr;
    dns_options.zone = base_domain;
    dns_options.edge_addresses = edge_ips;
    dns_options.udp_queries_per_source = options.dns_queries_per_source;
    auto responder = dns::Responder::Create(dns_options, zone);
    if (!responder) return Fail(responder.error());
    dns_responder = std::move(*responder);
    auto bound_dns = dns_responder->Listen();
    if (!bound_dns) return Fail(bound_dns.error());
    dns_bound = *bound_dns;
  }

  // The certificate manager and its collaborators, which outlive it.
  provision::AcmeIssuerOptions issuer_options;
  issuer_options.observe = acme_metrics.observe;
  issuer_options.directory_url = options.acme_directory;
  issuer_options.ca_file = options.acme_ca_file;
  issuer_options.contacts = options.acme_contacts;
  if (!options.acme_eab_kid.empty()) {
    issuer_options.eab = acme::ExternalAccountBinding{options.acme_eab_kid,
                                                      options.acme_eab_hmac_key};
  }
  auto issuer = provision::AcmeIssuer::Create(issuer_options, store, vault, clock);
  if (!issuer) return Fail(issuer.error());
  auto cname_resolver = provision::MakeDnsResolver(resolver_addr);
  if (!cname_resolver) return Fail(cname_resolver.error());
  provision::Http01Solver http01_solver(store);
  // In a cluster the CA's resolver may ask any node's DNS; they all serve a
  // new record within a second (docs/cluster.md), so the solver waits that.
  provision::Dns01Solver dns01_solver(
      store,
      [&zone, serving = dns_addr.has_value()] {
        return serving ? zone.CatchUp() : Result<void>();
      },
      store::PostgresConninfo(store) ? std::chrono::milliseconds(1000)
                                     : std::chrono::milliseconds(0));
  // Alerts to webhooks, through the store's outbox; the job runner enqueues
  // the alerts of an issued certificate along with it.
  std::unique_ptr<notify::Notifier> notifier;
  if (notify_secret) {
    notify::NotifierOptions notify_options;
    notify_options.webhooks = options.notify_webhooks;
    notify_options.node_id = state->node_id;
    notify_options.retry_min = std::chrono::seconds(options.notify_retry_min_seconds);
    notify_options.scan_interval = std::chrono::seconds(options.notify_scan_interval_seconds);
    notify_options.user_agent = "certgate/" CERTGATE_VERSION;
    auto made = notify::Notifier::Create(notify_options, std::move(*notify_secret), store, clock);
    if (!made) return Fail(made.error());
    notifier = std::move(*made);
  }
  // With --acme-concurrency 0 this node orders nothing: it answers the
  // challenges of the nodes that do, and serves what they get.
  std::unique_ptr<provision::CertificateManager> manager;
  if (options.acme_concurrency > 0) {
    provision::CertificateManagerOptions manager_options;
    manager_options.node_id = state->node_id;
    manager_options.concurrency = options.acme_concurrency;
    manager_options.runner.retry_min = std::chrono::seconds(options.acme_retry_min_seconds);
    manager_options.runner.retry_max = std::chrono::seconds(options.acme_retry_max_seconds);
    manager_options.runner.lease = std::chrono::seconds(options.acme_lease_seconds);
    provision::ProvisioningServices services{.jobs = store,
                                             .domains = store,
                                             .vault = vault,
                                             .issuer = **issuer,
                                             .resolver = **cname_resolver,
                                             .http01 = http01_solver,
                                             .dns01 = dns01_solver,
                                             .clock = clock};
    if (notifier) {
      services.issued_alerts = [n = notifier.get()](const store::ProvisioningJob& job,
                                                    const store::Certificate& cert) {
        return n->IssuedAlerts(job, cert);
      };
      services.on_failure = [n = notifier.get()](const store::ProvisioningJob& job,
                                                 const Error& error) {
        n->OnJobFailure(job, error);
      };
    }
    auto made = provision::CertificateManager::Create(manager_options, services);
    if (!made) return Fail(made.error());
    manager = std::move(*made);
  } else {
    spdlog::info("acme: --acme-concurrency 0: this node orders no certificates; it answers "
                 "challenges and serves what other nodes order");
    if (!store::PostgresConninfo(store)) {
      spdlog::warn("acme: --acme-concurrency 0 on a store no other node shares: managed domains "
                   "will get no certificates");
    }
  }

  net::io_context io(1);
  net::thread_pool workers(static_cast<size_t>(std::max(1, options.api_workers)));
  const api::ApiServiceStores api_stores{.accounts = store,
                                         .certificates = store,
                                         .domains = store,
                                         .endpoints = store,
                                         .jobs = store};
  api::ApiService service(api_stores, vault, clock,
                          api::ApiServiceOptions{options.api_url, base_domain, resolver_addr});
  std::atomic<bool> edge_listening{false};
  std::atomic<bool> stopping{false};
  const Readiness readiness{[&store]() -> Result<void> {
                              CG_RETURN_IF_ERROR(store.ChangeSequence());
                              return {};
                            },
                            edge_listening, stopping};
  api::HttpServer server(
      io, workers,
      [&service, &registry, &readiness](api::Request& req, const api::RequestContext& ctx) {
        if (auto ready = ReadinessEndpoint(req, readiness)) return std::move(*ready);
        // /metrics here only for loopback clients: its series name tenants'
        // certificates (--metrics-listen serves it to whoever reaches that).
        if (auto metrics = MetricsEndpoint(registry, req, ctx, /*loopback_only=*/true)) {
          return std::move(*metrics);
        }
        return service.Handle(req, ctx);
      },
      [&] {
        api::HttpServerOptions o;
        o.max_connections = static_cast<size_t>(options.api_max_connections);
        o.max_connections_per_source = static_cast<size_t>(options.api_max_connections_per_source);
        o.first_request_timeout = std::chrono::seconds(options.api_first_request_timeout_seconds);
        o.io_timeout = std::chrono::seconds(options.api_io_timeout_seconds);
        o.tls = api_tls_in_use;
        return o;
      }());
  auto bound = server.Listen(api_addr->host, api_addr->port);
  if (!bound) return Fail(bound.error());
  RegisterServeMetrics(registry, ServeMetricsSources{.certificates = store,
                                                     .feed = store,
                                                     .edge = **edge,
                                                     .publisher = publisher,
                                                     .tokens = acme_tokens,
                                                     .api = server,
                                                     .dns = dns_responder.get(),
                                                     .manager = manager.get(),
                                                     .jobs = &store,
                                                     .notifier = notifier.get(),
                                                     .outbox = notifier ? &store : nullptr,
                                                     .clock = clock});
  // --metrics-listen: /metrics (and nothing else) to any client there.
  std::optional<api::HttpServer> metrics_server;
  std::optional<api::tcp::endpoint> metrics_bound;
  if (metrics_addr) {
    metrics_server.emplace(
        io, workers,
        [&registry](api::Request& req, const api::RequestContext& ctx) {
          if (auto metrics = MetricsEndpoint(registry, req, ctx, /*loopback_only=*/false)) {
            return std::move(*metrics);
          }
          api::Response res{api::http::status::not_found, req.version()};
          res.set(api::http::field::content_type, "text/plain; charset=utf-8");
          res.body() = "this listener serves /metrics only\n";
          res.prepare_payload();
          return res;
        },
        api::HttpServerOptions{});
    auto listening = metrics_server->Listen(metrics_addr->host, metrics_addr->port);
    if (!listening) return Fail(listening.error());
    metrics_bound = *listening;
    metrics_server->Start();
  }
  server.Start();
  (*edge)->Start();
  edge_listening = true;
  publisher.Start();
  acme_tokens.Start();
  if (mirror) mirror->Start();
  if (dns_responder) {
    zone.Start();
    dns_responder->Start();
  }
  if (manager) {
    if (auto r = manager->Start(); !r) return Fail(r.error());
  }
  if (notifier) notifier->Start();
  // In a cluster, other nodes' writes: heard at once through LISTEN, which
  // wakes the followers above (they also poll, should the session go silent).
  std::optional<store::pg::ChangeListener> listener;
  if (auto conninfo = store::PostgresConninfo(store)) {
    listener.emplace(io.get_executor(), *conninfo,
                     [&store] { store::AnnounceOutsideChange(store); });
    listener->Start();
  }
  // Store writes (a new managed domain) start provisioning at once. The
  // callback outlives the manager, so it goes through a pointer cleared first.
  auto wake_target =
      std::make_shared<std::atomic<provision::CertificateManager*>>(manager.get());
  store.OnChange([wake_target] {
    if (provision::CertificateManager* m = wake_target->load()) m->Wake();
  });

  // Every minute: another node's new ticket key, or a new one when due. On
  // the workers, not this loop: with the database away, a read may wait
  // for its connect timeout.
  net::steady_timer ticket_refresh(io);
  std::function<void(const boost::system::error_code&)> on_ticket_refresh =
      [&](const boost::system::error_code& ec) {
        if (ec) return;
        net::post(workers, [&] {
          if (auto r = ticket_keys.Refresh(store, vault, clock.Now()); !r) {
            spdlog::warn("edge: keeping the current session ticket keys: {}", r.error().message);
          }
        });
        ticket_refresh.expires_after(kTicketKeyRefresh);
        ticket_refresh.async_wait(on_ticket_refresh);
      };
  if (options.session_tickets > 0) {
    ticket_refresh.expires_after(kTicketKeyRefresh);
    ticket_refresh.async_wait(on_ticket_refresh);
  }

  // --api-domain: the domain's certificate as it is issued and renewed,
  // looked at every few seconds (on the workers: a store read may wait).
  net::steady_timer api_domain_refresh(io);
  std::atomic<bool> api_domain_refreshing{false};
  std::function<void(const boost::system::error_code&)> on_api_domain_refresh =
      [&](const boost::system::error_code& ec) {
        if (ec) return;
        if (!api_domain_refreshing.exchange(true)) {
          net::post(workers, [&] {
            if (auto r = api_domain_tls->Refresh(); !r) {
              spdlog::warn("api: keeping the API's current certificate: {}", r.error().message);
            }
            api_domain_refreshing = false;
          });
        }
        api_domain_refresh.expires_after(kApiDomainRefresh);
        api_domain_refresh.async_wait(on_api_domain_refresh);
      };
  if (api_domain_tls) {
    api_domain_refresh.expires_after(kApiDomainRefresh);
    api_domain_refresh.async_wait(on_api_domain_refresh);
  }

  net::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("received signal {}, shutting down", signo);
    stopping = true;
    if (metrics_server) metrics_server->Shutdown(std::chrono::seconds(1), [] {});
    server.Shutdown(kShutdownGrace, [&io] { io.stop(); });
  });
  // SIGHUP: the API's certificate and key again (renewed files in place).
  net::signal_set hangup(io, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_hangup =
      [&](const boost::system::error_code& ec, int) {
        if (ec) return;
        if (!api_tls) {
          spdlog::info("received SIGHUP: the API has no TLS certificate files to reload");
        } else if (auto r = api_tls->Reload(); !r) {
          spdlog::error("received SIGHUP: keeping the API's current TLS certificate ({}): {}",
                        api_tls->Describe(), r.error().message);
        } else {
          spdlog::info("received SIGHUP: the API's TLS certificate is now {}",
                       api_tls->Describe());
        }
        hangup.async_wait(on_hangup);
      };
  hangup.async_wait(on_hangup);

  const std::string api_url = (api_tls_in_use != nullptr ? "https://" : "http://") +
                              FormatHostPort(bound->address().to_string(), bound->port());
  fmt::print("api: {}\n", options.api_url.empty() ? api_url : options.api_url);
  fmt::print("dashboard: {}/\n", options.api_url.empty() ? api_url : options.api_url);
  fmt::print("https: {}\n", FormatHostPort(edge_addrs->first.address().to_string(),
                                           edge_addrs->first.port()));
  fmt::print("http: {}\n", FormatHostPort(edge_addrs->second.address().to_string(),
                                          edge_addrs->second.port()));
  if (dns_bound) fmt::print("dns: {}\n", FormatHostPort(dns_bound->host, dns_bound->port));
  if (metrics_bound) {
    fmt::print("metrics: http://{}/metrics\n",
               FormatHostPort(metrics_bound->address().to_string(), metrics_bound->port()));
  }
  fmt::print("certgate ready\n");
  std::fflush(stdout);
  // Only now: during start-up glibc's own marks are faster (loading a
  // million names took 0.96 s under the fixed ones, 0.91 s without them).
  KeepWorkingMemory();

  io.run();
  workers.join();
  wake_target->store(nullptr);
  if (manager) manager->Stop();
  if (notifier) notifier->Stop();
  if (dns_responder) dns_responder->Stop();
  zone.Stop();
  publisher.Stop();
  acme_tokens.Stop();
  (*edge)->Stop(std::chrono::seconds(5));
  if (mirror) mirror->Stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace certgate::app
