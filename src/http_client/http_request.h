// HttpRequest: what the client sends in one exchange, and the bounds it puts
// on the response it reads back. A plain value.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include <boost/beast/http/verb.hpp>

namespace certgate::http_client {

// Bounds on a response; a response over either fails the exchange with
// HttpFailureStage::kResponseTooLarge instead of growing memory.
struct ResponseLimits {
  size_t head = 64 * 1024;    // status line and header fields
  size_t body = 1024 * 1024;  // the body after any chunked decoding
};

struct HttpRequest {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string target = "/";  // origin form: path and query
  // Header fields, applied in order over the defaults (HttpClient::Send sets
  // Host first): a field replaces an earlier one of the same name, and an
  // empty value removes it. Content-Length is always computed from body.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  ResponseLimits limits;
};

}  // namespace certgate::http_client
