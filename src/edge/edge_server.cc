#include "edge/edge_server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <malloc.h>
#include <sys/socket.h>

#include <array>
#include <utility>

#include <boost/intrusive/list.hpp>

#include "edge/client_hello.h"
#include "edge/tls_contexts.h"
#include "edge/watchdog.h"
#include "names/domain_name.h"
#include "pki/private_key.h"

namespace certgate::edge {
namespace {

constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);
constexpr auto kFailedBuildRetry = std::chrono::seconds(30);
constexpr std::string_view kHttp11Alpn = "\x08http/1.1";

// The peek context's callback: records the SNI name, then stops the
// handshake (it ran over a copy of the ClientHello).
int RecordSniAndStop(SSL* ssl, int* alert, void*) {
  auto* out = static_cast<std::optional<std::string>*>(SSL_get_app_data(ssl));
  if (out != nullptr) *out = ReadSni(ssl);
  *alert = SSL_AD_INTERNAL_ERROR;
  return SSL_CLIENT_HELLO_ERROR;
}

// Reads the SNI name of a ClientHello still unread in the socket (MSG_PEEK),
// waiting for the whole first record. nullopt when there is none or the
// bytes are not TLS; the socket's bytes stay for whoever reads next.
net::awaitable<std::optional<std::string>> PeekSni(tcp::socket& socket, SSL_CTX* peek_ctx) {
  constexpr size_t kMaxRecord = 5 + 16384;
  std::unique_ptr<unsigned char[]> buf(new unsigned char[kMaxRecord]);
  net::steady_timer pause(socket.get_executor());
  for (int attempt = 0; attempt < 500; ++attempt) {
    auto [wec] = co_await socket.async_wait(tcp::socket::wait_read, kUseTuple);
    if (wec) co_return std::nullopt;
    ssize_t n = ::recv(socket.native_handle(), buf.get(), kMaxRecord, MSG_PEEK);
    if (n <= 0) co_return std::nullopt;
    if (buf[0] != 0x16) co_return std::nullopt;  // not a TLS handshake record
    if (n >= 5) {
      const size_t need = 5 + ((size_t{buf[3]} << 8) | buf[4]);
      if (need > kMaxRecord) co_return std::nullopt;
      if (static_cast<size_t>(n) >= need) {
        std::optional<std::string> sni;
        pki::SslPtr ssl(SSL_new(peek_ctx));
        BIO* rbio = BIO_new_mem_buf(buf.get(), static_cast<int>(need));
        BIO* wbio = BIO_new(BIO_s_mem());
        SSL_set_bio(ssl.get(), rbio, wbio);
        SSL_set_app_data(ssl.get(), &sni);
        SSL_set_accept_state(ssl.get());
        SSL_do_handshake(ssl.get());
        ERR_clear_error();
        co_return sni;
      }
    }
    // Part of the record is here; the rest is on its way.
    pause.expires_after(std::chrono::milliseconds(2));
    co_await pause.async_wait(kUseTuple);
  }
  co_return std::nullopt;
}

// The completion of a connection's coroutine: only an exception (a bug, or
// memory exhaustion) is worth a line.
void LogFailure(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("edge: connection failed unexpectedly: {}", ex.what());
  }
}

void SetReusePort(tcp::acceptor& a, boost::system::error_code& ec) {
  int one = 1;
  if (::setsockopt(a.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    ec.assign(errno, boost::system::system_category());
  }
}

Error ListenError(const HostPort& addr, std::string_view what, const boost::system::error_code& ec,
                  std::string_view flag) {
  std::string hint;
  if (ec == boost::system::errc::permission_denied && addr.port < 1024) {
    hint = fmt::format(" (ports below 1024 need root or CAP_NET_BIND_SERVICE; choose another "
                       "with {})",
                       flag);
  } else if (ec == boost::system::errc::address_in_use) {
    hint = fmt::format(" (another program uses it; choose another with {})", flag);
  }
  return MakeError(ErrorCode::kIo, fmt::format("cannot listen on {}: {} failed: {}{}",
                                               FormatHostPort(addr.host, addr.port), what,
                                               ec.message(), hint));
}

}  // namespace

