#include "client/api_client.h"

#include <boost/url.hpp>
#include <fmt/format.h>

#include <cstdlib>

namespace certgate::client {
namespace {

namespace http = boost::beast::http;
using http_client::HttpFailureStage;

// Beast's default bound on a response head, which the API's answers have
// always been held to; the body may be a large certificate list.
constexpr http_client::ResponseLimits kApiResponseLimits{.head = 8 * 1024,
                                                         .body = 64 * 1024 * 1024};

}  // namespace

Result<ApiClient> ApiClient::Create(std::string_view base_url, std::string api_key,
                                    ClientOptions options) {
  auto url = boost::urls::parse_uri(base_url);
  if (!url || (url->scheme() != "http" && url->scheme() != "https") || url->host().empty()) {
    return MakeError(ErrorCode::kConfigInvalid,
                     fmt::format("the API URL '{}' is not an http:// or https:// URL", base_url));
  }
  ApiClient c;
  c.origin_.tls = url->scheme() == "https";
  c.origin_.host = url->host_address();
  c.origin_.port =
      url->has_port() ? std::string(url->port()) : (c.origin_.tls ? "443" : "80");
  c.prefix_ = url->path();
  while (!c.prefix_.empty() && c.prefix_.back() == '/') c.prefix_.pop_back();
  c.base_url_ = std::string(base_url);
  while (!c.base_url_.empty() && c.base_url_.back() == '/') c.base_url_.pop_back();
  c.api_key_ = std::move(api_key);
  if (options.ca_file.empty()) {
    const char* env = std::getenv("CERTGATE_API_CA_FILE");
    if (env != nullptr) options.ca_file = env;
  }
  http_client::HttpClientOptions http_options{.timeout = options.timeout};
  // Plain http:// needs no CA, and loads none.
  http_options.tls = c.origin_.tls ? std::optional(http_client::TlsTrust{options.ca_file})
                                   : std::nullopt;
  auto http = http_client::HttpClient::Create(std::move(http_options));
  if (http.ok()) {
    c.http_ = std::move(http).value();
  } else {
    c.http_error_ = std::move(http).error();
  }
  return c;
}

Result<HttpResult> ApiClient::Send(http::verb method, std::string_view path_and_query,
                                   std::optional<std::string_view> body,
                                   const std::vector<std::pair<std::string, std::string>>& headers) const {
  if (!http_) return http_error_;
  http_client::HttpRequest request{.method = method,
                                   .target = prefix_ + std::string(path_and_query),
                                   .headers = {{"User-Agent", "certgate-cli"},
                                               {"Ngrok-Version", "2"},
                                               {"Accept", "application/json"}},
                                   .limits = kApiResponseLimits};
  if (!api_key_.empty()) request.headers.emplace_back("Authorization", "Bearer " + api_key_);
  // An empty value lets tests send a request without one of the defaults.
  request.headers.insert(request.headers.end(), headers.begin(), headers.end());
  if (body) {
    request.headers.emplace_back("Content-Type", "application/json");
    request.body = std::string(*body);
  }
  http_client::ExchangeResult result = http_->Send(origin_, request);
  if (result.ok()) return std::move(result).response();
  const http_client::HttpFailure& failure = result.failure();
  switch (failure.stage) {
    case HttpFailureStage::kSetup:
      return MakeError(ErrorCode::kIo, failure.cause);
    case HttpFailureStage::kResolve:
      return MakeError(ErrorCode::kIo,
                       fmt::format("cannot resolve {}: {}", origin_.host, failure.cause));
    case HttpFailureStage::kConnect:
      return MakeError(ErrorCode::kIo, fmt::format("cannot connect to the API at {}: {}",
                                                   base_url_, failure.cause));
    case HttpFailureStage::kTlsHandshake:
      return MakeError(ErrorCode::kIo, fmt::format("TLS handshake with {} failed: {}", base_url_,
                                                   failure.cause));
    case HttpFailureStage::kSend:
      return MakeError(ErrorCode::kIo,
                       fmt::format("sending the request failed: {}", failure.cause));
    default:
      return MakeError(ErrorCode::kIo,
                       fmt::format("reading the response failed: {}", failure.cause));
  }
}

}  // namespace certgate::client
