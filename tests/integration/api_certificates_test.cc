// /tls_certificates over real HTTP against a running `certgate serve`:
// uploads of every accepted kind, every refused input (each leaving nothing
// written), and get, list, update, delete, and the chain view.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <functional>

#include "pki/certificate.h"
#include "pki/testing/cert_factory.h"
#include "support/api_helpers.h"
#include "support/certgate_server.h"

namespace certgate::testing {
namespace {

namespace json = boost::json;
using pki::testing::CachedKey;
using pki::testing::CertPem;
using pki::testing::CertSpec;
using pki::testing::KeyPemPkcs8;
using pki::testing::MakeChain;
using pki::testing::TestKeyType;

class CertificatesApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = CertgateServer::Start();
    ASSERT_NE(server_, nullptr);
    ASSERT_FALSE(server_->api_key().empty());
  }
  client::ApiClient Client() const { return server_->Client(); }

  // Uploads a fresh chain for name and returns the created resource.
  json::object Upload(const std::string& name, TestKeyType type = TestKeyType::kEcP256) {
    CertSpec spec;
    spec.common_name = name;
    spec.dns_names = {name};
    auto chain = MakeChain(type, spec);
    ApiResult r = Call(Client(), verb::post, "/tls_certificates",
                       UploadBody(chain.BundlePem(), KeyPemPkcs8(chain.leaf_key.get())));
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.status == 201 ? r.json.as_object() : json::object{};
  }

  std::unique_ptr<CertgateServer> server_;
};

std::string Str(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : "<missing>";
}

json::array Strings(std::initializer_list<const char*> items) {
  json::array a;
  for (const char* s : items) a.emplace_back(s);
  return a;
}

TEST_F(CertificatesApiTest, UploadReturnsEveryDerivedField) {
  CertSpec spec;
  spec.common_name = "app.example.com";
  spec.dns_names = {"app.example.com", "www.example.com"};
  spec.ips = {"192.0.2.10", "2001:db8::5"};
  spec.extended_key_usage = "serverAuth,clientAuth";
  spec.key_usage = "digitalSignature,keyEncipherment";
  spec.organization = "Example Org";
  spec.organizational_unit = "Edge";
  spec.locality = "Lyon";
  spec.province = "Rhone";
  spec.country = "FR";
  spec.serial = {0x0a, 0xbc, 0x01};
  auto chain = MakeChain(TestKeyType::kEcP256, spec);
  json::object body = UploadBody(chain.BundlePem(), KeyPemPkcs8(chain.leaf_key.get())).as_object();
  body["description"] = "main site";
  body["metadata"] = R"({"team":"edge"})";

  ApiResult r = Call(Client(), verb::post, "/tls_certificates", json::value(body));
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(r.http.Header("Content-Type"), "application/json");
  const json::object& c = r.json.as_object();
  const std::string id = Str(c, "id");
  EXPECT_EQ(id.rfind("cert_", 0), 0u);
  EXPECT_EQ(id.size(), 5u + 27u);
  EXPECT_EQ(Str(c, "uri"), server_->api_url() + "/tls_certificates/" + id);
  EXPECT_TRUE(ParseRfc3339(Str(c, "created_at")).has_value());
  EXPECT_EQ(Str(c, "description"), "main site");
  EXPECT_EQ(Str(c, "metadata"), R"({"team":"edge"})");
  EXPECT_EQ(Str(c, "certificate_pem"), CertPem(chain.leaf.get()) + CertPem(chain.intermediate.get()));
  EXPECT_EQ(Str(c, "subject_common_name"), "app.example.com");
  EXPECT_EQ(c.at("subject_alternative_names"),
            (json::object{{"dns_names", Strings({"app.example.com", "www.example.com"})},
                          {"ips", Strings({"192.0.2.10", "2001:db8::5"})}}));
  EXPECT_TRUE(c.at("issued_at").is_null());
  auto leaf_info = pki::DescribeCertificate(chain.leaf.get());
  EXPECT_EQ(Str(c, "not_before"), FormatRfc3339(leaf_info.not_before));
  EXPECT_EQ(Str(c, "not_after"), FormatRfc3339(leaf_info.not_after));
  EXPECT_EQ(c.at("key_usages"), Strings({"digital_signature", "key_encipherment"}));
  EXPECT_EQ(c.at("extended_key_usages"), Strings({"server_auth", "client_auth"}));
  EXPECT_EQ(Str(c, "private_key_type"), "ecdsa");
  EXPECT_EQ(Str(c, "issuer_common_name"),
            pki::DescribeCertificate(chain.intermediate.get()).subject_common_name);
  EXPECT_EQ(Str(c, "serial_number"), "0abc01");
  EXPECT_EQ(Str(c, "subject_organization"), "Example Org");
  EXPECT_EQ(Str(c, "subject_organizational_unit"), "Edge");
  EXPECT_EQ(Str(c, "subject_locality"), "Lyon");
  EXPECT_EQ(Str(c, "subject_province"), "Rhone");
  EXPECT_EQ(Str(c, "subject_country"), "FR");
  EXPECT_EQ(c.if_contains("private_key_pem"), nullptr);

  // GET returns the same resource.
  ApiResult got = Call(Client(), verb::get, "/tls_certificates/" + id);
  ASSERT_EQ(got.status, 200) << got.raw;
  EXPECT_EQ(got.json, r.json);
}

