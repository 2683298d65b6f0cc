// The HTTP side of the edge: serving requests that arrive on a terminated
// TLS connection (proxying them to the endpoint's upstream, or answering 404
// when no endpoint has the name), relaying bytes for tls endpoints and
// WebSocket upgrades, and the plain-HTTP listener's redirects.
//
// Each function runs on the connection's executor; nothing here is shared
// between connections except the read-only arguments.
#pragma once

#include <boost/asio.hpp>
#include <chrono>
#include <functional>
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

// Serves HTTP/1.1 on client until either side closes or a timeout: each
// request goes to route's upstream (keep-alive, chunked bodies, WebSocket
// upgrades, X-Forwarded-For/-Proto/-Host); with route null, every request
// is answered 404.
net::awaitable<void> ServeHttps(TlsStream& client, const Route* route, const ProxyEnv& env);

// A tls endpoint with terminate-tls: the decrypted bytes go to the tcp://
// upstream and back.
net::awaitable<void> ProxyTerminatedTls(TlsStream& client, const Route& route,
                                        const ProxyEnv& env);

// A tls endpoint without terminate-tls: the client's bytes, ClientHello
// included (still unread in the socket), go to the upstream untouched.
net::awaitable<void> PassThrough(tcp::socket& client, const Route& route, const ProxyEnv& env);

// The key authorization for an ACME HTTP-01 token, nullopt if none: the
// store's answer, so that every edge of a cluster can answer the CA.
using AcmeTokenLookup =
    std::function<Result<std::optional<std::string>>(std::string_view token)>;

// The plain-HTTP listener: answers GET /.well-known/acme-challenge/<token>
// from lookup (404 for unknown tokens), and redirects every other request to
// https://<host><target> (308), or 400 without a usable Host.
net::awaitable<void> ServeHttpRedirect(tcp::socket& client, const HttpLimits& limits,
                                       const AcmeTokenLookup& lookup);

}  // namespace certgate::edge
