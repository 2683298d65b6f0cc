#include <fmt/format.h>

#include "app/serve.h"
#include "cli/commands.h"

namespace certgate::cli {

void AddServeCommand(CLI::App& root) {
  auto options = std::make_shared<app::ServeOptions>();
  CLI::App* cmd = root.add_subcommand(
      "serve",
      "Run certgate: the API (and dashboard) and the TLS edge. Prints 'certgate ready' once "
      "listening; "
      "SIGTERM or SIGINT stops it gracefully. Every flag can also be set in the --config file "
      "as 'flag-name: value'.");
  // --config belongs to the root app (see yaml_config.h); serve passes it up.
  cmd->fallthrough();
  cmd->footer(
      "Config file: --config FILE (YAML) sets any of the flags above, e.g.\n"
      "  api-listen: 127.0.0.1:4280\n  base-domain: example.net\n"
      "Flags given on the command line win over the file.");
  AddLocalOptions(cmd, options->local);
  cmd->add_option("--api-listen", options->api_listen,
                  "API address host:port; port 0 picks a free port")
      ->capture_default_str();
  cmd->add_option("--https-listen", options->https_listen,
                  "Edge HTTPS address host:port (\":443\" is every IPv4 address)")
      ->capture_default_str();
  cmd->add_option("--http-listen", options->http_listen,
                  "Edge plain-HTTP address: redirects to https")
      ->capture_default_str();
  cmd->add_option("--edge-workers", options->edge_workers,
                  "Edge threads, each with its own listeners (default: one per core)")
      ->check(CLI::Range(0, 256));
  cmd->add_option("--handshake-timeout", options->handshake_timeout_seconds,
                  "Seconds a client has to complete its TLS handshake")
      ->check(CLI::Range(1, 300))
      ->capture_default_str();
  cmd->add_option("--idle-timeout", options->idle_timeout_seconds,
                  "Seconds an edge connection may sit idle between requests")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  cmd->add_option("--io-timeout", options->io_timeout_seconds,
                  "Seconds an edge read or write may make no progress (a request body that "
                  "stops arriving is answered 408)")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  cmd->add_option("--max-connections", options->max_connections,
                  "Open edge connections at most; when full, the oldest one without a finished "
                  "handshake or first request (else the oldest idle one) is closed for a new one")
      ->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  cmd->add_option("--max-connections-per-source", options->max_connections_per_source,
                  "Open edge connections from one IP address (an IPv6 /64) at most; further ones "
                  "are closed at once (0: no limit)")
      ->check(CLI::Range(0, 10000000))
      ->capture_default_str();
  cmd->add_option("--context-cache", options->context_cache,
                  "Certificates kept ready for handshakes; others are loaded on demand")
      ->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  cmd->add_option("--tls-session-tickets", options->session_tickets,
                  "TLS 1.3 session tickets sent after each full handshake (0 turns resumption "
                  "by ticket off and makes full handshakes cheaper)")
      ->check(CLI::Range(0, 8))
      ->capture_default_str();
  cmd->add_option("--api-url", options->api_url,
                  "The API's public base URL for resource 'uri' fields "
                  "(default: from each request's Host header)");
  cmd->add_option("--base-domain", options->base_domain,
                  "The service's own domain; the default certificate covers it and *.<it>")
      ->capture_default_str();
  cmd->add_option("--api-workers", options->api_workers,
                  "Threads handling API requests (writes that wait for the disk together "
                  "share one transaction and one sync)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--api-max-connections", options->api_max_connections,
                  "Open API connections at most; when full, the one waiting longest without a "
                  "request is closed for a new one")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  cmd->add_option("--api-max-connections-per-source", options->api_max_connections_per_source,
                  "Open API connections from one IP address at most; further ones are closed at "
                  "once")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  cmd->add_option("--api-first-request-timeout", options->api_first_request_timeout_seconds,
                  "Seconds a new API connection has for its TLS handshake and first request "
                  "head")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  cmd->add_option("--api-io-timeout", options->api_io_timeout_seconds,
                  "Seconds an API connection may sit idle between requests, and that a request "
                  "body or a response may take (an incomplete request is answered 408)")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  cmd->add_option("--api-tls-cert", options->api_tls_cert,
                  "PEM certificate chain (leaf first) for serving the API over https; SIGHUP "
                  "reloads it")
      ->check(CLI::ExistingFile);
  cmd->add_option("--api-tls-key", options->api_tls_key,
                  "PEM private key of --api-tls-cert (unencrypted); SIGHUP reloads it")
      ->check(CLI::ExistingFile);
  cmd->add_option("--api-domain", options->api_domain,
                  "Serve the API over TLS for this name, with a certificate certgate obtains "
                  "over ACME and renews like any managed domain (point the name's A/AAAA "
                  "records at the edge; until the CA's certificate arrives, a self-signed one "
                  "serves)");
  cmd->add_flag("--api-insecure-http", options->api_insecure_http,
                "Allow plain HTTP on a non-loopback --api-listen (API keys then cross the "
                "network in the clear; only behind a TLS proxy)");
  cmd->add_option("--metrics-listen", options->metrics_listen,
                  "Address where Prometheus metrics (/metrics) are served to any client that "
                  "reaches it; without it, /metrics is on the API listener for loopback "
                  "clients only (the series name tenants' certificates)");
  cmd->add_option("--dns-listen", options->dns_listen,
                  "Address (UDP and TCP) of the authoritative DNS for the base domain: A/AAAA "
                  "for cname targets and reserved subdomains, TXT for DNS-01 (default: off)");
  cmd->add_option("--dns-max-queries-per-source", options->dns_queries_per_source,
                  "UDP answers a second the DNS gives one source address; more are dropped "
                  "before any lookup, so one source's flood cannot crowd out resolvers "
                  "(0: no limit)")
      ->capture_default_str();
  cmd->add_option("--edge-address", options->edge_addresses,
                  "A public IP address of the edge, answered for cname targets (repeatable)");
  cmd->add_option("--acme-directory", options->acme_directory,
                  "ACME directory URL that authority 'letsencrypt' uses")
      ->capture_default_str();
  cmd->add_option("--acme-ca-file", options->acme_ca_file,
                  "PEM file of a CA to trust for the ACME server's own HTTPS (test CAs)");
  cmd->add_option("--acme-contact", options->acme_contacts,
                  "Contact for the ACME account, e.g. mailto:ops@example.com (repeatable)");
  cmd->add_option("--acme-eab-kid", options->acme_eab_kid,
                  "External Account Binding key id, for CAs that require one");
  cmd->add_option("--acme-eab-hmac-key", options->acme_eab_hmac_key,
                  "External Account Binding HMAC key (base64url, as the CA gave it); better "
                  "given in the environment than on the command line")
      ->envname("CERTGATE_ACME_EAB_HMAC_KEY");
  cmd->add_option("--resolver", options->resolver,
                  "DNS resolver host:port for checking users' CNAME records (default: "
                  "/etc/resolv.conf)");
  cmd->add_option("--acme-concurrency", options->acme_concurrency,
                  "Certificate orders worked on at once (0: this node orders none, and only "
                  "answers challenges and serves what other nodes of a cluster order)")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  cmd->add_option("--acme-lease", options->acme_lease_seconds,
                  "Seconds an order this node works on stays its own without renewal (it "
                  "renews every third of that); if the node dies, another node of the cluster "
                  "resumes the order after this long")
      ->check(CLI::Range(6, 86400))
      ->capture_default_str();
  cmd->add_option("--acme-retry-min", options->acme_retry_min_seconds,
                  "Seconds before the first retry of a failed order step; doubles per failure")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  cmd->add_option("--acme-retry-max", options->acme_retry_max_seconds,
                  "Longest wait between retries, in seconds")
      ->check(CLI::Range(1, 604800))
      ->capture_default_str();
  cmd->add_option("--notify-webhook", options->notify_webhooks,
                  "URL that gets a signed JSON POST for each alert: an uploaded certificate 30, "
                  "14, 7 and 1 days before expiry, a renewal that keeps failing, a certificate "
                  "issued or renewed, a domain's CNAME gone (https://, or http:// to loopback; "
                  "repeatable)");
  cmd->add_option("--notify-webhook-secret-file", options->notify_webhook_secret_file,
                  "File holding the key that signs each alert (HMAC-SHA256 of the body, in the "
                  "Certgate-Signature header); default: $CERTGATE_NOTIFY_WEBHOOK_SECRET");
  cmd->add_option("--notify-retry-min", options->notify_retry_min_seconds,
                  "Seconds before the first retry of an alert a webhook did not take; doubles "
                  "per failure, up to an hour")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  cmd->add_option("--notify-scan-interval", options->notify_scan_interval_seconds,
                  "Seconds between looks for certificates nearing expiry and renewals that keep "
                  "failing")
      ->check(CLI::Range(1, 60))
      ->capture_default_str();
  cmd->callback([options] {
    int code = app::RunServe(*options);
    if (code != 0) throw CommandFailed{code};
  });
}

}  // namespace certgate::cli
