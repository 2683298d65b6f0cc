#include "policy/traffic_policy.h"

#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>

#include "pki/testing/cert_factory.h"

namespace certgate::policy {
namespace {

namespace json = boost::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// Test material, generated once: a CA certificate for mutual TLS, and a
// server certificate with its key.
struct Material {
  std::string ca_pem;
  std::string other_ca_pem;
  std::string cert_pem;
  std::string key_pem;
};

const Material& M() {
  static const Material m = [] {
    pki::testing::CertSpec spec;
    spec.common_name = "app.example.com";
    spec.dns_names = {"app.example.com"};
    auto chain = pki::testing::MakeChain(pki::testing::TestKeyType::kEcP256, spec);
    Material out;
    out.ca_pem = pki::testing::CertPem(chain.root.get());
    out.other_ca_pem = pki::testing::CertPem(chain.intermediate.get());
    out.cert_pem = chain.BundlePem();
    out.key_pem = pki::testing::KeyPemPkcs8(chain.leaf_key.get());
    return out;
  }();
  return m;
}

// s as a YAML block scalar ("|") indented by `indent` spaces.
std::string Block(std::string_view s, int indent) {
  std::string pad(static_cast<size_t>(indent), ' ');
  std::string out = "|\n";
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    if (nl == std::string_view::npos) nl = s.size();
    out += pad;
    out += s.substr(start, nl - start);
    out += '\n';
    start = nl + 1;
  }
  return out;
}

std::string JsonString(std::string_view s) { return json::serialize(json::string(s)); }

// A policy with one terminate-tls action whose config is `config` (YAML,
// indented by 8 spaces already).
std::string WithConfig(std::string_view config) {
  return "on_tcp_connect:\n"
         "  - name: tls\n"
         "    actions:\n"
         "      - type: terminate-tls\n"
         "        config:\n" +
         std::string(config);
}

template <class T>
void ExpectError(const Result<T>& r, ErrorCode code, std::string_view needle) {
  ASSERT_FALSE(r.ok()) << "expected " << ErrorCodeName(code) << ", got success";
  EXPECT_EQ(ErrorCodeName(r.error().code), ErrorCodeName(code)) << r.error().message;
  EXPECT_THAT(r.error().message, HasSubstr(std::string(needle)));
  EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << r.error().message;
  EXPECT_EQ(ERR_peek_error(), 0UL) << "OpenSSL error queue not drained";
}

void ExpectSame(const TrafficPolicy& a, const TrafficPolicy& b) {
  ASSERT_EQ(a.terminate_tls.has_value(), b.terminate_tls.has_value());
  if (!a.terminate_tls) return;
  const TerminateTls& x = *a.terminate_tls;
  const TerminateTls& y = *b.terminate_tls;
  EXPECT_EQ(x.server_certificate, y.server_certificate);
  EXPECT_EQ(x.server_private_key, y.server_private_key);
  EXPECT_EQ(x.min_version, y.min_version);
  EXPECT_EQ(x.max_version, y.max_version);
  EXPECT_EQ(x.mutual_tls_certificate_authorities, y.mutual_tls_certificate_authorities);
  EXPECT_EQ(x.mutual_tls_verification_strategy, y.mutual_tls_verification_strategy);
  EXPECT_EQ(x.alpn_protocols, y.alpn_protocols);
}

TEST(TrafficPolicyParseTest, AcceptsEveryFieldInYaml) {
  const Material& m = M();
  std::string text = WithConfig("          server_certificate: " + Block(m.cert_pem, 12) +
                                "          server_private_key: " + Block(m.key_pem, 12) +
                                "          min_version: \"1.3\"\n"
                                "          max_version: \"1.3\"\n"
                                "          mutual_tls_certificate_authorities:\n"
                                "            - " +
                                Block(m.ca_pem, 14) + "            - " + Block(m.other_ca_pem, 14) +
                                "          mutual_tls_verification_strategy: require-any\n"
                                "          alpn_protocols: [h2, http/1.1]\n");
  auto p = ParseTrafficPolicy(text);
  ASSERT_TRUE(p.ok()) << p.error().message;
  ASSERT_TRUE(p->terminate_tls.has_value());
  const TerminateTls& t = *p->terminate_tls;
  EXPECT_EQ(t.server_certificate, m.cert_pem);
  EXPECT_EQ(t.server_private_key, m.key_pem);
  EXPECT_EQ(t.min_version, TlsVersion::k13);
  EXPECT_EQ(t.max_version, TlsVersion::k13);
  EXPECT_THAT(t.mutual_tls_certificate_authorities, ElementsAre(m.ca_pem, m.other_ca_pem));
  EXPECT_TRUE(t.mutual_tls());
  EXPECT_EQ(t.mutual_tls_verification_strategy, VerifyStrategy::kRequireAny);
  EXPECT_THAT(t.alpn_protocols, ElementsAre("h2", "http/1.1"));
  EXPECT_EQ(ERR_peek_error(), 0UL);
}

TEST(TrafficPolicyParseTest, AcceptsEveryFieldInJson) {
  const Material& m = M();
  std::string text = R"({"on_tcp_connect": [{"name": "tls", "expressions": [], "actions": [
      {"type": "terminate-tls", "config": {
        "server_certificate": )" +
                     JsonString(m.cert_pem) + R"(,
        "server_private_key": )" +
                     JsonString(m.key_pem) + R"(,
        "min_version": "1.2",
        "max_version": "1.2",
        "mutual_tls_certificate_authorities": [)" +
                     JsonString(m.ca_pem) + R"(],
        "mutual_tls_verification_strategy": "request",
        "alpn_protocols": ["acme-tls/1"]
      }}]}]})";
  auto p = ParseTrafficPolicy(text);
  ASSERT_TRUE(p.ok()) << p.error().message;
  ASSERT_TRUE(p->terminate_tls.has_value());
  const TerminateTls& t = *p->terminate_tls;
  EXPECT_EQ(t.server_certificate, m.cert_pem);
  EXPECT_EQ(t.server_private_key, m.key_pem);
  EXPECT_EQ(t.min_version, TlsVersion::k12);
  EXPECT_EQ(t.max_version, TlsVersion::k12);
  EXPECT_THAT(t.mutual_tls_certificate_authorities, ElementsAre(m.ca_pem));
  EXPECT_EQ(t.mutual_tls_verification_strategy, VerifyStrategy::kRequest);
  EXPECT_THAT(t.alpn_protocols, ElementsAre("acme-tls/1"));
}

