// HttpClient: certgate's blocking HTTP/1.1 client, for the ACME client's
// transport, the CLI's API client and the tests. Each Send opens a fresh
// connection (plain TCP or TLS), makes one exchange (see exchange.h) and
// closes it: no pooling, no redirects followed, no proxies.
//
// TLS: the server's certificate is verified against a CA file or the system
// store, and its name against the origin's host: a DNS name (sent as SNI too)
// or, for an IP literal, an IP-address SAN (no SNI, RFC 6066 section 3).
// TLS 1.2 is the minimum.
//
// Every Send ends by a deadline: connect_timeout bounds resolving and the TCP
// connect, timeout the whole exchange.
//
// Thread-safe: the TLS context is configured in Create and only read
// afterwards; each Send owns its io_context.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "core/result.h"
#include "http_client/http_failure.h"
#include "http_client/http_request.h"

namespace certgate::http_client {

// Where requests go: scheme, host and port of a URL.
struct HttpOrigin {
  bool tls = true;   // https
  std::string host;  // a DNS name or an IP literal, without brackets
  std::string port;  // "443"

  // The Host header for this origin: "ca.test", "[::1]:8443" (the scheme's
  // default port is left out).
  std::string HostHeader() const;
};

// Whom https:// servers must be signed by.
struct TlsTrust {
  std::string ca_file;  // a PEM file of CA certificates; "" for the system store
};

struct HttpClientOptions {
  // nullopt: plain http:// only, no CA is loaded, and a TLS origin fails with
  // kSetup. Default: the system store.
  std::optional<TlsTrust> tls = TlsTrust{};
  // The whole exchange: resolve, connect, TLS handshake, request, response.
  // REQUIRES: > 0. Default: 30 s.
  std::chrono::milliseconds timeout{30000};
  // Resolving and the TCP connect, within timeout; 0 means timeout.
  std::chrono::milliseconds connect_timeout{0};
};

class HttpClient {
 public:
  // Error kConfigInvalid when the CA file cannot be loaded.
  static Result<std::unique_ptr<HttpClient>> Create(HttpClientOptions options);

  // Sends request to origin and reads the whole response. Host is set from
  // origin before request.headers, and "Connection: close" after them. Any
  // HTTP status is a response; see HttpFailureStage for the failures.
  ExchangeResult Send(const HttpOrigin& origin, const HttpRequest& request) const;

 private:
  explicit HttpClient(HttpClientOptions options);
  HttpClientOptions options_;
  // Configured in Create, then only used to create SSL objects, which OpenSSL
  // allows from many threads at once (hence mutable, not locked). Null
  // without options_.tls.
  mutable std::unique_ptr<boost::asio::ssl::context> ssl_ctx_;
};

}  // namespace certgate::http_client