TEST_F(CertificatesApiTest, AcceptsRsaEcdsaAndEd25519InEveryKeyForm) {
  struct Case {
    TestKeyType type;
    bool traditional;
    const char* key_type;
  };
  for (const Case& k : {Case{TestKeyType::kRsa2048, false, "rsa"},
                        Case{TestKeyType::kRsa2048, true, "rsa"},
                        Case{TestKeyType::kEcP256, true, "ecdsa"},
                        Case{TestKeyType::kEcP384, false, "ecdsa"},
                        Case{TestKeyType::kEcP521, true, "ecdsa"},
                        Case{TestKeyType::kEd25519, false, "ed25519"}}) {
    CertSpec spec;
    spec.common_name = "k.example.com";
    spec.dns_names = {"k.example.com"};
    auto chain = MakeChain(k.type, spec);
    std::string key = k.traditional ? pki::testing::KeyPemTraditional(chain.leaf_key.get())
                                    : KeyPemPkcs8(chain.leaf_key.get());
    ApiResult r = Call(Client(), verb::post, "/tls_certificates",
                       UploadBody(chain.BundleWithRootPem(), key));
    ASSERT_EQ(r.status, 201) << k.key_type << ": " << r.raw;
    EXPECT_EQ(Str(r.json.as_object(), "private_key_type"), k.key_type);
  }
  EXPECT_EQ(CountCertificates(Client()), 6u);
}

// One refused upload: what to send and what must come back. Nothing may be
// written by any of them.
struct BadUpload {
  std::string name;
  std::function<std::string()> raw_body;
  int status;
  int code;
  std::string msg;
};

void PrintTo(const BadUpload& b, std::ostream* os) { *os << b.name; }

std::string Body(std::string_view cert, std::string_view key) {
  return json::serialize(UploadBody(cert, key));
}

// A valid chain and its key, for the cases that spoil one part.
struct Good {
  pki::testing::TestChain chain = [] {
    CertSpec spec;
    spec.common_name = "bad.example.com";
    spec.dns_names = {"bad.example.com"};
    return MakeChain(TestKeyType::kEcP256, spec);
  }();
  std::string cert = chain.BundlePem();
  std::string key = KeyPemPkcs8(chain.leaf_key.get());
};
const Good& G() {
  static const Good* good = new Good();
  return *good;
}

std::string ChainWith(const CertSpec& spec, TestKeyType type = TestKeyType::kEcP256) {
  auto chain = MakeChain(type, spec);
  return Body(chain.BundlePem(), KeyPemPkcs8(chain.leaf_key.get()));
}

