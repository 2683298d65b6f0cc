// The edge's TLS posture, as real clients see it: every kind of context a
// handshake can end on (the front context with the default certificate, an
// uploaded ECDSA or RSA certificate's context, a terminate-tls policy's own
// certificate, a mutual-TLS policy) accepts in TLS 1.2 exactly the ECDHE +
// AEAD suites its key can use, and none of the CBC or static-RSA ones that
// OpenSSL would otherwise offer. testssl.sh checks the whole posture.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <future>
#include <set>
#include <sstream>

#include "pki/testing/cert_factory.h"
#include "support/api_helpers.h"
#include "support/certgate_server.h"
#include "support/edge_peers.h"

namespace certgate::testing {
namespace {

namespace json = boost::json;
using pki::testing::CertPem;
using pki::testing::CertSpec;
using pki::testing::KeyPemPkcs8;
using pki::testing::MakeChain;
using pki::testing::TestChain;
using pki::testing::TestKeyType;

// The only TLS 1.2 suites the edge may accept (docs/api.md).
const std::set<std::string> kEcdsaSuites = {"ECDHE-ECDSA-AES128-GCM-SHA256",
                                            "ECDHE-ECDSA-AES256-GCM-SHA384",
                                            "ECDHE-ECDSA-CHACHA20-POLY1305"};
const std::set<std::string> kRsaSuites = {"ECDHE-RSA-AES128-GCM-SHA256",
                                          "ECDHE-RSA-AES256-GCM-SHA384",
                                          "ECDHE-RSA-CHACHA20-POLY1305"};

// Every TLS 1.2 suite the local openssl can offer with a certificate
// (PSK and SRP suites need no certificate and are left out), at security
// level 0 so that the weak ones are offered too.
std::vector<std::string> AllTls12Suites() {
  RunResult r = RunCommand({"/usr/bin/openssl", "ciphers", "-tls1_2", "-s",
                            "ALL:COMPLEMENTOFALL:!PSK:!SRP:!aNULL:@SECLEVEL=0"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> suites;
  std::stringstream in(r.out);
  std::string name;
  while (std::getline(in, name, ':')) {
    while (!name.empty() && (name.back() == '\n' || name.back() == '\r')) name.pop_back();
    // TLS 1.3 suites are listed too; they are not chosen with -cipher.
    if (!name.empty() && name.rfind("TLS_", 0) != 0) suites.push_back(name);
  }
  return suites;
}

struct Context {
  std::string what;
  std::string sni;
  bool ecdsa = true;
  std::vector<std::string> extra_args;  // e.g. a client certificate
};

class EdgeTlsPostureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = CertgateServer::Start();
    ASSERT_NE(server_, nullptr);
    client_ = std::make_unique<client::ApiClient>(server_->Client());
  }

  TestChain Chain(TestKeyType type, const std::string& name, uint8_t serial) {
    CertSpec spec;
    spec.common_name = name;
    spec.dns_names = {name};
    spec.serial = {serial};
    return MakeChain(type, spec, /*reuse_leaf_key=*/false);
  }
  void Reserve(const std::string& domain, const TestChain& chain) {
    ApiResult up = Call(*client_, verb::post, "/tls_certificates",
                        UploadBody(chain.BundlePem(), KeyPemPkcs8(chain.leaf_key.get())));
    ASSERT_EQ(up.status, 201) << up.raw;
    ApiResult r = Call(*client_, verb::post, "/reserved_domains",
                       json::object{{"domain", domain}, {"certificate_id", up.json.at("id")}});
    ASSERT_EQ(r.status, 201) << r.raw;
  }
  void TlsEndpoint(const std::string& host, uint16_t upstream_port, json::object config) {
    json::object policy{
        {"on_tcp_connect",
         json::array{json::object{
             {"actions",
              json::array{json::object{{"type", "terminate-tls"}, {"config", config}}}}}}}};
    ApiResult r = Call(*client_, verb::post, "/endpoints",
                       json::object{{"url", "tls://" + host + ":443"},
                                    {"upstream", fmt::format("tcp://127.0.0.1:{}", upstream_port)},
                                    {"traffic_policy", json::serialize(policy)}});
    ASSERT_EQ(r.status, 201) << r.raw;
  }
  // The serial the edge presents for sni, once the published state has it.
  void WaitForSerial(const std::string& sni, const std::string& serial,
                     const TlsClientOptions& extra = {}) {
    TlsClientOptions options = extra;
    options.sni = sni;
    for (int i = 0; i < 300; ++i) {
      std::string error;
      auto c = TlsClient::Connect(server_->https_port(), options, &error);
      if (c && c->PeerSerial() == serial) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << sni << " never served serial " << serial;
  }
  std::string WriteTemp(const std::string& name, const std::string& data) {
    auto path = dir_.path() / name;
    WriteFile(path, data);
    return path.string();
  }

  // The suite `openssl s_client -tls1_2 -cipher suite` negotiated with the
  // context behind c, or "" when the handshake failed.
  std::string Negotiate(const Context& c, const std::string& suite) {
    std::vector<std::string> argv = {"/usr/bin/openssl", "s_client",  "-connect",
                                     fmt::format("127.0.0.1:{}", server_->https_port()),
                                     "-tls1_2",          "-cipher",   suite + ":@SECLEVEL=0"};
    if (c.sni.empty()) {
      argv.push_back("-noservername");
    } else {
      argv.insert(argv.end(), {"-servername", c.sni});
    }
    argv.insert(argv.end(), c.extra_args.begin(), c.extra_args.end());
    RunResult r = RunCommand(argv, {}, std::string("Q\n"), std::chrono::seconds(20));
    const std::string marker = "New, TLSv1.2, Cipher is ";
    size_t at = r.out.find(marker);
    if (r.exit_code != 0 || at == std::string::npos) return "";
    size_t end = r.out.find('\n', at);
    return r.out.substr(at + marker.size(), end - at - marker.size());
  }

  TempDir dir_;
  std::unique_ptr<CertgateServer> server_;
  std::unique_ptr<client::ApiClient> client_;
};

TEST_F(EdgeTlsPostureTest, EveryContextAcceptsOnlyForwardSecretAeadSuitesInTls12) {
#ifdef CERTGATE_SANITIZED
  // 456 handshakes that only read configuration (half a minute even
  // unsanitized); the sanitized run sees handshakes in every other edge test.
  GTEST_SKIP() << "run in the normal build only";
#endif
  TcpEchoServer echo;
  Reserve("ecdsa.example.com", Chain(TestKeyType::kEcP256, "ecdsa.example.com", 0x21));
  Reserve("rsa.example.com", Chain(TestKeyType::kRsa2048, "rsa.example.com", 0x22));
  // terminate-tls with the endpoint's own (RSA) certificate, over the
  // domain's (ECDSA) one.
  Reserve("pinned.example.com", Chain(TestKeyType::kEcP256, "pinned.example.com", 0x26));
  TestChain pinned = Chain(TestKeyType::kRsa2048, "pinned.example.com", 0x23);
  TlsEndpoint("pinned.example.com", echo.port(),
              json::object{{"server_certificate", pinned.BundlePem()},
                           {"server_private_key", KeyPemPkcs8(pinned.leaf_key.get())}});
  // Mutual TLS under the domain's (ECDSA) certificate.
  Reserve("mtls.example.com", Chain(TestKeyType::kEcP256, "mtls.example.com", 0x24));
  CertSpec client_spec;
  client_spec.common_name = "client";
  client_spec.extended_key_usage = "clientAuth";
  TestChain client_chain = MakeChain(TestKeyType::kEcP256, client_spec, false);
  TlsEndpoint("mtls.example.com", echo.port(),
              json::object{{"mutual_tls_certificate_authorities",
                            json::array{CertPem(client_chain.root.get())}}});
  // s_client sends only the first certificate of -cert; the intermediate
  // goes with -cert_chain.
  const std::string client_cert = WriteTemp("client.pem", CertPem(client_chain.leaf.get()));
  const std::string client_chain_file =
      WriteTemp("client-chain.pem", CertPem(client_chain.intermediate.get()));
  const std::string client_key = WriteTemp("client.key", KeyPemPkcs8(client_chain.leaf_key.get()));

  WaitForSerial("ecdsa.example.com", "21");
  WaitForSerial("rsa.example.com", "22");
  WaitForSerial("pinned.example.com", "23");
  WaitForSerial("mtls.example.com", "24",
                {.client_cert_pem = client_chain.BundlePem(),
                 .client_key_pem = KeyPemPkcs8(client_chain.leaf_key.get())});

  const std::vector<Context> contexts = {
      {"the front context (default certificate, no SNI)", "", true, {}},
      {"the front context (default certificate, unknown name)", "unknown.test", true, {}},
      {"an uploaded ECDSA certificate", "ecdsa.example.com", true, {}},
      {"an uploaded RSA certificate", "rsa.example.com", false, {}},
      {"a terminate-tls certificate", "pinned.example.com", false, {}},
      {"mutual TLS",
       "mtls.example.com",
       true,
       {"-cert", client_cert, "-cert_chain", client_chain_file, "-key", client_key}},
  };
  const std::vector<std::string> suites = AllTls12Suites();
  ASSERT_GT(suites.size(), 20u) << "openssl offers too few suites to make this test mean much";
  ASSERT_TRUE(std::find(suites.begin(), suites.end(), "AES128-SHA") != suites.end());
  ASSERT_TRUE(std::find(suites.begin(), suites.end(), "ECDHE-RSA-AES128-SHA") != suites.end());

  for (const Context& c : contexts) {
    const std::set<std::string>& allowed = c.ecdsa ? kEcdsaSuites : kRsaSuites;
    // Eight s_client runs at once: each is mostly process start-up.
    std::vector<std::future<std::pair<std::string, std::string>>> runs;
    auto check = [&] {
      for (auto& f : runs) {
        auto [offered, got] = f.get();
        if (allowed.count(offered) != 0) {
          EXPECT_EQ(got, offered) << c.what << ": an allowed suite was refused";
        } else {
          EXPECT_EQ(got, "") << c.what << ": " << offered << " was accepted";
        }
      }
      runs.clear();
    };
    for (const std::string& suite : suites) {
      runs.push_back(std::async(std::launch::async, [this, &c, suite] {
        return std::make_pair(suite, Negotiate(c, suite));
      }));
      if (runs.size() == 8) check();
    }
    check();
  }
}

// testssl.sh (Debian's package) against an uploaded RSA certificate's
// context, where OpenSSL's defaults used to come back: no vulnerability,
// and no suite without forward secrecy. It takes about a minute, and the
// posture is the same code in the sanitized build: run once.
TEST_F(EdgeTlsPostureTest, TestsslFindsNoVulnerabilityAndNoSuiteWithoutForwardSecrecy) {
#ifdef CERTGATE_SANITIZED
  GTEST_SKIP() << "run in the normal build only";
#endif
  Reserve("rsa.example.com", Chain(TestKeyType::kRsa2048, "rsa.example.com", 0x25));
  WaitForSerial("rsa.example.com", "25");
  const std::string report = (dir_.path() / "testssl.json").string();
  RunResult r = RunCommand({"/usr/bin/testssl", "--fast", "-p", "-s", "-f", "-U", "--quiet",
                            "--color", "0", "--warnings", "off", "--nodns", "none", "--ip",
                            "127.0.0.1", "--jsonfile-pretty", report,
                            fmt::format("rsa.example.com:{}", server_->https_port())},
                           {}, std::nullopt, std::chrono::seconds(280));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const json::value doc = json::parse(ReadFile(report));
  const json::object& scan = doc.at("scanResult").as_array().at(0).as_object();
  // It scanned the certificate asked for (SNI), not the default one.
  EXPECT_NE(r.out.find("rsa.example.com"), std::string::npos);
  size_t vulnerabilities = 0;
  for (const auto& f : scan.at("vulnerabilities").as_array()) {
    const std::string id(f.at("id").as_string());
    const std::string severity(f.at("severity").as_string());
    const std::string finding(f.at("finding").as_string());
    ++vulnerabilities;
    // OpenSSL 3 cannot offer RC4 to check it; the cipher lists below show
    // no RC4 (it is among LOW and AVERAGE) is accepted.
    if (id == "RC4" && finding.find("not supported by local OpenSSL") != std::string::npos) {
      continue;
    }
    EXPECT_TRUE(severity == "OK" || severity == "INFO") << id << " " << severity << ": " << finding;
  }
  EXPECT_GE(vulnerabilities, 15u) << "testssl checked too little";
  for (const auto& f : scan.at("ciphers").as_array()) {
    const std::string id(f.at("id").as_string());
    const std::string finding(f.at("finding").as_string());
    if (id == "cipherlist_STRONG") {
      EXPECT_EQ(finding.rfind("offered", 0), 0u) << finding;
    } else {
      EXPECT_EQ(finding, "not offered") << id;
    }
  }
  bool fs_offered = false;
  for (const auto& f : scan.at("pfs").as_array()) {
    const std::string id(f.at("id").as_string());
    const std::string finding(f.at("finding").as_string());
    if (id == "PFS" || id == "FS") fs_offered = finding.rfind("offered", 0) == 0;
    if (id == "PFS_ciphers" || id == "FS_ciphers") {
      std::stringstream suites(finding);
      std::string suite;
      while (suites >> suite) {
        if (suite.rfind("TLS_", 0) == 0) continue;  // TLS 1.3: all AEAD
        EXPECT_EQ(suite.rfind("ECDHE-RSA-", 0), 0u) << suite;
        EXPECT_TRUE(suite.find("-GCM-") != std::string::npos ||
                    suite.find("CHACHA20") != std::string::npos)
            << suite << " is not an AEAD suite";
      }
    }
  }
  EXPECT_TRUE(fs_offered);
}

}  // namespace
}  // namespace certgate::testing
