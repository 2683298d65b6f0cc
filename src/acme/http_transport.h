// The ACME client's HTTP/1.1 transport (internal to the acme module): one
// blocking exchange per call, over a fresh connection, with a deadline, a
// bound on the response body, no redirects followed and no proxies. https://
// is verified against the configured CA file (or the system store) and the
// URL's host name or IP address; plain http:// is allowed only to loopback
// (127.0.0.1, ::1, localhost) for tests. Thread-safe: the TLS context is
// configured once and only read afterwards; each exchange owns its own
// io_context.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/verb.hpp>

#include "core/result.h"

namespace certgate::acme {

struct HttpResponse {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  // The first header of that name (case-insensitive), or "".
  std::string Header(std::string_view name) const;
  // Every header of that name, in order.
  std::vector<std::string> Headers(std::string_view name) const;
  // The media type of Content-Type, lower case, without parameters.
  std::string MediaType() const;
};

struct AcmeUrl {
  bool tls = true;
  std::string host;  // without brackets
  std::string port;
  std::string target;  // path and query, at least "/"
};

// The URLs of the response's Link headers (RFC 8288) whose rel includes
// `rel`, in order: `<https://ca/cert/1/1>;rel="alternate"`.
std::vector<std::string> LinksWithRel(const HttpResponse& response, std::string_view rel);

// Accepts https://host[:port]/path, and http:// only to loopback. Error
// kConfigInvalid saying why not.
Result<AcmeUrl> ParseAcmeUrl(std::string_view url);

class HttpTransport {
 public:
  // ca_file "" trusts the system store. Error kConfigInvalid when the file
  // cannot be loaded.
  static Result<std::unique_ptr<HttpTransport>> Create(const std::string& ca_file,
                                                       std::string user_agent,
                                                       std::chrono::milliseconds timeout);

  // Sends one request and reads the whole response. content_type "" sends
  // no body. Errors: kConfigInvalid (URL refused by ParseAcmeUrl),
  // kAcmeUnreachable (resolve/connect/TLS/timeout/read failures),
  // kAcmeBadResponse (body over body_limit or malformed HTTP). Any HTTP
  // status is a success here.
  // accept "" sends no Accept header.
  Result<HttpResponse> Send(boost::beast::http::verb method, std::string_view url,
                            std::string body, std::string_view content_type,
                            size_t body_limit, std::string_view accept = "") const;

 private:
  HttpTransport(std::string user_agent, std::chrono::milliseconds timeout);
  // Configured in Create, then only used to create SSL objects, which
  // OpenSSL allows from many threads at once (hence mutable, not locked).
  mutable boost::asio::ssl::context ssl_ctx_;
  std::string user_agent_;
  std::chrono::milliseconds timeout_;
};

}  // namespace certgate::acme