// CA A and CA B signed each other, and the leaf is A's: the bundle is the
// leaf, then `cas` of {a_by_b, b_by_a, a_self} by index.
std::string CrossSignedBody(std::initializer_list<int> cas) {
  EVP_PKEY* a_key = CachedKey(TestKeyType::kEcP384);
  EVP_PKEY* b_key = CachedKey(TestKeyType::kEcP521);
  CertSpec a;
  a.common_name = "CA A";
  a.is_ca = true;
  a.extended_key_usage = std::nullopt;
  CertSpec b = a;
  b.common_name = "CA B";
  std::vector<pki::X509Ptr> certs;
  pki::X509Ptr a_self = pki::testing::IssueCertificate(a, a_key, nullptr, a_key);
  pki::X509Ptr b_self = pki::testing::IssueCertificate(b, b_key, nullptr, b_key);
  certs.push_back(pki::testing::IssueCertificate(a, a_key, b_self.get(), b_key));
  certs.push_back(pki::testing::IssueCertificate(b, b_key, a_self.get(), a_key));
  CertSpec leaf;
  leaf.common_name = "loop.example.com";
  leaf.dns_names = {"loop.example.com"};
  EVP_PKEY* leaf_key = CachedKey(TestKeyType::kEcP256);
  std::string pem = CertPem(pki::testing::IssueCertificate(leaf, leaf_key, a_self.get(), a_key).get());
  certs.push_back(std::move(a_self));
  for (int i : cas) pem += CertPem(certs[static_cast<size_t>(i)].get());
  return Body(pem, KeyPemPkcs8(leaf_key));
}

