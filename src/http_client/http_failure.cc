#include "http_client/http_failure.h"

#include <fmt/format.h>

namespace certgate::http_client {

std::string HttpFailure::Describe(std::string_view where) const {
  switch (stage) {
    case HttpFailureStage::kSetup:
      return fmt::format("cannot prepare the connection to {}: {}", where, cause);
    case HttpFailureStage::kResolve:
      return fmt::format("cannot resolve {}: {}", where, cause);
    case HttpFailureStage::kConnect:
      return fmt::format("connecting to {} failed: {}", where, cause);
    case HttpFailureStage::kTlsHandshake:
      return fmt::format("the TLS handshake with {} failed: {}", where, cause);
    case HttpFailureStage::kSend:
      return fmt::format("sending the request to {} failed: {}", where, cause);
    case HttpFailureStage::kReceive:
      return fmt::format("reading the response from {} failed: {}", where, cause);
    case HttpFailureStage::kResponseTooLarge:
      return fmt::format("the response from {} is larger than {} bytes", where, limit);
    case HttpFailureStage::kMalformedResponse:
      return fmt::format("the response from {} is not valid HTTP: {}", where, cause);
  }
  return fmt::format("the exchange with {} failed: {}", where, cause);
}

}  // namespace certgate::http_client
