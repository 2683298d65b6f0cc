// The check that holds API responses to docs/openapi.yaml: it must pass
// what the document describes and refuse, with the place at fault, what it
// does not, or every API test would pass whatever the server answered.
#include "support/openapi_check.h"

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace certgate::testing {
namespace {

namespace json = boost::json;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr char kOperationId[] = "op_2OEmZ6CE8wZrZW8lRQVjNoFTafd";

http_client::HttpResponse Json(int status, const json::value& body) {
  http_client::HttpResponse r;
  r.status = status;
  r.headers = {{"Content-Type", "application/json"}, {"Ngrok-Operation-Id", kOperationId}};
  r.body = json::serialize(body) + "\n";
  return r;
}

json::object Certificate() {
  return {
      {"id", "cert_2OEmZ6CE8wZrZW8lRQVjNoFTafd"},
      {"uri", "http://127.0.0.1:4280/tls_certificates/cert_2OEmZ6CE8wZrZW8lRQVjNoFTafd"},
      {"created_at", "2025-05-10T12:00:00Z"},
      {"description", ""},
      {"metadata", ""},
      {"certificate_pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"},
      {"subject_common_name", "a.example.com"},
      {"subject_alternative_names",
       json::object{{"dns_names", json::array{"a.example.com"}}, {"ips", json::array{}}}},
      {"issued_at", nullptr},
      {"not_before", "2025-05-10T12:00:00Z"},
      {"not_after", "2025-08-10T12:00:00Z"},
      {"key_usages", json::array{"digital_signature"}},
      {"extended_key_usages", json::array{"server_auth", "1.2.3.4"}},
      {"private_key_type", "ecdsa"},
      {"issuer_common_name", "Test CA"},
      {"serial_number", "0a1b"},
      {"subject_organization", ""},
      {"subject_organizational_unit", ""},
      {"subject_locality", ""},
      {"subject_province", ""},
      {"subject_country", ""},
  };
}

json::object ErrorBody(int status, std::string_view code) {
  return {{"error_code", code},
          {"status_code", status},
          {"msg", "something is wrong"},
          {"details", json::object{{"operation_id", kOperationId}}}};
}

class ProjectDocumentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& loaded = ProjectOpenApiDocument();
    ASSERT_TRUE(loaded.ok()) << loaded.error().message;
    doc_ = &*loaded;
  }
  const OpenApiDocument* doc_ = nullptr;
};

TEST_F(ProjectDocumentTest, DescribesEveryResource) {
  EXPECT_GE(doc_->operation_count(), 25u);
  EXPECT_GE(doc_->response_count(), 100u);
}

TEST_F(ProjectDocumentTest, PassesWhatItDescribes) {
  EXPECT_THAT(doc_->Check("GET", "/tls_certificates/cert_2OEmZ6CE8wZrZW8lRQVjNoFTafd",
                          Json(200, Certificate())),
              IsEmpty());
  json::object issued = Certificate();
  issued["issued_at"] = "2025-05-10T12:00:00Z";
  EXPECT_THAT(doc_->Check("POST", "/tls_certificates", Json(201, issued)), IsEmpty());
  // A list, with the query and a trailing slash that the server ignores.
  json::object list{{"tls_certificates", json::array{Certificate(), Certificate()}},
                    {"uri", "http://127.0.0.1:4280/tls_certificates"},
                    {"next_page_uri", nullptr}};
  EXPECT_THAT(doc_->Check("GET", "/tls_certificates/?limit=2", Json(200, list)), IsEmpty());
  EXPECT_THAT(
      doc_->Check("GET", "/tls_certificates/x", Json(404, ErrorBody(404, "ERR_CERTGATE_101"))),
      IsEmpty());
  http_client::HttpResponse deleted;
  deleted.status = 204;
  deleted.headers = {{"Ngrok-Operation-Id", kOperationId}};
  EXPECT_THAT(doc_->Check("DELETE", "/reserved_domains/rd_x/certificate", deleted), IsEmpty());
}

