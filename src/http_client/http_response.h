// HttpResponse: one HTTP/1.1 response as the client read it: the status, the
// header fields in the order received, and the whole body. A plain value;
// safe to copy and to read from any thread.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace certgate::http_client {

struct HttpResponse {
  int status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  // The first header of that name (case-insensitive), or "".
  std::string Header(std::string_view name) const;
  // Every header of that name, in order.
  std::vector<std::string> Headers(std::string_view name) const;
  // The media type of Content-Type, lower case, without parameters.
  std::string MediaType() const;
};

}  // namespace certgate::http_client
