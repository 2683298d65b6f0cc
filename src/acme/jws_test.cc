// Pure parts of the ACME client: base64url, JWK and its thumbprint, JWS
// signatures (verified independently with OpenSSL), external account binding,
// problem documents, Retry-After, Link headers and URL policy.
#include "acme/jws.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "acme/client.h"
#include "acme/http_transport.h"
#include "acme/problem.h"
#include "pki/ossl_ptr.h"
#include "pki/testing/cert_factory.h"

namespace certgate::acme {
namespace {

namespace json = boost::json;
using pki::testing::CachedKey;
using pki::testing::TestKeyType;

std::string Str(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

json::object DecodeJsonB64(std::string_view b64) {
  auto bytes = Base64UrlDecode(b64);
  EXPECT_TRUE(bytes.has_value()) << b64;
  return json::parse(Str(bytes.value_or(std::vector<uint8_t>{}))).as_object();
}

// Verifies a JWS signature (JWS form) over signing_input with OpenSSL.
bool VerifyJwsSignature(EVP_PKEY* key, std::string_view alg, std::string_view signing_input,
                        const std::vector<uint8_t>& sig) {
  std::vector<uint8_t> der = sig;
  const EVP_MD* md = EVP_sha256();
  if (alg == "ES256" || alg == "ES384") {
    size_t half = sig.size() / 2;
    if (alg == "ES384") md = EVP_sha384();
    ECDSA_SIG* s = ECDSA_SIG_new();
    ECDSA_SIG_set0(s, BN_bin2bn(sig.data(), static_cast<int>(half), nullptr),
                   BN_bin2bn(sig.data() + half, static_cast<int>(half), nullptr));
    unsigned char* out = nullptr;
    int len = i2d_ECDSA_SIG(s, &out);
    der.assign(out, out + len);
    OPENSSL_free(out);
    ECDSA_SIG_free(s);
  }
  pki::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) != 1) return false;
  return EVP_DigestVerify(ctx.get(), der.data(), der.size(),
                          reinterpret_cast<const unsigned char*>(signing_input.data()),
                          signing_input.size()) == 1;
}

TEST(Base64UrlTest, EncodesWithoutPadding) {
  EXPECT_EQ(Base64UrlEncode(std::string_view("")), "");
  EXPECT_EQ(Base64UrlEncode(std::string_view("f")), "Zg");
  EXPECT_EQ(Base64UrlEncode(std::string_view("fo")), "Zm8");
  EXPECT_EQ(Base64UrlEncode(std::string_view("foo")), "Zm9v");
  const std::vector<uint8_t> url_chars = {0xfb, 0xff, 0xbf};
  EXPECT_EQ(Base64UrlEncode(url_chars), "-_-_");
}

TEST(Base64UrlTest, DecodesStrictly) {
  EXPECT_EQ(Str(Base64UrlDecode("Zm9v").value()), "foo");
  EXPECT_EQ(Base64UrlDecode("-_-_").value(), (std::vector<uint8_t>{0xfb, 0xff, 0xbf}));
  EXPECT_FALSE(Base64UrlDecode("Zg==").has_value());  // padding
  EXPECT_FALSE(Base64UrlDecode("+/+/").has_value());  // standard alphabet
  EXPECT_FALSE(Base64UrlDecode("Zm9v!").has_value());
}

// RFC 7638 §3.1: the example RSA key and its thumbprint.
TEST(JwkTest, ThumbprintMatchesRfc7638Example) {
  const std::string n_b64 =
      "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
      "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-"
      "65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdk"
      "t-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-"
      "kEgU8awapJzKnqDKgw";
  auto n = Base64UrlDecode(n_b64).value();
  auto e = Base64UrlDecode("AQAB").value();
  pki::BignumPtr bn_n(BN_bin2bn(n.data(), static_cast<int>(n.size()), nullptr));
  pki::BignumPtr bn_e(BN_bin2bn(e.data(), static_cast<int>(e.size()), nullptr));
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n.get());
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e.get());
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  pki::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  ASSERT_EQ(EVP_PKEY_fromdata_init(ctx.get()), 1);
  ASSERT_EQ(EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params), 1);
  pki::EvpPkeyPtr key(raw);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);

  auto jwk = JwkJson(key.get());
  ASSERT_TRUE(jwk.ok()) << jwk.error().message;
  EXPECT_EQ(*jwk, R"({"e":"AQAB","kty":"RSA","n":")" + n_b64 + R"("})");
  auto thumbprint = JwkThumbprint(key.get());
  ASSERT_TRUE(thumbprint.ok());
  EXPECT_EQ(*thumbprint, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

TEST(JwkTest, EcKeyHasPaddedCoordinatesInCanonicalOrder) {
  EVP_PKEY* key = CachedKey(TestKeyType::kEcP256);
  auto jwk = JwkJson(key);
  ASSERT_TRUE(jwk.ok());
  json::object obj = json::parse(*jwk).as_object();
  ASSERT_EQ(obj.size(), 4u);
  auto it = obj.begin();
  EXPECT_EQ(it++->key(), "crv");
  EXPECT_EQ(it++->key(), "kty");
  EXPECT_EQ(it++->key(), "x");
  EXPECT_EQ(it->key(), "y");
  EXPECT_EQ(obj["crv"], "P-256");
  EXPECT_EQ(obj["kty"], "EC");
  EXPECT_EQ(Base64UrlDecode(obj["x"].as_string()).value().size(), 32u);
  EXPECT_EQ(Base64UrlDecode(obj["y"].as_string()).value().size(), 32u);
  EXPECT_EQ(JwsAlgorithm(key).value(), "ES256");
  EXPECT_EQ(JwsAlgorithm(CachedKey(TestKeyType::kEcP384)).value(), "ES384");
  EXPECT_EQ(JwsAlgorithm(CachedKey(TestKeyType::kRsa2048)).value(), "RS256");
}

TEST(JwkTest, RefusesUnsupportedKeys) {
  auto ed = JwkJson(CachedKey(TestKeyType::kEd25519));
  ASSERT_FALSE(ed.ok());
  EXPECT_EQ(ed.error().code, ErrorCode::kKeyUnsupportedType);
  auto k1 = SignJws(CachedKey(TestKeyType::kEcSecp256k1), {"https://ca/x", "n", ""}, "{}");
  ASSERT_FALSE(k1.ok());
  EXPECT_EQ(k1.error().code, ErrorCode::kKeyUnsupportedCurve);
  EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(JwsTest, Es256WithJwkVerifies) {
  EVP_PKEY* key = CachedKey(TestKeyType::kEcP256);
  auto jws = SignJws(key, {"https://ca.test/new-acct", "nonce-1", ""}, R"({"a":1})");
  ASSERT_TRUE(jws.ok()) << jws.error().message;
  json::object obj = json::parse(*jws).as_object();
  ASSERT_EQ(obj.size(), 3u);
  std::string prot(obj["protected"].as_string());
  std::string payload(obj["payload"].as_string());
  json::object header = DecodeJsonB64(prot);
  EXPECT_EQ(header["alg"], "ES256");
  EXPECT_EQ(header["nonce"], "nonce-1");
  EXPECT_EQ(header["url"], "https://ca.test/new-acct");
  EXPECT_FALSE(header.contains("kid"));
  EXPECT_EQ(json::serialize(header["jwk"]), JwkJson(key).value());
  EXPECT_EQ(Str(Base64UrlDecode(payload).value()), R"({"a":1})");
  auto sig = Base64UrlDecode(obj["signature"].as_string()).value();
  ASSERT_EQ(sig.size(), 64u);  // raw r || s, not DER
  EXPECT_TRUE(VerifyJwsSignature(key, "ES256", prot + "." + payload, sig));
  // A different message does not verify: the check above means something.
  EXPECT_FALSE(VerifyJwsSignature(key, "ES256", prot + "." + payload + "x", sig));
}

TEST(JwsTest, PostAsGetWithKidHasEmptyPayload) {
  EVP_PKEY* key = CachedKey(TestKeyType::kEcP384);
  auto jws = SignJws(key, {"https://ca.test/order/1", "n2", "https://ca.test/acct/7"}, "");
  ASSERT_TRUE(jws.ok());
  json::object obj = json::parse(*jws).as_object();
  EXPECT_EQ(obj["payload"], "");
  std::string prot(obj["protected"].as_string());
  json::object header = DecodeJsonB64(prot);
  EXPECT_EQ(header["kid"], "https://ca.test/acct/7");
  EXPECT_FALSE(header.contains("jwk"));
  EXPECT_EQ(header["alg"], "ES384");
  auto sig = Base64UrlDecode(obj["signature"].as_string()).value();
  ASSERT_EQ(sig.size(), 96u);
  EXPECT_TRUE(VerifyJwsSignature(key, "ES384", prot + ".", sig));
}

TEST(JwsTest, Rs256Verifies) {
  EVP_PKEY* key = CachedKey(TestKeyType::kRsa2048);
  auto jws = SignJws(key, {"https://ca.test/x", "n3", "https://ca.test/acct/1"}, "{}");
  ASSERT_TRUE(jws.ok());
  json::object obj = json::parse(*jws).as_object();
  std::string signing_input =
      std::string(obj["protected"].as_string()) + "." + std::string(obj["payload"].as_string());
  EXPECT_EQ(DecodeJsonB64(obj["protected"].as_string())["alg"], "RS256");
  auto sig = Base64UrlDecode(obj["signature"].as_string()).value();
  EXPECT_EQ(sig.size(), 256u);
  EXPECT_TRUE(VerifyJwsSignature(key, "RS256", signing_input, sig));
}

TEST(JwsTest, EcdsaDerToRawPadsShortIntegers) {
  // SEQUENCE { INTEGER 1, INTEGER 0x0102 }
  const std::vector<uint8_t> der = {0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x01, 0x02};
  auto raw = EcdsaDerToRaw(der, 32);
  ASSERT_TRUE(raw.ok());
  std::vector<uint8_t> want(64, 0);
  want[31] = 0x01;
  want[62] = 0x01;
  want[63] = 0x02;
  EXPECT_EQ(*raw, want);
  EXPECT_FALSE(EcdsaDerToRaw(std::vector<uint8_t>{0x30, 0x00, 0x01}, 32).ok());
}

TEST(JwsTest, ExternalAccountBindingIsHs256OverTheAccountJwk) {
  EVP_PKEY* key = CachedKey(TestKeyType::kEcP256);
  const std::string hmac_b64 = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
  auto eab = ExternalAccountBindingJws(key, "kid-1", hmac_b64, "https://ca.test/new-acct");
  ASSERT_TRUE(eab.ok()) << eab.error().message;
  json::object obj = json::parse(*eab).as_object();
  std::string prot(obj["protected"].as_string());
  std::string payload(obj["payload"].as_string());
  json::object header = DecodeJsonB64(prot);
  EXPECT_EQ(header["alg"], "HS256");
  EXPECT_EQ(header["kid"], "kid-1");
  EXPECT_EQ(header["url"], "https://ca.test/new-acct");
  EXPECT_FALSE(header.contains("nonce"));  // RFC 8555 §7.3.4: no nonce
  EXPECT_EQ(Str(Base64UrlDecode(payload).value()), JwkJson(key).value());

  auto hmac_key = Base64UrlDecode(hmac_b64).value();
  std::string input = prot + "." + payload;
  unsigned char mac[EVP_MAX_MD_SIZE];
  size_t mac_len = 0;
  ASSERT_NE(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, hmac_key.data(),
                      hmac_key.size(), reinterpret_cast<const unsigned char*>(input.data()),
                      input.size(), mac, sizeof mac, &mac_len),
            nullptr);
  EXPECT_EQ(std::string(obj["signature"].as_string()),
            Base64UrlEncode(std::span<const uint8_t>(mac, mac_len)));

  auto bad = ExternalAccountBindingJws(key, "kid-1", "not base64url!", "https://ca.test/a");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kConfigInvalid);
}

