// OpenApiDocument: docs/openapi.yaml as the API tests hold responses to it.
// Every exchange the tests make through support/api_helpers.h is checked:
// the path (templates such as /reserved_domains/{id}), the method and the
// status must be described, and the response must match what is described
// for them: required headers, the Content-Type, and for JSON the body
// against the schema. A document that loads is immutable: Check may be
// called from any thread.
//
// The schemas are checked with the subset of JSON Schema the document uses:
// type (a name or a list, and OpenAPI 3.0's nullable), enum, const,
// properties, required, additionalProperties, propertyNames, items,
// min/maxItems, min/maxLength, minimum, maximum, min/maxProperties,
// pattern (ECMAScript), format date-time and uri, allOf, anyOf, oneOf, not,
// and $ref to anywhere in the document. A keyword outside this subset makes
// the document fail to load, so the check never passes what it cannot read.
//
// Where OpenAPI has no place, three extensions say what is answered:
// x-certgate-unmatched-requests (unknown_path, unknown_method),
// x-certgate-other-methods on a path, x-certgate-any-request (the
// listener's own refusals). docs/openapi.yaml describes them.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "http_client/http_response.h"

namespace certgate::testing {

class OpenApiDocument {
 public:
  // The document's YAML text. Errors (kConfigInvalid): not YAML, not an
  // OpenAPI 3.0 or 3.1 document, a $ref that does not resolve, a pattern
  // that does not compile, a schema keyword the check does not know.
  static Result<OpenApiDocument> Parse(std::string_view yaml_text);
  // The same for a file.
  static Result<OpenApiDocument> Load(const std::string& path);

  // The mismatches of one exchange, one line each (what was expected, at
  // the JSON pointer of the body or the header at fault); empty when the
  // response matches. method is the request's ("GET"), target its path and
  // query as sent ("/tls_certificates?limit=5").
  std::vector<std::string> Check(std::string_view method, std::string_view target,
                                 const http_client::HttpResponse& response) const;

  // The operations (a path and a method) and the responses (an operation
  // and a status) the document describes, the extensions' not counted.
  size_t operation_count() const;
  size_t response_count() const;

 private:
  struct Impl;
  explicit OpenApiDocument(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// This source tree's docs/openapi.yaml, loaded on first use (thread-safe).
const Result<OpenApiDocument>& ProjectOpenApiDocument();

}  // namespace certgate::testing
