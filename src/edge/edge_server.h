// EdgeServer: the TLS-terminating edge. One io_context per worker thread,
// each with its own SO_REUSEPORT listeners for HTTPS and plain HTTP, so that
// nothing mutable is shared on the handshake path except the context cache's
// short lock.
//
// A connection on the HTTPS listener:
//   1. if the snapshot has pass-through endpoints, its ClientHello is peeked
//      (not consumed) for the SNI name; a pass-through endpoint's connection
//      goes to its upstream untouched;
//   2. otherwise the handshake starts on the front context; the ClientHello
//      callback selects (terminate-tls override > exact > wildcard >
//      default) and switches to that certificate's context, building it
//      first on a control thread if it is not cached (the handshake is
//      suspended meanwhile);
//   3. then HTTP is proxied (https endpoints, or 404 without an endpoint),
//      or bytes are (tls endpoints with terminate-tls);
//   4. between requests an HTTPS connection is parked (Park): no coroutine,
//      just its state and a wait on its socket, in the worker's idle list
//      that one timer per worker sweeps for idle timeouts.
//
// Before that, a new connection (on either listener) waits for its first
// bytes as a small Pending object and a socket wait: no coroutine, no SSL
// object, no buffers, so that connections that send nothing cost little.
//
// Fairness: each source address (an IPv6 /64) may hold at most
// max_connections_per_source open connections; further ones are closed at
// once. Connections that have not finished their handshake or sent a first
// request (on the plain-HTTP listener too) get handshake_timeout. When
// max_connections are open, a new connection first closes one of the
// worker's: the oldest that sent nothing, else the oldest that finished its
// handshake but sent no request, else the oldest in its handshake (or on the
// plain-HTTP listener), else the oldest idle one; it is refused only when
// the worker has none of these. A flood cannot lock out the others.
//
// Snapshots are published with SetSnapshot from any thread; new connections
// see them, established ones keep theirs.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/host_port.h"
#include "core/result.h"
#include "edge/context_cache.h"
#include "edge/http_proxy.h"
#include "edge/snapshot.h"
#include "edge/source_limits.h"
#include "pki/certificate.h"
#include "seal/key_vault.h"
#include "store/certificate_store.h"
#include "edge/acme_tokens.h"
#include "edge/certificate_mirror.h"
#include "edge/ticket_keys.h"

namespace certgate::edge {

struct EdgeOptions {
  HostPort https_listen{"0.0.0.0", 443};
  HostPort http_listen{"0.0.0.0", 80};
  bool http_enabled = true;
  int workers = 0;  // 0: one per core
  std::chrono::steady_clock::duration handshake_timeout = std::chrono::seconds(10);
  HttpLimits http;
  // Open connections at most, across workers; beyond, the oldest
  // unfinished or idle one is closed for a new one (see above).
  size_t max_connections = 100000;
  // Open connections one source address (an IPv6 /64) may hold; 0: no limit.
  size_t max_connections_per_source = 256;
  // Certificate contexts kept built (each a few tens of KB); a name whose
  // context was evicted is rebuilt on its next handshake.
  size_t context_cache_capacity = 20000;
  int session_tickets = 1;
  // The keys tickets are sealed with, shared by every node on the store
  // (ticket_keys.h); nullptr: OpenSSL's own, random per process.
  const TicketKeyRing* ticket_keys = nullptr;
};

class EdgeServer final : public SnapshotSink {
 public:
  // certificates: the certificates it serves (and the default one);
  // tokens: the HTTP-01 answers of its plain-HTTP listener. Both, and
  // vault, must outlive the server.
  // default_certificate_id: the service's own certificate (must open).
  static Result<std::unique_ptr<EdgeServer>> Create(EdgeOptions options,
                                                    store::CertificateStore& certificates,
                                                    AcmeTokens& tokens, seal::KeyVault& vault,
                                                    const std::string& default_certificate_id);
  ~EdgeServer();

  // Where certificates are read while the store cannot be reached (a node
  // of a cluster, the database away): must outlive the server. Call before
  // Start. Default: none, and a context that cannot be built falls back to
  // the default certificate.
  void UseCertificateMirror(CertificateMirror& mirror) { mirror_ = &mirror; }

  // Binds every worker's listeners. Returns the HTTPS and HTTP addresses.
  Result<std::pair<tcp::endpoint, tcp::endpoint>> Listen();
  // Starts the worker threads. REQUIRES: a snapshot was set.
  void Start();
  void SetSnapshot(std::shared_ptr<const Snapshot> snapshot) override;
  // Stops accepting, gives open connections up to grace, then stops.
  void Stop(std::chrono::milliseconds grace);

  ContextCache& contexts() { return contexts_; }
  size_t open_connections() const { return open_.load(); }

