#include "support/openapi_check.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <boost/json.hpp>
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

// CERTGATE_OPENAPI_DOCUMENT: the path of docs/openapi.yaml (tests/support/CMakeLists.txt).
#ifndef CERTGATE_OPENAPI_DOCUMENT
#error "CERTGATE_OPENAPI_DOCUMENT must be defined"
#endif

namespace certgate::testing {
namespace {

namespace json = boost::json;
using Problems = std::vector<std::string>;

Error Invalid(std::string message) {
  return MakeError(ErrorCode::kConfigInvalid, "the OpenAPI document: " + std::move(message));
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// ---------------------------------------------------------------------------
// YAML to JSON, with YAML 1.2's core schema for plain scalars (quoted ones
// are always strings).

json::value PlainScalar(const std::string& s) {
  static const std::regex kInteger("[-+]?[0-9]+");
  static const std::regex kFloat("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (std::regex_match(s, kInteger)) {
    int64_t n = 0;
    const char* begin = s.data() + (s[0] == '+' ? 1 : 0);
    auto [end, ec] = std::from_chars(begin, s.data() + s.size(), n);
    if (ec == std::errc() && end == s.data() + s.size()) return n;
  }
  if (std::regex_match(s, kFloat)) return std::stod(s);
  return json::string(s);
}

Result<json::value> YamlToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return json::value(nullptr);
    case YAML::NodeType::Scalar:
      // yaml-cpp tags plain scalars "?" and quoted ones "!".
      if (node.Tag() == "?") return PlainScalar(node.Scalar());
      return json::value(json::string(node.Scalar()));
    case YAML::NodeType::Sequence: {
      json::array out;
      for (const YAML::Node& item : node) {
        auto v = YamlToJson(item);
        if (!v) return v;
        out.push_back(std::move(*v));
      }
      return json::value(std::move(out));
    }
    case YAML::NodeType::Map: {
      json::object out;
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
          return Invalid(
              fmt::format("line {}: a mapping key that is not a scalar", kv.first.Mark().line + 1));
        }
        const std::string key = kv.first.Scalar();
        if (out.contains(key)) {
          return Invalid(
              fmt::format("line {}: the key '{}' appears twice", kv.first.Mark().line + 1, key));
        }
        auto v = YamlToJson(kv.second);
        if (!v) return v;
        out[key] = std::move(*v);
      }
      return json::value(std::move(out));
    }
  }
  return json::value(nullptr);
}

// ---------------------------------------------------------------------------
// JSON pointers.

std::string PointerToken(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string Child(const std::string& pointer, std::string_view key) {
  return pointer + "/" + PointerToken(key);
}

// A local reference ("#/components/schemas/Error") in doc, or null.
const json::value* Resolve(const json::value& doc, std::string_view ref) {
  if (ref == "#") return &doc;
  if (!ref.starts_with("#/")) return nullptr;
  const json::value* at = &doc;
  std::string_view rest = ref.substr(2);
  for (;;) {
    const size_t slash = rest.find('/');
    std::string token(rest.substr(0, slash));
    std::string unescaped;
    for (size_t i = 0; i < token.size(); ++i) {
      if (token[i] == '~' && i + 1 < token.size()) {
        unescaped += token[i + 1] == '1' ? '/' : '~';
        ++i;
      } else {
        unescaped += token[i];
      }
    }
    if (const json::object* o = at->if_object()) {
      at = o->if_contains(unescaped);
    } else if (const json::array* a = at->if_array()) {
      size_t index = 0;
      auto [end, ec] =
          std::from_chars(unescaped.data(), unescaped.data() + unescaped.size(), index);
      at = ec == std::errc() && end == unescaped.data() + unescaped.size() && index < a->size()
               ? &(*a)[index]
               : nullptr;
    } else {
      at = nullptr;
    }
    if (at == nullptr) return nullptr;
    if (slash == std::string_view::npos) return at;
    rest = rest.substr(slash + 1);
  }
}

std::string Brief(const json::value& v) {
  std::string text = json::serialize(v);
  if (text.size() > 80) text = text.substr(0, 77) + "...";
  return text;
}

std::string KindName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
      return "an integer";
    case json::kind::double_:
      return "a number";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "?";
}