TEST(TrafficPolicyParseTest, EachStrategyAndVersionForm) {
  struct Case {
    std::string config;
    TlsVersion min, max;
    VerifyStrategy strategy;
  };
  const Case cases[] = {
      {"          min_version: 1.3\n", TlsVersion::k13, TlsVersion::k13,
       VerifyStrategy::kRequireAndVerify},  // a YAML number
      {"          max_version: 1.2\n", TlsVersion::k12, TlsVersion::k12,
       VerifyStrategy::kRequireAndVerify},
      {"          min_version: '1.2'\n          max_version: '1.3'\n", TlsVersion::k12,
       TlsVersion::k13, VerifyStrategy::kRequireAndVerify},
      {"          mutual_tls_verification_strategy: require-and-verify\n", TlsVersion::k12,
       TlsVersion::k13, VerifyStrategy::kRequireAndVerify},
      {"          mutual_tls_verification_strategy: require-any\n", TlsVersion::k12,
       TlsVersion::k13, VerifyStrategy::kRequireAny},
      {"          mutual_tls_verification_strategy: request\n", TlsVersion::k12, TlsVersion::k13,
       VerifyStrategy::kRequest},
      // null reads as absent: the default.
      {"          min_version: null\n          max_version: ~\n"
       "          mutual_tls_verification_strategy:\n",
       TlsVersion::k12, TlsVersion::k13, VerifyStrategy::kRequireAndVerify},
  };
  for (const auto& c : cases) {
    auto p = ParseTrafficPolicy(WithConfig(c.config));
    ASSERT_TRUE(p.ok()) << c.config << p.error().message;
    ASSERT_TRUE(p->terminate_tls.has_value());
    EXPECT_EQ(p->terminate_tls->min_version, c.min) << c.config;
    EXPECT_EQ(p->terminate_tls->max_version, c.max) << c.config;
    EXPECT_EQ(p->terminate_tls->mutual_tls_verification_strategy, c.strategy) << c.config;
  }
}