// One open connection, counted toward max_connections and its source's
// share for as long as it lives (moved along from the accept to the
// connection's last state).
class EdgeServer::OpenSlot {
 public:
  // After sources_.TryAcquire(source) succeeded.
  OpenSlot(EdgeServer& server, SourceLimits::Key source) : server_(&server), source_(source) {
    const size_t open = server_->open_.fetch_add(1, std::memory_order_relaxed) + 1;
    size_t peak = server_->open_peak_.load(std::memory_order_relaxed);
    while (open > peak &&
           !server_->open_peak_.compare_exchange_weak(peak, open, std::memory_order_relaxed)) {
    }
  }
  OpenSlot(OpenSlot&& o) noexcept : server_(std::exchange(o.server_, nullptr)), source_(o.source_) {}
  OpenSlot& operator=(OpenSlot&&) = delete;
  ~OpenSlot() {
    if (server_ == nullptr) return;
    server_->sources_.Release(source_);
    const size_t open = server_->open_.fetch_sub(1, std::memory_order_relaxed) - 1;
    // After a flood (thousands of connections, most gone again), give the
    // freed memory back to the system: glibc keeps it otherwise. One
    // closing connection wins the exchange and trims.
    size_t peak = server_->open_peak_.load(std::memory_order_relaxed);
    const bool halved = peak >= kTrimAbove && open * 2 < peak;
    const bool emptied = open == 0 && peak >= kTrimWhenEmpty;
    if ((halved || emptied) &&
        server_->open_peak_.compare_exchange_strong(peak, open, std::memory_order_relaxed)) {
      malloc_trim(0);
    }
  }

 private:
  // Trim when the open connections fell below half of a peak of at least
  // kTrimAbove, and when the last of at least kTrimWhenEmpty closed.
  static constexpr size_t kTrimAbove = 1024;
  static constexpr size_t kTrimWhenEmpty = 64;
  EdgeServer* server_;
  SourceLimits::Key source_;
};

// A connection the worker may close under pressure or at a deadline, linked
// in one of its lists (oldest first) while it is in that state.
struct EdgeServer::Tracked
    : boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
  std::chrono::steady_clock::time_point since;  // entered the list
};
// A new connection before its first bytes: the socket and its slot, owned
// by the wait on the socket.
struct EdgeServer::Pending : Tracked {
  Pending(tcp::socket s, OpenSlot o, bool h) : socket(std::move(s)), slot(std::move(o)), https(h) {}
  tcp::socket socket;
  OpenSlot slot;
  bool https;
};

// A connection served by a coroutine before it is established (TLS
// handshake, or the plain-HTTP listener's whole connection): evicting it
// shuts its socket down, and the coroutine unwinds. Never closed from here:
// its coroutine still uses the descriptor.
struct EdgeServer::BusyNode : Tracked {
  tcp::socket* socket = nullptr;
};

// A kept-alive HTTPS connection. While idle it is parked: owned by the wait
// on its socket, linked in its worker's fresh list (no request served yet)
// or idle list, and nothing else of the connection exists.
struct EdgeServer::KeptAlive : Tracked {
  KeptAlive(HttpsConnection h, std::shared_ptr<const Snapshot> s, OpenSlot o)
      : http(std::move(h)), snapshot(std::move(s)), slot(std::move(o)) {}
  HttpsConnection http;
  std::shared_ptr<const Snapshot> snapshot;  // keeps http.route alive
  OpenSlot slot;
  std::chrono::steady_clock::time_point idle_deadline;
  bool served = false;  // a request was served on it
};

struct EdgeServer::Worker {
  using TrackedList = boost::intrusive::list<Tracked, boost::intrusive::constant_time_size<false>>;
  // Before io: the connections in these lists are owned by handlers (or
  // coroutine frames) in io, and unlink themselves when io destroys those.
  TrackedList waiting;  // Pending: no byte received yet
  TrackedList busy;     // BusyNode: in a handshake, or on the plain-HTTP listener
  TrackedList fresh;    // KeptAlive: handshake done, no request yet
  TrackedList idle;     // KeptAlive: between requests
  net::io_context io{1};
  net::steady_timer sweep{io};
  bool sweeping = false;  // a wait on sweep is pending
  std::shared_ptr<const Snapshot> snapshot;
  std::optional<tcp::acceptor> https;
  std::optional<tcp::acceptor> http;
  std::thread thread;
};

// Per TLS connection; the SSL's app data points here during the handshake.
struct EdgeServer::Connection {
  EdgeServer* server = nullptr;
  const Snapshot* snapshot = nullptr;
  const Route* route = nullptr;
  const TerminatePolicy* policy = nullptr;
  // Set when the ClientHello callback suspended the handshake.
  std::string pending_certificate;
  std::string pending_key;
  // The handshake goes on with the default certificate: none serves the
  // name asked for, or its context could not be built.
  bool default_certificate = false;
  // The context cache was counted for this handshake (a TLS 1.3
  // HelloRetryRequest runs the ClientHello callback twice).
  bool context_counted = false;
};