bool IsInteger(const json::value& v) {
  if (v.is_int64() || v.is_uint64()) return true;
  if (!v.is_double()) return false;
  const double d = v.get_double();
  return d == static_cast<double>(static_cast<int64_t>(d));
}

bool HasType(const json::value& v, std::string_view type) {
  if (type == "null") return v.is_null();
  if (type == "boolean") return v.is_bool();
  if (type == "integer") return IsInteger(v);
  if (type == "number") return v.is_number();
  if (type == "string") return v.is_string();
  if (type == "array") return v.is_array();
  if (type == "object") return v.is_object();
  return false;
}

double AsDouble(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  return v.get_double();
}

// Numbers of different kinds (1 and 1.0) are equal, as in JSON Schema.
bool JsonEqual(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) return AsDouble(a) == AsDouble(b);
  return a == b;
}

size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

const std::regex& DateTime() {
  static const std::regex re(
      "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?([Zz]|[-+][0-9]{2}:[0-9]"
      "{2})");
  return re;
}

// The keywords a schema may hold: those the check applies, and annotations.
const std::set<std::string, std::less<>>& ValidationKeywords() {
  static const std::set<std::string, std::less<>> k = {
      "$ref",          "type",          "nullable", "enum",
      "const",         "properties",    "required", "additionalProperties",
      "propertyNames", "items",         "minItems", "maxItems",
      "minLength",     "maxLength",     "minimum",  "maximum",
      "minProperties", "maxProperties", "pattern",  "format",
      "allOf",         "anyOf",         "oneOf",    "not"};
  return k;
}
const std::set<std::string, std::less<>>& AnnotationKeywords() {
  static const std::set<std::string, std::less<>> k = {
      "description", "title",     "default",  "example",      "examples",        "deprecated",
      "readOnly",    "writeOnly", "$comment", "externalDocs", "contentMediaType"};
  return k;
}
const std::set<std::string, std::less<>>& Formats() {
  static const std::set<std::string, std::less<>> k = {"date-time", "uri", "binary"};
  return k;
}
const std::set<std::string, std::less<>>& Methods() {
  static const std::set<std::string, std::less<>> k = {"get",     "put",  "post",  "delete",
                                                       "options", "head", "patch", "trace"};
  return k;
}

}  // namespace

// ---------------------------------------------------------------------------

struct OpenApiDocument::Impl {
  json::value doc;
  // Every pattern of the document, compiled once.
  std::map<std::string, std::regex, std::less<>> patterns;
  struct PathTemplate {
    std::string key;                    // as in `paths`
    std::vector<std::string> segments;  // "{id}" for a parameter
    size_t literals = 0;
  };
  std::vector<PathTemplate> paths;
  size_t operation_count = 0;
  size_t response_count = 0;

  Result<void> CheckDocument();
  Result<void> CheckRefs(const json::value& v, const std::string& at) const;
  Result<void> CheckSchema(const json::value& schema, const std::string& at);
  Result<void> FindSchemas(const json::value& v, const std::string& at);
  Result<void> CheckResponses(const json::value& responses, const std::string& at);

  const json::value& Deref(const json::value& v) const;
  void Validate(const json::value& schema, const json::value& v, const std::string& pointer,
                Problems& out, int depth) const;
  void CheckResponse(const json::value& response, const http_client::HttpResponse& res, bool head,
                     Problems& out) const;
};

const json::value& OpenApiDocument::Impl::Deref(const json::value& v) const {
  const json::value* at = &v;
  for (int i = 0; i < 32; ++i) {
    const json::object* o = at->if_object();
    const json::value* ref = o != nullptr ? o->if_contains("$ref") : nullptr;
    if (ref == nullptr || !ref->is_string()) return *at;
    const json::value* target = Resolve(doc, ref->get_string());
    if (target == nullptr) return *at;  // CheckRefs refused such a document
    at = target;
  }
  return *at;
}

Result<void> OpenApiDocument::Impl::CheckRefs(const json::value& v, const std::string& at) const {
  if (const json::object* o = v.if_object()) {
    for (const auto& [key, value] : *o) {
      if (key == "$ref") {
        if (!value.is_string()) return Invalid(at + ": $ref is not a string");
        if (Resolve(doc, value.get_string()) == nullptr) {
          return Invalid(fmt::format("{}: $ref '{}' does not resolve in this document", at,
                                     std::string_view(value.get_string())));
        }
        continue;
      }
      CG_RETURN_IF_ERROR(CheckRefs(value, Child(at, key)));
    }
  } else if (const json::array* a = v.if_array()) {
    for (size_t i = 0; i < a->size(); ++i) {
      CG_RETURN_IF_ERROR(CheckRefs((*a)[i], Child(at, std::to_string(i))));
    }
  }
  return {};
}