TEST_F(ProjectDocumentTest, RefusesAMissingRequiredField) {
  json::object cert = Certificate();
  cert.erase("not_after");
  EXPECT_THAT(doc_->Check("GET", "/tls_certificates/cert_x", Json(200, cert)),
              ElementsAre(AllOf(HasSubstr("'not_after' is missing"),
                                HasSubstr("GET /tls_certificates/{id} (getTlsCertificate)"))));
}

TEST_F(ProjectDocumentTest, RefusesAWrongTypeWithItsPointer) {
  json::object cert = Certificate();
  cert["issued_at"] = 5;
  auto problems = doc_->Check("GET", "/tls_certificates/cert_x", Json(200, cert));
  ASSERT_THAT(problems, SizeIs(1));
  EXPECT_THAT(problems[0], HasSubstr("/issued_at: "));
  cert = Certificate();
  cert["subject_alternative_names"].as_object()["dns_names"] = json::array{"a", 7};
  json::object list{{"tls_certificates", json::array{Certificate(), cert}},
                    {"uri", "http://127.0.0.1:4280/tls_certificates"},
                    {"next_page_uri", "http://127.0.0.1:4280/tls_certificates?before_id=x"}};
  EXPECT_THAT(
      doc_->Check("GET", "/tls_certificates", Json(200, list)),
      ElementsAre(AllOf(HasSubstr("/tls_certificates/1/subject_alternative_names/dns_names/1"),
                        HasSubstr("expected string, got an integer"))));
  // A value outside an enum, a pattern, a timestamp.
  cert = Certificate();
  cert["private_key_type"] = "dsa";
  cert["serial_number"] = "0A1B";
  cert["created_at"] = "2025-05-10 12:00:00";
  EXPECT_THAT(doc_->Check("GET", "/tls_certificates/cert_x", Json(200, cert)), SizeIs(4));
}

TEST_F(ProjectDocumentTest, RefusesAFieldTheClosedSchemaDoesNotDescribe) {
  json::object cert = Certificate();
  cert["private_key_pem"] = "-----BEGIN PRIVATE KEY-----";
  EXPECT_THAT(
      doc_->Check("GET", "/tls_certificates/cert_x", Json(200, cert)),
      ElementsAre(HasSubstr("/private_key_pem: the field 'private_key_pem' is not described")));
  json::object error = ErrorBody(400, "ERR_CERTGATE_110");
  error["details"].as_object()["hint"] = "x";
  EXPECT_THAT(doc_->Check("POST", "/tls_certificates", Json(400, error)),
              ElementsAre(HasSubstr("/details/hint")));
}

TEST_F(ProjectDocumentTest, RefusesErrorsOfTheWrongShape) {
  // status_code must be the HTTP status, and each status has its codes.
  EXPECT_THAT(
      doc_->Check("GET", "/tls_certificates/x", Json(404, ErrorBody(400, "ERR_CERTGATE_101"))),
      ElementsAre(HasSubstr("/status_code: expected 404, got 400")));
  EXPECT_THAT(
      doc_->Check("GET", "/tls_certificates/x", Json(404, ErrorBody(404, "ERR_CERTGATE_102"))),
      ElementsAre(HasSubstr("/error_code")));
  json::object error = ErrorBody(403, "ERR_NGROK_200");
  error["details"].as_object().erase("operation_id");
  EXPECT_THAT(doc_->Check("GET", "/tls_certificates", Json(403, error)),
              ElementsAre(HasSubstr("/details: the required field 'operation_id' is missing")));
  // The operation id header is required.
  http_client::HttpResponse no_header = Json(403, ErrorBody(403, "ERR_NGROK_200"));
  no_header.headers.pop_back();
  EXPECT_THAT(doc_->Check("GET", "/tls_certificates", no_header),
              ElementsAre(HasSubstr("the header Ngrok-Operation-Id is missing")));
}

