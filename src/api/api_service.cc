#include "api/api_service.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <vector>

#include "api/call.h"
#include "api/dashboard.h"
#include "api/problem.h"

namespace certgate::api {
namespace {

constexpr std::string_view kSupportedVersion = "2";

// A Host header we are willing to echo into URLs: host[:port] characters only.
bool IsSaneHost(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  for (char c : host) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
              c == '[' || c == ']' || c == '_';
    if (!ok) return false;
  }
  return true;
}

Response MethodNotAllowed(const Call& call, std::string_view allowed) {
  Response res = Fail(call, MakeError(ErrorCode::kMethodNotAllowed,
                                      fmt::format("{} does not accept {}; it accepts {}",
                                                  std::string_view(call.target.path()),
                                                  std::string_view(call.req.method_string()),
                                                  allowed)));
  res.set(http::field::allow, allowed);
  return res;
}

// The query parameters of a list (GET on a collection): paging (before_id,
// or beforeId as ngrok's TypeScript client spells it) and filter.
constexpr std::string_view kListParameters[] = {"limit", "before_id", "beforeId", "filter"};

// Refuses (kQueryUnknown) a query parameter the request does not take: list
// requests take kListParameters, every other request none. An empty
// parameter ("?" or a trailing "&") is not one.
Result<void> CheckQueryParameters(const Call& call, bool list) {
  for (auto param : call.target.params()) {
    const std::string key = param.key;
    if (key.empty() && param.value.empty()) continue;
    if (list && std::find(std::begin(kListParameters), std::end(kListParameters), key) !=
                    std::end(kListParameters)) {
      continue;
    }
    std::string quoted = key.substr(0, 64);
    for (char& c : quoted) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7F) c = '?';
    }
    return MakeFieldError(
        ErrorCode::kQueryUnknown, quoted,
        list ? fmt::format("unknown query parameter '{}'; a list takes limit, before_id and filter",
                           quoted)
             : fmt::format("unknown query parameter '{}'; {} {} takes no query parameters", quoted,
                           std::string_view(call.req.method_string()),
                           std::string_view(call.target.path()).substr(0, 200)));
  }
  return {};
}

// The DNS lookups of the dashboard's record check are bounded by a shorter
// timeout than provisioning's: a person is waiting for the page.
constexpr std::chrono::milliseconds kRecordCheckTimeout{3000};

DomainsApi MakeDomainsApi(const ApiServiceStores& stores, const Clock& clock,
                          const ApiServiceOptions& options) {
  auto resolver =
      dns::Resolver::Create(dns::ResolverOptions{options.resolver, kRecordCheckTimeout});
  if (!resolver) {
    return DomainsApi(stores.domains, stores.certificates, stores.jobs, clock, options.base_domain,
                      nullptr,
                      fmt::format("certgate has no DNS resolver: {}", resolver.error().message));
  }
  return DomainsApi(stores.domains, stores.certificates, stores.jobs, clock, options.base_domain,
                    std::make_unique<dns::Resolver>(std::move(*resolver)), "");
}

}  // namespace

ApiService::ApiService(ApiServiceStores stores, seal::KeyVault& vault, const Clock& clock,
                       ApiServiceOptions options)
    : accounts_(stores.accounts),
      options_(std::move(options)),
      certificates_(stores.certificates, vault, clock),
      domains_(MakeDomainsApi(stores, clock, options_)),
      endpoints_(stores.endpoints, stores.domains, stores.certificates, vault, clock) {}

std::string ApiService::BaseUrl(const Request& req, const RequestContext& ctx) const {
  if (!options_.public_url.empty()) return options_.public_url;
  std::string_view host = req[http::field::host];
  if (!IsSaneHost(host)) {
    host = "localhost";
  }
  return fmt::format("{}://{}", ctx.scheme, host);
}