Result<void> OpenApiDocument::Impl::CheckSchema(const json::value& schema, const std::string& at) {
  if (schema.is_bool()) return {};
  const json::object* o = schema.if_object();
  if (o == nullptr) return Invalid(at + ": a schema is an object");
  for (const auto& [key, value] : *o) {
    const std::string where = Child(at, key);
    if (key.starts_with("x-") || AnnotationKeywords().contains(key)) continue;
    if (!ValidationKeywords().contains(key)) {
      return Invalid(
          fmt::format("{}: the schema keyword '{}' is not one the check applies; use "
                      "another or teach tests/support/openapi_check.cc it",
                      where, std::string_view(key)));
    }
    if (key == "properties") {
      if (!value.is_object()) return Invalid(where + ": properties is an object");
      for (const auto& [name, sub] : value.get_object()) {
        CG_RETURN_IF_ERROR(CheckSchema(sub, Child(where, name)));
      }
    } else if (key == "additionalProperties" || key == "items" || key == "not" ||
               key == "propertyNames") {
      CG_RETURN_IF_ERROR(CheckSchema(value, where));
    } else if (key == "allOf" || key == "anyOf" || key == "oneOf") {
      if (!value.is_array() || value.get_array().empty()) {
        return Invalid(where + ": a non-empty array of schemas");
      }
      for (size_t i = 0; i < value.get_array().size(); ++i) {
        CG_RETURN_IF_ERROR(CheckSchema(value.get_array()[i], Child(where, std::to_string(i))));
      }
    } else if (key == "type") {
      std::vector<const json::value*> names;
      if (value.is_array()) {
        for (const auto& n : value.get_array()) names.push_back(&n);
      } else {
        names.push_back(&value);
      }
      for (const json::value* n : names) {
        static const std::set<std::string, std::less<>> kTypes = {
            "null", "boolean", "integer", "number", "string", "array", "object"};
        if (!n->is_string() || !kTypes.contains(n->get_string())) {
          return Invalid(
              fmt::format("{}: {} is not a JSON Schema type (a null type is written "
                          "'null', quoted)",
                          where, Brief(*n)));
        }
      }
    } else if (key == "required") {
      if (!value.is_array()) return Invalid(where + ": required is an array of names");
      for (const auto& n : value.get_array()) {
        if (!n.is_string()) return Invalid(where + ": required is an array of names");
      }
    } else if (key == "enum") {
      if (!value.is_array() || value.get_array().empty())
        return Invalid(where + ": a non-empty array");
    } else if (key == "pattern") {
      if (!value.is_string()) return Invalid(where + ": pattern is a string");
      const std::string text(value.get_string());
      if (!patterns.contains(text)) {
        try {
          patterns.emplace(text, std::regex(text, std::regex::ECMAScript));
        } catch (const std::regex_error& e) {
          return Invalid(
              fmt::format("{}: pattern '{}' does not compile: {}", where, text, e.what()));
        }
      }
    } else if (key == "format") {
      if (!value.is_string() || !Formats().contains(value.get_string())) {
        return Invalid(
            fmt::format("{}: format {} is not one the check knows (date-time, uri, "
                        "binary)",
                        where, Brief(value)));
      }
    } else if (key == "nullable") {
      if (!value.is_bool()) return Invalid(where + ": nullable is a boolean");
    } else if (key != "$ref" && key != "const") {
      // The numbers: minItems, maxLength, minimum, ...
      if (!value.is_number()) return Invalid(fmt::format("{}: {} is a number", where, key));
    }
  }
  return {};
}

// Finds the schemas outside components/schemas: every `schema` of a
// parameter, header or media type.
Result<void> OpenApiDocument::Impl::FindSchemas(const json::value& v, const std::string& at) {
  if (const json::object* o = v.if_object()) {
    for (const auto& [key, value] : *o) {
      const std::string where = Child(at, key);
      if (where == "/components/schemas") continue;  // checked whole
      if (key == "schema") {
        CG_RETURN_IF_ERROR(CheckSchema(value, where));
      } else {
        CG_RETURN_IF_ERROR(FindSchemas(value, where));
      }
    }
  } else if (const json::array* a = v.if_array()) {
    for (size_t i = 0; i < a->size(); ++i) {
      CG_RETURN_IF_ERROR(FindSchemas((*a)[i], Child(at, std::to_string(i))));
    }
  }
  return {};
}

