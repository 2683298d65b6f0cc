#include "app/health.h"

#include <string>
#include <string_view>

namespace certgate::app {

std::optional<GetRoute> BeginGetRoute(const api::Request& req, std::string_view path) {
  std::string_view target = req.target();
  target = target.substr(0, target.find('?'));
  if (target != path) return std::nullopt;
  namespace http = api::http;
  GetRoute route{api::Response{http::status::ok, req.version()}};
  route.res.set(http::field::cache_control, "no-store");
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    route.res.result(http::status::method_not_allowed);
    route.res.set(http::field::allow, "GET, HEAD");
    route.res.set(http::field::content_type, "text/plain; charset=utf-8");
    route.res.body() = std::string(path) + " answers GET\n";
    route.res = EndGetRoute(req, std::move(route.res));
    route.refused = true;
  }
  return route;
}

api::Response EndGetRoute(const api::Request& req, api::Response res) {
  res.prepare_payload();
  if (req.method() == api::http::verb::head) res.body().clear();
  return res;
}

std::optional<api::Response> ReadinessEndpoint(const api::Request& req, const Readiness& ready) {
  auto route = BeginGetRoute(req, "/readyz");
  if (!route || route->refused) {
    return route ? std::optional<api::Response>(std::move(route->res)) : std::nullopt;
  }
  namespace http = api::http;
  api::Response& res = route->res;
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  std::string reasons;
  if (ready.stopping.load()) reasons += "shutting down\n";
  if (!ready.edge_listening.load()) reasons += "the edge is not listening yet\n";
  // Not the store's own message: it may name the database's host.
  if (auto store = ready.store(); !store) reasons += "the store cannot be reached\n";
  if (reasons.empty()) {
    res.body() = "ready\n";
  } else {
    res.result(http::status::service_unavailable);
    res.body() = reasons;
  }
  return EndGetRoute(req, std::move(res));
}

}  // namespace certgate::app