TEST(ChallengeValueTest, KeyAuthorizationAndDns01) {
  EVP_PKEY* key = CachedKey(TestKeyType::kEcP256);
  auto ka = Client::KeyAuthorization(key, "tok-123");
  ASSERT_TRUE(ka.ok());
  EXPECT_EQ(*ka, "tok-123." + JwkThumbprint(key).value());
  unsigned char digest[32];
  unsigned int len = 0;
  ASSERT_EQ(EVP_Digest(ka->data(), ka->size(), digest, &len, EVP_sha256(), nullptr), 1);
  EXPECT_EQ(Client::Dns01TxtValue(key, "tok-123").value(),
            Base64UrlEncode(std::span<const uint8_t>(digest, len)));
  EXPECT_EQ(Client::Dns01TxtValue(key, "tok-123").value().size(), 43u);
}

TEST(ProblemTest, ParsesAndDescribes) {
  auto p = ParseProblem(R"({"type":"urn:ietf:params:acme:error:rejectedIdentifier",
      "detail":"Error creating new order :: policy forbids","status":400,
      "subproblems":[{"type":"urn:ietf:params:acme:error:caa","detail":"CAA forbids",
                      "identifier":{"type":"dns","value":"a.example"}}]})");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->TypeSuffix(), "rejectedIdentifier");
  EXPECT_EQ(p->status, 400);
  ASSERT_EQ(p->subproblems.size(), 1u);
  EXPECT_EQ(p->subproblems[0].identifier, "a.example");
  EXPECT_EQ(DescribeProblem(*p),
            "rejectedIdentifier: Error creating new order :: policy forbids "
            "(a.example: caa: CAA forbids)");
  EXPECT_FALSE(ParseProblem("not json").has_value());
  EXPECT_FALSE(ParseProblem("[1]").has_value());
  EXPECT_EQ(ParseProblem("{}")->type, "about:blank");
}

