// ngrok's error codes over real HTTP (issue 16): for each condition ngrok has
// a code for, a request against a running `certgate serve` that triggers it,
// and the answer's error_code, status (HTTP and status_code) and
// details.field. Other tests check the messages; this one is the table.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "pki/testing/cert_factory.h"
#include "support/api_helpers.h"
#include "support/certgate_server.h"

namespace certgate::testing {
namespace {

namespace json = boost::json;
using pki::testing::CertSpec;
using pki::testing::KeyPemPkcs8;
using pki::testing::MakeChain;
using pki::testing::TestKeyType;

// Well-formed ids that name nothing.
constexpr char kNoCertificate[] = "cert_2OEmZ6CE8wZrZW8lRQVjNoFTafd";
constexpr char kAnApiKeyId[] = "ak_2OEmZ6CE8wZrZW8lRQVjNoFTafd";

// One server for the whole table: each case uses names of its own.
class ErrorCodesTest : public ::testing::Test {
 public:
  static void SetUpTestSuite() { server_ = CertgateServer::Start().release(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_, nullptr); }

  client::ApiClient Client() const { return server_->Client(); }
  ApiResult Get(const std::string& path) const { return Call(Client(), verb::get, path); }
  ApiResult Post(const std::string& path, json::object body) const {
    return Call(Client(), verb::post, path, json::value(std::move(body)));
  }
  ApiResult Patch(const std::string& path, json::object body) const {
    return Call(Client(), verb::patch, path, json::value(std::move(body)));
  }
  ApiResult Delete(const std::string& path) const { return Call(Client(), verb::delete_, path); }
  // A request with this Authorization header ("": none).
  ApiResult WithAuthorization(const std::string& value) const {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!value.empty()) headers.emplace_back("Authorization", value);
    return Call(server_->Client(""), verb::get, "/tls_certificates", std::nullopt, headers);
  }

