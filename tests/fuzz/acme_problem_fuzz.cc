// ACME problem documents (RFC 8555 §6.7) and Retry-After values as a CA
// sends them: the first line of the input is a Retry-After header value, the
// rest a problem document. Checks the contract of acme/problem.h: the Error a
// problem becomes carries its type suffix back out, and delays are never
// negative.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "acme/problem.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certgate;
  auto [retry_after, json] = fuzz::SplitAt(fuzz::AsText(data, size), "\n");
  const Time now = FromUnixSeconds(1798761600);
  const auto delay = acme::ParseRetryAfter(retry_after, now);
  FUZZ_CHECK(!delay || delay->count() >= 0, std::string(retry_after));

  const std::optional<acme::Problem> problem = acme::ParseProblem(json);
  if (!problem) return 0;
  (void)acme::DescribeProblem(*problem);
  const Error e = acme::ProblemError("the CA refused newOrder", *problem, delay);
  fuzz::CheckError(e);
  // Callers branch on the suffix of real problem types (letters and digits);
  // others are sanitized into the message and need not read back.
  const std::string suffix = problem->TypeSuffix();
  const bool plain = !suffix.empty() && suffix.size() <= 100 &&
                     suffix.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") ==
                         std::string::npos;
  FUZZ_CHECK(!plain || acme::ProblemTypeOf(e) == suffix,
             suffix + " read back as " + acme::ProblemTypeOf(e));
  const bool rate_limited = problem->type == std::string(acme::kAcmeErrorPrefix) + "rateLimited";
  FUZZ_CHECK(e.code == (rate_limited ? ErrorCode::kAcmeRateLimited : ErrorCode::kAcmeProblem),
             e.message);
  return 0;
}
