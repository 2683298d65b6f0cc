// Error responses in the API's one error shape:
//   {"error_code": "ERR_CERTGATE_<n>" or "ERR_NGROK_<n>", "status_code": 400,
//    "msg": "...", "details": {"operation_id": "op_...", "field": "..."}}
// details.field (the input at fault, Error::field) only when there is one;
// every details value is a string, as ngrok's Go client decodes them.
// Every string that goes into the body is made valid UTF-8 first: messages
// quote what the client sent (ids from the path, query values, header
// values), and Boost.JSON writes a std::string's bytes as they are, so a
// quoted "%ff" would otherwise make the body something no JSON parser takes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "api/http_types.h"
#include "core/error.h"

namespace certgate::api {

inline constexpr char kOperationIdHeader[] = "Ngrok-Operation-Id";

// A complete response for error, with the JSON body, Content-Type and the
// operation id header set. version is the request's HTTP version (11 = 1.1).
// status, when given, replaces the one the error's kind decides (408 for a
// request that did not arrive in time is the one use).
Response ErrorResponse(const Error& error, const std::string& operation_id, unsigned version,
                       std::optional<http::status> status = std::nullopt);

// text with every byte that is not part of well-formed UTF-8 (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF, no truncated
// sequence) written as the four characters "\xNN"; valid text unchanged.
std::string ValidUtf8(std::string_view text);

// The HTTP status an error of this kind answers with (400 for
// kInvalidArgument, ..., 500 for kInternal).
int HttpStatusOf(Kind kind);

}  // namespace certgate::api
