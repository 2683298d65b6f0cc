// ApiClient: a small blocking client for certgate's API, used by the CLI's
// resource commands and by the integration tests: the API's URL, key and
// default headers over the shared http_client::HttpClient. http:// and
// https:// (verified against the system's CAs or a given CA file). One
// connection per request; every request has a deadline. Not thread-safe;
// cheap to create and to copy.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/verb.hpp>

#include "core/result.h"
#include "http_client/http_client.h"
#include "http_client/http_response.h"

namespace certgate::client {

struct ClientOptions {
  // CA certificates (PEM) to trust for https; empty: $CERTGATE_API_CA_FILE,
  // else the system's.
  std::string ca_file;
  // The whole exchange: connect, TLS, request and response.
  std::chrono::milliseconds timeout{30000};
};

// A response: status, headers (Header(name)), body.
using HttpResult = http_client::HttpResponse;

class ApiClient {
 public:
  // base_url: "http://127.0.0.1:4040" (a path prefix is kept). Error
  // kConfigInvalid for a URL that is not http(s).
  static Result<ApiClient> Create(std::string_view base_url, std::string api_key,
                                  ClientOptions options = {});

  // path_and_query: "/tls_certificates?limit=5". A body is sent as JSON.
  // headers are set over the defaults; an empty value removes one. Errors:
  // kConfigInvalid (the CA file cannot be loaded), kIo (the exchange failed).
  Result<HttpResult> Send(boost::beast::http::verb method, std::string_view path_and_query,
                          std::optional<std::string_view> body = std::nullopt,
                          const std::vector<std::pair<std::string, std::string>>& headers = {}) const;

  const std::string& base_url() const { return base_url_; }

 private:
  ApiClient() = default;
  std::string base_url_;
  http_client::HttpOrigin origin_;
  std::string prefix_;
  std::string api_key_;
  // Shared by copies; an error (the CA file cannot be loaded) is reported by
  // every Send, so that creating a client never fails for it.
  std::shared_ptr<const http_client::HttpClient> http_;
  Error http_error_;
};

}  // namespace certgate::client
