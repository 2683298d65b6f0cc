// /reserved_domains and /endpoints over real HTTP: the happy paths and every
// refused input, each a 400 with a clear message and nothing written.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <thread>

#include "pki/testing/cert_factory.h"
#include "support/api_helpers.h"
#include "support/certgate_server.h"
#include "support/challtestsrv.h"

namespace certgate::testing {
namespace {

namespace json = boost::json;
using pki::testing::CertSpec;
using pki::testing::KeyPemPkcs8;
using pki::testing::MakeChain;
using pki::testing::TestKeyType;

class DomainsApiTest : public ::testing::Test {
 public:
  void SetUp() override {
    server_ = CertgateServer::Start();
    ASSERT_NE(server_, nullptr);
    client_ = std::make_unique<client::ApiClient>(server_->Client());
  }
  std::string Upload(std::vector<std::string> names, client::ApiClient* client = nullptr) {
    CertSpec spec;
    spec.common_name = names.front();
    spec.dns_names = std::move(names);
    auto chain = MakeChain(TestKeyType::kEcP256, spec);
    ApiResult r = Call(client ? *client : *client_, verb::post, "/tls_certificates",
                       UploadBody(chain.BundlePem(), KeyPemPkcs8(chain.leaf_key.get())));
    EXPECT_EQ(r.status, 201) << r.raw;
    return std::string(r.json.at("id").as_string());
  }
  ApiResult Reserve(json::object body, client::ApiClient* client = nullptr) {
    return Call(client ? *client : *client_, verb::post, "/reserved_domains", body);
  }
  size_t CountDomains() {
    ApiResult r = Call(*client_, verb::get, "/reserved_domains");
    return r.json.at("reserved_domains").as_array().size();
  }
  std::unique_ptr<CertgateServer> server_;
  std::unique_ptr<client::ApiClient> client_;
};

TEST_F(DomainsApiTest, ReservesABrandedDomainWithAnUploadedCertificate) {
  const std::string cert = Upload({"app.example.com"});
  ApiResult r = Reserve({{"domain", "App.Example.COM."}, {"certificate_id", cert},
                         {"description", "main"}, {"region", "us"}});
  ASSERT_EQ(r.status, 201) << r.raw;
  const auto& o = r.json.as_object();
  const std::string id(o.at("id").as_string());
  EXPECT_EQ(id.rfind("rd_", 0), 0u);
  EXPECT_EQ(o.at("uri"), json::value(server_->api_url() + "/reserved_domains/" + id));
  EXPECT_EQ(o.at("domain"), "app.example.com");
  EXPECT_EQ(o.at("description"), "main");
  EXPECT_EQ(o.at("region"), "");  // as ngrok answers; region is deprecated
  EXPECT_EQ(o.at("resolves_to"), json::array{});
  EXPECT_EQ(o.at("certificate"),
            (json::object{{"id", cert}, {"uri", server_->api_url() + "/tls_certificates/" + cert}}));
  EXPECT_TRUE(o.at("certificate_management_policy").is_null());
  EXPECT_TRUE(o.at("certificate_management_status").is_null());
  const std::string target(o.at("cname_target").as_string());
  EXPECT_TRUE(target.ends_with(".cname.certgate.localhost")) << target;
  EXPECT_TRUE(o.at("acme_challenge_cname_target").is_null());
  EXPECT_EQ(Call(*client_, verb::get, "/reserved_domains/" + id).json, r.json);

  // IDNA names are stored in their ASCII form.
  ApiResult idn = Reserve({{"name", "bücher.example"}});
  ASSERT_EQ(idn.status, 201) << idn.raw;
  EXPECT_EQ(idn.json.at("domain"), "xn--bcher-kva.example");
}

TEST_F(DomainsApiTest, WildcardsAndManagedDomainsGetTheirTargets) {
  ApiResult r = Reserve({{"domain", "*.apps.example.com"},
                         {"certificate_management_policy", json::object{{"private_key_type", "rsa"}}}});
  ASSERT_EQ(r.status, 201) << r.raw;
  const auto& o = r.json.as_object();
  EXPECT_EQ(o.at("certificate_management_policy"),
            (json::object{{"authority", "letsencrypt"}, {"private_key_type", "rsa"}}));
  EXPECT_TRUE(o.at("certificate_management_status").is_object());
  EXPECT_TRUE(std::string(o.at("acme_challenge_cname_target").as_string())
                  .ends_with(".acme.certgate.localhost"));
  EXPECT_NE(o.at("cname_target"), o.at("acme_challenge_cname_target"));

  // Subdomains of the service's own domain need nothing.
  ApiResult own = Reserve({{"domain", "my-app.certgate.localhost"}});
  ASSERT_EQ(own.status, 201) << own.raw;
  EXPECT_TRUE(own.json.at("cname_target").is_null());
}

TEST_F(DomainsApiTest, UpdatesSwitchBetweenCertificateAndPolicy) {
  const std::string cert = Upload({"sw.example.com"});
  ApiResult r = Reserve({{"domain", "sw.example.com"}, {"certificate_id", cert}});
  ASSERT_EQ(r.status, 201);
  const std::string path = "/reserved_domains/" + std::string(r.json.at("id").as_string());

  // Setting a policy detaches the uploaded certificate, as ngrok does: the
  // policy's certificate takes its place once issued.
  ApiResult managed = Call(*client_, verb::patch, path,
                           json::object{{"certificate_management_policy",
                                         json::object{{"authority", "letsencrypt"}}}});
  ASSERT_EQ(managed.status, 200) << managed.raw;
  EXPECT_TRUE(managed.json.at("certificate").is_null());
  EXPECT_EQ(managed.json.at("certificate_management_policy"),
            (json::object{{"authority", "letsencrypt"}, {"private_key_type", "ecdsa"}}));
  EXPECT_EQ(Call(*client_, verb::get, "/tls_certificates/" + cert).status, 200)
      << "the uploaded certificate itself stays";
  EXPECT_TRUE(IsError(Call(*client_, verb::delete_, path + "/certificate"), 400, "ERR_NGROK_436",
                      "remove the policy first"));
  EXPECT_EQ(Call(*client_, verb::delete_, path + "/certificate_management_policy").status, 204);
  ApiResult after = Call(*client_, verb::get, path);
  EXPECT_TRUE(after.json.at("certificate_management_policy").is_null());
  EXPECT_TRUE(after.json.at("certificate").is_null());
  // Setting a certificate clears a policy.
  Call(*client_, verb::patch, path, json::object{{"certificate_management_policy", json::object{}}});
  ApiResult back = Call(*client_, verb::patch, path, json::object{{"certificate_id", cert}});
  EXPECT_TRUE(back.json.at("certificate_management_policy").is_null());
  EXPECT_EQ(back.json.at("certificate").at("id"), json::value(cert));
  EXPECT_EQ(Call(*client_, verb::delete_, path + "/certificate").status, 204);
  EXPECT_TRUE(Call(*client_, verb::get, path).json.at("certificate").is_null());
}

TEST_F(DomainsApiTest, ABrandedDomainIsAutomaticByDefaultAndABaseDomainSubdomainIsNot) {
  ApiResult branded = Reserve({{"domain", "auto.example.com"}});
  ASSERT_EQ(branded.status, 201) << branded.raw;
  EXPECT_EQ(branded.json.at("certificate_management_policy"),
            (json::object{{"authority", "letsencrypt"}, {"private_key_type", "ecdsa"}}));
  EXPECT_TRUE(branded.json.at("certificate").is_null());
  EXPECT_TRUE(branded.json.at("certificate_management_status").is_object());
  ApiResult wildcard = Reserve({{"domain", "*.auto.example.org"}});
  ASSERT_EQ(wildcard.status, 201) << wildcard.raw;
  EXPECT_EQ(wildcard.json.at("certificate_management_policy").at("authority"), "letsencrypt");
  EXPECT_TRUE(wildcard.json.at("acme_challenge_cname_target").is_string());

  ApiResult own = Reserve({{"domain", "auto.certgate.localhost"}});
  ASSERT_EQ(own.status, 201) << own.raw;
  EXPECT_TRUE(own.json.at("certificate_management_policy").is_null());
  EXPECT_TRUE(own.json.at("certificate").is_null());
  EXPECT_TRUE(own.json.at("certificate_management_status").is_null());
}

TEST_F(DomainsApiTest, ResolvesToIsAcceptedValidatedAndReturned) {
  ApiResult r = Reserve({{"domain", "pinned.example.com"},
                         {"resolves_to", json::array{json::object{{"value", "eu"}},
                                                     json::object{{"value", "192.0.2.1:8443"}},
                                                     json::object{{"value", "[2001:db8::1]:443"}}}}});
  ASSERT_EQ(r.status, 201) << r.raw;
  const json::array want{json::object{{"value", "eu"}}, json::object{{"value", "192.0.2.1:8443"}},
                         json::object{{"value", "[2001:db8::1]:443"}}};
  EXPECT_EQ(r.json.at("resolves_to"), want);
  const std::string path = "/reserved_domains/" + std::string(r.json.at("id").as_string());
  EXPECT_EQ(Call(*client_, verb::get, path).json.at("resolves_to"), want);
  // An update replaces it; [] is global; leaving it out keeps it.
  ApiResult global = Call(*client_, verb::patch, path, json::object{{"resolves_to", json::array{}}});
  ASSERT_EQ(global.status, 200) << global.raw;
  EXPECT_EQ(global.json.at("resolves_to"), json::array{});
  ApiResult us = Call(*client_, verb::patch, path,
                      json::object{{"resolves_to", json::array{json::object{{"value", "us"}}}}});
  ASSERT_EQ(us.status, 200) << us.raw;
  ApiResult kept = Call(*client_, verb::patch, path, json::object{{"description", "d"}});
  EXPECT_EQ(kept.json.at("resolves_to"), (json::array{json::object{{"value", "us"}}}));

  struct Case {
    json::value value;
    int code;
    std::string field;
    std::string says;
  };
  const Case cases[] = {
      {"eu", 109, "resolves_to", "resolves_to must be an array"},
      {json::array{"eu"}, 109, "resolves_to[0].value", "must be an object with one string field"},
      {json::array{json::object{{"value", "banana"}}}, 517, "resolves_to[0].value",
       "'banana' is neither a point of presence"},
      {json::array{json::object{{"value", "192.0.2.1:70000"}}}, 517, "resolves_to[0].value",
       "neither a point of presence"},
      {json::array{json::object{{"value", "eu"}, {"extra", 1}}}, 109, "resolves_to[0].value",
       "one string field"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(json::serialize(c.value));
    ApiResult bad = Call(*client_, verb::patch, path, json::object{{"resolves_to", c.value}});
    EXPECT_TRUE(IsError(bad, 400, c.code, c.says));
    EXPECT_EQ(bad.json.at("details").at("field"), json::value(c.field));
  }
  EXPECT_EQ(Call(*client_, verb::get, path).json.at("resolves_to"),
            (json::array{json::object{{"value", "us"}}}))
      << "nothing written";
}

TEST_F(DomainsApiTest, CertificatesAndDomainsInUseCannotBeDeleted) {
  const std::string cert = Upload({"used.example.com"});
  ApiResult d = Reserve({{"domain", "used.example.com"}, {"certificate_id", cert}});
  ASSERT_EQ(d.status, 201);
  EXPECT_TRUE(IsError(Call(*client_, verb::delete_, "/tls_certificates/" + cert), 400, 270,
                      "attached to the domain used.example.com"));
  ApiResult e = Call(*client_, verb::post, "/endpoints",
                     json::object{{"url", "https://used.example.com"},
                                  {"upstream", "http://127.0.0.1:9"}});
  ASSERT_EQ(e.status, 201) << e.raw;
  const std::string domain_path = "/reserved_domains/" + std::string(d.json.at("id").as_string());
  EXPECT_TRUE(IsError(Call(*client_, verb::delete_, domain_path), 400, "ERR_NGROK_446",
                      "used by the endpoint https://used.example.com"));
  EXPECT_EQ(Call(*client_, verb::delete_,
                 "/endpoints/" + std::string(e.json.at("id").as_string()))
                .status,
            204);
  EXPECT_EQ(Call(*client_, verb::delete_, domain_path).status, 204);
  EXPECT_EQ(Call(*client_, verb::delete_, "/tls_certificates/" + cert).status, 204);
}

struct BadDomain {
  std::string name;
  std::function<json::object(DomainsApiTest&)> body;
  std::string code;  // error_code
  std::string msg;
  std::string field;  // details.field
};
void PrintTo(const BadDomain& b, std::ostream* os) { *os << b.name; }

class BadDomainTest : public DomainsApiTest, public ::testing::WithParamInterface<BadDomain> {};

TEST_P(BadDomainTest, IsRefusedWithAClearMessageAndWritesNothing) {
  ASSERT_EQ(Reserve({{"domain", "taken.example.com"}}).status, 201);
  json::object body = GetParam().body(*this);
  ApiResult r = Reserve(body);
  EXPECT_TRUE(IsError(r, 400, GetParam().code, GetParam().msg, GetParam().field));
  EXPECT_EQ(CountDomains(), 1u);
}

INSTANTIATE_TEST_SUITE_P(
    Api, BadDomainTest,
    ::testing::Values(
        BadDomain{"InvalidName",
                  [](auto&) {
                    return json::object{{"domain", "exa mple.com"}};
                  },
                  "ERR_CERTGATE_500", "exa mple.com", "domain"},
        BadDomain{"SingleLabel",
                  [](auto&) {
                    return json::object{{"domain", "localhost"}};
                  },
                  "ERR_CERTGATE_500", "localhost", "domain"},
        BadDomain{"WildcardInTheMiddle",
                  [](auto&) {
                    return json::object{{"domain", "a.*.example.com"}};
                  },
                  "ERR_CERTGATE_501", "leftmost label", "domain"},
        BadDomain{"PartialWildcard",
                  [](auto&) {
                    return json::object{{"domain", "a*.example.com"}};
                  },
                  "ERR_CERTGATE_501", "'*'", "domain"},
        BadDomain{"WildcardOnPublicSuffix",
                  [](auto&) {
                    return json::object{{"domain", "*.co.uk"}};
                  },
                  "ERR_CERTGATE_502", "public suffix", "domain"},
        BadDomain{"PublicSuffixItself",
                  [](auto&) {
                    return json::object{{"domain", "co.uk"}};
                  },
                  "ERR_CERTGATE_502", "public suffix", "domain"},
        // Names already taken, here or by another account: api_names_test.cc.
        BadDomain{"CertificateAndPolicy",
                  [](DomainsApiTest& fixture) {
                    return json::object{{"domain", "both.example.com"},
                                        {"certificate_id", fixture.Upload({"both.example.com"})},
                                        {"certificate_management_policy", json::object{}}};
                  },
                  "ERR_NGROK_434", "not both", ""},
        BadDomain{"CertificateNotCovering",
                  [](DomainsApiTest& fixture) {
                    return json::object{{"domain", "here.example.com"},
                                        {"certificate_id", fixture.Upload({"elsewhere.example.com"})}};
                  },
                  "ERR_CERTGATE_505",
                  "does not cover here.example.com: its names are elsewhere.example.com",
                  "certificate_id"},
        BadDomain{"WildcardCertificateForAnExactDomainOfTwoLabelsDown",
                  [](DomainsApiTest& fixture) {
                    return json::object{{"domain", "a.b.example.com"},
                                        {"certificate_id", fixture.Upload({"*.example.com"})}};
                  },
                  "ERR_CERTGATE_505", "does not cover", "certificate_id"},
        BadDomain{"PolicyOnTheBaseDomain",
                  [](auto&) {
                    return json::object{{"domain", "x.certgate.localhost"},
                                        {"certificate_management_policy", json::object{}}};
                  },
                  "ERR_NGROK_439", "under the service's domain certgate.localhost",
                  "certificate_management_policy"},
        BadDomain{"CertificateOnTheBaseDomain",
                  [](DomainsApiTest& fixture) {
                    return json::object{
                        {"domain", "y.certgate.localhost"},
                        {"certificate_id", fixture.Upload({"y.certgate.localhost"})}};
                  },
                  "ERR_NGROK_440", "leave out certificate_id", "certificate_id"},
        BadDomain{"UnknownCertificate",
                  [](auto&) {
                    return json::object{{"domain", "u.example.com"},
                                        {"certificate_id", "cert_2OEmZ6CE8wZrZW8lRQVjNoFTafd"}};
                  },
                  "ERR_NGROK_1965", "not a TLS certificate of this account", "certificate_id"},
        BadDomain{"AnotherAccountsCertificate",
                  [](DomainsApiTest& fixture) {
                    auto other = fixture.server_->Client(fixture.server_->NewAccountKey("payg"));
                    return json::object{{"domain", "o.example.com"},
                                        {"certificate_id", fixture.Upload({"o.example.com"}, &other)}};
                  },
                  "ERR_NGROK_1965", "not a TLS certificate of this account", "certificate_id"},
        BadDomain{"UnknownAuthority",
                  [](auto&) {
                    return json::object{
                        {"domain", "p.example.com"},
                        {"certificate_management_policy", json::object{{"authority", "zerossl"}}}};
                  },
                  "ERR_NGROK_435", "zerossl", "certificate_management_policy.authority"},
        BadDomain{"UnknownKeyType",
                  [](auto&) {
                    return json::object{{"domain", "p.example.com"},
                                        {"certificate_management_policy",
                                         json::object{{"private_key_type", "dsa"}}}};
                  },
                  "ERR_CERTGATE_508", "use ecdsa or rsa",
                  "certificate_management_policy.private_key_type"},
        BadDomain{"MissingDomain",
                  [](auto&) {
                    return json::object{{"description", "x"}};
                  },
                  "ERR_CERTGATE_111", "domain is required", "domain"},
        BadDomain{"UnknownField",
                  [](auto&) {
                    return json::object{{"domain", "f.example.com"}, {"cname", "x"}};
                  },
                  "ERR_CERTGATE_110", "unknown field 'cname'", "cname"}),
    [](const auto& param_info) { return param_info.param.name; });

class EndpointsApiTest : public DomainsApiTest {};

TEST_F(EndpointsApiTest, CreatesEndpointsOnReservedNamesOnly) {
  ASSERT_EQ(Reserve({{"domain", "*.svc.example.com"}}).status, 201);
  ApiResult ok = Call(*client_, verb::post, "/endpoints",
                      json::object{{"url", "https://api.svc.example.com"},
                                   {"upstream", "http://127.0.0.1:8080"},
                                   {"traffic_policy",
                                    "on_tcp_connect:\n  - actions:\n      - type: terminate-tls\n"
                                    "        config:\n          min_version: \"1.3\"\n"}});
  ASSERT_EQ(ok.status, 201) << ok.raw;
  const auto& o = ok.json.as_object();
  EXPECT_EQ(o.at("url"), "https://api.svc.example.com");
  EXPECT_EQ(o.at("proto"), "https");
  EXPECT_EQ(o.at("upstream"), "http://127.0.0.1:8080");
  EXPECT_EQ(o.at("traffic_policy"),
            "on_tcp_connect:\n  - actions:\n      - type: terminate-tls\n"
            "        config:\n          min_version: \"1.3\"\n");
  EXPECT_TRUE(o.at("tls_certificate").is_null());

  // Not reserved, two labels below the wildcard, or another account's name.
  EXPECT_TRUE(IsError(Call(*client_, verb::post, "/endpoints",
                           json::object{{"url", "https://nope.example.org"},
                                        {"upstream", "http://127.0.0.1:1"}}),
                      400, 552, "not one of this account's reserved domains"));
  EXPECT_TRUE(IsError(Call(*client_, verb::post, "/endpoints",
                           json::object{{"url", "https://a.b.svc.example.com"},
                                        {"upstream", "http://127.0.0.1:1"}}),
                      400, 552, "reserved"));
  auto other = server_->Client(server_->NewAccountKey("payg"));
  EXPECT_TRUE(IsError(Call(other, verb::post, "/endpoints",
                           json::object{{"url", "https://api.svc.example.com"},
                                        {"upstream", "http://127.0.0.1:1"}}),
                      400, 552, "not one of this account's reserved domains"));
  EXPECT_TRUE(IsError(Call(*client_, verb::post, "/endpoints",
                           json::object{{"url", "https://api.svc.example.com"},
                                        {"upstream", "http://127.0.0.1:1"}}),
                      400, 553, "exists already"));
}

// ngrok's example create body (docs: api/resources/endpoints, create), with
// the upstream certgate needs.
constexpr char kNgrokCreateBody[] =
    R"({"bindings":["public"],"description":"sample cloud endpoint",)"
    R"("metadata":"{\"environment\": \"staging\"}",)"
    R"("traffic_policy":"{\"on_http_request\":[{\"actions\":[{\"type\":\"deny\",)"
    R"(\"config\":{\"status_code\":404}}]}]}","type":"cloud",)"
    R"("url":"https://endpoint-example2.com:443","upstream_url":"http://127.0.0.1:8080"})";

// Every field of an endpoint the API returns.
const std::set<std::string> kEndpointFields = {
    "id", "uri", "created_at", "updated_at", "description", "metadata", "type", "url",
    "public_url", "proto", "scheme", "host", "port", "hostport", "region", "upstream_url",
    "upstream", "domain", "traffic_policy", "bindings", "pooling_enabled", "tls_certificate"};

std::set<std::string> Keys(const json::value& v) {
  std::set<std::string> out;
  for (const auto& kv : v.as_object()) out.emplace(kv.key());
  return out;
}

TEST_F(EndpointsApiTest, TakesNgrokBodiesAndAnswersInNgrokShape) {
  ApiResult d = Reserve({{"domain", "endpoint-example2.com"}});
  ASSERT_EQ(d.status, 201) << d.raw;
  const std::string rd(d.json.at("id").as_string());

  // ngrok's example as it is: its policy's on_http_request deny is not
  // something certgate's edge does, and nothing is written.
  EXPECT_TRUE(IsError(CallRaw(*client_, verb::post, "/endpoints", kNgrokCreateBody), 400, 555,
                      "on_http_request is not supported"));
  EXPECT_EQ(Call(*client_, verb::get, "/endpoints").json.at("endpoints").as_array().size(), 0u);

  // The same body with a policy certgate runs (JSON text, kept as sent).
  const std::string policy =
      R"({"on_tcp_connect": [{"actions": [{"type": "terminate-tls", "config": {"min_version": "1.3"}}]}]})";
  json::object body = json::parse(kNgrokCreateBody).as_object();
  body["traffic_policy"] = policy;
  ApiResult r = Call(*client_, verb::post, "/endpoints", body);
  ASSERT_EQ(r.status, 201) << r.raw;
  const json::object& o = r.json.as_object();
  EXPECT_EQ(Keys(r.json), kEndpointFields) << r.raw;
  const std::string id(o.at("id").as_string());
  EXPECT_EQ(id.rfind("ep_", 0), 0u);
  EXPECT_EQ(o.at("uri"), json::value(server_->api_url() + "/endpoints/" + id));
  EXPECT_EQ(o.at("url"), "https://endpoint-example2.com");
  EXPECT_EQ(o.at("public_url"), "https://endpoint-example2.com");
  EXPECT_EQ(o.at("proto"), "https");
  EXPECT_EQ(o.at("scheme"), "https");
  EXPECT_EQ(o.at("host"), "endpoint-example2.com");
  EXPECT_EQ(o.at("port"), 443);
  EXPECT_EQ(o.at("hostport"), "endpoint-example2.com:443");
  EXPECT_EQ(o.at("type"), "cloud");
  EXPECT_EQ(o.at("bindings"), json::array{"public"});
  EXPECT_EQ(o.at("pooling_enabled"), false);
  EXPECT_EQ(o.at("description"), "sample cloud endpoint");
  EXPECT_EQ(o.at("metadata"), R"({"environment": "staging"})");
  EXPECT_EQ(o.at("traffic_policy"), json::value(policy));
  EXPECT_EQ(o.at("upstream_url"), "http://127.0.0.1:8080");
  EXPECT_EQ(o.at("upstream"), "http://127.0.0.1:8080");
  EXPECT_EQ(o.at("domain"), (json::object{{"id", rd},
                                          {"uri", server_->api_url() + "/reserved_domains/" + rd}}));
  EXPECT_EQ(o.at("region"), "");
  EXPECT_TRUE(o.at("tls_certificate").is_null());
  const std::string created(o.at("created_at").as_string());
  EXPECT_EQ(created.size(), 20u) << created;  // 2025-09-04T10:11:35Z
  EXPECT_EQ(created.back(), 'Z');
  EXPECT_EQ(o.at("updated_at"), o.at("created_at"));

  const std::string path = "/endpoints/" + id;
  EXPECT_EQ(Call(*client_, verb::get, path).json, r.json);
  ApiResult list = Call(*client_, verb::get, "/endpoints");
  ASSERT_EQ(list.json.at("endpoints").as_array().size(), 1u);
  EXPECT_EQ(list.json.at("endpoints").at(0), r.json);

  // ngrok's update example, as the TypeScript client sends it (with the id
  // and pooling_enabled, which its EndpointUpdate requires).
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // RFC 3339 has seconds
  ApiResult u = Call(*client_, verb::patch, path,
                     json::object{{"id", id}, {"description", "Sample Cloud Endpoint"},
                                  {"pooling_enabled", false}});
  ASSERT_EQ(u.status, 200) << u.raw;
  EXPECT_EQ(Keys(u.json), kEndpointFields);
  EXPECT_EQ(u.json.at("description"), "Sample Cloud Endpoint");
  EXPECT_EQ(u.json.at("created_at"), o.at("created_at"));
  EXPECT_GT(std::string(u.json.at("updated_at").as_string()), created);
  for (const char* same : {"url", "metadata", "traffic_policy", "upstream_url", "domain", "type",
                           "bindings", "pooling_enabled", "hostport"}) {
    EXPECT_EQ(u.json.at(same), o.at(same)) << same;
  }
  EXPECT_EQ(Call(*client_, verb::get, path).json, u.json);

  // Every field at once; YAML in is YAML out, and upstream is upstream_url's
  // other name (both given, they must agree).
  const std::string yaml =
      "# tls\non_tcp_connect:\n  - actions:\n      - type: terminate-tls\n";
  u = Call(*client_, verb::patch, path,
           json::object{{"url", "https://endpoint-example2.com:443"},
                        {"type", "cloud"},
                        {"bindings", json::array{"public"}},
                        {"pooling_enabled", false},
                        {"upstream_url", "http://127.0.0.1:9090"},
                        {"upstream", "http://127.0.0.1:9090/"},
                        {"traffic_policy", yaml},
                        {"metadata", "m"}});
  ASSERT_EQ(u.status, 200) << u.raw;
  EXPECT_EQ(u.json.at("traffic_policy"), json::value(yaml));
  EXPECT_EQ(u.json.at("upstream_url"), "http://127.0.0.1:9090");
  EXPECT_EQ(u.json.at("metadata"), "m");
  u = Call(*client_, verb::patch, path, json::object{{"upstream", "http://127.0.0.1:9091"}});
  ASSERT_EQ(u.status, 200) << u.raw;
  EXPECT_EQ(u.json.at("upstream_url"), "http://127.0.0.1:9091");
  // An empty policy removes it.
  u = Call(*client_, verb::patch, path, json::object{{"traffic_policy", ""}});
  ASSERT_EQ(u.status, 200) << u.raw;
  EXPECT_EQ(u.json.at("traffic_policy"), "");

  // Defaults: no type, bindings or pooling_enabled; [] is the default binding.
  ASSERT_EQ(Reserve({{"domain", "tls.example2.com"}}).status, 201);
  ApiResult t = Call(*client_, verb::post, "/endpoints",
                     json::object{{"url", "tls://tls.example2.com"},
                                  {"upstream_url", "tcp://127.0.0.1:5432"},
                                  {"bindings", json::array{}}});
  ASSERT_EQ(t.status, 201) << t.raw;
  EXPECT_EQ(Keys(t.json), kEndpointFields);
  EXPECT_EQ(t.json.at("url"), "tls://tls.example2.com:443");
  EXPECT_EQ(t.json.at("public_url"), "tls://tls.example2.com:443");
  EXPECT_EQ(t.json.at("proto"), "tls");
  EXPECT_EQ(t.json.at("hostport"), "tls.example2.com:443");
  EXPECT_EQ(t.json.at("type"), "cloud");
  EXPECT_EQ(t.json.at("bindings"), json::array{"public"});
  EXPECT_EQ(t.json.at("pooling_enabled"), false);
  EXPECT_EQ(t.json.at("traffic_policy"), "");
  EXPECT_EQ(t.json.at("description"), "");

  EXPECT_EQ(Call(*client_, verb::delete_, path).status, 204);
  EXPECT_TRUE(IsError(Call(*client_, verb::get, path), 404, 101, id));
  EXPECT_EQ(Call(*client_, verb::get, "/endpoints").json.at("endpoints").as_array().size(), 1u);
}

// What certgate cannot serve, and bodies of the wrong shape: each a 400 that
// says why, on create and on update alike, and nothing is written.
TEST_F(EndpointsApiTest, RefusesNgrokFieldsItCannotServe) {
  ASSERT_EQ(Reserve({{"domain", "ok.example.com"}}).status, 201);
  ASSERT_EQ(Reserve({{"domain", "no.example.com"}}).status, 201);
  ApiResult existing = Call(*client_, verb::post, "/endpoints",
                            json::object{{"url", "https://ok.example.com"},
                                         {"upstream_url", "http://127.0.0.1:8080"}});
  ASSERT_EQ(existing.status, 201) << existing.raw;
  const std::string path = "/endpoints/" + std::string(existing.json.at("id").as_string());
  struct Case {
    std::string name;
    json::object fields;
    int code;
    std::string msg;
  };
  const std::vector<Case> cases = {
      {"type", {{"type", "agent"}}, 558, "type 'agent' is not supported: certgate makes only cloud"},
      {"type case", {{"type", "Cloud"}}, 558, "'Cloud'"},
      {"type number", {{"type", 5}}, 109, "type must be a string, not a number"},
      {"internal", {{"bindings", json::array{"internal"}}}, 559,
       "bindings [\"internal\"] is not supported: certgate serves public endpoints only"},
      {"kubernetes", {{"bindings", json::array{"kubernetes"}}}, 559, "public endpoints only"},
      {"two bindings", {{"bindings", json::array{"public", "internal"}}}, 559,
       "bindings has 2 entries; an endpoint has one binding"},
      {"unknown binding", {{"bindings", json::array{"everyone"}}}, 559,
       "is not a binding (ngrok's are public, internal and kubernetes)"},
      {"bindings string", {{"bindings", "public"}}, 109,
       "bindings must be an array of strings, not a string"},
      {"bindings number", {{"bindings", json::array{"public", 1}}}, 109,
       "bindings[1] must be a string, not a number"},
      {"pooling", {{"pooling_enabled", true}}, 560,
       "certgate serves one endpoint per url and does not pool endpoints"},
      {"pooling string", {{"pooling_enabled", "false"}}, 109,
       "pooling_enabled must be a boolean, not a string"},
      {"upstreams differ",
       {{"upstream_url", "http://127.0.0.1:8080"}, {"upstream", "http://127.0.0.1:8081"}}, 551,
       "upstream_url 'http://127.0.0.1:8080' and upstream 'http://127.0.0.1:8081' differ"},
      {"bad upstream_url", {{"upstream_url", "ftp://127.0.0.1"}}, 551,
       "upstream_url 'ftp://127.0.0.1' is not valid"},
      {"bad upstream", {{"upstream", "tcp://127.0.0.1:1"}}, 551,
       "upstream 'tcp://127.0.0.1:1' is not valid"},
      {"ngrok policy",
       {{"traffic_policy", R"({"on_http_request":[{"actions":[{"type":"deny"}]}]})"}}, 555,
       "on_http_request is not supported"},
      {"unknown field", {{"upstream_protocol", "http1"}}, 110, "unknown field 'upstream_protocol'"},
  };
  const json::value before = Call(*client_, verb::get, path).json;
  for (const Case& c : cases) {
    json::object create{{"url", "https://no.example.com"}, {"upstream_url", "http://127.0.0.1:1"}};
    for (const auto& kv : c.fields) create[kv.key()] = kv.value();
    EXPECT_TRUE(IsError(Call(*client_, verb::post, "/endpoints", create), 400, c.code, c.msg))
        << c.name << " (create)";
    EXPECT_TRUE(IsError(Call(*client_, verb::patch, path, c.fields), 400, c.code, c.msg))
        << c.name << " (update)";
  }
  // Required on create: url and an upstream.
  EXPECT_TRUE(IsError(Call(*client_, verb::post, "/endpoints",
                           json::object{{"url", "https://no.example.com"}}),
                      400, 111, "upstream_url is required"));
  EXPECT_TRUE(IsError(Call(*client_, verb::post, "/endpoints",
                           json::object{{"upstream_url", "http://127.0.0.1:1"}}),
                      400, 111, "url is required"));
  // An update's id must be the path's; the url cannot change.
  EXPECT_TRUE(IsError(Call(*client_, verb::patch, path,
                           json::object{{"id", "ep_2OEmZ6CE8wZrZW8lRQVjNoFTafd"},
                                        {"description", "x"}}),
                      400, 114, "differs from the id in the path"));
  EXPECT_TRUE(IsError(Call(*client_, verb::patch, path,
                           json::object{{"url", "https://no.example.com"}}),
                      400, 550, "cannot change"));
  ApiResult list = Call(*client_, verb::get, "/endpoints");
  ASSERT_EQ(list.json.at("endpoints").as_array().size(), 1u);
  EXPECT_EQ(list.json.at("endpoints").at(0), before);
}

TEST_F(EndpointsApiTest, RefusesMalformedTrafficPolicies) {
  ASSERT_EQ(Reserve({{"domain", "pol.example.com"}}).status, 201);
  struct Case {
    std::string policy;
    int code;
    std::string msg;
  };
  for (const Case& c : std::vector<Case>{
           {"on_tcp_connect: [", 554, "traffic_policy"},
           {"on_tcp_connect:\n  - actions:\n      - type: deny\n", 555, "deny"},
           {"on_tcp_connect:\n  - actions:\n      - type: terminate-tls\n        config:\n"
            "          min_version: \"1.1\"\n",
            554, "min_version"},
           {"on_tcp_connect:\n  - actions:\n      - type: terminate-tls\n        config:\n"
            "          colour: blue\n",
            556, "colour"},
           {"on_http_request: []\n", 555, "on_http_request"},
       }) {
    ApiResult r = Call(*client_, verb::post, "/endpoints",
                       json::object{{"url", "https://pol.example.com"},
                                    {"upstream", "http://127.0.0.1:1"},
                                    {"traffic_policy", c.policy}});
    EXPECT_TRUE(IsError(r, 400, c.code, c.msg)) << c.policy;
  }
  EXPECT_EQ(Call(*client_, verb::get, "/endpoints").json.at("endpoints").as_array().size(), 0u);
}

TEST_F(EndpointsApiTest, APolicyCertificateIsSealedAndNeverReturned) {
  ASSERT_EQ(Reserve({{"domain", "own.example.com"}}).status, 201);
  CertSpec spec;
  spec.common_name = "own.example.com";
  spec.dns_names = {"own.example.com"};
  auto chain = MakeChain(TestKeyType::kEcP256, spec, false);
  const std::string key = KeyPemPkcs8(chain.leaf_key.get());
  json::object config{{"server_certificate", chain.BundlePem()}, {"server_private_key", key}};
  std::string policy = json::serialize(json::object{
      {"on_tcp_connect",
       json::array{json::object{{"actions", json::array{json::object{{"type", "terminate-tls"},
                                                                      {"config", config}}}}}}}});
  ApiResult r = Call(*client_, verb::post, "/endpoints",
                     json::object{{"url", "tls://own.example.com:443"},
                                  {"upstream", "tcp://127.0.0.1:5432"},
                                  {"traffic_policy", policy}});
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(r.json.at("tls_certificate").at("subject_common_name"), "own.example.com");
  EXPECT_EQ(r.raw.find("PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(r.raw.find(key.substr(40, 30)), std::string::npos);
  // The endpoint's certificate is not one of the account's uploads.
  EXPECT_EQ(CountCertificates(*client_), 0u);

  // A certificate that does not cover the host is refused.
  CertSpec other_spec;
  other_spec.common_name = "other.example.com";
  other_spec.dns_names = {"other.example.com"};
  auto other = MakeChain(TestKeyType::kEcP256, other_spec, false);
  json::object bad_config{{"server_certificate", other.BundlePem()},
                          {"server_private_key", KeyPemPkcs8(other.leaf_key.get())}};
  ApiResult refused = Call(
      *client_, verb::patch, "/endpoints/" + std::string(r.json.at("id").as_string()),
      json::object{{"traffic_policy",
                    json::serialize(json::object{
                        {"on_tcp_connect",
                         json::array{json::object{
                             {"actions", json::array{json::object{{"type", "terminate-tls"},
                                                                  {"config", bad_config}}}}}}}})}});
  EXPECT_TRUE(IsError(refused, 400, 505, "does not cover own.example.com"));
}

// One record of GET /reserved_domains/{id}/dns_records, as a string for
// comparison: "name type value status".
std::string Record(const json::value& v) {
  const json::object& o = v.as_object();
  return fmt::format("{} {} {} {}", std::string_view(o.at("name").as_string()),
                     std::string_view(o.at("type").as_string()),
                     std::string_view(o.at("value").as_string()),
                     std::string_view(o.at("status").as_string()));
}

TEST(DomainDnsRecordsTest, ShowsTheRecordsToCreateAndWhetherCertgateSeesThem) {
  ChallTestSrv dns;
  ServerOptions options;
  options.extra_args = {"--resolver", dns.dns_address()};
  auto server = CertgateServer::Start(options);
  ASSERT_NE(server, nullptr);
  auto client = server->Client();
  ApiResult d = Call(client, verb::post, "/reserved_domains",
                     json::object{{"domain", "*.records.example.net"}});
  ASSERT_EQ(d.status, 201) << d.raw;
  const std::string id(d.json.at("id").as_string());
  const std::string cname(d.json.at("cname_target").as_string());
  const std::string acme(d.json.at("acme_challenge_cname_target").as_string());
  const std::string path = "/reserved_domains/" + id + "/dns_records";

  ApiResult r = Call(client, verb::get, path);
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.json.at("uri"), json::value(server->api_url() + path));
  EXPECT_TRUE(r.json.at("checked_at").is_string());
  const json::array* records = &r.json.at("records").as_array();
  ASSERT_EQ(records->size(), 2u) << r.raw;
  EXPECT_EQ(Record((*records)[0]), "*.records.example.net CNAME " + cname + " missing");
  EXPECT_EQ(Record((*records)[1]),
            "_acme-challenge.records.example.net CNAME " + acme + " missing");
  EXPECT_NE(std::string_view((*records)[1].at("msg").as_string()).find("create it"),
            std::string::npos)
      << r.raw;

  // A record pointing elsewhere is named as such, with what certgate found.
  dns.SetCname("_acme-challenge.records.example.net", "elsewhere.example.org");
  r = Call(client, verb::get, path);
  records = &r.json.at("records").as_array();
  EXPECT_EQ(Record((*records)[1]),
            "_acme-challenge.records.example.net CNAME " + acme + " wrong_target");
  EXPECT_NE(std::string_view((*records)[1].at("msg").as_string()).find("elsewhere.example.org"),
            std::string::npos)
      << r.raw;

  dns.SetCname("_acme-challenge.records.example.net", acme);
  r = Call(client, verb::get, path);
  records = &r.json.at("records").as_array();
  EXPECT_EQ(Record((*records)[1]),
            "_acme-challenge.records.example.net CNAME " + acme + " present");

  // A name under the service's own domain needs no record.
  ApiResult own = Call(client, verb::post, "/reserved_domains",
                       json::object{{"domain", "app.certgate.localhost"}});
  ASSERT_EQ(own.status, 201) << own.raw;
  r = Call(client, verb::get,
           "/reserved_domains/" + std::string(own.json.at("id").as_string()) + "/dns_records");
  EXPECT_EQ(r.json.at("records"), json::array{}) << r.raw;

  EXPECT_TRUE(IsError(
      Call(client, verb::get, "/reserved_domains/rd_2OEmZ6CE8wZrZW8lRQVjNoFTafd/dns_records"), 404,
      101, "rd_2OEmZ6CE8wZrZW8lRQVjNoFTafd"));
  EXPECT_TRUE(IsError(Call(client, verb::post, path, json::object{}), 405, 103, "GET"));
}

TEST(DomainDnsRecordsTest, ASilentResolverCostsOneTimeoutForAllRecords) {
  // A UDP socket that takes the queries and never answers.
  int silent = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(silent, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(silent, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(silent, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ServerOptions options;
  options.extra_args = {"--resolver", fmt::format("127.0.0.1:{}", ntohs(addr.sin_port))};
  auto server = CertgateServer::Start(options);
  ASSERT_NE(server, nullptr);
  auto client = server->Client();
  ApiResult d = Call(client, verb::post, "/reserved_domains",
                     json::object{{"domain", "*.silent.example.net"}});
  ASSERT_EQ(d.status, 201) << d.raw;
  const auto start = std::chrono::steady_clock::now();
  ApiResult r = Call(client, verb::get,
                     "/reserved_domains/" + std::string(d.json.at("id").as_string()) +
                         "/dns_records");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(r.status, 200) << r.raw;
  const json::array& records = r.json.at("records").as_array();
  ASSERT_EQ(records.size(), 2u) << r.raw;
  for (const auto& record : records) EXPECT_EQ(record.at("status"), "unknown") << r.raw;
  // Both records waited out the 3 s lookup timeout together, not in turn.
  EXPECT_GE(seconds, 2.5);
  EXPECT_LT(seconds, 5.0);
  close(silent);
}

TEST_F(DomainsApiTest, DnsRecordsSayWhenTheResolverCannotBeAsked) {
  // The fixture's server asks a resolver at a port where nothing listens.
  ApiResult d = Reserve({{"domain", "unchecked.example.net"}});
  ASSERT_EQ(d.status, 201) << d.raw;
  ApiResult r =
      Call(*client_, verb::get,
           "/reserved_domains/" + std::string(d.json.at("id").as_string()) + "/dns_records");
  ASSERT_EQ(r.status, 200) << r.raw;
  const json::array& records = r.json.at("records").as_array();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].at("status"), "unknown");
  EXPECT_EQ(
      std::string_view(records[0].at("msg").as_string()).rfind("could not check this record: ", 0),
      0u)
      << r.raw;
}

}  // namespace
}  // namespace certgate::testing