  // How TLS handshakes ended. kDefaultCertificate: completed, but with the
  // default certificate, as no certificate serves the name the client
  // asked for (or none was asked for); kVersion: no TLS version in common;
  // kAlert: the client sent an alert (it refused our certificate, mostly);
  // kTimeout: not done within the handshake timeout; kClosed: the client
  // went away.
  enum class Handshake {
    kOk,
    kDefaultCertificate,
    kVersion,
    kNoSharedCipher,
    kAlert,
    kTimeout,
    kClosed,
    kOther,
  };
  static constexpr size_t kHandshakeResults = 8;
  static std::string_view HandshakeName(Handshake h);
  struct Stats {
    std::array<uint64_t, kHandshakeResults> handshakes{};  // by Handshake
    uint64_t context_hits = 0;    // a handshake found its certificate's context built
    uint64_t context_misses = 0;  // ... had it built first
    uint64_t context_builds_failed = 0;  // the build failed (the default was served)
  };
  Stats stats() const;

 private:
  struct Worker;
  struct Connection;
  struct Tracked;
  struct Pending;
  struct BusyNode;
  struct KeptAlive;
  class OpenSlot;
  EdgeServer(EdgeOptions options, store::CertificateStore& certificates, AcmeTokens& tokens,
             seal::KeyVault& vault);

  net::awaitable<void> AcceptLoop(Worker& w, tcp::acceptor& acceptor, bool https);
  // A new connection waits for its first bytes (or its timeout) as a
  // Pending in w's waiting list, then goes on to ServeTls or ServeHttp.
  void AwaitFirstBytes(Worker& w, std::unique_ptr<Pending> p);
  // Closes one of w's connections to make room for a new one (the order is
  // above). False if it has none it may close.
  bool EvictOne(Worker& w);
  // deadline: when the handshake (or, on the plain-HTTP listener, the
  // first request) must be done, handshake_timeout after the accept.
  net::awaitable<void> ServeTls(Worker& w, tcp::socket socket, OpenSlot slot,
                                std::chrono::steady_clock::time_point deadline);
  net::awaitable<void> ServeHttp(Worker& w, tcp::socket socket, OpenSlot slot,
                                 std::chrono::steady_clock::time_point deadline);
  // Serves what the client of a kept-alive connection sent, then parks it
  // (or closes it when it is finished).
  net::awaitable<void> ServeHttpsTurn(Worker& w, std::unique_ptr<KeptAlive> c,
                                      bool request_waiting);
  // An idle connection waits for its client with no coroutine, in w's idle
  // list, until it is readable (a new turn) or its idle timeout passes.
  void Park(Worker& w, std::unique_ptr<KeptAlive> c);
  // Closes what waited past its deadline in w's waiting, fresh and idle
  // lists, then sets the sweep timer for the earliest deadline left.
  void Sweep(Worker& w);
  void ArmSweep(Worker& w, std::chrono::steady_clock::time_point deadline);
  // Builds the context a suspended handshake waits for, on the build pool.
  net::awaitable<void> BuildContext(const std::string& certificate_id,
                                    const TerminatePolicy* policy, const std::string& key);
  Result<pki::SslCtxPtr> LoadContext(const std::string& certificate_id,
                                     const TerminatePolicy* policy);

  static int OnClientHello(SSL* ssl, int* alert, void* arg);
  static int OnAlpn(SSL* ssl, const unsigned char** out, unsigned char* outlen,
                    const unsigned char* in, unsigned int inlen, void* arg);

  const EdgeOptions options_;
  store::CertificateStore& certificates_;
  CertificateMirror* mirror_ = nullptr;
  AcmeTokens& tokens_;
  seal::KeyVault& vault_;
  ContextCache contexts_;
  // Intermediates shared by many leaves, parsed once for all their contexts.
  pki::ParsedCertificateCache intermediates_;
  pki::SslCtxPtr front_;         // default certificate; ClientHello and ALPN callbacks
  pki::SslCtxPtr upstream_tls_;  // client context for https:// upstreams
  pki::SslCtxPtr peek_;          // parses peeked ClientHellos for pass-through
  ProxyEnv proxy_env_;
  // Before workers_: a connection destroyed along with its worker's
  // io_context still gives back its slot.
  std::atomic<size_t> open_{0};
  std::array<std::atomic<uint64_t>, kHandshakeResults> handshakes_{};
  std::atomic<uint64_t> context_hits_{0};
  std::atomic<uint64_t> context_misses_{0};
  std::atomic<uint64_t> context_builds_failed_{0};
  void CountHandshake(Handshake h) {
    handshakes_[static_cast<size_t>(h)].fetch_add(1, std::memory_order_relaxed);
  }
  // The most connections open since memory was last given back (see
  // OpenSlot).
  std::atomic<size_t> open_peak_{0};
  SourceLimits sources_;
  std::atomic<bool> stopping_{false};
  std::vector<std::unique_ptr<Worker>> workers_;
  net::thread_pool builders_{2};
  // Reads HTTP-01 answers that are not in memory yet from the store.
  net::thread_pool token_readers_{1};
};

}  // namespace certgate::edge
