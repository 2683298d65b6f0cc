// Error responses in the API's one error shape:
//   {"error_code": "ERR_CERTGATE_<n>", "status_code": 400, "msg": "...",
//    "details": {"operation_id": "op_..."}}
#pragma once

#include <string>

#include "api/http_types.h"
#include "core/error.h"

namespace certgate::api {

inline constexpr char kOperationIdHeader[] = "Ngrok-Operation-Id";

// A complete response for error, with the JSON body, Content-Type and the
// operation id header set. version is the request's HTTP version (11 = 1.1).
Response ErrorResponse(const Error& error, const std::string& operation_id, unsigned version);

}  // namespace certgate::api