const std::vector<BadUpload>& BadUploads() {
  static const std::vector<BadUpload> cases = {
      {"EmptyBundle", [] { return Body("", G().key); }, 400, 200, "certificate_pem is empty"},
      {"WhitespaceBundle", [] { return Body(" \n\t\n", G().key); }, 400, 200, "empty"},
      {"NotPem", [] { return Body("this is not a certificate", G().key); }, 400, 201, "PEM"},
      {"OtherBlockType",
       [] { return Body(G().cert + pki::testing::PublicKeyPem(G().chain.leaf_key.get()), G().key); },
       400, 202, "PUBLIC KEY"},
      {"PrivateKeyInBundle", [] { return Body(G().cert + G().key, G().key); }, 400, 202,
       "private_key_pem"},
      {"TruncatedBase64",
       [] {
         std::string pem = CertPem(G().chain.leaf.get());
         return Body(pem.substr(0, pem.size() / 2), G().key);
       },
       400, 203, ""},
      {"NotX509",
       [] {
         return Body("-----BEGIN CERTIFICATE-----\naGVsbG8sIEkgYW0gbm90IGEgY2VydGlmaWNhdGU=\n"
                     "-----END CERTIFICATE-----\n",
                     G().key);
       },
       400, 204, "X.509"},
      {"MisorderedChain",
       [] {
         return Body(CertPem(G().chain.intermediate.get()) + CertPem(G().chain.leaf.get()), G().key);
       },
       400, 205, "2, 1"},
      {"ChainWithGap",
       [] { return Body(CertPem(G().chain.leaf.get()) + CertPem(G().chain.root.get()), G().key); },
       400, 206, "missing"},
      {"KeyDoesNotMatchLeaf",
       [] { return Body(G().cert, KeyPemPkcs8(pki::testing::MakeKey(TestKeyType::kEcP256).get())); },
       400, 258, "does not match"},
      {"EncryptedPkcs8Key",
       [] { return Body(G().cert, pki::testing::KeyPemEncryptedPkcs8(G().chain.leaf_key.get())); },
       400, 253, "encrypted"},
      {"EncryptedLegacyKey",
       [] { return Body(G().cert, pki::testing::KeyPemEncryptedLegacy(G().chain.leaf_key.get())); },
       400, 253, "encrypted"},
      {"DsaKey",
       [] { return Body(G().cert, KeyPemPkcs8(CachedKey(TestKeyType::kDsa2048))); }, 400, 254,
       "DSA"},
      {"Secp256k1Key",
       [] {
         return Body(G().cert, pki::testing::KeyPemTraditional(CachedKey(TestKeyType::kEcSecp256k1)));
       },
       400, 255, "secp256k1"},
      {"Rsa1024Key",
       [] { return Body(G().cert, KeyPemPkcs8(CachedKey(TestKeyType::kRsa1024))); }, 400, 256,
       "2048"},
      // The limits that keep one tenant from slowing the shared edge, and
      // chains that repeat or loop (docs/api.md says why each exists).
      {"Rsa8192CertificateAndKey",
       [] {
         CertSpec spec;
         spec.common_name = "big.example.com";
         return ChainWith(spec, TestKeyType::kRsa8192);
       },
       400, 256,
       "RSA keys may have at most 4096 bits, because each handshake with a larger key costs the "
       "server many times more CPU; the key of the leaf certificate (CN=big.example.com) has 8192 "
       "bits"},
      {"Rsa8192Key",
       [] { return Body(G().cert, KeyPemPkcs8(CachedKey(TestKeyType::kRsa8192))); }, 400, 256,
       "RSA keys may have at most 4096 bits"},
      {"RsaExponent3CertificateAndKey",
       [] {
         CertSpec spec;
         spec.common_name = "e3.example.com";
         return ChainWith(spec, TestKeyType::kRsa2048E3);
       },
       400, 261,
       "RSA public exponents must be odd and at least 65537, because small exponents such as 3 "
       "allow signature forgeries; the key of the leaf certificate (CN=e3.example.com) has "
       "exponent 3"},
      {"RsaExponent3Key",
       [] { return Body(G().cert, KeyPemPkcs8(CachedKey(TestKeyType::kRsa2048E3))); }, 400, 261,
       "this one has exponent 3"},
      {"LoopingChain", [] { return CrossSignedBody({0, 1}); }, 400, 214,
       "the chain loops: certificate 2 (CN=CA A) is issued by certificate 3 (CN=CA B), which is "
       "issued by certificate 2 again; a chain must end at a root or at the last intermediate: "
       "remove certificate 3"},
      {"RepeatedCertificate", [] { return CrossSignedBody({0, 0}); }, 400, 207,
       "certificates 2 and 3 are the same certificate (CN=CA A): remove certificate 3"},
      {"SameCaTwice", [] { return CrossSignedBody({0, 2}); }, 400, 207,
       "certificates 2 and 3 are both for CN=CA A with the same key (the same CA twice): remove "
       "certificate 3"},
      {"ExpiredLeaf",
       [] {
         CertSpec spec;
         spec.common_name = "old.example.com";
         spec.not_before_offset = -std::chrono::hours(24 * 10);
         spec.not_after_offset = -std::chrono::hours(24);
         return ChainWith(spec);
       },
       400, 211, "expired"},
      {"ClientOnlyLeaf",
       [] {
         CertSpec spec;
         spec.common_name = "client.example.com";
         spec.extended_key_usage = "clientAuth";
         return ChainWith(spec);
       },
       400, 213, "serverAuth"},
      {"BundleOver64KiB",
       [] { return Body(G().cert + std::string(64 * 1024, '\n'), G().key); }, 400, 208, "65536"},
      {"ElevenCertificates",
       [] {
         std::string pem;
         for (int i = 0; i < 11; ++i) pem += CertPem(G().chain.leaf.get());
         return Body(pem, G().key);
       },
       400, 209, "10"},
      {"DescriptionOver255Bytes",
       [] {
         json::object o = UploadBody(G().cert, G().key).as_object();
         o["description"] = std::string(256, 'd');
         return json::serialize(o);
       },
       400, 112, "description is 256 bytes long; the limit is 255 bytes"},
      {"MetadataOver4096Bytes",
       [] {
         json::object o = UploadBody(G().cert, G().key).as_object();
         o["metadata"] = std::string(4097, 'm');
         return json::serialize(o);
       },
       400, 112, "metadata is 4097 bytes long; the limit is 4096 bytes"},
      {"BodyOver1MiB",
       [] {
         json::object o = UploadBody(G().cert, G().key).as_object();
         o["description"] = std::string(1024 * 1024, 'x');
         return json::serialize(o);
       },
       413, 107, "1048576"},
      {"MalformedJson", [] { return std::string(R"({"certificate_pem": "x",)"); }, 400, 108,
       "not valid JSON"},
      {"NotAnObject", [] { return std::string("[]"); }, 400, 108, "JSON object"},
      {"WrongTypeCertificate",
       [] { return std::string(R"({"certificate_pem": 5, "private_key_pem": "k"})"); }, 400, 109,
       "certificate_pem must be a string, not a number"},
      {"WrongTypeDescription",
       [] {
         json::object o = UploadBody(G().cert, G().key).as_object();
         o["description"] = json::array{"a"};
         return json::serialize(o);
       },
       400, 109, "description must be a string, not an array"},
      {"UnknownField",
       [] {
         json::object o = UploadBody(G().cert, G().key).as_object();
         o["certificate_chain"] = "x";
         return json::serialize(o);
       },
       400, 110, "unknown field 'certificate_chain'"},
      {"MissingKey",
       [] { return json::serialize(json::object{{"certificate_pem", G().cert}}); }, 400, 111,
       "private_key_pem is required"},
  };
  return cases;
}