  // Uploads a certificate for names and returns its id.
  std::string Upload(std::vector<std::string> names) const {
    CertSpec spec;
    spec.common_name = names.front();
    spec.dns_names = std::move(names);
    auto chain = MakeChain(TestKeyType::kEcP256, spec);
    ApiResult r =
        Post("/tls_certificates",
             UploadBody(chain.BundlePem(), KeyPemPkcs8(chain.leaf_key.get())).as_object());
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.json.is_object() ? std::string(r.json.at("id").as_string()) : "";
  }
  // Reserves a domain and returns its id.
  std::string Reserve(json::object body) const {
    ApiResult r = Post("/reserved_domains", std::move(body));
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.json.is_object() ? std::string(r.json.at("id").as_string()) : "";
  }
  std::string ReserveName(const std::string& name) const { return Reserve({{"domain", name}}); }
  // Creates an endpoint on a reserved name and returns its id.
  std::string Endpoint(const std::string& url) const {
    ApiResult r = Post("/endpoints", {{"url", url}, {"upstream", "http://127.0.0.1:9"}});
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.json.is_object() ? std::string(r.json.at("id").as_string()) : "";
  }
  // Marks a certificate as issued automatically, as provisioning stores one
  // (acme_test.cc deletes a really issued one).
  void MarkIssued(const std::string& cert_id) const {
    const std::filesystem::path db = server_->data_dir() / "certgate.db";
    sqlite3* conn = nullptr;
    ASSERT_EQ(sqlite3_open_v2(db.c_str(), &conn, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    sqlite3_busy_timeout(conn, 5000);
    const std::string sql =
        "UPDATE tls_certificates SET issued_at = created_at WHERE id = '" + cert_id + "'";
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(conn, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << (err != nullptr ? err : "");
    sqlite3_free(err);
    EXPECT_EQ(sqlite3_changes(conn), 1);
    sqlite3_close(conn);
  }

  static CertgateServer* server_;
};
CertgateServer* ErrorCodesTest::server_ = nullptr;

struct CodeCase {
  std::string name;
  std::function<ApiResult(const ErrorCodesTest&)> trigger;
  std::string error_code;
  int status;
  std::string field;  // details.field; "": none
};
void PrintTo(const CodeCase& c, std::ostream* os) { *os << c.name; }

class NgrokCodeTest : public ErrorCodesTest, public ::testing::WithParamInterface<CodeCase> {};

TEST_P(NgrokCodeTest, AnswersNgroksCodeStatusAndField) {
  const CodeCase& c = GetParam();
  ApiResult r = c.trigger(*this);
  EXPECT_TRUE(IsError(r, c.status, c.error_code, "", c.field));
}

using T = const ErrorCodesTest&;

INSTANTIATE_TEST_SUITE_P(
    Api, NgrokCodeTest,
    ::testing::Values(
        // 200-208: the API key (403, as ngrok answers them).
        CodeCase{"NoAuthorizationHeader_200", [](T f) { return f.WithAuthorization(""); },
                 "ERR_NGROK_200", 403, ""},
        CodeCase{"BasicAuthorization_201",
                 [](T f) { return f.WithAuthorization("Basic dXNlcjpwYXNz"); }, "ERR_NGROK_201",
                 403, ""},
        CodeCase{"NoScheme_201",
                 [](T f) { return f.WithAuthorization("cg_" + std::string(43, 'A')); },
                 "ERR_NGROK_201", 403, ""},
        CodeCase{"BearerWithoutKey_201", [](T f) { return f.WithAuthorization("Bearer"); },
                 "ERR_NGROK_201", 403, ""},
        CodeCase{"NotShapedLikeAKey_202",
                 [](T f) { return f.WithAuthorization("Bearer notarealtoken"); }, "ERR_NGROK_202",
                 403, ""},
        CodeCase{"KeyOfTheWrongLength_202",
                 [](T f) { return f.WithAuthorization("Bearer cg_" + std::string(42, 'A')); },
                 "ERR_NGROK_202", 403, ""},
        CodeCase{"WellFormedButUnknownKey_203",
                 [](T f) { return f.WithAuthorization("bearer cg_" + std::string(43, 'A')); },
                 "ERR_NGROK_203", 403, ""},
        CodeCase{"ApiKeyIdInsteadOfTheKey_208",
                 [](T f) { return f.WithAuthorization(std::string("Bearer ") + kAnApiKeyId); },
                 "ERR_NGROK_208", 403, ""},

        // 217: Ngrok-Version.
        CodeCase{"UnsupportedVersion_217",
                 [](T f) {
                   return Call(f.Client(), verb::get, "/tls_certificates", std::nullopt,
                               {{"Ngrok-Version", "3"}});
                 },
                 "ERR_NGROK_217", 400, ""},

        // 231: a query parameter the route does not take, on every kind of route.
        CodeCase{"UnknownParameterOnAList_231",
                 [](T f) { return f.Get("/reserved_domains?limit=5&page=2"); }, "ERR_NGROK_231",
                 400, "page"},
        CodeCase{"SnakeCaseTypoOnAList_231", [](T f) { return f.Get("/endpoints?before=x"); },
                 "ERR_NGROK_231", 400, "before"},
        CodeCase{"PagingOnAGet_231",
                 [](T f) {
                   return f.Get("/tls_certificates/" + std::string(kNoCertificate) + "?limit=1");
                 },
                 "ERR_NGROK_231", 400, "limit"},
        CodeCase{"FilterOnAGet_231",
                 [](T f) {
                   return f.Get("/reserved_domains/" + f.ReserveName("q1.example.com") +
                                "?filter=x");
                 },
                 "ERR_NGROK_231", 400, "filter"},
        CodeCase{"ParameterOnADelete_231",
                 [](T f) {
                   return f.Delete("/reserved_domains/" + f.ReserveName("q2.example.com") +
                                   "?force=true");
                 },
                 "ERR_NGROK_231", 400, "force"},
        CodeCase{"ParameterOnACreate_231",
                 [](T f) {
                   return Call(f.Client(), verb::post, "/reserved_domains?dry_run=1",
                               json::value(json::object{{"domain", "q3.example.com"}}));
                 },
                 "ERR_NGROK_231", 400, "dry_run"},
        CodeCase{"ParameterOnAnUpdate_231",
                 [](T f) {
                   return f.Patch("/reserved_domains/" + f.ReserveName("q4.example.com") + "?x=",
                                  {{"description", "d"}});
                 },
                 "ERR_NGROK_231", 400, "x"},
        CodeCase{"ParameterOnASubResource_231",
                 [](T f) {
                   return f.Delete("/reserved_domains/" + f.ReserveName("q5.example.com") +
                                   "/certificate_management_policy?limit=1");
                 },
                 "ERR_NGROK_231", 400, "limit"},

        // 233: limit.
        CodeCase{"LimitZero_233", [](T f) { return f.Get("/tls_certificates?limit=0"); },
                 "ERR_NGROK_233", 400, "limit"},
        CodeCase{"LimitOver100_233", [](T f) { return f.Get("/endpoints?limit=101"); },
                 "ERR_NGROK_233", 400, "limit"},
        CodeCase{"LimitNotANumber_233", [](T f) { return f.Get("/reserved_domains?limit=ten"); },
                 "ERR_NGROK_233", 400, "limit"},

        // 413, 414, 417: names taken (api_names_test.cc has every shape).
        CodeCase{"ReservedByThisAccount_413",
                 [](T f) {
                   f.ReserveName("twice.example.com");
                   return f.Post("/reserved_domains", {{"domain", "twice.example.com"}});
                 },
                 "ERR_NGROK_413", 400, "domain"},
        CodeCase{"ReservedByAnotherAccount_414",
                 [](T f) {
                   f.ReserveName("theirs.example.net");
                   auto other = f.server_->Client(f.server_->NewAccountKey("payg"));
                   return Call(other, verb::post, "/reserved_domains",
                               json::value(json::object{{"name", "theirs.example.net"}}));
                 },
                 "ERR_NGROK_414", 400, "name"},
        CodeCase{"WildcardOverAnotherAccountsName_417",
                 [](T f) {
                   f.ReserveName("app.example.io");
                   auto other = f.server_->Client(f.server_->NewAccountKey("payg"));
                   return Call(other, verb::post, "/reserved_domains",
                               json::value(json::object{{"domain", "*.example.io"}}));
                 },
                 "ERR_NGROK_417", 400, "domain"},

        // 422: an update with nothing to change, on every resource; the id
        // ngrok's TypeScript client sends is not a change.
        CodeCase{"EmptyDomainUpdate_422",
                 [](T f) {
                   const std::string id = f.ReserveName("e1.example.com");
                   return f.Patch("/reserved_domains/" + id, {{"id", id}});
                 },
                 "ERR_NGROK_422", 400, ""},
        CodeCase{"NullsOnlyDomainUpdate_422",
                 [](T f) {
                   return f.Patch("/reserved_domains/" + f.ReserveName("e2.example.com"),
                                  {{"description", nullptr}, {"region", "us"}});
                 },
                 "ERR_NGROK_422", 400, ""},
        CodeCase{"EmptyCertificateUpdate_422",
                 [](T f) {
                   const std::string id = f.Upload({"e3.example.com"});
                   return f.Patch("/tls_certificates/" + id, {{"id", id}});
                 },
                 "ERR_NGROK_422", 400, ""},
        CodeCase{"EmptyEndpointUpdate_422",
                 [](T f) {
                   f.ReserveName("e4.example.com");
                   return f.Patch("/endpoints/" + f.Endpoint("https://e4.example.com"), {});
                 },
                 "ERR_NGROK_422", 400, ""},

        // 434-446: reserved domains and their certificates.
        CodeCase{"CertificateAndPolicy_434",
                 [](T f) {
                   return f.Post("/reserved_domains",
                                 {{"domain", "both.example.com"},
                                  {"certificate_id", f.Upload({"both.example.com"})},
                                  {"certificate_management_policy", json::object{}}});
                 },
                 "ERR_NGROK_434", 400, ""},
        CodeCase{"CertificateAndPolicyInAnUpdate_434",
                 [](T f) {
                   return f.Patch("/reserved_domains/" + f.ReserveName("both2.example.com"),
                                  {{"certificate_id", f.Upload({"both2.example.com"})},
                                   {"certificate_management_policy", json::object{}}});
                 },
                 "ERR_NGROK_434", 400, ""},
        CodeCase{"UnknownAuthority_435",
                 [](T f) {
                   return f.Post("/reserved_domains", {{"domain", "ca.example.com"},
                                                       {"certificate_management_policy",
                                                        json::object{{"authority", "zerossl"}}}});
                 },
                 "ERR_NGROK_435", 400, "certificate_management_policy.authority"},
        CodeCase{"DetachingAManagedCertificate_436",
                 [](T f) {
                   const std::string id = f.Reserve({{"domain", "managed.example.com"},
                                                     {"certificate_management_policy",
                                                      json::object{}}});
                   return f.Delete("/reserved_domains/" + id + "/certificate");
                 },
                 "ERR_NGROK_436", 400, ""},
        CodeCase{"PolicyUnderTheBaseDomain_439",
                 [](T f) {
                   return f.Post("/reserved_domains",
                                 {{"domain", "p1.certgate.localhost"},
                                  {"certificate_management_policy", json::object{}}});
                 },
                 "ERR_NGROK_439", 400, "certificate_management_policy"},
        CodeCase{"PolicyUnderTheBaseDomainInAnUpdate_439",
                 [](T f) {
                   return f.Patch("/reserved_domains/" + f.ReserveName("p2.certgate.localhost"),
                                  {{"certificate_management_policy",
                                    json::object{{"private_key_type", "rsa"}}}});
                 },
                 "ERR_NGROK_439", 400, "certificate_management_policy"},
        CodeCase{"CertificateUnderTheBaseDomain_440",
                 [](T f) {
                   return f.Post("/reserved_domains",
                                 {{"domain", "c1.certgate.localhost"},
                                  {"certificate_id", f.Upload({"c1.certgate.localhost"})}});
                 },
                 "ERR_NGROK_440", 400, "certificate_id"},
        CodeCase{"CertificateUnderTheBaseDomainInAnUpdate_440",
                 [](T f) {
                   return f.Patch("/reserved_domains/" + f.ReserveName("c2.certgate.localhost"),
                                  {{"certificate_id", f.Upload({"c2.certgate.localhost"})}});
                 },
                 "ERR_NGROK_440", 400, "certificate_id"},
        CodeCase{"DeletingADomainAnEndpointUses_446",
                 [](T f) {
                   const std::string id = f.ReserveName("used.example.com");
                   f.Endpoint("https://used.example.com");
                   return f.Delete("/reserved_domains/" + id);
                 },
                 "ERR_NGROK_446", 400, ""},

        // 1965, 1966: certificates that do not exist, or are managed.
        CodeCase{"UnknownCertificateOnCreate_1965",
                 [](T f) {
                   return f.Post("/reserved_domains", {{"domain", "nocert.example.com"},
                                                       {"certificate_id", kNoCertificate}});
                 },
                 "ERR_NGROK_1965", 400, "certificate_id"},
        CodeCase{"UnknownCertificateOnUpdate_1965",
                 [](T f) {
                   return f.Patch("/reserved_domains/" + f.ReserveName("nocert2.example.com"),
                                  {{"certificate_id", "cert_x"}});
                 },
                 "ERR_NGROK_1965", 400, "certificate_id"},
        CodeCase{"DeletingAnIssuedCertificate_1966",
                 [](T f) {
                   const std::string cert = f.Upload({"issued.example.com"});
                   f.Reserve({{"domain", "issued.example.com"}, {"certificate_id", cert}});
                   f.MarkIssued(cert);
                   return f.Delete("/tls_certificates/" + cert);
                 },
                 "ERR_NGROK_1966", 400, ""}),
    [](const auto& param_info) { return param_info.param.name; });

// What the codes above must not catch.
TEST_F(ErrorCodesTest, ListsTakeTheirParametersInEitherSpelling) {
  for (const char* path :
       {"/tls_certificates?limit=1", "/reserved_domains?before_id=rd_2OEmZ6CE8wZrZW8lRQVjNoFTafd",
        "/endpoints?beforeId=ep_2OEmZ6CE8wZrZW8lRQVjNoFTafd&limit=100", "/endpoints?",
        "/tls_certificates?limit=2&"}) {
    ApiResult r = Get(path);
    EXPECT_EQ(r.status, 200) << path << ": " << r.raw;
  }
  // filter belongs to lists (its own errors are invalid_cel_expression), never 231.
  ApiResult filtered = Get("/tls_certificates?filter=obj.description%20%3D%3D%20%22x%22");
  EXPECT_TRUE(filtered.json.is_object()) << filtered.raw;
  EXPECT_FALSE(filtered.json.is_object() && filtered.json.as_object().contains("error_code") &&
               filtered.json.at("error_code") == "ERR_NGROK_231")
      << filtered.raw;
}

TEST_F(ErrorCodesTest, AnUpdateWithAValueAndTheIdIsNotEmpty) {
  const std::string id = ReserveName("nonempty.example.com");
  ApiResult r = Patch("/reserved_domains/" + id, {{"id", id}, {"description", ""}});
  EXPECT_EQ(r.status, 200) << r.raw;
  const std::string cert = Upload({"nonempty2.example.com"});
  r = Patch("/tls_certificates/" + cert, {{"id", cert}, {"metadata", "m"}});
  EXPECT_EQ(r.status, 200) << r.raw;
}

// An unknown key is refused before the query is looked at, so that a
// caller without a key learns nothing about the routes' parameters.
TEST_F(ErrorCodesTest, AuthenticationComesBeforeTheQuery) {
  ApiResult r = Call(server_->Client(""), verb::get, "/tls_certificates?nope=1");
  EXPECT_TRUE(IsError(r, 403, "ERR_NGROK_200", "", ""));
}

}  // namespace
}  // namespace certgate::testing