// A Responses object: keys "default", "200", "4XX"; values Response objects.
Result<void> OpenApiDocument::Impl::CheckResponses(const json::value& responses,
                                                   const std::string& at) {
  const json::object* o = responses.if_object();
  if (o == nullptr || o->empty()) return Invalid(at + ": responses is a non-empty object");
  static const std::regex kStatus("default|[1-5][0-9][0-9]|[1-5]XX");
  for (const auto& [status, response] : *o) {
    if (!std::regex_match(status.begin(), status.end(), kStatus)) {
      return Invalid(
          fmt::format("{}: '{}' is not a status ('200', '4XX' or 'default'); quote "
                      "status codes",
                      at, std::string_view(status)));
    }
    const json::value& r = Deref(response);
    if (!r.is_object() || !r.get_object().contains("description")) {
      return Invalid(fmt::format("{}: a response has a description", Child(at, status)));
    }
  }
  return {};
}

Result<void> OpenApiDocument::Impl::CheckDocument() {
  const json::object* root = doc.if_object();
  if (root == nullptr) return Invalid("not a mapping");
  const json::value* version = root->if_contains("openapi");
  if (version == nullptr || !version->is_string() ||
      !(version->get_string().starts_with("3.0.") || version->get_string().starts_with("3.1."))) {
    return Invalid("'openapi' is not 3.0.x or 3.1.x");
  }
  CG_RETURN_IF_ERROR(CheckRefs(doc, ""));
  if (const json::value* c = root->if_contains("components")) {
    if (const json::value* schemas =
            c->is_object() ? c->get_object().if_contains("schemas") : nullptr) {
      if (!schemas->is_object()) return Invalid("components/schemas is not a mapping");
      for (const auto& [name, schema] : schemas->get_object()) {
        CG_RETURN_IF_ERROR(CheckSchema(schema, Child("/components/schemas", name)));
      }
    }
  }
  CG_RETURN_IF_ERROR(FindSchemas(doc, ""));

  const json::value* paths_value = root->if_contains("paths");
  if (paths_value == nullptr || !paths_value->is_object()) return Invalid("no 'paths' mapping");
  for (const auto& [key, item_value] : paths_value->get_object()) {
    const std::string at = Child("/paths", key);
    if (!key.starts_with("/")) return Invalid(at + ": a path starts with '/'");
    PathTemplate t;
    t.key = key;
    std::string_view rest = std::string_view(key).substr(1);
    while (!rest.empty()) {
      const size_t slash = rest.find('/');
      std::string segment(rest.substr(0, slash));
      if (!(segment.starts_with("{") && segment.ends_with("}"))) ++t.literals;
      t.segments.push_back(std::move(segment));
      if (slash == std::string_view::npos) break;
      rest = rest.substr(slash + 1);
    }
    paths.push_back(std::move(t));
    const json::value& item = Deref(item_value);
    if (!item.is_object()) return Invalid(at + ": a path item is a mapping");
    for (const auto& [method, operation] : item.get_object()) {
      if (Methods().contains(method)) {
        ++operation_count;
        const json::value* responses =
            operation.is_object() ? operation.get_object().if_contains("responses") : nullptr;
        if (responses == nullptr) return Invalid(Child(at, method) + ": no responses");
        CG_RETURN_IF_ERROR(CheckResponses(*responses, Child(Child(at, method), "responses")));
        response_count += responses->get_object().size();
      } else if (method == "x-certgate-other-methods") {
        const json::value* responses =
            operation.is_object() ? operation.get_object().if_contains("responses") : nullptr;
        if (responses == nullptr) return Invalid(Child(at, method) + ": no responses");
        CG_RETURN_IF_ERROR(CheckResponses(*responses, Child(Child(at, method), "responses")));
      }
    }
  }
  if (const json::value* unmatched = root->if_contains("x-certgate-unmatched-requests")) {
    for (const char* which : {"unknown_path", "unknown_method"}) {
      const json::value* part =
          unmatched->is_object() ? unmatched->get_object().if_contains(which) : nullptr;
      const json::value* responses = part != nullptr && part->is_object()
                                         ? part->get_object().if_contains("responses")
                                         : nullptr;
      if (responses == nullptr) {
        return Invalid(fmt::format("x-certgate-unmatched-requests has no {}/responses", which));
      }
      CG_RETURN_IF_ERROR(CheckResponses(
          *responses, fmt::format("/x-certgate-unmatched-requests/{}/responses", which)));
    }
  }
  if (const json::value* any = root->if_contains("x-certgate-any-request")) {
    const json::value* responses =
        any->is_object() ? any->get_object().if_contains("responses") : nullptr;
    if (responses == nullptr) return Invalid("x-certgate-any-request has no responses");
    CG_RETURN_IF_ERROR(CheckResponses(*responses, "/x-certgate-any-request/responses"));
  }
  return {};
}