TEST(ProblemTest, ErrorCarriesTypeAndRetryAfter) {
  Problem p{std::string(kAcmeErrorPrefix) + "accountDoesNotExist", "no such account", 400, "", {}};
  Error e = ProblemError("the CA refused newOrder", p, std::nullopt);
  EXPECT_EQ(e.code, ErrorCode::kAcmeProblem);
  EXPECT_EQ(e.message, "the CA refused newOrder: accountDoesNotExist: no such account");
  EXPECT_TRUE(IsProblem(e, "accountDoesNotExist"));
  EXPECT_FALSE(IsProblem(e, "badNonce"));

  Problem limited{std::string(kAcmeErrorPrefix) + "rateLimited", "too many: try: later", 429,
                  "", {}};
  Error r = ProblemError("the CA refused newOrder", limited, std::chrono::seconds(42));
  EXPECT_EQ(r.code, ErrorCode::kAcmeRateLimited);
  EXPECT_EQ(r.retry_after, std::chrono::seconds(42));
  EXPECT_EQ(ProblemTypeOf(r), "rateLimited");

  EXPECT_EQ(ProblemTypeOf(MakeError(ErrorCode::kAcmeUnreachable, "a: b: c")), "");
  // Control characters from the CA never reach the message.
  Problem nasty{"urn:x:y", "line1\nline2\x1b[31m", 0, "", {}};
  EXPECT_EQ(ProblemError("ctx", nasty, std::nullopt).message, "ctx: y: line1 line2 [31m");
}