std::string_view EdgeServer::HandshakeName(Handshake h) {
  switch (h) {
    case Handshake::kOk: return "ok";
    case Handshake::kDefaultCertificate: return "default_certificate";
    case Handshake::kVersion: return "version";
    case Handshake::kNoSharedCipher: return "no_shared_cipher";
    case Handshake::kAlert: return "alert";
    case Handshake::kTimeout: return "timeout";
    case Handshake::kClosed: return "closed";
    case Handshake::kOther: return "other";
  }
  return "other";
}

EdgeServer::Stats EdgeServer::stats() const {
  Stats stats;
  for (size_t i = 0; i < kHandshakeResults; ++i) {
    stats.handshakes[i] = handshakes_[i].load(std::memory_order_relaxed);
  }
  stats.context_hits = context_hits_.load(std::memory_order_relaxed);
  stats.context_misses = context_misses_.load(std::memory_order_relaxed);
  stats.context_builds_failed = context_builds_failed_.load(std::memory_order_relaxed);
  return stats;
}

namespace {

// What a failed handshake's OpenSSL reason says about it.
EdgeServer::Handshake ClassifyProtocolFailure(int reason) {
  using H = EdgeServer::Handshake;
  // Alerts the peer sent are reasons from SSL_AD_REASON_OFFSET on.
  if (reason >= SSL_AD_REASON_OFFSET) return H::kAlert;
  switch (reason) {
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_VERSION_TOO_LOW:
    case SSL_R_VERSION_TOO_HIGH:
    case SSL_R_UNKNOWN_PROTOCOL:
      return H::kVersion;
    case SSL_R_NO_SHARED_CIPHER:
    case SSL_R_NO_SHARED_GROUPS:
    case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
      return H::kNoSharedCipher;
    default:
      return H::kOther;
  }
}

}  // namespace

EdgeServer::EdgeServer(EdgeOptions options, store::CertificateStore& certificates,
                       AcmeTokens& tokens, seal::KeyVault& vault)
    : options_(std::move(options)),
      certificates_(certificates),
      tokens_(tokens),
      vault_(vault),
      contexts_(options_.context_cache_capacity),
      sources_(options_.max_connections_per_source) {}

EdgeServer::~EdgeServer() { Stop(std::chrono::milliseconds(0)); }

Result<std::unique_ptr<EdgeServer>> EdgeServer::Create(EdgeOptions options,
                                                       store::CertificateStore& certificates,
                                                       AcmeTokens& tokens, seal::KeyVault& vault,
                                                       const std::string& default_certificate_id) {
  std::unique_ptr<EdgeServer> edge(new EdgeServer(std::move(options), certificates, tokens, vault));
  // The default certificate lives in the front context itself.
  CG_ASSIGN_OR_RETURN(auto cert, certificates.GetCertificateById(default_certificate_id));
  if (!cert) {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("the default certificate {} is missing", default_certificate_id));
  }
  CG_ASSIGN_OR_RETURN(pki::Chain chain, pki::ParseStoredChain(cert->certificate_pem));
  CG_ASSIGN_OR_RETURN(SecretBytes der, vault.Unseal(cert->private_key.blob, cert->id));
  CG_ASSIGN_OR_RETURN(pki::EvpPkeyPtr key, pki::DecodePrivateKeyDer(der.span()));
  FrontOptions front;
  front.on_client_hello = &EdgeServer::OnClientHello;
  front.on_alpn = &EdgeServer::OnAlpn;
  front.session_tickets = edge->options_.session_tickets;
  CG_ASSIGN_OR_RETURN(edge->front_, MakeFrontContext(front, chain, key.get()));
  if (edge->options_.ticket_keys != nullptr && edge->options_.session_tickets > 0) {
    InstallTicketKeys(edge->front_.get(), edge->options_.ticket_keys);
  }
  CG_ASSIGN_OR_RETURN(edge->upstream_tls_, MakeUpstreamClientContext());
  edge->peek_.reset(SSL_CTX_new(TLS_server_method()));
  SSL_CTX_set_client_hello_cb(edge->peek_.get(), &RecordSniAndStop, nullptr);
  edge->proxy_env_ = ProxyEnv{edge->upstream_tls_.get(), edge->options_.http};

  int n = edge->options_.workers > 0 ? edge->options_.workers
                                     : static_cast<int>(std::thread::hardware_concurrency());
  for (int i = 0; i < std::max(1, n); ++i) edge->workers_.push_back(std::make_unique<Worker>());
  return edge;
}