TEST_F(ProjectDocumentTest, RefusesAStatusNotDescribedForTheOperation) {
  EXPECT_THAT(
      doc_->Check("GET", "/tls_certificates", Json(418, ErrorBody(418, "ERR_CERTGATE_100"))),
      ElementsAre(AllOf(HasSubstr("status 418 is not described for GET /tls_certificates"),
                        HasSubstr("described: 200, 400, 403, 500, 503"))));
  // Collections answer no 404.
  EXPECT_THAT(doc_->Check("GET", "/endpoints", Json(404, ErrorBody(404, "ERR_CERTGATE_101"))),
              SizeIs(1));
}

TEST_F(ProjectDocumentTest, RefusesTheWrongContentTypeOrABody) {
  http_client::HttpResponse text;
  text.status = 200;
  text.headers = {{"Content-Type", "text/plain"}, {"Ngrok-Operation-Id", kOperationId}};
  text.body = "ok\n";
  EXPECT_THAT(doc_->Check("GET", "/tls_certificates", text),
              ElementsAre(HasSubstr("Content-Type 'text/plain' is not described")));
  EXPECT_THAT(doc_->Check("GET", "/healthz", text), IsEmpty());
  text.body = "fine\n";
  EXPECT_THAT(doc_->Check("GET", "/healthz", text), SizeIs(1));
  http_client::HttpResponse deleted = Json(204, json::object{});
  EXPECT_THAT(doc_->Check("DELETE", "/endpoints/ep_x", deleted),
              ElementsAre(HasSubstr("expected no body")));
  http_client::HttpResponse not_json = Json(200, json::object{});
  not_json.body = "{";
  EXPECT_THAT(doc_->Check("GET", "/endpoints", not_json),
              ElementsAre(HasSubstr("the body is not JSON")));
}

TEST_F(ProjectDocumentTest, UnknownPathsAndMethodsGetOnlyTheirErrors) {
  EXPECT_THAT(doc_->Check("GET", "/no_such_thing", Json(404, ErrorBody(404, "ERR_CERTGATE_102"))),
              IsEmpty());
  EXPECT_THAT(
      doc_->Check("GET", "/tls_certificates/a/b", Json(404, ErrorBody(404, "ERR_CERTGATE_102"))),
      IsEmpty());
  EXPECT_THAT(doc_->Check("GET", "/no_such_thing", Json(200, json::object{})),
              ElementsAre(HasSubstr("status 200 is not described for a path that no entry")));
  http_client::HttpResponse put = Json(405, ErrorBody(405, "ERR_CERTGATE_103"));
  EXPECT_THAT(doc_->Check("PUT", "/tls_certificates", put),
              ElementsAre(HasSubstr("the header Allow is missing")));
  put.headers.emplace_back("Allow", "GET, POST");
  EXPECT_THAT(doc_->Check("PUT", "/tls_certificates", put), IsEmpty());
  EXPECT_THAT(doc_->Check("PUT", "/tls_certificates", Json(200, json::object{})),
              ElementsAre(HasSubstr("status 200 is not described for PUT /tls_certificates, a "
                                    "method it does not take")));
  // /readyz answers other methods in plain text.
  EXPECT_THAT(doc_->Check("POST", "/readyz", put),
              ElementsAre(HasSubstr("Content-Type 'application/json' is not described")));
}

TEST_F(ProjectDocumentTest, ConcretePathsWinOverTemplates) {
  json::object chain{{"certificates", json::array{}},
                     {"uri", "http://127.0.0.1:4280/tls_certificates/cert_x/chain"}};
  EXPECT_THAT(doc_->Check("GET", "/tls_certificates/cert_x/chain", Json(200, chain)), IsEmpty());
  EXPECT_THAT(doc_->Check("GET", "/tls_certificates/cert_x", Json(200, chain)),
              SizeIs(::testing::Gt(1u)));
}

// A small document of its own, for what the project's never does.
constexpr char kSmall[] = R"(
openapi: 3.0.3
info: {title: t, version: '1'}
paths:
  /things/{id}:
    get:
      responses:
        '200':
          description: a thing
          content:
            application/json:
              schema:
                type: object
                required: [n]
                properties:
                  n: {type: integer, nullable: true, minimum: 1}
                  tags: {type: array, maxItems: 1, items: {type: string, enum: [a, b]}}
                  code: {type: string, enum: ['404']}
        default:
          description: anything else
          content:
            application/json:
              schema: {oneOf: [{type: string}, {type: integer}]}
)";