TEST(RetryAfterTest, SecondsAndHttpDates) {
  Time now = std::chrono::sys_days(std::chrono::year(1994) / 11 / 6) + std::chrono::hours(8) +
             std::chrono::minutes(49);  // 08:49:00Z
  EXPECT_EQ(ParseRetryAfter("120", now), std::chrono::seconds(120));
  EXPECT_EQ(ParseRetryAfter(" 7 ", now), std::chrono::seconds(7));
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now), std::chrono::seconds(37));
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 09:49:00 GMT", now), std::chrono::seconds(3600));
  EXPECT_EQ(ParseRetryAfter("Sat, 05 Nov 1994 08:49:37 GMT", now), std::chrono::seconds(0));
  EXPECT_FALSE(ParseRetryAfter("", now).has_value());
  EXPECT_FALSE(ParseRetryAfter("-5", now).has_value());
  EXPECT_FALSE(ParseRetryAfter("soon", now).has_value());
  EXPECT_FALSE(ParseRetryAfter("Sun, 31 Feb 1994 08:49:37 GMT", now).has_value());
  EXPECT_FALSE(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 UTC", now).has_value());
}

// A hostile or broken CA's Retry-After: far-future dates and huge numbers are
// capped (no overflow: Time counts nanoseconds and ends in 2262).
TEST(RetryAfterTest, FarFutureAndHugeValuesAreCapped) {
  Time now = std::chrono::sys_days(std::chrono::year(2026) / 12 / 6) + std::chrono::hours(5) +
             std::chrono::milliseconds(500);  // 05:00:00.5Z
  EXPECT_EQ(ParseRetryAfter("Wed, 09 Dec 4052 10:00:00 GMT", now), kMaxRetryAfterDelay);
  EXPECT_EQ(ParseRetryAfter("Fri, 31 Dec 9999 23:59:59 GMT", now), kMaxRetryAfterDelay);
  EXPECT_EQ(ParseRetryAfter("Sat, 01 Jan 0000 00:00:00 GMT", now), std::chrono::seconds(0));
  // Within the cap, still exact (rounded up to a whole second).
  EXPECT_EQ(ParseRetryAfter("Mon, 06 Dec 2027 05:00:00 GMT", now),
            std::chrono::seconds(365 * 24 * 3600));
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Dec 2026 05:00:01 GMT", now), std::chrono::seconds(1));
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Dec 2026 05:00:00 GMT", now), std::chrono::seconds(0));

  EXPECT_EQ(ParseRetryAfter("999999999", now), std::chrono::seconds(999'999'999));
  EXPECT_EQ(ParseRetryAfter("1000000000", now), kMaxRetryAfterDelay);
  EXPECT_EQ(ParseRetryAfter("99999999999999999999999999999999", now), kMaxRetryAfterDelay);
  EXPECT_EQ(ParseRetryAfter("0000000000000120", now), std::chrono::seconds(120));
  EXPECT_EQ(ParseRetryAfter("0", now), std::chrono::seconds(0));
  // The cap still fits when added to now.
  EXPECT_GT(now + kMaxRetryAfterDelay, now);
}