TEST(TrafficPolicyParseTest, TerminateTlsWithoutConfigHasTheDefaults) {
  for (std::string text : {
           std::string("on_tcp_connect:\n  - actions:\n      - type: terminate-tls\n"),
           std::string("on_tcp_connect:\n  - actions:\n      - type: terminate-tls\n"
                       "        config:\n"),
           std::string("on_tcp_connect:\n  - actions:\n      - type: terminate-tls\n"
                       "        config: {}\n"),
           std::string(R"({"on_tcp_connect":[{"actions":[{"type":"terminate-tls"}]}]})"),
           std::string(R"({"on_tcp_connect":[{"actions":[{"type":"terminate-tls","config":)"
                       R"({"server_certificate":null,"server_private_key":null,)"
                       R"("mutual_tls_certificate_authorities":null,"alpn_protocols":[]}}]}]})"),
           // Rules before and after that do nothing.
           std::string("on_tcp_connect:\n  - name: a\n  - actions: []\n  - actions:\n"
                       "      - type: terminate-tls\n  - name: z\n    expressions: []\n"),
       }) {
    auto p = ParseTrafficPolicy(text);
    ASSERT_TRUE(p.ok()) << text << p.error().message;
    ASSERT_TRUE(p->terminate_tls.has_value()) << text;
    const TerminateTls& t = *p->terminate_tls;
    EXPECT_FALSE(t.server_certificate.has_value());
    EXPECT_FALSE(t.server_private_key.has_value());
    EXPECT_EQ(t.min_version, TlsVersion::k12);
    EXPECT_EQ(t.max_version, TlsVersion::k13);
    EXPECT_TRUE(t.mutual_tls_certificate_authorities.empty());
    EXPECT_FALSE(t.mutual_tls());
    EXPECT_EQ(t.mutual_tls_verification_strategy, VerifyStrategy::kRequireAndVerify);
    EXPECT_TRUE(t.alpn_protocols.empty());
  }
}

TEST(TrafficPolicyParseTest, EmptyTextsAreEmptyPolicies) {
  for (std::string text :
       {"", "   ", "\n\n\t \r\n", "{}", "# only a comment\n", "---\n", "null", "on_tcp_connect: []",
        "on_tcp_connect:", "{\"on_tcp_connect\": []}",
        "on_tcp_connect:\n  - name: nothing\n    actions: []\n", "on_tcp_connect:\n  - {}\n"}) {
    auto p = ParseTrafficPolicy(text);
    ASSERT_TRUE(p.ok()) << "[" << text << "] " << p.error().message;
    EXPECT_FALSE(p->terminate_tls.has_value()) << text;
  }
}

TEST(TrafficPolicyParseTest, AlpnLimitsAreInclusive) {
  std::string list = "[";
  for (int i = 0; i < 16; ++i) list += (i ? ", p" : "p") + std::to_string(i);
  list += "]";
  auto p = ParseTrafficPolicy(WithConfig("          alpn_protocols: " + list + "\n"));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->terminate_tls->alpn_protocols.size(), 16u);
  p = ParseTrafficPolicy(WithConfig("          alpn_protocols: [" + std::string(255, 'x') + "]\n"));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->terminate_tls->alpn_protocols.at(0).size(), 255u);
}

TEST(TrafficPolicyJsonTest, WritesEveryFieldInNgrokShape) {
  TrafficPolicy p;
  p.terminate_tls.emplace();
  EXPECT_EQ(TrafficPolicyToJson(p, false),
            R"({"on_tcp_connect":[{"actions":[{"type":"terminate-tls","config":{)"
            R"("server_certificate":null,"min_version":"1.2","max_version":"1.3",)"
            R"("mutual_tls_certificate_authorities":[],)"
            R"("mutual_tls_verification_strategy":"require-and-verify","alpn_protocols":[]}}]}]})");
  EXPECT_EQ(TrafficPolicyToJson(p, true),
            R"({"on_tcp_connect":[{"actions":[{"type":"terminate-tls","config":{)"
            R"("server_certificate":null,"server_private_key":null,"min_version":"1.2",)"
            R"("max_version":"1.3","mutual_tls_certificate_authorities":[],)"
            R"("mutual_tls_verification_strategy":"require-and-verify","alpn_protocols":[]}}]}]})");
  EXPECT_EQ(TrafficPolicyToJson(TrafficPolicy{}, true), "{}");
  EXPECT_EQ(TrafficPolicyToJson(TrafficPolicy{}, false), "{}");
}

TrafficPolicy FullPolicy() {
  const Material& m = M();
  TrafficPolicy p;
  TerminateTls& t = p.terminate_tls.emplace();
  t.server_certificate = m.cert_pem;
  t.server_private_key = m.key_pem;
  t.min_version = TlsVersion::k13;
  t.max_version = TlsVersion::k13;
  t.mutual_tls_certificate_authorities = {m.ca_pem, m.other_ca_pem};
  t.mutual_tls_verification_strategy = VerifyStrategy::kRequest;
  t.alpn_protocols = {"h2", "http/1.1", "x\"y\\z"};
  return p;
}