void OpenApiDocument::Impl::Validate(const json::value& schema_in, const json::value& v,
                                     const std::string& pointer, Problems& out, int depth) const {
  const std::string at = pointer.empty() ? "(body)" : pointer;
  if (depth > 64) {
    out.push_back(at + ": schemas nest over 64 deep (a $ref loop?)");
    return;
  }
  if (schema_in.is_bool()) {
    if (!schema_in.get_bool()) out.push_back(at + ": no value is allowed here");
    return;
  }
  const json::object& s = schema_in.get_object();
  if (const json::value* ref = s.if_contains("$ref")) {
    Validate(*Resolve(doc, ref->get_string()), v, pointer, out, depth + 1);
  }

  if (const json::value* type = s.if_contains("type")) {
    bool ok = false;
    std::string names;
    auto consider = [&](std::string_view name) {
      ok = ok || HasType(v, name);
      if (!names.empty()) names += " or ";
      names += name;
    };
    if (type->is_array()) {
      for (const auto& n : type->get_array()) consider(n.get_string());
    } else {
      consider(type->get_string());
    }
    if (const json::value* nullable = s.if_contains("nullable");
        nullable != nullptr && nullable->get_bool()) {
      consider("null");
    }
    if (!ok) {
      out.push_back(fmt::format("{}: expected {}, got {} {}", at, names, KindName(v), Brief(v)));
      return;  // the other keywords would only repeat it
    }
  }
  if (const json::value* e = s.if_contains("enum")) {
    const json::array& values = e->get_array();
    if (std::none_of(values.begin(), values.end(),
                     [&](const json::value& x) { return JsonEqual(x, v); })) {
      out.push_back(fmt::format("{}: {} is not one of {}", at, Brief(v), Brief(*e)));
    }
  }
  if (const json::value* c = s.if_contains("const"); c != nullptr && !JsonEqual(*c, v)) {
    out.push_back(fmt::format("{}: expected {}, got {}", at, Brief(*c), Brief(v)));
  }

  for (const char* combinator : {"allOf", "anyOf", "oneOf"}) {
    const json::value* list = s.if_contains(combinator);
    if (list == nullptr) continue;
    const json::array& branches = list->get_array();
    std::vector<Problems> results(branches.size());
    size_t passed = 0;
    for (size_t i = 0; i < branches.size(); ++i) {
      Validate(branches[i], v, pointer, results[i], depth + 1);
      if (results[i].empty()) ++passed;
    }
    const std::string_view name = combinator;
    if (name == "allOf") {
      for (auto& r : results) out.insert(out.end(), r.begin(), r.end());
    } else if (passed == 0 || (name == "oneOf" && passed > 1)) {
      std::string why;
      if (passed == 0) {
        for (size_t i = 0; i < results.size(); ++i) {
          why += fmt::format("{}[{}] {}", i == 0 ? "" : "; ", i, results[i].front());
        }
      } else {
        why = fmt::format("{} of them match", passed);
      }
      out.push_back(fmt::format("{}: {} {} of the {}: {}", at, Brief(v),
                                passed == 0 ? "matches none" : "matches more than one", combinator,
                                why));
    }
  }
  if (const json::value* n = s.if_contains("not")) {
    Problems r;
    Validate(*n, v, pointer, r, depth + 1);
    if (r.empty()) out.push_back(fmt::format("{}: {} matches what `not` excludes", at, Brief(v)));
  }

  if (const json::string* str = v.if_string()) {
    const size_t length = CodePoints(*str);
    if (const json::value* m = s.if_contains("minLength"); m && length < AsDouble(*m)) {
      out.push_back(fmt::format("{}: {} is shorter than {} characters", at, Brief(v), Brief(*m)));
    }
    if (const json::value* m = s.if_contains("maxLength"); m && length > AsDouble(*m)) {
      out.push_back(fmt::format("{}: {} characters, over the maxLength {}", at, length, Brief(*m)));
    }
    if (const json::value* p = s.if_contains("pattern")) {
      const std::regex& re = patterns.find(std::string_view(p->get_string()))->second;
      if (!std::regex_search(str->begin(), str->end(), re)) {
        out.push_back(fmt::format("{}: {} does not match the pattern {}", at, Brief(v), Brief(*p)));
      }
    }
    if (const json::value* f = s.if_contains("format")) {
      const std::string_view format = f->get_string();
      if (format == "date-time" && !std::regex_match(str->begin(), str->end(), DateTime())) {
        out.push_back(fmt::format("{}: {} is not an RFC 3339 date-time", at, Brief(v)));
      }
      static const std::regex kScheme("^[A-Za-z][A-Za-z0-9+.-]*:");
      if (format == "uri" && !std::regex_search(str->begin(), str->end(), kScheme)) {
        out.push_back(fmt::format("{}: {} is not an absolute URI", at, Brief(v)));
      }
    }
  }
  if (v.is_number()) {
    if (const json::value* m = s.if_contains("minimum"); m && AsDouble(v) < AsDouble(*m)) {
      out.push_back(fmt::format("{}: {} is under the minimum {}", at, Brief(v), Brief(*m)));
    }
    if (const json::value* m = s.if_contains("maximum"); m && AsDouble(v) > AsDouble(*m)) {
      out.push_back(fmt::format("{}: {} is over the maximum {}", at, Brief(v), Brief(*m)));
    }
  }
  if (const json::array* a = v.if_array()) {
    if (const json::value* m = s.if_contains("minItems"); m && a->size() < AsDouble(*m)) {
      out.push_back(fmt::format("{}: {} items, under minItems {}", at, a->size(), Brief(*m)));
    }
    if (const json::value* m = s.if_contains("maxItems"); m && a->size() > AsDouble(*m)) {
      out.push_back(fmt::format("{}: {} items, over maxItems {}", at, a->size(), Brief(*m)));
    }
    if (const json::value* items = s.if_contains("items")) {
      for (size_t i = 0; i < a->size(); ++i) {
        Validate(*items, (*a)[i], Child(pointer, std::to_string(i)), out, depth + 1);
      }
    }
  }
  if (const json::object* o = v.if_object()) {
    const json::object* properties =
        s.contains("properties") ? &s.at("properties").get_object() : nullptr;
    if (const json::value* required = s.if_contains("required")) {
      for (const auto& name : required->get_array()) {
        if (!o->contains(name.get_string())) {
          out.push_back(fmt::format("{}: the required field '{}' is missing", at,
                                    std::string_view(name.get_string())));
        }
      }
    }
    const json::value* additional = s.if_contains("additionalProperties");
    const json::value* names = s.if_contains("propertyNames");
    for (const auto& [key, value] : *o) {
      const std::string child = Child(pointer, key);
      const json::value* property = properties != nullptr ? properties->if_contains(key) : nullptr;
      if (property != nullptr) {
        Validate(*property, value, child, out, depth + 1);
      } else if (additional != nullptr) {
        if (additional->is_bool() && !additional->get_bool()) {
          out.push_back(
              fmt::format("{}: the field '{}' is not described (the schema is closed: "
                          "additionalProperties false)",
                          child, std::string_view(key)));
        } else {
          Validate(*additional, value, child, out, depth + 1);
        }
      }
      if (names != nullptr) {
        Validate(*names, json::value(json::string(key)), child + " (the name)", out, depth + 1);
      }
    }
    if (const json::value* m = s.if_contains("minProperties"); m && o->size() < AsDouble(*m)) {
      out.push_back(fmt::format("{}: {} fields, under minProperties {}", at, o->size(), Brief(*m)));
    }
    if (const json::value* m = s.if_contains("maxProperties"); m && o->size() > AsDouble(*m)) {
      out.push_back(fmt::format("{}: {} fields, over maxProperties {}", at, o->size(), Brief(*m)));
    }
  }
}

