// Helpers for API integration tests: JSON requests and assertions on the
// API's error shape.
#pragma once

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "client/api_client.h"

namespace certgate::testing {

using boost::beast::http::verb;

struct ApiResult {
  int status = 0;
  std::string raw;
  boost::json::value json;  // null if the body was empty or not JSON
  client::HttpResult http;
};

// Sends and parses; a transport failure fails the test and returns status 0.
ApiResult Call(const client::ApiClient& client, verb method, const std::string& path,
               const std::optional<boost::json::value>& body = std::nullopt,
               const std::vector<std::pair<std::string, std::string>>& headers = {});
ApiResult CallRaw(const client::ApiClient& client, verb method, const std::string& path,
                  std::string_view body,
                  const std::vector<std::pair<std::string, std::string>>& headers = {});

// Asserts the error shape: status, error_code "ERR_CERTGATE_<code>",
// status_code, msg containing msg_part, details.operation_id = the header,
// every details value a string.
::testing::AssertionResult IsError(const ApiResult& r, int status, int code,
                                   std::string_view msg_part);
// The same for an error_code given whole ("ERR_NGROK_436"); with field,
// details.field must be that ("" for: no details.field at all).
::testing::AssertionResult IsError(const ApiResult& r, int status, std::string_view error_code,
                                   std::string_view msg_part,
                                   std::optional<std::string_view> field = std::nullopt);

// The string field key of v; "" when v is not an object or the field is not
// a string.
inline std::string JsonString(const boost::json::value& v, std::string_view key) {
  if (!v.is_object()) return "";
  const boost::json::value* f = v.as_object().if_contains(key);
  return f != nullptr && f->is_string() ? std::string(f->as_string()) : "";
}

// The upload body for a chain and key.
boost::json::value UploadBody(std::string_view cert_pem, std::string_view key_pem);

// The number of certificates the account behind client sees.
size_t CountCertificates(const client::ApiClient& client);

// The samples of a Prometheus text exposition: "name{labels}" -> value.
using MetricSamples = std::map<std::string, double>;
MetricSamples ParseMetrics(const std::string& text);
// GET /metrics through client (a loopback client), parsed; empty (with a
// test failure) when it does not answer 200.
MetricSamples ScrapeMetrics(const client::ApiClient& client);
// The value of the one series whose name and labels start with prefix.
std::optional<double> MetricStarting(const MetricSamples& samples, const std::string& prefix);

}  // namespace certgate::testing
