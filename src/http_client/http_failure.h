// HttpFailure: why an exchange ended without a response, for the caller to
// turn into its own error (the ACME client and the API client word and code
// the same failure differently). ExchangeResult: a response or a failure.
// Plain values.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "http_client/http_response.h"

namespace certgate::http_client {

// The step that failed, in the order an exchange runs them.
enum class HttpFailureStage {
  kSetup,               // the connection could not be prepared (TLS name refused,
                        // https:// on a client without TLS)
  kResolve,             // the host name did not resolve (or not in time)
  kConnect,             // no TCP connection (or not in time)
  kTlsHandshake,        // the TLS handshake failed, certificate verification included
  kSend,                // writing the request failed (or not in time)
  kReceive,             // reading the response failed: closed early, reset, timed out
  kResponseTooLarge,    // the head or body exceeded its ResponseLimits bound
  kMalformedResponse,   // the peer answered, but not with valid HTTP/1.1
};

struct HttpFailure {
  HttpFailureStage stage = HttpFailureStage::kSetup;
  // The system's or the parser's words: "Connection refused", "timed out".
  std::string cause;
  // The exchange's deadline (or the connect deadline) ran out.
  bool timed_out = false;
  // kResponseTooLarge: the bound that was exceeded, in bytes.
  size_t limit = 0;

  // One sentence naming the step and `where` (a URL or host):
  // "connecting to http://127.0.0.1:1/ failed: Connection refused".
  std::string Describe(std::string_view where) const;
};

// The outcome of one exchange: a response (whatever its status) or a failure.
class [[nodiscard]] ExchangeResult {
 public:
  ExchangeResult(HttpResponse response)  // NOLINT: implicit by design, like Result
      : v_(std::in_place_index<0>, std::move(response)) {}
  ExchangeResult(HttpFailure failure)  // NOLINT
      : v_(std::in_place_index<1>, std::move(failure)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // REQUIRES: ok().
  HttpResponse& response() & { return std::get<0>(v_); }
  const HttpResponse& response() const& { return std::get<0>(v_); }
  HttpResponse&& response() && { return std::get<0>(std::move(v_)); }
  // REQUIRES: !ok().
  const HttpFailure& failure() const { return std::get<1>(v_); }

 private:
  std::variant<HttpResponse, HttpFailure> v_;
};

}  // namespace certgate::http_client