namespace {

// A media type without its parameters, lower case: "text/plain".
std::string BareMediaType(std::string_view type) {
  type = type.substr(0, type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  return Lower(type);
}

bool MediaTypeMatches(std::string_view described, std::string_view actual) {
  const std::string d = BareMediaType(described);
  if (d == "*/*") return true;
  if (d.ends_with("/*")) return actual.starts_with(std::string_view(d).substr(0, d.size() - 1));
  return d == actual;
}

bool IsJson(std::string_view media_type) {
  return media_type == "application/json" || media_type.ends_with("+json");
}

std::string Keys(const json::object& o) {
  std::string out;
  for (const auto& [key, value] : o) {
    if (!out.empty()) out += ", ";
    out += key;
  }
  return out;
}

}  // namespace

void OpenApiDocument::Impl::CheckResponse(const json::value& response_in,
                                          const http_client::HttpResponse& res, bool head,
                                          Problems& out) const {
  const json::object& response = Deref(response_in).get_object();
  if (const json::value* headers = response.if_contains("headers")) {
    for (const auto& [name, header_in] : headers->get_object()) {
      if (Lower(name) == "content-type") continue;  // OpenAPI: described by `content`
      const json::object* header = Deref(header_in).if_object();
      if (header == nullptr) continue;
      const std::vector<std::string> values = res.Headers(name);
      const json::value* required = header->if_contains("required");
      if (values.empty()) {
        if (required != nullptr && required->is_bool() && required->get_bool()) {
          out.push_back(fmt::format("the header {} is missing", std::string_view(name)));
        }
        continue;
      }
      if (const json::value* schema = header->if_contains("schema")) {
        Validate(*schema, json::value(json::string(values.front())),
                 fmt::format("header {}", std::string_view(name)), out, 0);
      }
    }
  }
  const json::value* content = response.if_contains("content");
  if (content == nullptr || content->get_object().empty()) {
    if (!res.body.empty()) {
      out.push_back(fmt::format("expected no body, got {} bytes: {}", res.body.size(),
                                res.body.substr(0, 200)));
    }
    return;
  }
  const std::string media_type = res.MediaType();
  const json::value* media = nullptr;
  for (const auto& [key, value] : content->get_object()) {
    if (MediaTypeMatches(key, media_type)) {
      media = &value;
      break;
    }
  }
  if (media == nullptr) {
    out.push_back(fmt::format("Content-Type '{}' is not described (described: {})",
                              res.Header("Content-Type"), Keys(content->get_object())));
    return;
  }
  if (head) return;  // no body to look at
  const json::value* schema =
      media->is_object() ? media->get_object().if_contains("schema") : nullptr;
  if (IsJson(media_type)) {
    boost::system::error_code ec;
    json::value body = json::parse(res.body, ec);
    if (ec) {
      out.push_back(
          fmt::format("the body is not JSON ({}): {}", ec.message(), res.body.substr(0, 200)));
      return;
    }
    if (schema != nullptr) Validate(*schema, body, "", out, 0);
    return;
  }
  if (schema != nullptr) {
    const json::value& s = Deref(*schema);
    const json::value* type = s.is_object() ? s.get_object().if_contains("type") : nullptr;
    if (type != nullptr && type->is_string() && type->get_string() == "string") {
      Validate(*schema, json::value(json::string(res.body)), "", out, 0);
    }
  }
}

// ---------------------------------------------------------------------------

Result<OpenApiDocument> OpenApiDocument::Parse(std::string_view yaml_text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return Invalid(fmt::format("not YAML: {}", e.what()));
  }
  auto doc = YamlToJson(root);
  if (!doc) return std::move(doc).error();
  auto impl = std::make_shared<Impl>();
  impl->doc = std::move(*doc);
  CG_RETURN_IF_ERROR(impl->CheckDocument());
  return OpenApiDocument(std::move(impl));
}

