#include "app/health.h"

#include <string>
#include <string_view>

namespace certgate::app {

std::optional<api::Response> ReadinessEndpoint(const api::Request& req, const Readiness& ready) {
  std::string_view target = req.target();
  target = target.substr(0, target.find('?'));
  if (target != "/readyz") return std::nullopt;
  namespace http = api::http;
  api::Response res{http::status::ok, req.version()};
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    res.result(http::status::method_not_allowed);
    res.set(http::field::allow, "GET, HEAD");
    res.body() = "/readyz answers GET\n";
    res.prepare_payload();
    return res;
  }
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
  res.prepare_payload();
  if (req.method() == http::verb::head) res.body().clear();
  return res;
}

}  // namespace certgate::app
