#include "api/dashboard.h"

#include <optional>

namespace certgate::api {
namespace {

std::string_view ContentType(std::string_view path) {
  auto ends = [&](std::string_view ext) { return path.ends_with(ext); };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  return "application/octet-stream";
}

}  // namespace

std::optional<Response> DashboardResponse(std::string_view path, const Request& req) {
  if (path == "/") path = "/index.html";
  for (const StaticFile& file : internal::DashboardFileTable()) {
    if (file.path != path) continue;
    Response res{http::status::ok, req.version()};
    res.set(http::field::content_type, ContentType(path));
    // The files change only with the binary; revalidating costs little.
    res.set(http::field::cache_control, "no-cache");
    res.set("Content-Security-Policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'");
    res.set("X-Content-Type-Options", "nosniff");
    res.set("Referrer-Policy", "no-referrer");
    res.body() = file.body;
    res.prepare_payload();
    return res;
  }
  return std::nullopt;
}

}  // namespace certgate::api