class BadUploadTest : public CertificatesApiTest,
                      public ::testing::WithParamInterface<BadUpload> {};

TEST_P(BadUploadTest, IsRefusedWithAClearMessageAndWritesNothing) {
  const BadUpload& bad = GetParam();
  Upload("existing.example.com");
  ASSERT_EQ(CountCertificates(Client()), 1u);
  ApiResult r = CallRaw(Client(), verb::post, "/tls_certificates", bad.raw_body());
  EXPECT_TRUE(IsError(r, bad.status, bad.code, bad.msg));
  EXPECT_EQ(CountCertificates(Client()), 1u);
}

INSTANTIATE_TEST_SUITE_P(Api, BadUploadTest, ::testing::ValuesIn(BadUploads()),
                         [](const auto& param_info) { return param_info.param.name; });

TEST_F(CertificatesApiTest, FreePlanCannotUpload) {
  auto free_client = server_->Client(server_->NewAccountKey("free"));
  ApiResult r = Call(free_client, verb::post, "/tls_certificates", UploadBody(G().cert, G().key));
  EXPECT_TRUE(IsError(r, 403, 115, "pay-as-you-go plan"));
  EXPECT_EQ(CountCertificates(free_client), 0u);
}

// ngrok's codes and status (403) for each way the key can be wrong; the
// whole table of ngrok's codes is api_error_codes_test.cc.
TEST_F(CertificatesApiTest, MissingOrWrongApiKeyIs403) {
  auto anonymous = server_->Client("");
  EXPECT_TRUE(
      IsError(Call(anonymous, verb::get, "/tls_certificates"), 403, "ERR_NGROK_200", "Bearer", ""));
  auto misshapen = server_->Client("cg_not-a-real-key");
  EXPECT_TRUE(IsError(Call(misshapen, verb::get, "/tls_certificates"), 403, "ERR_NGROK_202",
                      "does not look like an API key"));
  auto wrong = server_->Client("cg_" + std::string(43, 'A'));
  EXPECT_TRUE(
      IsError(Call(wrong, verb::get, "/tls_certificates"), 403, "ERR_NGROK_203", "not valid"));
  EXPECT_TRUE(IsError(Call(wrong, verb::post, "/tls_certificates", UploadBody(G().cert, G().key)),
                      403, "ERR_NGROK_203", "not valid"));
  EXPECT_TRUE(IsError(Call(anonymous, verb::get, "/tls_certificates", std::nullopt,
                           {{"Authorization", "Basic dXNlcjpwYXNz"}}),
                      403, "ERR_NGROK_201", "Bearer"));
  EXPECT_EQ(CountCertificates(Client()), 0u);
}

TEST_F(CertificatesApiTest, AnotherAccountsIdIsNotFound) {
  json::object mine = Upload("mine.example.com");
  const std::string id = Str(mine, "id");
  auto other = server_->Client(server_->NewAccountKey("payg"));
  const std::string path = "/tls_certificates/" + id;
  EXPECT_TRUE(IsError(Call(other, verb::get, path), 404, 101, id));
  EXPECT_TRUE(IsError(Call(other, verb::patch, path, json::object{{"description", "x"}}), 404, 101,
                      id));
  EXPECT_TRUE(IsError(Call(other, verb::delete_, path), 404, 101, id));
  EXPECT_EQ(CountCertificates(other), 0u);
  // Exactly like an id that never existed.
  EXPECT_TRUE(IsError(Call(Client(), verb::get, "/tls_certificates/cert_2OEmZ6CE8wZrZW8lRQVjNoFTafd"),
                      404, 101, "no TLS certificate"));
  EXPECT_TRUE(IsError(Call(Client(), verb::get, "/tls_certificates/nonsense"), 404, 101, ""));
  // Untouched for its owner.
  ApiResult still = Call(Client(), verb::get, path);
  ASSERT_EQ(still.status, 200);
  EXPECT_EQ(Str(still.json.as_object(), "description"), "");
}