Result<std::pair<tcp::endpoint, tcp::endpoint>> EdgeServer::Listen() {
  std::pair<tcp::endpoint, tcp::endpoint> bound;
  auto open = [&](Worker& w, std::optional<tcp::acceptor>& slot, HostPort addr,
                  std::string_view flag, tcp::endpoint& first) -> Result<void> {
    boost::system::error_code ec;
    auto ip = net::ip::make_address(addr.host, ec);
    if (ec) return MakeError(ErrorCode::kConfigInvalid, fmt::format("{}: bad address", flag));
    // After the first worker bound port 0, the others share the chosen port.
    if (first.port() != 0) addr.port = first.port();
    tcp::endpoint endpoint(ip, addr.port);
    slot.emplace(w.io);
    if (slot->open(endpoint.protocol(), ec); ec) return ListenError(addr, "socket", ec, flag);
    slot->set_option(net::socket_base::reuse_address(true), ec);
    SetReusePort(*slot, ec);
    if (ec) return ListenError(addr, "SO_REUSEPORT", ec, flag);
    if (ip.is_v6()) slot->set_option(net::ip::v6_only(true), ec);
    if (slot->bind(endpoint, ec); ec) return ListenError(addr, "bind", ec, flag);
    if (slot->listen(net::socket_base::max_listen_connections, ec); ec) {
      return ListenError(addr, "listen", ec, flag);
    }
    if (first.port() == 0) first = slot->local_endpoint(ec);
    return {};
  };
  for (auto& w : workers_) {
    CG_RETURN_IF_ERROR(open(*w, w->https, options_.https_listen, "--https-listen", bound.first));
    if (options_.http_enabled) {
      CG_RETURN_IF_ERROR(open(*w, w->http, options_.http_listen, "--http-listen", bound.second));
    }
  }
  return bound;
}

void EdgeServer::SetSnapshot(std::shared_ptr<const Snapshot> snapshot) {
  for (auto& w : workers_) {
    if (!w->thread.joinable()) {
      w->snapshot = snapshot;
      continue;
    }
    net::post(w->io, [worker = w.get(), snapshot] { worker->snapshot = snapshot; });
  }
}

void EdgeServer::Start() {
  for (auto& w : workers_) {
    auto log_exit = [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("edge: accept loop failed: {}", ex.what());
      }
    };
    if (w->https) net::co_spawn(w->io, AcceptLoop(*w, *w->https, true), log_exit);
    if (w->http) net::co_spawn(w->io, AcceptLoop(*w, *w->http, false), log_exit);
    w->thread = std::thread([worker = w.get()] {
      auto guard = net::make_work_guard(worker->io);
      worker->io.run();
    });
  }
}

