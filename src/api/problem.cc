#include "api/problem.h"

#include <boost/json.hpp>

namespace certgate::api {

Response ErrorResponse(const Error& error, const std::string& operation_id, unsigned version) {
  const int status = HttpStatusOf(error.kind());
  boost::json::object body;
  body["error_code"] = ErrorCodeName(error.code);
  body["status_code"] = status;
  body["msg"] = error.message;
  body["details"] = boost::json::object{{"operation_id", operation_id}};

  Response res{static_cast<http::status>(status), version};
  res.set(http::field::content_type, "application/json");
  res.set(kOperationIdHeader, operation_id);
  res.body() = boost::json::serialize(body);
  res.body() += '\n';
  res.prepare_payload();
  return res;
}

}  // namespace certgate::api
