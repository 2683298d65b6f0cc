// The web dashboard's static files (HTML, CSS, ES modules), compiled into the
// binary from src/api/dashboard by embed_files.cmake: nothing is read from
// disk or fetched from elsewhere at run time. Served without authentication;
// the pages call the API with the key the user signs in with.
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "api/http_types.h"

namespace certgate::api {

struct StaticFile {
  std::string_view path;  // "/index.html", "/assets/app.js", ...
  std::string_view body;
};

// The response for a GET or HEAD of `path` ("/" is the index page), or
// nullopt when the dashboard has no such file. Carries the file's content
// type and headers that keep the pages to their own origin (a CSP with no
// inline scripts, no framing, no sniffing, no referrer).
std::optional<Response> DashboardResponse(std::string_view path, const Request& req);

namespace internal {
std::span<const StaticFile> DashboardFileTable();  // generated
}

}  // namespace certgate::api