TEST(LinkHeaderTest, FindsAlternates) {
  HttpResponse r;
  r.headers = {
      {"Link", R"(<https://ca.test/dir>;rel="index")"},
      {"link", R"(<https://ca.test/cert/1/1>;rel="alternate", <https://ca.test/cert/1/2>; rel=alternate)"},
      {"Link", R"(<https://ca.test/up>;rel="up alternate")"},
  };
  EXPECT_EQ(LinksWithRel(r, "alternate"),
            (std::vector<std::string>{"https://ca.test/cert/1/1", "https://ca.test/cert/1/2",
                                      "https://ca.test/up"}));
  EXPECT_EQ(LinksWithRel(r, "index"), (std::vector<std::string>{"https://ca.test/dir"}));
  EXPECT_TRUE(LinksWithRel(r, "next").empty());
}

TEST(AcmeUrlTest, HttpsOnlyExceptLoopback) {
  auto u = ParseAcmeUrl("https://ca.test:14000/dir?x=1");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "ca.test");
  EXPECT_EQ(u->port, "14000");
  EXPECT_EQ(u->target, "/dir?x=1");
  EXPECT_EQ(ParseAcmeUrl("https://ca.test").value().target, "/");
  EXPECT_EQ(ParseAcmeUrl("https://ca.test").value().port, "443");
  EXPECT_FALSE(ParseAcmeUrl("http://127.0.0.1:80/dir").value().tls);
  EXPECT_TRUE(ParseAcmeUrl("http://localhost/dir").ok());
  auto v6 = ParseAcmeUrl("http://[::1]:8080/dir");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, "8080");
  for (const char* bad : {"http://ca.test/dir", "http://10.0.0.1/dir", "ftp://127.0.0.1/",
                          "https:///dir", "/dir", "https://user@ca.test/dir"}) {
    auto r = ParseAcmeUrl(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kConfigInvalid) << bad;
  }
  auto c = Client::Create(ClientOptions{.directory_url = "http://acme.example/dir"});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("only https://"), std::string::npos) << c.error().message;
  auto missing_ca = Client::Create(
      ClientOptions{.directory_url = "https://127.0.0.1/dir", .ca_file = "/nonexistent.pem"});
  ASSERT_FALSE(missing_ca.ok());
  EXPECT_EQ(missing_ca.error().code, ErrorCode::kConfigInvalid);
}

}  // namespace
}  // namespace certgate::acme
