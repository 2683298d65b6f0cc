// GET /readyz: whether this process should get traffic. 200 "ready" when
// the store answers, the edge is listening and certgate is not shutting
// down; otherwise 503 with one line per reason. (GET /healthz, in the API,
// says only that the process is alive.)
#pragma once

#include <atomic>
#include <functional>
#include <optional>

#include "api/http_types.h"
#include "core/result.h"

namespace certgate::app {

struct Readiness {
  std::function<Result<void>()> store;  // a cheap read of the store
  const std::atomic<bool>& edge_listening;
  const std::atomic<bool>& stopping;
};

// The response to GET /readyz; nullopt for any other path.
std::optional<api::Response> ReadinessEndpoint(const api::Request& req, const Readiness& ready);

}  // namespace certgate::app
