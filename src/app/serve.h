// `certgate serve`: the composition root. Opens the local state, prepares a
// first start, runs the API and the edge until SIGTERM or SIGINT, then shuts
// down gracefully (requests in progress finish, for at most 10 s).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "app/local_state.h"

namespace certgate::app {

struct ServeOptions {
  LocalOptions local;
  std::string api_listen = "127.0.0.1:4280";
  // Where /metrics is also served, to any client (empty: only the API
  // listener's, to loopback clients).
  std::string metrics_listen;
  std::string https_listen = ":443";
  std::string http_listen = ":80";
  int edge_workers = 0;  // 0: one per core
  int handshake_timeout_seconds = 10;
  int idle_timeout_seconds = 60;
  int io_timeout_seconds = 60;  // edge: a read or write making no progress
  int max_connections = 100000;
  int max_connections_per_source = 256;  // 0: no limit
  int context_cache = 20000;
  int session_tickets = 1;
  std::string api_url;  // public base URL for "uri" fields; empty: from Host
  // The API's listener: its connection limits and timeouts, and TLS.
  int api_max_connections = 1024;
  int api_max_connections_per_source = 64;
  int api_first_request_timeout_seconds = 10;
  int api_io_timeout_seconds = 30;
  std::string api_tls_cert;  // PEM chain file; with api_tls_key: the API is https
  std::string api_tls_key;   // PEM private key file
  // Or: the API is https with the certificate certgate manages for this
  // name (app/api_domain.h).
  std::string api_domain;
  // Allows plain HTTP on a non-loopback --api-listen (refused otherwise).
  bool api_insecure_http = false;
  std::string base_domain = "certgate.localhost";
  // Most of a write's time is its wait for the disk, and writes waiting
  // together share one transaction and one sync: enough workers for that
  // (16 raised creates/s from 16 clients by ~20% over 4, scale_bench).
  int api_workers = 16;

  // Automatic certificates.
  std::string dns_listen;                   // empty: no authoritative DNS
  uint32_t dns_queries_per_source = 1000;   // UDP answers a second per source; 0: no limit
  std::vector<std::string> edge_addresses;  // A/AAAA answers for edge names
  std::string acme_directory = "https://acme-v02.api.letsencrypt.org/directory";
  std::string acme_ca_file;
  std::vector<std::string> acme_contacts;
  // External Account Binding, for CAs that require one (key id and the
  // base64url HMAC key the CA issued).
  std::string acme_eab_kid;
  std::string acme_eab_hmac_key;
  std::string resolver;  // host:port; empty: the system's
  int acme_concurrency = 8;  // 0: this node orders no certificates
  int acme_lease_seconds = 1800;
  int acme_retry_min_seconds = 10;
  int acme_retry_max_seconds = 3600;

  // Alerts (notify/notifier.h): webhooks that get each event as a signed
  // JSON POST, with the signing key's file (else
  // $CERTGATE_NOTIFY_WEBHOOK_SECRET), and the first retry's delay.
  std::vector<std::string> notify_webhooks;
  std::string notify_webhook_secret_file;
  int notify_retry_min_seconds = 10;
  int notify_scan_interval_seconds = 15;
};

// Returns the process exit code. Prints to stdout: the first account's API
// key on a first start, the listening addresses, then "certgate ready".
// SIGHUP reloads the API's TLS certificate and key (keeping the old ones,
// with a logged reason, when the new files are bad).
int RunServe(const ServeOptions& options);

}  // namespace certgate::app
