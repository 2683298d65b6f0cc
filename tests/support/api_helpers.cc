#include "support/api_helpers.h"

#include <sstream>

#include <boost/beast/http/verb.hpp>

#include "support/openapi_check.h"

namespace certgate::testing {
namespace {

// Every response the API tests receive must be one that docs/openapi.yaml
// describes for its path, method and status (support/openapi_check.h).
void CheckAgainstOpenApi(verb method, const std::string& path, const client::HttpResult& res) {
  const Result<OpenApiDocument>& doc = ProjectOpenApiDocument();
  if (!doc) {
    ADD_FAILURE() << "the API's responses cannot be checked: " << doc.error().message;
    return;
  }
  const std::string_view method_name = boost::beast::http::to_string(method);
  const std::vector<std::string> problems = doc->Check(method_name, path, res);
  if (problems.empty()) return;
  std::string lines;
  for (const std::string& p : problems) lines += "\n  " + p;
  ADD_FAILURE() << method_name << " " << path << " answered " << res.status
                << " otherwise than docs/openapi.yaml describes:" << lines
                << "\n  body: " << res.body.substr(0, 2000);
}

}  // namespace

ApiResult CallRaw(const client::ApiClient& client, verb method, const std::string& path,
                  std::string_view body,
                  const std::vector<std::pair<std::string, std::string>>& headers) {
  ApiResult r;
  auto res = client.Send(method, path,
                         body.empty() && method != verb::post && method != verb::patch
                             ? std::nullopt
                             : std::optional<std::string_view>(body),
                         headers);
  if (!res) {
    ADD_FAILURE() << "request failed: " << res.error().message;
    return r;
  }
  CheckAgainstOpenApi(method, path, *res);
  r.status = res->status;
  r.raw = res->body;
  r.http = std::move(*res);
  boost::system::error_code ec;
  if (!r.raw.empty()) {
    r.json = boost::json::parse(r.raw, ec);
    if (ec) r.json = nullptr;
  }
  return r;
}

ApiResult Call(const client::ApiClient& client, verb method, const std::string& path,
               const std::optional<boost::json::value>& body,
               const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string text = body ? boost::json::serialize(*body) : "";
  return CallRaw(client, method, path, text, headers);
}

::testing::AssertionResult IsError(const ApiResult& r, int status, int code,
                                   std::string_view msg_part) {
  return IsError(r, status, "ERR_CERTGATE_" + std::to_string(code), msg_part);
}

::testing::AssertionResult IsError(const ApiResult& r, int status, std::string_view error_code,
                                   std::string_view msg_part,
                                   std::optional<std::string_view> field) {
  auto fail = [&](std::string why) {
    return ::testing::AssertionFailure() << why << "; response " << r.status << ": " << r.raw;
  };
  if (r.status != status) return fail("status is not " + std::to_string(status));
  const auto* o = r.json.if_object();
  if (o == nullptr) return fail("body is not a JSON object");
  const auto* ec = o->if_contains("error_code");
  if (ec == nullptr || !ec->is_string() || ec->get_string() != error_code) {
    return fail("error_code is not " + std::string(error_code));
  }
  const auto* sc = o->if_contains("status_code");
  if (sc == nullptr || !sc->is_int64() || sc->get_int64() != status) {
    return fail("status_code does not match");
  }
  const auto* msg = o->if_contains("msg");
  if (msg == nullptr || !msg->is_string() ||
      std::string_view(msg->get_string()).find(msg_part) == std::string_view::npos) {
    return fail("msg does not contain '" + std::string(msg_part) + "'");
  }
  const auto* details = o->if_contains("details");
  if (details == nullptr || !details->is_object()) return fail("details is not an object");
  for (const auto& [key, value] : details->get_object()) {
    // ngrok's Go client decodes details as map[string]string.
    if (!value.is_string()) return fail("details." + std::string(key) + " is not a string");
  }
  const auto* op = details->get_object().if_contains("operation_id");
  if (op == nullptr || !op->is_string() || op->get_string().size() != 3 + 27 ||
      std::string_view(op->get_string()).substr(0, 3) != "op_") {
    return fail("details.operation_id is not an op_ id");
  }
  if (r.http.Header("Ngrok-Operation-Id") != std::string_view(op->get_string())) {
    return fail("the Ngrok-Operation-Id header differs from details.operation_id");
  }
  if (field) {
    const auto* f = details->get_object().if_contains("field");
    if (field->empty() && f != nullptr) return fail("details.field is present");
    if (!field->empty() && (f == nullptr || f->get_string() != *field)) {
      return fail("details.field is not " + std::string(*field));
    }
  }
  return ::testing::AssertionSuccess();
}

boost::json::value UploadBody(std::string_view cert_pem, std::string_view key_pem) {
  return boost::json::object{{"certificate_pem", cert_pem}, {"private_key_pem", key_pem}};
}

size_t CountCertificates(const client::ApiClient& client) {
  size_t count = 0;
  std::string path = "/tls_certificates?limit=100";
  for (;;) {
    ApiResult r = Call(client, verb::get, path);
    if (r.status != 200) {
      ADD_FAILURE() << "listing failed: " << r.raw;
      return count;
    }
    count += r.json.at("tls_certificates").as_array().size();
    const auto& next = r.json.at("next_page_uri");
    if (next.is_null()) return count;
    std::string url(next.as_string());
    path = url.substr(client.base_url().size());
  }
}

MetricSamples ParseMetrics(const std::string& text) {
  MetricSamples out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

MetricSamples ScrapeMetrics(const client::ApiClient& client) {
  ApiResult scraped = CallRaw(client, verb::get, "/metrics", "");
  EXPECT_EQ(scraped.status, 200) << scraped.raw;
  return scraped.status == 200 ? ParseMetrics(scraped.raw) : MetricSamples{};
}

std::optional<double> MetricStarting(const MetricSamples& samples, const std::string& prefix) {
  std::optional<double> found;
  for (const auto& [series, value] : samples) {
    if (series.starts_with(prefix)) found = value;
  }
  return found;
}

}  // namespace certgate::testing
