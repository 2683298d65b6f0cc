// The ACME client's HTTP/1.1 transport (internal to the acme module): the
// ACME URL policy and error codes over the shared http_client::HttpClient
// (one blocking exchange per call over a fresh connection, with a deadline,
// bounds on the response, no redirects followed and no proxies). https:// is
// verified against the configured CA file (or the system store) and the URL's
// host name or IP address; plain http:// is allowed only to loopback
// (127.0.0.1, ::1, localhost) for tests. Thread-safe, as HttpClient is.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/verb.hpp>

#include "core/result.h"
#include "http_client/http_client.h"
#include "http_client/http_response.h"
#include "http_client/url.h"

namespace certgate::acme {

// The transport's responses are the shared HTTP client's.
using HttpResponse = http_client::HttpResponse;

using AcmeUrl = http_client::HttpUrl;

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
  HttpTransport(std::unique_ptr<http_client::HttpClient> client, std::string user_agent);
  const std::unique_ptr<http_client::HttpClient> client_;
  std::string user_agent_;
};

}  // namespace certgate::acme