TEST(TrafficPolicyJsonTest, RoundTripsThroughJsonWithTheKey) {
  std::vector<TrafficPolicy> policies;
  policies.push_back(FullPolicy());
  policies.emplace_back();
  policies.emplace_back().terminate_tls.emplace();
  TrafficPolicy no_cert = FullPolicy();
  no_cert.terminate_tls->server_certificate.reset();
  no_cert.terminate_tls->server_private_key.reset();
  no_cert.terminate_tls->mutual_tls_verification_strategy = VerifyStrategy::kRequireAny;
  no_cert.terminate_tls->min_version = TlsVersion::k12;
  policies.push_back(std::move(no_cert));
  for (const auto& p : policies) {
    std::string text = TrafficPolicyToJson(p, true);
    auto back = ParseTrafficPolicy(text);
    ASSERT_TRUE(back.ok()) << text << "\n" << back.error().message;
    ExpectSame(*back, p);
    // Normalized: writing it again gives the same text.
    EXPECT_EQ(TrafficPolicyToJson(*back, true), text);
    // And it is JSON.
    EXPECT_NO_THROW((void)json::parse(text));
  }
}

TEST(TrafficPolicyJsonTest, WithoutTheKeyLeavesItOut) {
  TrafficPolicy p = FullPolicy();
  std::string text = TrafficPolicyToJson(p, false);
  EXPECT_THAT(text, Not(HasSubstr("server_private_key")));
  EXPECT_THAT(text, Not(HasSubstr("PRIVATE KEY")));
  json::value v = json::parse(text);
  const json::object& config =
      v.at("on_tcp_connect").at(0).at("actions").at(0).at("config").as_object();
  EXPECT_EQ(config.at("server_certificate").as_string(), M().cert_pem);
  EXPECT_EQ(config.at("min_version").as_string(), "1.3");
  EXPECT_EQ(config.at("mutual_tls_verification_strategy").as_string(), "request");
  EXPECT_EQ(config.at("alpn_protocols").as_array().size(), 3u);
  // Stored without its key, the policy no longer parses on its own: the
  // caller adds the key back from the sealed store.
  ExpectError(ParseTrafficPolicy(text), ErrorCode::kPolicyInvalid, "server_private_key is missing");
  // With the certificate gone too, everything else survives.
  p.terminate_tls->server_certificate.reset();
  p.terminate_tls->server_private_key.reset();
  auto back = ParseTrafficPolicy(TrafficPolicyToJson(p, false));
  ASSERT_TRUE(back.ok()) << back.error().message;
  ExpectSame(*back, p);
}

TEST(TrafficPolicyJsonTest, NamesAreStable) {
  EXPECT_EQ(TlsVersionName(TlsVersion::k12), "1.2");
  EXPECT_EQ(TlsVersionName(TlsVersion::k13), "1.3");
  EXPECT_EQ(VerifyStrategyName(VerifyStrategy::kRequireAndVerify), "require-and-verify");
  EXPECT_EQ(VerifyStrategyName(VerifyStrategy::kRequireAny), "require-any");
  EXPECT_EQ(VerifyStrategyName(VerifyStrategy::kRequest), "request");
}

struct BadCase {
  std::string text;
  ErrorCode code;
  std::string says;
};

