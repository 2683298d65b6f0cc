// Where an outgoing request goes, from a URL certgate is configured with
// (an ACME directory, a webhook): https:// anywhere, plain http:// only to
// loopback, since what certgate sends there is not meant for the network to
// read.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "http_client/http_client.h"

namespace certgate::http_client {

struct HttpUrl {
  bool tls = true;
  std::string host;  // without brackets
  std::string port;
  std::string target;  // path and query, at least "/"

  HttpOrigin origin() const { return {.tls = tls, .host = host, .port = port}; }
};

// Accepts https://host[:port]/path, and http:// only to 127.0.0.1, ::1 or
// localhost; no user info. Error kConfigInvalid saying why not, naming the
// URL as `what` ("the ACME URL", "the webhook URL").
Result<HttpUrl> ParseHttpsUrl(std::string_view url, std::string_view what);

}  // namespace certgate::http_client
