#include "acme/http_transport.h"

#include <strings.h>

#include <fmt/format.h>

namespace certgate::acme {
namespace {

namespace http = boost::beast::http;

constexpr size_t kHeaderLimit = 64 * 1024;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// The ACME client's error for a failed exchange: the CA's answer was too
// large or not HTTP (kAcmeBadResponse), the connection could not be prepared
// (kConfigInvalid), or the CA could not be reached (kAcmeUnreachable).
Error AcmeErrorOf(const http_client::HttpFailure& failure, std::string_view url,
                  std::string_view host) {
  using Stage = http_client::HttpFailureStage;
  switch (failure.stage) {
    case Stage::kSetup:
      return MakeError(ErrorCode::kConfigInvalid, failure.cause);
    case Stage::kResolve:
      return MakeError(ErrorCode::kAcmeUnreachable,
                       fmt::format("cannot resolve the ACME server {}: {}", host, failure.cause));
    case Stage::kResponseTooLarge:
    case Stage::kMalformedResponse:
      return MakeError(ErrorCode::kAcmeBadResponse, failure.Describe(url));
    default:
      return MakeError(ErrorCode::kAcmeUnreachable, failure.Describe(url));
  }
}

}  // namespace

std::vector<std::string> LinksWithRel(const HttpResponse& response, std::string_view rel) {
  std::vector<std::string> out;
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  for (const std::string& header : response.Headers("Link")) {
    std::string_view rest = header;
    for (;;) {
      auto open = rest.find('<');
      if (open == std::string_view::npos) break;
      auto close = rest.find('>', open);
      if (close == std::string_view::npos) break;
      std::string_view url = rest.substr(open + 1, close - open - 1);
      rest.remove_prefix(close + 1);
      // Parameters run to the next link ("," then "<") or the end.
      auto next = rest.find('<');
      std::string_view params = rest.substr(0, next);
      bool matches = false;
      while (!params.empty()) {
        auto semi = params.find(';');
        std::string_view param = trim(params.substr(0, semi));
        params = semi == std::string_view::npos ? std::string_view() : params.substr(semi + 1);
        while (!param.empty() && param.back() == ',') param = trim(param.substr(0, param.size() - 1));
        if (param.size() < 4 || strncasecmp(param.data(), "rel=", 4) != 0) continue;
        std::string_view value = param.substr(4);
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
          value = value.substr(1, value.size() - 2);
        }
        while (!value.empty()) {  // a space-separated list of relation types
          auto space = value.find(' ');
          if (EqualsIgnoreCase(value.substr(0, space), rel)) matches = true;
          value = space == std::string_view::npos ? std::string_view() : value.substr(space + 1);
        }
      }
      if (matches) out.emplace_back(url);
      if (next == std::string_view::npos) break;
      rest.remove_prefix(next);
    }
  }
  return out;
}

Result<AcmeUrl> ParseAcmeUrl(std::string_view url) {
  return http_client::ParseHttpsUrl(url, "the ACME URL");
}

HttpTransport::HttpTransport(std::unique_ptr<http_client::HttpClient> client,
                             std::string user_agent)
    : client_(std::move(client)), user_agent_(std::move(user_agent)) {}

Result<std::unique_ptr<HttpTransport>> HttpTransport::Create(const std::string& ca_file,
                                                             std::string user_agent,
                                                             std::chrono::milliseconds timeout) {
  CG_ASSIGN_OR_RETURN(auto client,
                      http_client::HttpClient::Create(
                          {.tls = http_client::TlsTrust{ca_file}, .timeout = timeout}));
  return std::unique_ptr<HttpTransport>(new HttpTransport(std::move(client), std::move(user_agent)));
}

Result<HttpResponse> HttpTransport::Send(http::verb method, std::string_view url,
                                         std::string body, std::string_view content_type,
                                         size_t body_limit, std::string_view accept) const {
  CG_ASSIGN_OR_RETURN(AcmeUrl target, ParseAcmeUrl(url));
  http_client::HttpRequest request{.method = method,
                                   .target = target.target,
                                   .headers = {{"User-Agent", user_agent_},
                                               {"Accept-Language", "en"}},
                                   .limits = {.head = kHeaderLimit, .body = body_limit}};
  if (!accept.empty()) request.headers.emplace_back("Accept", std::string(accept));
  if (!content_type.empty()) {
    request.headers.emplace_back("Content-Type", std::string(content_type));
    request.body = std::move(body);
  }
  http_client::ExchangeResult result =
      client_->Send({.tls = target.tls, .host = target.host, .port = target.port}, request);
  if (result.ok()) return std::move(result).response();
  return AcmeErrorOf(result.failure(), url, target.host);
}

}  // namespace certgate::acme
