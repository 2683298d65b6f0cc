// ApiClient: a small blocking HTTP/1.1 client for certgate's API, used by the
// CLI's resource commands and by the integration tests. http:// and https://
// (verified against the system's CAs or a given CA file). One connection per
// request; every request has a deadline. Not thread-safe; cheap to create.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/verb.hpp>

#include "core/result.h"

namespace certgate::client {

struct ClientOptions {
  // CA certificates (PEM) to trust for https; empty: $CERTGATE_API_CA_FILE,
  // else the system's.
  std::string ca_file;
  std::chrono::milliseconds timeout{30000};
};

struct HttpResult {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // The first header of that name (case-insensitive), or "".
  std::string Header(std::string_view name) const;
};

class ApiClient {
 public:
  // base_url: "http://127.0.0.1:4040" (a path prefix is kept). Error
  // kConfigInvalid for a URL that is not http(s).
  static Result<ApiClient> Create(std::string_view base_url, std::string api_key,
                                  ClientOptions options = {});

  // path_and_query: "/tls_certificates?limit=5". A body is sent as JSON.
  Result<HttpResult> Send(boost::beast::http::verb method, std::string_view path_and_query,
                          std::optional<std::string_view> body = std::nullopt,
                          const std::vector<std::pair<std::string, std::string>>& headers = {}) const;

  const std::string& base_url() const { return base_url_; }

 private:
  ApiClient() = default;
  std::string base_url_;
  std::string scheme_, host_, port_, prefix_;
  std::string api_key_;
  ClientOptions options_;
};

}  // namespace certgate::client
