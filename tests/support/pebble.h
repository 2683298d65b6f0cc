// Pebble, Let's Encrypt's test ACME CA, as a real peer for tests: started on
// 127.0.0.1 with ports it is given or that are picked free, a test CA and
// HTTPS certificate generated for its own listener (openssl CLI), its
// configuration in a TempDir, and PEBBLE_VA_NOSLEEP=1. Killed by process id
// when the object dies. One owner; not thread-safe.
//
// Pebble's behaviour worth knowing (2.4.0, Debian):
//  - It keeps no state across restarts: accounts, orders and its issuing
//    root and intermediate are new after Start().
//  - Its VA resolves names through -dnsserver (options.dns_server), then
//    connects to <A record>:http_port for HTTP-01.
//  - It logs every request to stdout (see Log()).
//  - It rejects nonce_reject_percent % of good nonces with badNonce.
//  - It reuses valid authorizations in new orders 50 % of the time unless
//    authz_reuse_percent says otherwise (PEBBLE_AUTHZREUSE).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "support/process.h"

namespace certgate::testing {

struct PebbleOptions {
  uint16_t http_port = 0;  // where Pebble's VA sends HTTP-01 checks (required)
  uint16_t tls_port = 0;   // TLS-ALPN-01 port (unused here); a free one if 0
  // "127.0.0.1:port" Pebble resolves through (-dnsserver); "" = system resolver.
  std::string dns_server;
  // certificateValidityPeriod in seconds; 0 keeps Pebble's default (5 years).
  int certificate_validity_seconds = 0;
  int nonce_reject_percent = 5;  // PEBBLE_WFE_NONCEREJECT
  int authz_reuse_percent = -1;  // PEBBLE_AUTHZREUSE; -1 keeps Pebble's 50
  int alternate_roots = 0;       // PEBBLE_ALTERNATE_ROOTS: extra chains per certificate
  int chain_length = 0;          // PEBBLE_CHAIN_LENGTH; 0 keeps Pebble's 1 (one intermediate)
  // > 0: PEBBLE_VA_NOSLEEP off and the VA waits up to this many seconds
  // before each check (PEBBLE_VA_SLEEPTIME), for tests that act mid-order.
  int va_sleep_seconds = 0;
  // externalAccountMACKeys (kid -> base64url HMAC key); non-empty turns on
  // externalAccountBindingRequired.
  std::map<std::string, std::string> eab_keys;
};

class Pebble {
 public:
  // Starts Pebble and waits until its directory and management interface
  // accept connections. Throws std::runtime_error (with the tail of Pebble's
  // log) when it cannot start; retries with other ports on a collision.
  explicit Pebble(PebbleOptions options);
  ~Pebble();
  Pebble(const Pebble&) = delete;
  Pebble& operator=(const Pebble&) = delete;

  // SIGTERM, then waits for the exit (SIGKILL after 5 s). Idempotent.
  void Stop();
  // Starts again on the same ports (with a fresh CA and no accounts). Throws
  // like the constructor; does not change ports.
  void Start();
  bool running();

  uint16_t port() const { return port_; }
  uint16_t management_port() const { return management_port_; }
  std::string directory_url() const;  // https://127.0.0.1:PORT/dir
  // PEM file of the CA that signed Pebble's HTTPS certificate (its ACME and
  // management listeners), for ClientOptions::ca_file / --acme-ca-file.
  std::string ca_file() const;
  // The current issuing root(s), PEM, from the management interface
  // (/roots/0, /roots/1, ... while they exist). Throws on failure.
  std::string IssuingRootsPem() const;
  // The current intermediate(s) likewise (/intermediates/N).
  std::string IntermediatesPem() const;
  // Pebble's log so far, over every run (it logs to stdout; stderr too).
  std::string Log() const;

 private:
  // One attempt; false with *why on failure, *port_collision when a port was taken.
  bool TryStart(std::string* why, bool* port_collision);
  void WriteConfig() const;
  std::string FetchAll(std::string_view kind) const;

  PebbleOptions options_;
  TempDir dir_;
  uint16_t port_ = 0;
  uint16_t management_port_ = 0;
  std::unique_ptr<Process> process_;
  std::string previous_stdout_;  // what stopped runs printed
};

}  // namespace certgate::testing