Response ApiService::Handle(Request& req, const RequestContext& ctx) {
  auto target = boost::urls::parse_origin_form(req.target());
  if (!target) {
    return ErrorResponse(MakeError(ErrorCode::kBadRequest, "the request target is not a valid path"),
                         ctx.operation_id, req.version());
  }
  Call call{req, ctx, BaseUrl(req, ctx), *target, std::nullopt};

  std::vector<std::string> segments;
  for (auto seg : call.target.segments()) segments.push_back(seg);
  if (!segments.empty() && segments.back().empty()) segments.pop_back();  // trailing slash
  const http::verb method = req.method();

  // Unauthenticated: the dashboard's files and the health check.
  const bool read = method == http::verb::get || method == http::verb::head;
  if (segments.empty() || segments[0] == "assets") {
    if (read) {
      if (auto page = DashboardResponse(call.target.path(), req)) return std::move(*page);
    } else if (segments.empty()) {
      return MethodNotAllowed(call, "GET");
    }
  }
  if (segments.size() == 1 && segments[0] == "healthz") {
    if (!read) return MethodNotAllowed(call, "GET");
    Response res{http::status::ok, req.version()};
    res.set(http::field::content_type, "text/plain");
    res.body() = "ok\n";
    res.prepare_payload();
    return res;
  }

  std::string_view version = req["Ngrok-Version"];
  if (!version.empty() && version != kSupportedVersion) {
    return Fail(call, MakeError(ErrorCode::kVersionUnsupported,
                                fmt::format("Ngrok-Version '{}' is not supported; the supported "
                                            "version is {}",
                                            version.substr(0, 32), kSupportedVersion)));
  }

  enum class Route {
    kNone,
    kCertificates,
    kCertificate,
    kCertificateChain,
    kDomains,
    kDomain,
    kDomainCertificate,
    kDomainPolicy,
    kDomainDnsRecords,
    kEndpoints,
    kEndpoint,
  };
  Route route = Route::kNone;
  const std::string& collection = segments[0];
  if (collection == "tls_certificates") {
    if (segments.size() == 1) route = Route::kCertificates;
    if (segments.size() == 2) route = Route::kCertificate;
    if (segments.size() == 3 && segments[2] == "chain") route = Route::kCertificateChain;
  } else if (collection == "reserved_domains") {
    if (segments.size() == 1) route = Route::kDomains;
    if (segments.size() == 2) route = Route::kDomain;
    if (segments.size() == 3 && segments[2] == "certificate") route = Route::kDomainCertificate;
    if (segments.size() == 3 && segments[2] == "certificate_management_policy") {
      route = Route::kDomainPolicy;
    }
    if (segments.size() == 3 && segments[2] == "dns_records") route = Route::kDomainDnsRecords;
  } else if (collection == "endpoints") {
    if (segments.size() == 1) route = Route::kEndpoints;
    if (segments.size() == 2) route = Route::kEndpoint;
  }
  if (route == Route::kNone) {
    return Fail(call, MakeError(ErrorCode::kRouteNotFound,
                                fmt::format("there is no API resource at {}",
                                            std::string_view(call.target.path()).substr(0, 200))));
  }

  auto principal = Authenticate(accounts_, req[http::field::authorization]);
  if (!principal) return Fail(call, principal.error());
  call.principal = std::move(*principal);

  const bool get = method == http::verb::get;
  const bool post = method == http::verb::post;
  const bool patch = method == http::verb::patch;
  const bool del = method == http::verb::delete_;
  const bool list = get && (route == Route::kCertificates || route == Route::kDomains ||
                            route == Route::kEndpoints);
  if (auto r = CheckQueryParameters(call, list); !r) return Fail(call, r.error());
  switch (route) {
    case Route::kCertificates:
      if (get) return certificates_.List(call);
      if (post) return certificates_.Create(call);
      return MethodNotAllowed(call, "GET, POST");
    case Route::kCertificate:
      if (get) return certificates_.Get(call, segments[1]);
      if (patch) return certificates_.Update(call, segments[1]);
      if (del) return certificates_.Delete(call, segments[1]);
      return MethodNotAllowed(call, "GET, PATCH, DELETE");
    case Route::kCertificateChain:
      if (get) return certificates_.Chain(call, segments[1]);
      return MethodNotAllowed(call, "GET");
    case Route::kDomains:
      if (get) return domains_.List(call);
      if (post) return domains_.Create(call);
      return MethodNotAllowed(call, "GET, POST");
    case Route::kDomain:
      if (get) return domains_.Get(call, segments[1]);
      if (patch) return domains_.Update(call, segments[1]);
      if (del) return domains_.Delete(call, segments[1]);
      return MethodNotAllowed(call, "GET, PATCH, DELETE");
    case Route::kDomainCertificate:
      if (del) return domains_.DetachCertificate(call, segments[1]);
      return MethodNotAllowed(call, "DELETE");
    case Route::kDomainPolicy:
      if (del) return domains_.RemovePolicy(call, segments[1]);
      return MethodNotAllowed(call, "DELETE");
    case Route::kDomainDnsRecords:
      if (get) return domains_.DnsRecords(call, segments[1]);
      return MethodNotAllowed(call, "GET");
    case Route::kEndpoints:
      if (get) return endpoints_.List(call);
      if (post) return endpoints_.Create(call);
      return MethodNotAllowed(call, "GET, POST");
    case Route::kEndpoint:
      if (get) return endpoints_.Get(call, segments[1]);
      if (patch) return endpoints_.Update(call, segments[1]);
      if (del) return endpoints_.Delete(call, segments[1]);
      return MethodNotAllowed(call, "GET, PATCH, DELETE");
    case Route::kNone:
      break;
  }
  return Fail(call, MakeError(ErrorCode::kInternal, "unrouted request"));
}

}  // namespace certgate::api