TEST(TrafficPolicyParseTest, RefusesBadStructureNamingThePath) {
  const ErrorCode kInvalid = ErrorCode::kPolicyInvalid;
  const ErrorCode kAction = ErrorCode::kPolicyUnknownAction;
  const ErrorCode kField = ErrorCode::kPolicyUnknownField;
  const std::string tls = "on_tcp_connect:\n  - actions:\n      - type: terminate-tls\n";
  const BadCase cases[] = {
      // The top level.
      {"- a\n- b\n", kInvalid,
       "must be a mapping with on_tcp_connect at its top level, not a list"},
      {"hello", kInvalid, "not a string"},
      {"[]", kInvalid, "not a list"},
      {"on_http_request: []", kAction, "on_http_request is not supported"},
      {"on_http_response:\n  - actions: []\n", kAction, "only terminate-tls in on_tcp_connect"},
      {"{\"on_tcp_connect\": [], \"foo\": 1}", kField, "'foo' is not a traffic policy phase"},
      {"on_tcp_connect: []\non_tcp_connect: []\n", kInvalid, "the key 'on_tcp_connect' twice"},
      {"{[1]: 2}", kInvalid, "keys must be strings"},
      {"a: 1\n---\nb: 2\n", kInvalid, "2 YAML documents"},
      // Rules.
      {"on_tcp_connect: tls", kInvalid, "on_tcp_connect must be a list, not a string"},
      {"on_tcp_connect: {actions: []}", kInvalid, "on_tcp_connect must be a list, not a mapping"},
      {"on_tcp_connect: [1]", kInvalid, "on_tcp_connect[0] must be a mapping"},
      {"on_tcp_connect: [{}, [1]]", kInvalid, "on_tcp_connect[1] must be a mapping"},
      {"on_tcp_connect: [{foo: 1}]", kField, "on_tcp_connect[0].foo is not a field of a rule"},
      {"on_tcp_connect: [{name: [a]}]", kInvalid, "on_tcp_connect[0].name must be a string"},
      {"on_tcp_connect:\n  - expressions: [\"conn.tls.version == '1.2'\"]\n", kInvalid,
       "on_tcp_connect[0].expressions are not supported"},
      {"on_tcp_connect: [{expressions: x}]", kInvalid,
       "on_tcp_connect[0].expressions must be a list"},
      {"on_tcp_connect: [{actions: {type: terminate-tls}}]", kInvalid,
       "on_tcp_connect[0].actions must be a list, not a mapping"},
      {"on_tcp_connect: [{name: a, name: b}]", kInvalid,
       "on_tcp_connect[0] has the key 'name' twice"},
      // Actions.
      {"on_tcp_connect: [{actions: [terminate-tls]}]", kInvalid,
       "on_tcp_connect[0].actions[0] must be a mapping"},
      {"on_tcp_connect: [{actions: [{config: {}}]}]", kInvalid,
       "on_tcp_connect[0].actions[0] has no type"},
      {"on_tcp_connect: [{actions: [{type: null}]}]", kInvalid,
       "on_tcp_connect[0].actions[0] has no type"},
      {"on_tcp_connect: [{actions: [{type: [terminate-tls]}]}]", kInvalid,
       "on_tcp_connect[0].actions[0].type must be a string"},
      {"on_tcp_connect: [{actions: [{type: terminate-tls}, {type: deny}]}]", kAction,
       "on_tcp_connect[0].actions[1].type 'deny' is not supported"},
      {"on_tcp_connect: [{actions: [{type: Terminate-TLS}]}]", kAction,
       "on_tcp_connect[0].actions[0].type 'Terminate-TLS' is not supported"},
      {"on_tcp_connect: [{actions: [{type: terminate-tls, foo: 1}]}]", kField,
       "on_tcp_connect[0].actions[0].foo is not a field of an action"},
      {"on_tcp_connect: [{actions: [{type: terminate-tls}, {type: terminate-tls}]}]", kInvalid,
       "on_tcp_connect[0].actions[1]: terminate-tls may appear only once in a policy, and it "
       "already appears at on_tcp_connect[0].actions[0]"},
      {tls + "  - actions:\n      - type: terminate-tls\n", kInvalid,
       "on_tcp_connect[1].actions[0]: terminate-tls may appear only once"},
      {"on_tcp_connect: [{actions: [{type: terminate-tls, config: [1]}]}]", kInvalid,
       "on_tcp_connect[0].actions[0].config must be a mapping"},
      {"on_tcp_connect: [{actions: [{type: terminate-tls, config: x}]}]", kInvalid,
       "on_tcp_connect[0].actions[0].config must be a mapping"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    ExpectError(ParseTrafficPolicy(c.text), c.code, c.says);
  }
}

TEST(TrafficPolicyParseTest, RefusesBadConfigNamingThePath) {
  const ErrorCode kInvalid = ErrorCode::kPolicyInvalid;
  const ErrorCode kField = ErrorCode::kPolicyUnknownField;
  const std::string at = "on_tcp_connect[0].actions[0].config";
  const Material& m = M();
  std::string seventeen = "[";
  for (int i = 0; i < 17; ++i) seventeen += (i ? ", p" : "p") + std::to_string(i);
  seventeen += "]";
  const BadCase cases[] = {
      {"          ciphers: [AES]\n", kField,
       at + ".ciphers is not a terminate-tls setting certgate knows; the settings are "
            "server_certificate,"},
      {"          serverCertificate: x\n", kField, at + ".serverCertificate is not"},
      {"          min_version: \"1.1\"\n", kInvalid,
       at + ".min_version '1.1' is not a TLS version certgate supports: use \"1.2\" or \"1.3\""},
      {"          max_version: 1.4\n", kInvalid, at + ".max_version '1.4' is not a TLS version"},
      {"          min_version: 1.30\n", kInvalid, at + ".min_version '1.30'"},
      {"          min_version: TLSv1.3\n", kInvalid, at + ".min_version 'TLSv1.3'"},
      {"          min_version: [1.2]\n", kInvalid,
       at + ".min_version must be a string, not a list"},
      {"          min_version: \"1.3\"\n          max_version: \"1.2\"\n", kInvalid,
       at + ".min_version 1.3 is above max_version 1.2"},
      {"          mutual_tls_verification_strategy: always\n", kInvalid,
       at + ".mutual_tls_verification_strategy 'always' is not a strategy certgate knows"},
      {"          mutual_tls_verification_strategy: {a: 1}\n", kInvalid,
       at + ".mutual_tls_verification_strategy must be a string, not a mapping"},
      {"          server_certificate: " + Block(m.cert_pem, 12), kInvalid,
       at + ": server_certificate and server_private_key go together, but server_private_key "
            "is missing"},
      {"          server_private_key: " + Block(m.key_pem, 12), kInvalid,
       "but server_certificate is missing"},
      {"          server_certificate: [a]\n", kInvalid,
       at + ".server_certificate must be a string, not a list"},
      {"          server_certificate: \"\"\n          server_private_key: k\n", kInvalid,
       at + ".server_certificate is empty"},
      {"          alpn_protocols: h2\n", kInvalid, at + ".alpn_protocols must be a list"},
      {"          alpn_protocols: [h2, \"\"]\n", kInvalid,
       at + ".alpn_protocols[1] is 0 bytes long; an ALPN protocol id is 1 to 255 bytes"},
      {"          alpn_protocols: [h2, " + std::string(256, 'x') + "]\n", kInvalid,
       at + ".alpn_protocols[1] is 256 bytes long"},
      {"          alpn_protocols: [h2, [x]]\n", kInvalid,
       at + ".alpn_protocols[1] must be a string"},
      {"          alpn_protocols: [h2, null]\n", kInvalid,
       at + ".alpn_protocols[1] must be a string, not null"},
      {"          alpn_protocols: " + seventeen + "\n", kInvalid,
       at + ".alpn_protocols has 17 entries; at most 16 are allowed"},
      {"          mutual_tls_certificate_authorities: " + JsonString(m.ca_pem) + "\n", kInvalid,
       at + ".mutual_tls_certificate_authorities must be a list, not a string"},
      {"          mutual_tls_certificate_authorities: [null]\n", kInvalid,
       at + ".mutual_tls_certificate_authorities[0] must be a string, not null"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    ExpectError(ParseTrafficPolicy(WithConfig(c.text)), c.code, c.says);
  }
}

TEST(TrafficPolicyParseTest, RefusesCertificateAuthoritiesThatAreNotOneX509Certificate) {
  const Material& m = M();
  const std::string at = "on_tcp_connect[0].actions[0].config.mutual_tls_certificate_authorities";
  const std::string cert_with_header = [&] {
    std::string s = m.ca_pem;
    s.insert(s.find('\n') + 1, "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00\n\n");
    return s;
  }();
  const std::string truncated = m.ca_pem.substr(0, m.ca_pem.size() / 2);
  // Valid base64, but not DER of a certificate.
  const std::string not_x509 =
      "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
  struct Case {
    std::vector<std::string> cas;
    std::string says;
  };
  const Case cases[] = {
      {{"hello"}, at + "[0] is not a PEM certificate: it has no -----BEGIN CERTIFICATE----- line"},
      {{m.ca_pem, "not pem"}, at + "[1] is not a PEM certificate"},
      {{m.ca_pem + m.other_ca_pem}, at + "[0] holds more than one PEM block"},
      {{m.ca_pem + m.key_pem}, at + "[0] holds more than one PEM block"},
      {{m.key_pem}, at + "[0] is a PEM 'PRIVATE KEY' block, not a CERTIFICATE"},
      {{m.ca_pem, m.key_pem}, at + "[1] is a PEM 'PRIVATE KEY' block"},
      {{not_x509}, at + "[0] is a CERTIFICATE block that does not parse as X.509"},
      {{cert_with_header}, at + "[0] has PEM headers"},
      {{truncated}, "has no -----END CERTIFICATE----- line"},
      {{m.ca_pem + "-----BEGIN CERTIFICATE-----\n!!!\n"}, at + "[0] has malformed PEM after"},
  };
  for (const auto& c : cases) {
    std::string text = R"({"on_tcp_connect":[{"actions":[{"type":"terminate-tls","config":{)"
                       R"("mutual_tls_certificate_authorities":[)";
    for (size_t i = 0; i < c.cas.size(); ++i) text += (i ? "," : "") + JsonString(c.cas[i]);
    text += "]}}]}]}";
    SCOPED_TRACE(c.says);
    ExpectError(ParseTrafficPolicy(text), ErrorCode::kPolicyInvalid, c.says);
  }
  // Explanatory text around the block is allowed, as in RFC 7468.
  auto p =
      ParseTrafficPolicy(WithConfig("          mutual_tls_certificate_authorities:\n"
                                    "            - " +
                                    Block("Root CA\n" + m.ca_pem + "\n", 14)));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(ERR_peek_error(), 0UL);
}

TEST(TrafficPolicyParseTest, RefusesBadSyntaxWithLineAndColumn) {
  ExpectError(ParseTrafficPolicy("on_tcp_connect: [\n"), ErrorCode::kPolicyInvalid,
              "the traffic policy is not valid YAML or JSON");
  ExpectError(ParseTrafficPolicy("on_tcp_connect:\n  - actions: [\n      a: b: c\n"),
              ErrorCode::kPolicyInvalid, "(line 3, column");
  ExpectError(ParseTrafficPolicy("{\n  \"on_tcp_connect\": [\n    {\"actions\": [}\n  ]\n}"),
              ErrorCode::kPolicyInvalid, "(line 3, column");
  ExpectError(ParseTrafficPolicy("on_tcp_connect: *nowhere\n"), ErrorCode::kPolicyInvalid,
              "anchor is not defined (line 1, column 17)");
  ExpectError(ParseTrafficPolicy("\"unterminated"), ErrorCode::kPolicyInvalid, "line 1");
  std::string deep = "on_tcp_connect: " + std::string(3000, '[') + std::string(3000, ']');
  ExpectError(ParseTrafficPolicy(deep), ErrorCode::kPolicyInvalid, "nested too deeply");
}

TEST(TrafficPolicyParseTest, RefusesTextOverTheSizeLimit) {
  std::string text = "on_tcp_connect: []\n#" + std::string(kMaxPolicyBytes, 'x');
  ExpectError(ParseTrafficPolicy(text), ErrorCode::kPolicyInvalid, "at most 262144 are allowed");
  // Exactly at the limit is read.
  text.resize(kMaxPolicyBytes);
  auto p = ParseTrafficPolicy(text);
  ASSERT_TRUE(p.ok()) << p.error().message;
}

TEST(TrafficPolicyParseTest, AliasesCannotExpandPastTheLimit) {
  // Explanatory text makes one valid entry ~100 KB; three references to it
  // through an alias would copy ~300 KB out of a ~100 KB document.
  std::string big = std::string(100 * 1024, 'x') + "\n" + M().ca_pem;
  std::string text = R"({"on_tcp_connect":[{"actions":[{"type":"terminate-tls","config":{)"
                     R"("mutual_tls_certificate_authorities":[&ca )" +
                     JsonString(big) + ", *ca, *ca]}}]}]}";
  ASSERT_LT(text.size(), kMaxPolicyBytes);
  ExpectError(ParseTrafficPolicy(text), ErrorCode::kPolicyInvalid,
              "on_tcp_connect[0].actions[0].config.mutual_tls_certificate_authorities[2]: the "
              "traffic policy expands (through YAML aliases)");
  // Two references fit.
  text = R"({"on_tcp_connect":[{"actions":[{"type":"terminate-tls","config":{)"
         R"("mutual_tls_certificate_authorities":[&ca )" +
         JsonString(big) + ", *ca]}}]}]}";
  auto p = ParseTrafficPolicy(text);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->terminate_tls->mutual_tls_certificate_authorities.size(), 2u);
}

TEST(TrafficPolicyParseTest, MessagesNeverQuoteThePrivateKey) {
  const Material& m = M();
  // The key is read, then a later field fails.
  std::string text = WithConfig("          server_certificate: " + Block(m.cert_pem, 12) +
                                "          server_private_key: " + Block(m.key_pem, 12) +
                                "          min_version: \"9\"\n");
  auto p = ParseTrafficPolicy(text);
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.error().message, Not(HasSubstr("PRIVATE KEY")));
  EXPECT_THAT(p.error().message, Not(HasSubstr(m.key_pem.substr(40, 20))));
  // A key of the wrong type.
  p = ParseTrafficPolicy(
      WithConfig("          server_private_key: [" + JsonString(m.key_pem) + "]\n"));
  ExpectError(p, ErrorCode::kPolicyInvalid,
              "on_tcp_connect[0].actions[0].config.server_private_key must be a string, not a "
              "list");
  EXPECT_THAT(p.error().message, Not(HasSubstr("PRIVATE KEY")));
}

