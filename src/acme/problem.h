// ACME problem documents (RFC 8555 §6.7, RFC 7807) and how they become
// certgate Errors, plus the HTTP Retry-After header. Pure functions; callable
// from any thread.
//
// The Error contract for problems: code kAcmeRateLimited for `rateLimited`
// (with Error::retry_after when the CA sent Retry-After), kAcmeProblem for
// every other type, and the message
//     "<what certgate asked>: <type suffix>: <detail>"
// where the context never contains ": " and the type suffix is the part of
// the problem type after its last ':' ("badNonce" for
// "urn:ietf:params:acme:error:badNonce"). ProblemTypeOf / IsProblem read it
// back, so callers can branch on e.g. `accountDoesNotExist`.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/time.h"

namespace certgate::acme {

inline constexpr std::string_view kAcmeErrorPrefix = "urn:ietf:params:acme:error:";

struct Problem {
  std::string type;        // the full type URI
  std::string detail;
  int status = 0;          // the "status" member (0 when absent)
  std::string identifier;  // "identifier.value" of a subproblem, when given
  std::vector<Problem> subproblems;

  // "badNonce" for "urn:ietf:params:acme:error:badNonce".
  std::string TypeSuffix() const;
};

// Parses a problem document's JSON. nullopt when it is not a JSON object
// (a problem without "type" gets "about:blank", RFC 7807 §4.2).
std::optional<Problem> ParseProblem(std::string_view json_text);

// A one-line description: "<suffix>: <detail>[ (<identifier>: <suffix>: <detail>; ...)]".
std::string DescribeProblem(const Problem& problem);

// The Error for a problem the CA answered to `context` ("the CA refused
// newOrder"). See the contract above.
Error ProblemError(std::string_view context, const Problem& problem,
                   std::optional<std::chrono::seconds> retry_after);

// The problem type suffix an Error built by ProblemError carries, or "" for
// other errors.
std::string ProblemTypeOf(const Error& error);
inline bool IsProblem(const Error& error, std::string_view type_suffix) {
  return ProblemTypeOf(error) == type_suffix;
}

// The longest delay ParseRetryAfter returns (about 31.7 years): a longer
// delay-seconds or a later HTTP-date gives this. Far beyond what any caller
// waits (the manager caps Retry-After at a week, polling at its interval), and
// small enough that now + it fits in a Time.
inline constexpr std::chrono::seconds kMaxRetryAfterDelay{999'999'999};

// Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date
// (IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT"), as a delay from now
// (never negative, at most kMaxRetryAfterDelay). nullopt for anything else.
std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value, Time now);

}  // namespace certgate::acme