TEST_F(CertificatesApiTest, ListsNewestFirstInPages) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Str(Upload("p" + std::to_string(i) + ".example.com"), "id"));
  std::vector<std::string> seen;
  std::string path = "/tls_certificates?limit=2";
  int pages = 0;
  for (;;) {
    ApiResult r = Call(Client(), verb::get, path);
    ASSERT_EQ(r.status, 200) << r.raw;
    ++pages;
    const auto& o = r.json.as_object();
    EXPECT_EQ(Str(o, "uri"), server_->api_url() + "/tls_certificates");
    for (const auto& item : o.at("tls_certificates").as_array()) seen.push_back(Str(item.as_object(), "id"));
    if (o.at("next_page_uri").is_null()) break;
    std::string next(o.at("next_page_uri").as_string());
    ASSERT_EQ(next.rfind(server_->api_url() + "/tls_certificates?before_id=", 0), 0u) << next;
    path = next.substr(server_->api_url().size());
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, std::vector<std::string>(ids.rbegin(), ids.rend()));

  // ngrok's TypeScript client spells it beforeId.
  ApiResult camel = Call(Client(), verb::get, "/tls_certificates?beforeId=" + ids[2] + "&limit=10");
  ASSERT_EQ(camel.status, 200);
  ASSERT_EQ(camel.json.at("tls_certificates").as_array().size(), 2u);
  EXPECT_EQ(Str(camel.json.at("tls_certificates").as_array()[0].as_object(), "id"), ids[1]);
  EXPECT_TRUE(camel.json.at("next_page_uri").is_null());
}

TEST_F(CertificatesApiTest, RefusesBadPagingParameters) {
  for (const char* q : {"limit=0", "limit=101", "limit=abc", "limit="}) {
    EXPECT_TRUE(IsError(Call(Client(), verb::get, std::string("/tls_certificates?") + q), 400,
                        "ERR_NGROK_233", "from 1 to 100", "limit"))
        << q;
  }
  for (const char* q : {"before_id=nope", "before_id=rd_2OEmZ6CE8wZrZW8lRQVjNoFTafd"}) {
    EXPECT_TRUE(IsError(Call(Client(), verb::get, std::string("/tls_certificates?") + q), 400,
                        "ERR_CERTGATE_113", "cert_", "before_id"))
        << q;
  }
  EXPECT_TRUE(IsError(Call(Client(), verb::get, "/tls_certificates?beforeId=nope"), 400,
                      "ERR_CERTGATE_113", "cert_", "beforeId"));
}

