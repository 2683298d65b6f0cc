#include "api/json_body.h"

#include <fmt/format.h>

#include <new>
#include <string>

#include "core/secret_bytes.h"
#include "core/wiping_json.h"

namespace certgate::api {
namespace {

namespace json = boost::json;

// A client's field name as a message quotes it: at most 64 bytes, control
// characters as '?', so that the message stays one line.
std::string QuotedKey(std::string_view key) {
  std::string out(key.substr(0, 64));
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) c = '?';
  }
  return out;
}

}  // namespace

std::string_view JsonTypeName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_: return "a number";
    case json::kind::string: return "a string";
    case json::kind::array: return "an array";
    case json::kind::object: return "an object";
  }
  return "a value";
}

Result<JsonBody> JsonBody::Parse(std::string_view body) {
  json::storage_ptr sp = MakeWipingJsonStorage();
  json::parse_options opts;
  opts.max_depth = 16;
  json::parser parser(sp, opts);
  parser.reset(sp);
  boost::system::error_code ec;
  size_t consumed = parser.write(body.data(), body.size(), ec);
  if (ec) {
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
      return MakeError(ErrorCode::kJsonMalformed, "the request body is empty; send a JSON object");
    }
    return MakeError(ErrorCode::kJsonMalformed,
                     fmt::format("the request body is not valid JSON: {} at byte {}",
                                 ec.message(), consumed));
  }
  json::value value = parser.release();
  if (!value.is_object()) {
    return MakeError(ErrorCode::kJsonMalformed,
                     fmt::format("the request body must be a JSON object, not {}",
                                 JsonTypeName(value)));
  }
  return JsonBody(std::move(value));
}

Result<void> JsonBody::CheckFields(std::initializer_list<std::string_view> known,
                                   std::initializer_list<std::string_view> ignored) const {
  for (const auto& [key, value] : object()) {
    auto in = [&](std::initializer_list<std::string_view> list) {
      for (auto k : list) {
        if (k == key) return true;
      }
      return false;
    };
    if (in(known) || in(ignored)) continue;
    std::string names;
    for (auto k : known) names += (names.empty() ? "" : ", ") + std::string(k);
    return MakeFieldError(
        ErrorCode::kJsonUnknownField, QuotedKey(key),
        fmt::format("unknown field '{}'; this request accepts: {}", QuotedKey(key), names));
  }
  return {};
}

Result<std::optional<std::string_view>> JsonBody::OptionalString(std::string_view name,
                                                                 size_t max_bytes) const {
  const json::value* v = object().if_contains(name);
  if (v == nullptr || v->is_null()) return std::optional<std::string_view>();
  if (!v->is_string()) {
    return MakeFieldError(ErrorCode::kJsonWrongType, name,
                          fmt::format("{} must be a string, not {}", name, JsonTypeName(*v)));
  }
  std::string_view s = v->get_string();
  if (s.size() > max_bytes) {
    return MakeFieldError(
        ErrorCode::kFieldTooLong, name,
        fmt::format("{} is {} bytes long; the limit is {} bytes", name, s.size(), max_bytes));
  }
  // PostgreSQL's text cannot hold it, so no backend stores it.
  if (s.find('\0') != std::string_view::npos) {
    return MakeFieldError(ErrorCode::kFieldNul, name,
                          fmt::format("{} holds a NUL character (\\u0000), which cannot be stored",
                                      name));
  }
  return std::optional<std::string_view>(s);
}

Result<std::string_view> JsonBody::RequiredString(std::string_view name, size_t max_bytes) const {
  CG_ASSIGN_OR_RETURN(auto s, OptionalString(name, max_bytes));
  if (!s) {
    return MakeFieldError(ErrorCode::kFieldRequired, name, fmt::format("{} is required", name));
  }
  return *s;
}

Result<const json::object*> JsonBody::OptionalObject(std::string_view name) const {
  const json::value* v = object().if_contains(name);
  if (v == nullptr || v->is_null()) return static_cast<const json::object*>(nullptr);
  if (!v->is_object()) {
    return MakeFieldError(ErrorCode::kJsonWrongType, name,
                          fmt::format("{} must be an object, not {}", name, JsonTypeName(*v)));
  }
  return &v->get_object();
}

Result<void> JsonBody::RequireAnyOf(std::initializer_list<std::string_view> names) const {
  std::string list;
  for (auto name : names) {
    const json::value* v = object().if_contains(name);
    if (v != nullptr && !v->is_null()) return {};
    list += (list.empty() ? "" : ", ") + std::string(name);
  }
  return MakeError(
      ErrorCode::kUpdateEmpty,
      fmt::format("the update gives nothing to change; give at least one of: {}", list));
}

}  // namespace certgate::api