// ---- The text the API shows (PolicyWithText::text) ----

TEST(TrafficPolicyTextTest, WithoutAKeyTheTextIsShownAsGiven) {
  const Material& m = M();
  for (const std::string& text : std::vector<std::string>{
           "# comment\non_tcp_connect:\n  - actions:\n      - type: terminate-tls   # tls\n",
           R"({ "on_tcp_connect" : [ {"actions": [{"type": "terminate-tls"}]} ] })",
           WithConfig("          mutual_tls_certificate_authorities:\n            - " +
                      Block(m.ca_pem, 14)),
           "", "  \n", "# only a comment\n", "on_tcp_connect: []"}) {
    auto p = ParseTrafficPolicyWithText(text);
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p->text, text);
  }
}

TEST(TrafficPolicyTextTest, JsonWithAKeyIsShownAsCompactJsonWithoutIt) {
  const Material& m = M();
  json::object config{{"server_certificate", m.cert_pem},
                      {"server_private_key", m.key_pem},
                      {"min_version", "1.3"},
                      {"alpn_protocols", json::array{"h2"}}};
  auto policy_with = [&](const json::object& c) {
    return json::object{
        {"on_tcp_connect",
         json::array{json::object{
             {"name", "tls"},
             {"actions", json::array{json::object{{"type", "terminate-tls"}, {"config", c}}}}}}}};
  };
  const std::string text =
      "{\n  \"on_tcp_connect\": " + json::serialize(policy_with(config).at("on_tcp_connect")) +
      "\n}\n";
  auto p = ParseTrafficPolicyWithText(text);
  ASSERT_TRUE(p.ok()) << p.error().message;
  ASSERT_TRUE(p->policy.terminate_tls.has_value());
  EXPECT_EQ(p->policy.terminate_tls->server_private_key, m.key_pem);  // the policy keeps it
  config.erase("server_private_key");
  EXPECT_EQ(p->text, json::serialize(policy_with(config)));
  EXPECT_THAT(p->text, Not(HasSubstr("PRIVATE KEY")));
}

