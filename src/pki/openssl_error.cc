#include "pki/openssl_error.h"

#include <string>
#include <utility>
#include <vector>

#include <openssl/err.h>

namespace certgate::pki {
namespace {

// Enough reasons to explain a failure; the rest of the queue is drained unread.
constexpr size_t kMaxReasons = 4;

std::string ReasonOf(unsigned long code) {
  if (const char* reason = ERR_reason_error_string(code); reason != nullptr) return reason;
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

}  // namespace

Error OpensslError(ErrorCode code, std::string context) {
  std::vector<std::string> reasons;
  for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
    if (reasons.size() >= kMaxReasons) continue;
    std::string reason = ReasonOf(e);
    bool seen = false;
    for (const auto& r : reasons) seen = seen || r == reason;
    if (!seen) reasons.push_back(std::move(reason));
  }
  std::string message = std::move(context);
  for (size_t i = 0; i < reasons.size(); ++i) {
    message += i == 0 ? ": " : "; ";
    message += reasons[i];
  }
  return Error{code, std::move(message)};
}

void ClearOpensslErrors() { ERR_clear_error(); }

}  // namespace certgate::pki
