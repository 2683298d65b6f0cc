// HttpServer: the API's HTTP/1.1 listener on Boost.Beast, one coroutine per
// connection, plain or TLS. Connections run on one io_context thread; the
// request handler runs on a worker pool because it may block (store, key
// validation).
//
// Strict HTTP/1.1 (RFC 9112), each refusal answered with the API's error
// shape and the connection closed, so that nothing after the refused head is
// ever read as another request: a Transfer-Encoding other than exactly
// "chunked", Content-Length together with Transfer-Encoding, an HTTP/1.1
// request without exactly one Host, a folded header line (obs-fold), any
// other malformed head (400); headers over header_limit (431); a body over
// body_limit (413, decided from Content-Length before the body is read); a
// head or body that does not arrive within its deadline (408) or that the
// client cuts short (400). `Expect: 100-continue` is answered with 100
// before the body is read.
//
// Connections: at most max_connections, and at most
// max_connections_per_source from one IP address (further ones from it are
// closed at once). A connection gets first_request_timeout for its TLS
// handshake and first request head, io_timeout for each later head (the
// keep-alive idle time), for a body and for writing an answer. When
// max_connections are open, a new connection closes the one that has been
// waiting longest without a request in progress (idle, or not yet past its
// handshake or first head); only when every connection is busy with a
// request is the new one refused.
//
// Over TLS every response carries Strict-Transport-Security.
//
// Thread-safety: Listen, Start and Shutdown must be called from the thread
// that runs the io_context (or before it runs).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>

#include "api/http_types.h"
#include "core/result.h"

namespace certgate::api {

class ApiTls;

struct HttpServerOptions {
  size_t body_limit = 1024 * 1024;
  size_t header_limit = 16 * 1024;
  std::chrono::seconds io_timeout{30};
  std::chrono::seconds first_request_timeout{10};
  size_t max_connections = 1024;
  size_t max_connections_per_source = 64;
  // When set, every connection is TLS with tls->Current() at its accept
  // (must outlive the server), and the scheme is "https".
  const ApiTls* tls = nullptr;
};

// Called on a worker thread for each request. May block; must not throw
// (an exception becomes a 500). The request's body is wiped after the call.
using RequestHandler = std::function<Response(Request&, const RequestContext&)>;

class HttpServer {
 public:
  HttpServer(net::io_context& io, net::thread_pool& workers, RequestHandler handler,
             HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port (port 0 picks a free one). Returns the bound address.
  Result<tcp::endpoint> Listen(const std::string& host, uint16_t port);
  // Starts accepting on every bound address.
  void Start();
  // Stops accepting, closes idle connections, lets requests in progress
  // finish; after `grace` closes whatever is left. Calls done once no
  // connection remains.
  void Shutdown(std::chrono::milliseconds grace, std::function<void()> done);

  size_t open_connections() const { return sessions_.size(); }
  // Responses sent, by status class (index 1 to 5: 1xx to 5xx), refusals
  // (429, 408, ...) included. Any thread.
  uint64_t responses(int status_class) const {
    return status_class >= 1 && status_class <= 5
               ? responses_[static_cast<size_t>(status_class)].load(std::memory_order_relaxed)
               : 0;
  }

 private:
  struct Session;
  net::awaitable<void> Accept(tcp::acceptor& acceptor);
  net::awaitable<void> Serve(std::shared_ptr<Session> session);
  template <class Stream>
  net::awaitable<void> ServeOn(std::shared_ptr<Session> s, Stream& stream);
  net::awaitable<Response> Dispatch(Request& req, const RequestContext& ctx);
  // Makes room for one more connection: closes the longest-waiting one
  // without a request in progress. False when every one is busy.
  bool EvictOldestWaiting();
  // Takes session out of the connection counts (once).
  void Release(Session& session);
  void Forget(Session* session);
  void MaybeDone();
  void NoteRefused(const tcp::endpoint& remote, std::string_view why);
  void CountResponse(unsigned status) {
    if (status >= 100 && status < 600) {
      responses_[status / 100].fetch_add(1, std::memory_order_relaxed);
    }
  }

  net::io_context& io_;
  net::thread_pool& workers_;
  RequestHandler handler_;
  const HttpServerOptions options_;
  std::list<tcp::acceptor> acceptors_;
  std::list<std::shared_ptr<Session>> sessions_;  // oldest first
  size_t counted_ = 0;                             // sessions not released
  std::array<std::atomic<uint64_t>, 6> responses_{};  // by status / 100
  std::map<net::ip::address, size_t> per_source_;
  bool stopping_ = false;
  std::function<void()> on_done_;
  std::unique_ptr<net::steady_timer> grace_timer_;
  // Refusals are logged at most once a second, with a count.
  std::chrono::steady_clock::time_point last_refusal_log_{};
  size_t refusals_unlogged_ = 0;
};

}  // namespace certgate::api
