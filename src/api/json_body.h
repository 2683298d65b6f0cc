// A parsed JSON request body and typed access to its fields under the API's
// rules: unknown fields are refused by name unless ngrok's schema has them,
// wrong types are refused by name, strings have byte limits, and null counts
// as absent for optional fields. Every error about one field names it in
// Error::field.
//
// All memory the parsed document uses is wiped when it is freed, because
// bodies carry private keys. Not thread-safe; one per request.
#pragma once

#include <boost/json.hpp>

#include <initializer_list>
#include <memory>
#include <optional>
#include <string_view>

#include "core/result.h"

namespace certgate::api {

inline constexpr size_t kMaxDescriptionBytes = 255;
inline constexpr size_t kMaxMetadataBytes = 4096;

class JsonBody {
 public:
  // Parses body, which must be one JSON object. Errors: kJsonMalformed.
  static Result<JsonBody> Parse(std::string_view body);

  const boost::json::object& object() const { return value_.get_object(); }

  // Refuses (kJsonUnknownField) any field in neither list; `ignored` lists
  // fields of ngrok's schema that certgate accepts without using.
  Result<void> CheckFields(std::initializer_list<std::string_view> known,
                           std::initializer_list<std::string_view> ignored = {}) const;

  // Absent or null: nullopt. Not a string: kJsonWrongType. Over max_bytes:
  // kFieldTooLong naming the field and the limit.
  Result<std::optional<std::string_view>> OptionalString(std::string_view name,
                                                         size_t max_bytes) const;
  // Like OptionalString, but absent or null is kFieldRequired. An empty
  // string is returned as is: the caller's validation explains what belongs
  // there.
  Result<std::string_view> RequiredString(std::string_view name, size_t max_bytes) const;
  // Absent or null: nullptr. Not an object: kJsonWrongType.
  Result<const boost::json::object*> OptionalObject(std::string_view name) const;

  // For updates (PATCH): refuses (kUpdateEmpty) a body in which none of
  // names is present and not null, as ngrok refuses an update that
  // provides no values (an `id`, which ngrok's clients send, is no value).
  Result<void> RequireAnyOf(std::initializer_list<std::string_view> names) const;

 private:
  explicit JsonBody(boost::json::value value) : value_(std::move(value)) {}
  boost::json::value value_;
};

// "a string", "a number", ... for messages about wrong types.
std::string_view JsonTypeName(const boost::json::value& v);

}  // namespace certgate::api
