// GET /readyz: whether this process should get traffic. 200 "ready" when
// the store answers, the edge is listening and certgate is not shutting
// down; otherwise 503 with one line per reason. (GET /healthz, in the API,
// says only that the process is alive.)
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string_view>

#include "api/http_types.h"
#include "core/result.h"

namespace certgate::app {

struct Readiness {
  std::function<Result<void>()> store;  // a cheap read of the store
  const std::atomic<bool>& edge_listening;
  const std::atomic<bool>& stopping;
};

// Routes of the process itself, answered beside the API (/readyz,
// /metrics): GET and HEAD only. nullopt when req's path (its query aside)
// is not path. Otherwise a response begun as 200 with Cache-Control:
// no-store, or, for another method, a whole 405 with Allow (refused).
struct GetRoute {
  api::Response res;
  bool refused = false;
};
std::optional<GetRoute> BeginGetRoute(const api::Request& req, std::string_view path);
// res with its payload prepared; for HEAD, without the body.
api::Response EndGetRoute(const api::Request& req, api::Response res);

// The response to GET /readyz; nullopt for any other path.
std::optional<api::Response> ReadinessEndpoint(const api::Request& req, const Readiness& ready);

}  // namespace certgate::app