void EdgeServer::Stop(std::chrono::milliseconds grace) {
  if (stopping_.exchange(true)) return;
  for (auto& w : workers_) {
    if (!w->thread.joinable()) continue;
    net::post(w->io, [worker = w.get()] {
      boost::system::error_code ec;
      if (worker->https) worker->https->close(ec);
      if (worker->http) worker->http->close(ec);
      // Waiting and idle connections are between requests: closing them
      // loses nothing. (Their waits end, aborted, and free them.)
      while (!worker->waiting.empty()) {
        auto& p = static_cast<Pending&>(worker->waiting.front());
        p.unlink();
        p.socket.close(ec);
      }
      for (auto* list : {&worker->fresh, &worker->idle}) {
        while (!list->empty()) {
          auto& c = static_cast<KeptAlive&>(list->front());
          c.unlink();
          c.http.Close();
        }
      }
      worker->sweep.cancel();
    });
  }
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (open_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (auto& w : workers_) w->io.stop();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  builders_.join();
  token_readers_.join();
}

net::awaitable<void> EdgeServer::AcceptLoop(Worker& w, tcp::acceptor& acceptor, bool https) {
  const size_t max_open = options_.max_connections;
  tcp::endpoint peer;
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(peer, kUseTuple);
    if (stopping_) co_return;
    if (ec) {
      if (ec == net::error::operation_aborted) co_return;
      spdlog::warn("edge: accept failed: {}", ec.message());
      net::steady_timer pause(w.io, std::chrono::milliseconds(50));
      co_await pause.async_wait(kUseTuple);
      continue;
    }
    const SourceLimits::Key source = SourceLimits::KeyOf(peer.address());
    if (!sources_.TryAcquire(source)) {
      boost::system::error_code ignored;
      socket.close(ignored);  // this source holds its share already
      continue;
    }
    // Counted from here: a refused one gives its source's place back.
    OpenSlot slot(*this, source);
    if (open_.load(std::memory_order_relaxed) > max_open && !EvictOne(w)) {
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    auto pending = std::make_unique<Pending>(std::move(socket), std::move(slot), https);
    AwaitFirstBytes(w, std::move(pending));
  }
}

void EdgeServer::AwaitFirstBytes(Worker& w, std::unique_ptr<Pending> p) {
  p->since = std::chrono::steady_clock::now();
  w.waiting.push_back(*p);
  ArmSweep(w, p->since + options_.handshake_timeout);
  tcp::socket& socket = p->socket;
  socket.async_wait(tcp::socket::wait_read,
                    [this, &w, p = std::move(p)](const boost::system::error_code& ec) mutable {
                      p->unlink();
                      // Closed by the sweep, an eviction or Stop: gone.
                      if (ec || stopping_ || !p->socket.is_open()) return;
                      // Readable because the client left without a byte (a
                      // flood's connect-and-close): nothing to serve.
                      char probe;
                      const ssize_t n = ::recv(p->socket.native_handle(), &probe, 1,
                                               MSG_PEEK | MSG_DONTWAIT);
                      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return;
                      if (p->https) {
                        net::co_spawn(w.io,
                                      ServeTls(w, std::move(p->socket), std::move(p->slot),
                                               p->since + options_.handshake_timeout),
                                      LogFailure);
                      } else {
                        net::co_spawn(w.io,
                                      ServeHttp(w, std::move(p->socket), std::move(p->slot),
                                               p->since + options_.handshake_timeout),
                                      LogFailure);
                      }
                    });
}

bool EdgeServer::EvictOne(Worker& w) {
  // The oldest unfinished connection, by how little it has done: one that
  // sent nothing, then one that finished its handshake but sent no request,
  // then one in its handshake (or on the plain-HTTP listener); an idle
  // keep-alive one last. A client that goes on with its connection leaves
  // the first two lists within a round trip, so a flood of connections that
  // stall is what pays.
  Worker::TrackedList* oldest = nullptr;
  for (auto* list : {&w.waiting, &w.fresh, &w.busy, &w.idle}) {
    if (!list->empty()) {
      oldest = list;
      break;
    }
  }
  if (oldest == nullptr) return false;
  Tracked& victim = oldest->front();
  victim.unlink();
  boost::system::error_code ignored;
  if (oldest == &w.waiting) {
    static_cast<Pending&>(victim).socket.close(ignored);  // its wait ends and frees it
  } else if (oldest == &w.busy) {
    static_cast<BusyNode&>(victim).socket->shutdown(tcp::socket::shutdown_both, ignored);
  } else {
    static_cast<KeptAlive&>(victim).http.Close();  // its wait ends and frees it
  }
  return true;
}

net::awaitable<void> EdgeServer::ServeTls(Worker& w, tcp::socket socket, OpenSlot slot,
                                          std::chrono::steady_clock::time_point deadline) {
  std::shared_ptr<const Snapshot> snapshot = w.snapshot;
  boost::system::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  // Until the handshake is done, the worker may evict this connection.
  BusyNode busy;
  busy.since = std::chrono::steady_clock::now();
  busy.socket = &socket;
  w.busy.push_back(busy);

  if (snapshot->has_passthrough()) {
    Watchdog peek_dog(socket.get_executor(), [&socket] {
      boost::system::error_code ignored;
      socket.shutdown(tcp::socket::shutdown_both, ignored);
    });
    peek_dog.Arm(deadline - std::chrono::steady_clock::now());
    std::optional<std::string> sni = co_await PeekSni(socket, peek_.get());
    peek_dog.Disarm();
    if (sni) {
      const Route* route = snapshot->FindRoute(*sni);
      if (route != nullptr && route->passthrough()) {
        busy.unlink();
        co_await PassThrough(socket, *route, proxy_env_);
        co_return;
      }
    }
  }

  Connection conn;
  conn.server = this;
  conn.snapshot = snapshot.get();
  pki::SslPtr ssl(SSL_new(front_.get()));
  SSL_set_app_data(ssl.get(), &conn);
  TlsStream tls(std::move(socket), std::move(ssl), /*server=*/true);
  busy.socket = &tls.socket();
  Watchdog dog(tls.get_executor(), [&tls] {
    boost::system::error_code ignored;
    tls.socket().shutdown(tcp::socket::shutdown_both, ignored);
  });
  dog.Arm(deadline - std::chrono::steady_clock::now());
  for (int attempt = 0;; ++attempt) {
    auto [hec, n] = co_await tls.async_handshake(kUseTuple);
    if (hec == TlsErrc::kNeedCertificate && attempt < 2) {
      co_await BuildContext(conn.pending_certificate, conn.policy, conn.pending_key);
      continue;
    }
    if (hec) {
      if (dog.expired()) {
        CountHandshake(Handshake::kTimeout);
      } else if (hec == TlsErrc::kNeedCertificate) {
        CountHandshake(Handshake::kOther);  // still no context after two builds
      } else if (hec == TlsErrc::kProtocol) {
        CountHandshake(ClassifyProtocolFailure(tls.last_protocol_reason()));
      } else {
        CountHandshake(Handshake::kClosed);
      }
      if (spdlog::should_log(spdlog::level::debug)) {
        const tcp::endpoint remote = tls.socket().remote_endpoint(ec);
        spdlog::debug("edge: handshake from {} failed: {}", remote.address().to_string(),
                      hec.message());
      }
      tls.Close();
      co_return;
    }
    break;
  }
  dog.Disarm();
  busy.unlink();
  CountHandshake(conn.default_certificate ? Handshake::kDefaultCertificate : Handshake::kOk);
  SSL_set_app_data(tls.native_handle(), nullptr);
  if (conn.route != nullptr && !conn.route->https) {
    co_await ProxyTerminatedTls(tls, *conn.route, proxy_env_);
    tls.Close();
    co_return;
  }
  const bool request_waiting = tls.HasPending();
  auto kept = std::make_unique<KeptAlive>(HttpsConnection(std::move(tls), conn.route),
                                          std::move(snapshot), std::move(slot));
  // The first request, if not here yet, must come by the handshake's deadline.
  kept->idle_deadline = deadline;
  co_await ServeHttpsTurn(w, std::move(kept), request_waiting);
}

net::awaitable<void> EdgeServer::ServeHttpsTurn(Worker& w, std::unique_ptr<KeptAlive> c,
                                                bool request_waiting) {
  const bool idle = co_await ServeHttpsRequests(c->http, proxy_env_, request_waiting);
  if (request_waiting) c->served = true;
  if (idle && !stopping_) {
    Park(w, std::move(c));
  } else {
    c->http.Close();
  }
}

void EdgeServer::Park(Worker& w, std::unique_ptr<KeptAlive> c) {
  c->since = std::chrono::steady_clock::now();
  // Before the first request, the deadline set at the handshake holds.
  if (c->served) c->idle_deadline = c->since + options_.http.idle_timeout;
  (c->served ? w.idle : w.fresh).push_back(*c);
  ArmSweep(w, c->idle_deadline);
  tcp::socket& socket = c->http.client.socket();
  socket.async_wait(tcp::socket::wait_read,
                    [this, &w, c = std::move(c)](const boost::system::error_code& ec) mutable {
                      c->unlink();
                      // Closed by the sweep, an eviction or Stop after its
                      // readiness was queued: its socket is gone, and the
                      // BIO's fd number may already be another connection's.
                      if (ec || stopping_ || !c->http.client.socket().is_open()) {
                        c->http.Close();  // no-op if the sweep or Stop closed it
                        return;
                      }
                      net::co_spawn(w.io, ServeHttpsTurn(w, std::move(c), true), LogFailure);
                    });
}

void EdgeServer::ArmSweep(Worker& w, std::chrono::steady_clock::time_point deadline) {
  if (w.sweeping && w.sweep.expiry() <= deadline) return;
  w.sweeping = true;
  w.sweep.expires_at(deadline);  // a pending wait ends, aborted, and does nothing
  w.sweep.async_wait([this, &w](const boost::system::error_code& ec) {
    if (ec) return;  // re-armed earlier, or stopping
    w.sweeping = false;
    Sweep(w);
  });
}

// Each list is oldest first and its entries share one timeout, so each is
// swept from its front. (A fresh connection's deadline counts from its
// accept, not from when it was parked: one whose handshake took longer may
// wait behind an older one, at most one handshake timeout more.)
void EdgeServer::Sweep(Worker& w) {
  const auto now = std::chrono::steady_clock::now();
  boost::system::error_code ignored;
  while (!w.waiting.empty() && w.waiting.front().since + options_.handshake_timeout <= now) {
    auto& p = static_cast<Pending&>(w.waiting.front());
    p.unlink();
    p.socket.close(ignored);  // its wait ends, aborted, and frees it
  }
  for (auto* list : {&w.fresh, &w.idle}) {
    while (!list->empty() && static_cast<KeptAlive&>(list->front()).idle_deadline <= now) {
      auto& c = static_cast<KeptAlive&>(list->front());
      c.unlink();
      c.http.Close();  // its wait ends, aborted, and frees it
    }
  }
  if (!w.waiting.empty()) ArmSweep(w, w.waiting.front().since + options_.handshake_timeout);
  for (auto* list : {&w.fresh, &w.idle}) {
    if (!list->empty()) ArmSweep(w, static_cast<KeptAlive&>(list->front()).idle_deadline);
  }
}

net::awaitable<void> EdgeServer::ServeHttp(Worker& w, tcp::socket socket, OpenSlot,
                                           std::chrono::steady_clock::time_point deadline) {
  // Evictable for its whole life: this listener only redirects and answers
  // the CA's checks.
  BusyNode busy;
  busy.since = std::chrono::steady_clock::now();
  busy.socket = &socket;
  w.busy.push_back(busy);
  // From memory; an answer not there yet (written a moment ago, maybe by
  // another node) is read from the store off this worker's thread, a few at
  // a time, so that a flood of made-up tokens costs the store no more than
  // that. Only well-formed tokens get this far.
  boost::system::error_code peer_error;
  const auto peer = socket.remote_endpoint(peer_error);
  const SourceLimits::Key source =
      peer_error ? SourceLimits::Key{} : SourceLimits::KeyOf(peer.address());
  const AcmeTokenLookup lookup =
      [this, source](std::string_view token) -> net::awaitable<Result<std::optional<std::string>>> {
    if (auto hit = tokens_.Find(token)) co_return std::move(hit);
    if (!tokens_.TryBeginReadThrough(source)) co_return std::optional<std::string>();
    struct Ended {
      AcmeTokens& tokens;
      const SourceLimits::Key& source;
      ~Ended() { tokens.EndReadThrough(source); }
    } ended{tokens_, source};
    // In an optional: co_spawn needs a result it can default-construct.
    using Read = std::optional<Result<std::optional<std::string>>>;
    // Captured by reference, never by value: GCC 12 destroys a coroutine
    // lambda's non-trivial captures twice when co_spawn copies the lambda.
    const std::string owned(token);
    Read read = co_await net::co_spawn(
        token_readers_,
        [this, &owned]() -> net::awaitable<Read> { co_return tokens_.ReadThrough(owned); },
        net::use_awaitable);
    co_return std::move(*read);
  };
  // Nothing here is worth a long keep-alive: between requests, too, the
  // short timeout holds.
  HttpLimits limits = options_.http;
  limits.idle_timeout = options_.handshake_timeout;
  co_await ServeHttpRedirect(socket, limits, deadline - std::chrono::steady_clock::now(), lookup);
}

net::awaitable<void> EdgeServer::BuildContext(const std::string& certificate_id,
                                              const TerminatePolicy* policy,
                                              const std::string& key) {
  pki::SslCtxPtr ctx = co_await net::co_spawn(
      builders_,
      [this, &certificate_id, policy]() -> net::awaitable<pki::SslCtxPtr> {
        auto built = LoadContext(certificate_id, policy);
        if (!built) {
          spdlog::error("edge: cannot serve certificate {}: {}", certificate_id,
                        built.error().message);
          co_return nullptr;
        }
        co_return std::move(*built);
      },
      net::use_awaitable);
  if (ctx) {
    contexts_.Insert(key, std::move(ctx));
  } else {
    context_builds_failed_.fetch_add(1, std::memory_order_relaxed);
    contexts_.MarkFailed(key, kFailedBuildRetry);
  }
}

Result<pki::SslCtxPtr> EdgeServer::LoadContext(const std::string& certificate_id,
                                               const TerminatePolicy* policy) {
  auto cert = certificates_.GetCertificateById(certificate_id);
  if (!cert && cert.error().code == ErrorCode::kStoreUnavailable && mirror_ != nullptr) {
    // The database is away: this node's copy, if it has one.
    auto kept = mirror_->Get(certificate_id);
    if (kept && *kept) {
      spdlog::info("edge: the store cannot be reached; serving certificate {} from this node's "
                   "copy",
                   certificate_id);
      cert = std::move(kept);
    }
  }
  if (!cert) return std::move(cert).error();
  if (!*cert) return MakeError(ErrorCode::kNotFound, "the certificate was deleted");
  const store::Certificate& found = **cert;
  CG_ASSIGN_OR_RETURN(pki::Chain chain,
                      pki::ParseStoredChain(found.certificate_pem, &intermediates_));
  CG_ASSIGN_OR_RETURN(SecretBytes der, vault_.Unseal(found.private_key.blob, found.id));
  CG_ASSIGN_OR_RETURN(pki::EvpPkeyPtr key, pki::DecodePrivateKeyDer(der.span()));
  return MakeCertificateContext(chain, key.get(), policy, &EdgeServer::OnAlpn);
}

int EdgeServer::OnClientHello(SSL* ssl, int*, void*) {
  auto* conn = static_cast<Connection*>(SSL_get_app_data(ssl));
  if (conn == nullptr) return SSL_CLIENT_HELLO_SUCCESS;
  const std::optional<std::string> sni = ReadSni(ssl);
  const Snapshot::Choice choice = conn->snapshot->Select(sni ? std::string_view(*sni) : "");
  conn->route = choice.route;
  conn->policy = choice.policy;
  if (choice.policy == nullptr && choice.certificate_id.empty()) {
    conn->default_certificate = true;
    return SSL_CLIENT_HELLO_SUCCESS;  // the default certificate: stay on the front context
  }
  std::string certificate(choice.certificate_id.empty()
                              ? std::string_view(conn->snapshot->default_certificate_id())
                              : choice.certificate_id);
  std::string key = choice.policy == nullptr ? certificate : certificate + "|" + choice.policy->key;
  bool failed = false;
  pki::SslCtxPtr ctx = conn->server->contexts_.Find(key, &failed);
  if (!ctx && !failed) {
    if (!conn->context_counted) {
      conn->server->context_misses_.fetch_add(1, std::memory_order_relaxed);
      conn->context_counted = true;
    }
    conn->pending_certificate = std::move(certificate);
    conn->pending_key = std::move(key);
    return SSL_CLIENT_HELLO_RETRY;  // BuildContext, then the handshake goes on
  }
  if (ctx && !conn->context_counted) {
    conn->server->context_hits_.fetch_add(1, std::memory_order_relaxed);
    conn->context_counted = true;
  }
  if (!ctx) conn->default_certificate = true;
  // A context that failed to build falls back to the default certificate
  // (and, under a policy, to no client CAs: verification then fails closed).
  if (ctx && ctx.get() != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, ctx.get());
  if (choice.policy != nullptr) ApplyPolicyToConnection(ssl, *choice.policy);
  return SSL_CLIENT_HELLO_SUCCESS;
}

int EdgeServer::OnAlpn(SSL* ssl, const unsigned char** out, unsigned char* outlen,
                       const unsigned char* in, unsigned int inlen, void*) {
  auto* conn = static_cast<Connection*>(SSL_get_app_data(ssl));
  std::string_view prefs = kHttp11Alpn;
  if (conn != nullptr && conn->policy != nullptr && !conn->policy->alpn.empty()) {
    prefs = conn->policy->alpn;
  } else if (conn != nullptr && conn->route != nullptr && !conn->route->https) {
    return SSL_TLSEXT_ERR_NOACK;  // tls endpoints speak no protocol of ours
  }
  unsigned char* selected = nullptr;
  unsigned char selected_len = 0;
  if (SSL_select_next_proto(&selected, &selected_len,
                            reinterpret_cast<const unsigned char*>(prefs.data()),
                            static_cast<unsigned int>(prefs.size()), in,
                            inlen) == OPENSSL_NPN_NEGOTIATED) {
    *out = selected;
    *outlen = selected_len;
    return SSL_TLSEXT_ERR_OK;
  }
  // No protocol in common: carry on without ALPN rather than fail.
  return SSL_TLSEXT_ERR_NOACK;
}

}  // namespace certgate::edge