Result<OpenApiDocument> OpenApiDocument::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(ErrorCode::kConfigInvalid, "cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str());
}

size_t OpenApiDocument::operation_count() const { return impl_->operation_count; }
size_t OpenApiDocument::response_count() const { return impl_->response_count; }

std::vector<std::string> OpenApiDocument::Check(std::string_view method, std::string_view target,
                                                const http_client::HttpResponse& response) const {
  const Impl& d = *impl_;
  const json::object& root = d.doc.get_object();
  std::string_view path = target.substr(0, target.find_first_of("?#"));
  if (path.size() > 1 && path.ends_with('/')) path.remove_suffix(1);  // as the server does
  std::vector<std::string_view> segments;
  if (path.starts_with('/')) {
    std::string_view rest = path.substr(1);
    while (!rest.empty()) {
      const size_t slash = rest.find('/');
      segments.push_back(rest.substr(0, slash));
      if (slash == std::string_view::npos) break;
      rest = rest.substr(slash + 1);
      if (rest.empty()) segments.emplace_back();  // "a//" keeps its empty segment
    }
  }
  // Concrete paths win over templated ones, as OpenAPI says.
  const Impl::PathTemplate* found = nullptr;
  for (const Impl::PathTemplate& t : d.paths) {
    if (t.segments.size() != segments.size()) continue;
    bool match = true;
    for (size_t i = 0; i < segments.size() && match; ++i) {
      const std::string& s = t.segments[i];
      match = (s.starts_with("{") && s.ends_with("}")) || s == segments[i];
    }
    if (match && (found == nullptr || t.literals > found->literals)) found = &t;
  }

  const std::string verb = Lower(method);
  // The Responses object of an extension ({description, responses}), or null.
  auto extension = [](const json::object* holder, std::string_view name) -> const json::value* {
    const json::value* part = holder != nullptr ? holder->if_contains(name) : nullptr;
    return part != nullptr && part->is_object() ? part->get_object().if_contains("responses")
                                                : nullptr;
  };
  const json::value* unmatched_value = root.if_contains("x-certgate-unmatched-requests");
  const json::object* unmatched =
      unmatched_value != nullptr ? unmatched_value->if_object() : nullptr;
  const json::value* responses = nullptr;
  std::string what;
  if (found == nullptr) {
    responses = extension(unmatched, "unknown_path");
    what = "a path that no entry of `paths` matches (x-certgate-unmatched-requests/unknown_path)";
  } else {
    const json::object& item = d.Deref(root.at("paths").at(found->key)).get_object();
    const json::value* op = Methods().contains(verb) ? item.if_contains(verb) : nullptr;
    if (op != nullptr) {
      responses = op->get_object().if_contains("responses");
      const json::value* id = op->get_object().if_contains("operationId");
      what = fmt::format("{} {}{}", method, found->key,
                         id != nullptr && id->is_string()
                             ? fmt::format(" ({})", std::string_view(id->get_string()))
                             : "");
    } else if (item.contains("x-certgate-other-methods")) {
      responses = extension(&item, "x-certgate-other-methods");
      what = fmt::format("{} {}, a method it does not take (its x-certgate-other-methods)", method,
                         found->key);
    } else {
      responses = extension(unmatched, "unknown_method");
      what = fmt::format(
          "{} {}, a method it does not take "
          "(x-certgate-unmatched-requests/unknown_method)",
          method, found->key);
    }
  }
  const std::string status = std::to_string(response.status);
  const std::string status_class = status.substr(0, 1) + "XX";
  auto lookup = [&](const json::value* r) -> const json::value* {
    if (r == nullptr || !r->is_object()) return nullptr;
    for (const std::string& key : {status, status_class, std::string("default")}) {
      if (const json::value* hit = r->get_object().if_contains(key)) return hit;
    }
    return nullptr;
  };
  const json::value* described = lookup(responses);
  if (described == nullptr) described = lookup(extension(&root, "x-certgate-any-request"));
  if (described == nullptr) {
    return {fmt::format("status {} is not described for {} (described: {})", status, what,
                        responses != nullptr && responses->is_object()
                            ? Keys(responses->get_object())
                            : std::string("nothing"))};
  }
  Problems problems;
  d.CheckResponse(*described, response, verb == "head", problems);
  for (std::string& p : problems) {
    p = fmt::format("{} (response {} of {})", p, status, what);
  }
  return problems;
}

const Result<OpenApiDocument>& ProjectOpenApiDocument() {
  static const Result<OpenApiDocument> document = OpenApiDocument::Load(CERTGATE_OPENAPI_DOCUMENT);
  return document;
}

}  // namespace certgate::testing