TEST(TrafficPolicyTextTest, YamlWithAKeyIsShownAsYamlWithoutIt) {
  const Material& m = M();
  const std::string text =
      "# my policy\n" + WithConfig("          server_certificate: " + Block(m.cert_pem, 12) +
                                   "          server_private_key: " + Block(m.key_pem, 12) +
                                   "          min_version: \"1.3\"   # quoted\n"
                                   "          max_version: 1.3\n"
                                   "          alpn_protocols: ['h2', http/1.1]\n");
  auto p = ParseTrafficPolicyWithText(text);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->text, WithConfig("          server_certificate: " + Block(m.cert_pem, 12) +
                                "          min_version: \"1.3\"\n"
                                "          max_version: 1.3\n"
                                "          alpn_protocols:\n"
                                "            - \"h2\"\n"
                                "            - http/1.1"));
  // What it shows reads back as the same policy, but for the key.
  auto again =
      ParseTrafficPolicy(p->text + "\n          server_private_key: " + Block(m.key_pem, 12));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(TrafficPolicyToJson(*again, true), TrafficPolicyToJson(p->policy, true));

  // A YAML flow mapping is YAML, not JSON.
  const std::string flow =
      "{on_tcp_connect: [{actions: [{type: terminate-tls, config: {"
      "server_certificate: " +
      JsonString(m.cert_pem) + ", server_private_key: " + JsonString(m.key_pem) + "}}]}]}";
  p = ParseTrafficPolicyWithText(flow);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->text.rfind("on_tcp_connect:\n  - actions:\n", 0), 0u) << p->text;
  EXPECT_THAT(p->text, Not(HasSubstr("PRIVATE KEY")));
  EXPECT_THAT(p->text, HasSubstr("server_certificate: |\n"));
}

