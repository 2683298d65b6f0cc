// The HTTP side of the edge: serving requests that arrive on a terminated
// TLS connection (proxying them to the endpoint's upstream, or answering 404
// when no endpoint has the name), relaying bytes for tls endpoints and
// WebSocket upgrades, and the plain-HTTP listener's redirects.
//
// Each function runs on the connection's executor; nothing here is shared
// between connections except the read-only arguments.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/result.h"

#include "edge/snapshot.h"
#include "edge/tls_stream.h"

namespace certgate::edge {

struct HttpLimits {
  size_t header_limit = 16 * 1024;
  // Waiting for the next request on a kept-alive connection.
  std::chrono::steady_clock::duration idle_timeout = std::chrono::seconds(60);
  // Any single read or write making no progress.
  std::chrono::steady_clock::duration io_timeout = std::chrono::seconds(60);
  std::chrono::steady_clock::duration connect_timeout = std::chrono::seconds(10);
};

struct ProxyEnv {
  SSL_CTX* upstream_tls = nullptr;  // for https:// upstreams
  HttpLimits limits;
};

class UpstreamStream;

// A terminated HTTPS connection: what lasts from one request to the next.
// Between requests it is all that exists of the connection (no coroutine
// waits), so it is kept small.
struct HttpsConnection {
  HttpsConnection(TlsStream c, const Route* r);
  HttpsConnection(HttpsConnection&&) noexcept;
  ~HttpsConnection();
  // Closes the upstream connection, if any, then the client's (close_notify
  // first).
  void Close();

  TlsStream client;
  const Route* route;  // null: every request is answered 404
  // The kept-alive connection to route's upstream, and what it sent past
  // the last response.
  std::unique_ptr<UpstreamStream> upstream;
  boost::beast::flat_buffer upstream_buffer;
};

// Serves HTTP/1.1 requests on c: each goes to c.route's upstream
// (keep-alive, chunked bodies, WebSocket upgrades, X-Forwarded-For/-Proto/
// -Host), or is answered 404 without a route. Reads a first request when
// request_waiting (the client's socket is readable, or OpenSSL holds its
// bytes), then goes on while the client's bytes hold another request, and
// sends what is still held. True if the connection is now idle and stays
// open until the client sends again; false when it is finished (either side
// closed, a timeout, Connection: close, an upgrade that ended): then the
// caller closes it.
net::awaitable<bool> ServeHttpsRequests(HttpsConnection& c, const ProxyEnv& env,
                                        bool request_waiting);

// A tls endpoint with terminate-tls: the decrypted bytes go to the tcp://
// upstream and back.
net::awaitable<void> ProxyTerminatedTls(TlsStream& client, const Route& route,
                                        const ProxyEnv& env);

// A tls endpoint without terminate-tls: the client's bytes, ClientHello
// included (still unread in the socket), go to the upstream untouched.
net::awaitable<void> PassThrough(tcp::socket& client, const Route& route, const ProxyEnv& env);

// The key authorization for an ACME HTTP-01 token, nullopt if none: the
// store's answer (through AcmeTokens), so that every edge of a cluster can
// answer the CA. token lives until the lookup completes.
using AcmeTokenLookup = std::function<net::awaitable<Result<std::optional<std::string>>>(
    std::string_view token)>;

// The plain-HTTP listener: answers GET /.well-known/acme-challenge/<token>
// from lookup (404 for unknown tokens), and redirects every other request to
// https://<host><target> (308), or 400 without a usable Host. The first
// request must arrive within first_request_timeout, later ones within the
// idle timeout.
net::awaitable<void> ServeHttpRedirect(tcp::socket& client, const HttpLimits& limits,
                                       std::chrono::steady_clock::duration first_request_timeout,
                                       const AcmeTokenLookup& lookup);

}  // namespace certgate::edge
