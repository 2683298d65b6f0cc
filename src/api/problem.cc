#include "api/problem.h"

#include <boost/json.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace certgate::api {
namespace {

// The length of the well-formed UTF-8 sequence at the start of s, or 0.
size_t Utf8SequenceLength(std::string_view s) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char b0 = byte(0);
  if (b0 < 0x80) return 1;
  size_t len = 0;
  unsigned char lo = 0x80;  // the range of the second byte (RFC 3629 table)
  unsigned char hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;  // a continuation byte, C0/C1 (overlong) or F5..FF
  }
  if (s.size() < len) return 0;
  if (byte(1) < lo || byte(1) > hi) return 0;
  for (size_t i = 2; i < len; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  return len;
}

}  // namespace

std::string ValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    size_t n = Utf8SequenceLength(text);
    if (n == 0) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(text[0]));
      n = 1;
    } else {
      out.append(text.data(), n);
    }
    text.remove_prefix(n);
  }
  return out;
}

int HttpStatusOf(Kind kind) {
  switch (kind) {
    case Kind::kInvalidArgument: return 400;
    // ngrok answers a missing or wrong API key with 403 (ERR_NGROK_200..208).
    case Kind::kUnauthenticated:
      return 403;
    case Kind::kPermissionDenied: return 403;
    case Kind::kNotFound: return 404;
    case Kind::kMethodNotAllowed: return 405;
    case Kind::kPayloadTooLarge: return 413;
    case Kind::kHeaderTooLarge: return 431;
    case Kind::kUnavailable: return 503;
    case Kind::kInternal: return 500;
  }
  return 500;
}

Response ErrorResponse(const Error& error, const std::string& operation_id, unsigned version,
                       std::optional<http::status> status) {
  const int code = status ? static_cast<int>(*status) : HttpStatusOf(error.kind());
  boost::json::object body;
  body["error_code"] = ErrorCodeName(error.code);
  body["status_code"] = code;
  if (error.code == ErrorCode::kStoreUnavailable) {
    // libpq's reason names the database's host and user: for the log, not
    // for any client (an unauthenticated one gets this too, from the key
    // lookup).
    spdlog::warn("api: operation {}: {}", operation_id, error.message);
    body["msg"] = std::string(InfoOf(error.code).summary);
  } else {
    body["msg"] = ValidUtf8(error.message);
  }
  boost::json::object details{{"operation_id", ValidUtf8(operation_id)}};
  if (!error.field.empty()) details["field"] = ValidUtf8(error.field);
  body["details"] = std::move(details);

  Response res{static_cast<http::status>(code), version};
  res.set(http::field::content_type, "application/json");
  res.set(kOperationIdHeader, operation_id);
  res.body() = boost::json::serialize(body);
  res.body() += '\n';
  res.prepare_payload();
  return res;
}

}  // namespace certgate::api