TEST(TrafficPolicyTextTest, TheWordsPrivateKeyAreNeverShown) {
  // In a comment: written again without comments.
  auto p = ParseTrafficPolicyWithText("# my PRIVATE KEY is elsewhere\non_tcp_connect: []\n");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->text, "on_tcp_connect: []");
  p = ParseTrafficPolicyWithText("# my PRIVATE KEY is elsewhere\n");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->text, "");
  // In a name: the normalized JSON, which has no names.
  p = ParseTrafficPolicyWithText(
      "on_tcp_connect:\n  - name: my PRIVATE KEY\n    actions:\n      - type: terminate-tls\n");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->text, TrafficPolicyToJson(p->policy, false));
  p = ParseTrafficPolicyWithText("on_tcp_connect:\n  - name: my PRIVATE KEY\n");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->text, "");
}

TEST(TrafficPolicyTextTest, AliasesCannotBlowUpTheShownText) {
  // One 100 KB name, named again by 40 rules: written out, 4 MB.
  const Material& m = M();
  std::string text = "on_tcp_connect:\n  - name: &n " + std::string(100 * 1024, 'x') +
                     "\n    actions:\n      - type: terminate-tls\n        config:\n"
                     "          server_certificate: " +
                     Block(m.cert_pem, 12) +
                     "          server_private_key: " + Block(m.key_pem, 12);
  for (int i = 0; i < 40; ++i) text += "  - name: *n\n";
  ASSERT_LT(text.size(), kMaxPolicyBytes);
  auto p = ParseTrafficPolicyWithText(text);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->text, TrafficPolicyToJson(p->policy, false));
}

}  // namespace
}  // namespace certgate::policy