TEST(OpenApiCheckTest, AnUnknownPathFailsWithoutTheExtension) {
  auto doc = OpenApiDocument::Parse(kSmall);
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  http_client::HttpResponse r = Json(200, json::object{{"n", 1}});
  EXPECT_THAT(doc->Check("GET", "/things/1", r), IsEmpty());
  EXPECT_THAT(doc->Check("GET", "/other", r),
              ElementsAre(HasSubstr("status 200 is not described for a path that no entry")));
  EXPECT_THAT(doc->Check("POST", "/things/1", r),
              ElementsAre(HasSubstr("POST /things/{id}, a method it does not take")));
}

TEST(OpenApiCheckTest, YamlScalarsKeepTheirTypesAndNullableWorks) {
  auto doc = OpenApiDocument::Parse(kSmall);
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  EXPECT_THAT(doc->Check("GET", "/things/1", Json(200, json::object{{"n", nullptr}})), IsEmpty());
  EXPECT_THAT(doc->Check("GET", "/things/1", Json(200, json::object{{"n", 0}})),
              ElementsAre(HasSubstr("/n: 0 is under the minimum 1")));
  EXPECT_THAT(doc->Check("GET", "/things/1", Json(200, json::object{{"n", 1}, {"code", "404"}})),
              IsEmpty());
  EXPECT_THAT(doc->Check("GET", "/things/1", Json(200, json::object{{"n", 1}, {"code", 404}})),
              SizeIs(1));
  EXPECT_THAT(doc->Check("GET", "/things/1",
                         Json(200, json::object{{"n", 1}, {"tags", json::array{"a", "c"}}})),
              ElementsAre(HasSubstr("over maxItems 1"), HasSubstr("/tags/1: \"c\" is not one of")));
  // default catches other statuses; oneOf wants exactly one branch.
  EXPECT_THAT(doc->Check("GET", "/things/1", Json(500, json::value("x"))), IsEmpty());
  EXPECT_THAT(doc->Check("GET", "/things/1", Json(500, json::value(true))),
              ElementsAre(HasSubstr("matches none of the oneOf")));
}

TEST(OpenApiCheckTest, DocumentsTheCheckCannotReadDoNotLoad) {
  auto with = [](std::string_view schema) {
    std::string text = kSmall;
    text.replace(text.find("{type: string, enum: ['404']}"),
                 std::string_view("{type: string, enum: ['404']}").size(), schema);
    return OpenApiDocument::Parse(text);
  };
  ASSERT_TRUE(with("{type: string}").ok());
  auto unknown_keyword = with("{type: string, patternProperties: {}}");
  ASSERT_FALSE(unknown_keyword.ok());
  EXPECT_THAT(unknown_keyword.error().message, HasSubstr("patternProperties"));
  auto bad_ref = with("{$ref: '#/components/schemas/Nothing'}");
  ASSERT_FALSE(bad_ref.ok());
  EXPECT_THAT(bad_ref.error().message, HasSubstr("does not resolve"));
  auto bad_type = with("{type: [string, null]}");  // an unquoted null is not the type 'null'
  ASSERT_FALSE(bad_type.ok());
  EXPECT_THAT(bad_type.error().message, HasSubstr("quoted"));
  EXPECT_FALSE(with("{type: string, pattern: '('}").ok());
  EXPECT_FALSE(with("{type: string, format: email}").ok());
  EXPECT_FALSE(OpenApiDocument::Parse("openapi: 2.0\npaths: {}\n").ok());
  EXPECT_FALSE(OpenApiDocument::Parse("a: [").ok());
  EXPECT_FALSE(OpenApiDocument::Parse("openapi: 3.1.0\npaths: {}\na: 1\na: 2\n").ok());
}

}  // namespace
}  // namespace certgate::testing
