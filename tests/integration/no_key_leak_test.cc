// Private keys never leave: no response of any endpoint carries key
// material, and neither the SQLite files nor the server's log hold the key's
// PEM or DER bytes.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>

#include "pki/testing/cert_factory.h"
#include "support/api_helpers.h"
#include "support/certgate_server.h"

namespace certgate::testing {
namespace {

namespace json = boost::json;
using pki::testing::CertSpec;
using pki::testing::MakeChain;
using pki::testing::TestKeyType;

std::string Base64(const std::vector<uint8_t>& der) {
  std::string out(4 * ((der.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), der.data(),
                          static_cast<int>(der.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string Hex(const std::vector<uint8_t>& der) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (uint8_t b : der) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

// Every form in which a key could leak: PEM lines, DER, base64 and hex of
// the DER, in PKCS#8 and the type-specific encoding.
struct KeyForms {
  std::vector<std::string> text;   // searched in responses and logs
  std::vector<std::string> bytes;  // searched in binary files too
};

// The second line of a PEM block: base64 from inside the object.
std::string SecondPemLine(const std::string& pem) {
  size_t first = pem.find('\n');
  size_t second = pem.find('\n', first + 1);
  return pem.substr(first + 1, second - first - 1);
}

KeyForms FormsOf(EVP_PKEY* key) {
  KeyForms f;
  for (const auto& der : {pki::testing::KeyDerPkcs8(key), pki::testing::KeyDerTraditional(key)}) {
    if (der.empty()) continue;
    f.bytes.emplace_back(der.begin(), der.end());
    f.text.push_back(Base64(der).substr(16, 48));  // a window well inside the key
    f.text.push_back(Hex(der).substr(32, 64));
  }
  f.text.push_back(SecondPemLine(pki::testing::KeyPemPkcs8(key)));
  f.text.push_back("PRIVATE KEY-----");  // any PEM private key block
  f.bytes.insert(f.bytes.end(), f.text.begin(), f.text.end());
  return f;
}

bool Contains(std::string_view haystack, std::string_view needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
         haystack.end();
}

TEST(NoKeyLeakTest, NeitherResponsesNorStoreNorLogHoldKeyMaterial) {
  TempDir dir;
  const auto data = dir.path() / "data";
  auto server = CertgateServer::Start(ServerOptions::InDir(data));
  ASSERT_NE(server, nullptr);
  auto client = server->Client();

  std::vector<KeyForms> keys;
  std::vector<std::string> responses;
  auto record = [&](const ApiResult& r) {
    responses.push_back(r.raw);
    for (const auto& [k, v] : r.http.headers) responses.push_back(k + ": " + v);
  };
  std::vector<std::string> ids;
  std::vector<std::string> cert_lines;
  for (TestKeyType type : {TestKeyType::kEcP256, TestKeyType::kRsa2048, TestKeyType::kEd25519,
                           TestKeyType::kEcP384}) {
    CertSpec spec;
    spec.common_name = "leak.example.com";
    spec.dns_names = {"leak.example.com"};
    auto chain = MakeChain(type, spec, /*reuse_leaf_key=*/false);
    keys.push_back(FormsOf(chain.leaf_key.get()));
    cert_lines.push_back(SecondPemLine(pki::testing::CertPem(chain.leaf.get())));
    // Both key forms, and once with the key after the chain in the wrong field.
    ApiResult created =
        Call(client, verb::post, "/tls_certificates",
             UploadBody(chain.BundlePem(), pki::testing::KeyPemPkcs8(chain.leaf_key.get())));
    ASSERT_EQ(created.status, 201) << created.raw;
    record(created);
    ids.emplace_back(created.json.at("id").as_string());
    record(Call(client, verb::post, "/tls_certificates",
                UploadBody(chain.BundlePem() + pki::testing::KeyPemPkcs8(chain.leaf_key.get()),
                           pki::testing::KeyPemPkcs8(chain.leaf_key.get()))));
    record(Call(client, verb::post, "/tls_certificates",
                UploadBody(chain.BundlePem(), pki::testing::KeyPemPkcs8(chain.leaf_key.get()) +
                                                  "trailing garbage")));
  }
  // A terminate-tls action brings a key too: it is sealed like the others.
  {
    CertSpec spec;
    spec.common_name = "edge.example.com";
    spec.dns_names = {"edge.example.com"};
    auto chain = MakeChain(TestKeyType::kEcP256, spec, /*reuse_leaf_key=*/false);
    keys.push_back(FormsOf(chain.leaf_key.get()));
    ASSERT_EQ(Call(client, verb::post, "/reserved_domains",
                   boost::json::object{{"domain", "edge.example.com"}})
                  .status,
              201);
    boost::json::object config{{"server_certificate", chain.BundlePem()},
                               {"server_private_key",
                                pki::testing::KeyPemPkcs8(chain.leaf_key.get())}};
    ApiResult endpoint = Call(
        client, verb::post, "/endpoints",
        boost::json::object{
            {"url", "tls://edge.example.com:443"},
            {"upstream", "tcp://127.0.0.1:9"},
            {"traffic_policy",
             boost::json::serialize(boost::json::object{
                 {"on_tcp_connect",
                  boost::json::array{boost::json::object{
                      {"actions", boost::json::array{boost::json::object{
                                      {"type", "terminate-tls"}, {"config", config}}}}}}}})}});
    ASSERT_EQ(endpoint.status, 201) << endpoint.raw;
    record(endpoint);
    record(Call(client, verb::get, "/endpoints"));
    record(Call(client, verb::get, "/reserved_domains"));
  }
  record(Call(client, verb::get, "/tls_certificates"));
  for (const auto& id : ids) {
    record(Call(client, verb::get, "/tls_certificates/" + id));
    record(Call(client, verb::patch, "/tls_certificates/" + id,
                json::object{{"description", "d"}}));
  }
  record(Call(client, verb::delete_, "/tls_certificates/" + ids.front()));
  ASSERT_EQ(server->Stop(), 0);

  for (const auto& forms : keys) {
    for (const auto& r : responses) {
      for (const auto& needle : forms.text) {
        ASSERT_FALSE(Contains(r, needle)) << "a response holds key material: " << r.substr(0, 300);
      }
    }
  }
  const std::string log = ReadFile(server->stderr_path());
  ASSERT_FALSE(log.empty());
  int scanned = 0;
  bool found_certificate_in_store = false;
  for (const auto& entry : std::filesystem::directory_iterator(data)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("certgate.db", 0) != 0) continue;  // the database, its WAL and SHM
    const std::string bytes = ReadFile(entry.path());
    ++scanned;
    for (const auto& line : cert_lines) found_certificate_in_store |= Contains(bytes, line);
    for (const auto& forms : keys) {
      for (const auto& needle : forms.bytes) {
        ASSERT_FALSE(Contains(bytes, needle)) << name << " holds key material";
      }
    }
  }
  EXPECT_GE(scanned, 1);
  for (const auto& forms : keys) {
    for (const auto& needle : forms.text) {
      ASSERT_FALSE(Contains(log, needle)) << "the server log holds key material";
    }
  }

  // The scans would have found plaintext: the certificates, which are stored
  // in the clear, are found in the database files the same way.
  EXPECT_TRUE(found_certificate_in_store);
}

}  // namespace
}  // namespace certgate::testing