TEST_F(CertificatesApiTest, UpdatesDescriptionAndMetadataOnly) {
  json::object c = Upload("upd.example.com");
  const std::string id = Str(c, "id");
  const std::string path = "/tls_certificates/" + id;

  ApiResult r = Call(Client(), verb::patch, path,
                     json::object{{"id", id}, {"description", "new"}, {"metadata", "m"}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(Str(r.json.as_object(), "description"), "new");
  EXPECT_EQ(Str(r.json.as_object(), "metadata"), "m");
  EXPECT_EQ(Str(r.json.as_object(), "certificate_pem"), Str(c, "certificate_pem"));

  // Absent fields stay as they are.
  ApiResult r2 = Call(Client(), verb::patch, path, json::object{{"metadata", "m2"}});
  ASSERT_EQ(r2.status, 200) << r2.raw;
  EXPECT_EQ(Str(r2.json.as_object(), "description"), "new");
  EXPECT_EQ(Str(r2.json.as_object(), "metadata"), "m2");

  EXPECT_TRUE(IsError(Call(Client(), verb::patch, path,
                           json::object{{"id", "cert_2OEmZ6CE8wZrZW8lRQVjNoFTafd"}}),
                      400, 114, "differs"));
  EXPECT_TRUE(IsError(Call(Client(), verb::patch, path,
                           json::object{{"certificate_pem", G().cert}}),
                      400, 110, "certificate_pem"));
  EXPECT_TRUE(IsError(Call(Client(), verb::patch, path,
                           json::object{{"description", std::string(256, 'x')}}),
                      400, 112, "255"));
  ApiResult after = Call(Client(), verb::get, path);
  EXPECT_EQ(Str(after.json.as_object(), "description"), "new");
  EXPECT_EQ(Str(after.json.as_object(), "metadata"), "m2");
}

TEST_F(CertificatesApiTest, DeleteAnswers204ThenTheCertificateIsGone) {
  const std::string id = Str(Upload("del.example.com"), "id");
  ApiResult r = Call(Client(), verb::delete_, "/tls_certificates/" + id);
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.raw, "");
  EXPECT_TRUE(IsError(Call(Client(), verb::get, "/tls_certificates/" + id), 404, 101, id));
  EXPECT_TRUE(IsError(Call(Client(), verb::delete_, "/tls_certificates/" + id), 404, 101, id));
  EXPECT_EQ(CountCertificates(Client()), 0u);
}

// The SHA-256 of a certificate's DER, as the chain view shows it.
std::string Fingerprint(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  X509_digest(cert, EVP_sha256(), md, &n);
  std::string out;
  for (unsigned int i = 0; i < n; ++i) out += fmt::format("{}{:02x}", i ? ":" : "", md[i]);
  return out;
}

TEST_F(CertificatesApiTest, ChainDescribesEachCertificateLeafFirst) {
  CertSpec spec;
  spec.common_name = "chain.example.com";
  spec.dns_names = {"chain.example.com"};
  auto chain = MakeChain(TestKeyType::kEcP256, spec);
  ApiResult up = Call(Client(), verb::post, "/tls_certificates",
                      UploadBody(chain.BundleWithRootPem(), KeyPemPkcs8(chain.leaf_key.get())));
  ASSERT_EQ(up.status, 201) << up.raw;
  const std::string id = Str(up.json.as_object(), "id");

  ApiResult r = Call(Client(), verb::get, "/tls_certificates/" + id + "/chain");
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.json.at("uri"),
            json::value(server_->api_url() + "/tls_certificates/" + id + "/chain"));
  const json::array& certs = r.json.at("certificates").as_array();
  ASSERT_EQ(certs.size(), 3u);
  X509* expected[] = {chain.leaf.get(), chain.intermediate.get(), chain.root.get()};
  for (size_t i = 0; i < 3; ++i) {
    const json::object& c = certs[i].as_object();
    EXPECT_EQ(Str(c, "sha256_fingerprint"), Fingerprint(expected[i])) << i;
    EXPECT_NE(Str(c, "not_before"), "<missing>");
    EXPECT_NE(Str(c, "not_after"), "<missing>");
  }
  EXPECT_NE(Str(certs[0].as_object(), "subject").find("CN=chain.example.com"), std::string::npos);
  // Each one is issued by the next.
  EXPECT_EQ(Str(certs[0].as_object(), "issuer"), Str(certs[1].as_object(), "subject"));
  EXPECT_EQ(Str(certs[1].as_object(), "issuer"), Str(certs[2].as_object(), "subject"));
  EXPECT_EQ(Str(certs[2].as_object(), "issuer"), Str(certs[2].as_object(), "subject"));
  EXPECT_EQ(Str(certs[0].as_object(), "not_after"), Str(up.json.as_object(), "not_after"));

  EXPECT_TRUE(
      IsError(Call(Client(), verb::get, "/tls_certificates/cert_2OEmZ6CE8wZrZW8lRQVjNoFTafd/chain"),
              404, 101, "cert_2OEmZ6CE8wZrZW8lRQVjNoFTafd"));
  EXPECT_TRUE(
      IsError(CallRaw(server_->Client(""), verb::get, "/tls_certificates/" + id + "/chain", ""),
              403, "ERR_NGROK_200", ""));
  EXPECT_TRUE(IsError(Call(Client(), verb::delete_, "/tls_certificates/" + id + "/chain"), 405, 103,
                      "GET"));
}

}  // namespace
}  // namespace certgate::testing
