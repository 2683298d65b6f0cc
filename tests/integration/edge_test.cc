// The edge against real clients (openssl s_client, curl, an in-process
// OpenSSL client) and real upstreams: certificate selection by SNI,
// proxying, pass-through, terminate-tls with mTLS, live updates.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

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

// Sanitizers slow everything down several times; timing bounds scale.
#ifdef CERTGATE_SANITIZED
constexpr int kSlowdown = 5;
#else
constexpr int kSlowdown = 1;
#endif

TestChain ChainFor(std::vector<std::string> names, std::vector<uint8_t> serial,
                   std::string common_name = "") {
  CertSpec spec;
  spec.common_name = common_name.empty() ? names.front() : common_name;
  spec.dns_names = std::move(names);
  spec.serial = std::move(serial);
  return MakeChain(TestKeyType::kEcP256, spec, /*reuse_leaf_key=*/false);
}

class EdgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = CertgateServer::Start();
    ASSERT_NE(server_, nullptr);
    client_ = std::make_unique<client::ApiClient>(server_->Client());
  }

  std::string UploadChain(const TestChain& chain) {
    ApiResult r = Call(*client_, verb::post, "/tls_certificates",
                       UploadBody(chain.BundlePem(), KeyPemPkcs8(chain.leaf_key.get())));
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.status == 201 ? std::string(r.json.at("id").as_string()) : "";
  }
  std::string Reserve(const std::string& domain, const std::string& cert_id = "") {
    json::object body{{"domain", domain}};
    if (!cert_id.empty()) body["certificate_id"] = cert_id;
    ApiResult r = Call(*client_, verb::post, "/reserved_domains", body);
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.status == 201 ? std::string(r.json.at("id").as_string()) : "";
  }
  std::string AddEndpoint(const std::string& url, const std::string& upstream,
                          const std::string& policy = "") {
    json::object body{{"url", url}, {"upstream", upstream}};
    if (!policy.empty()) body["traffic_policy"] = policy;
    ApiResult r = Call(*client_, verb::post, "/endpoints", body);
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.status == 201 ? std::string(r.json.at("id").as_string()) : "";
  }
  // Waits until new handshakes see the published state (the snapshot is
  // rebuilt right after each API write; this only absorbs scheduling).
  void WaitForSerial(const std::string& sni, const std::string& serial) {
    for (int i = 0; i < 200; ++i) {
      std::string error;
      auto c = TlsClient::Connect(server_->https_port(), {.sni = sni}, &error);
      if (c && c->PeerSerial() == serial) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << sni << " never served serial " << serial;
  }
  // Waits until requests for an https endpoint's host reach its upstream
  // (a TestUpstream). A domain's certificate is served, with 404s, as soon
  // as the domain exists, so WaitForSerial alone can return before the
  // endpoint made in a later API call has reached the edge.
  void WaitForEndpoint(const std::string& host) {
    for (int i = 0; i < 200; ++i) {
      std::string error;
      auto c = TlsClient::Connect(server_->https_port(), {.sni = host}, &error);
      if (c && c->Http("GET", "/echo", host).status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << "requests for " << host << " never reached its endpoint";
  }
  // An https endpoint for host to upstream, under a domain with its own
  // certificate (the given serial); returns once requests reach upstream.
  TestChain ProxiedDomain(const std::string& host, uint8_t serial, const TestUpstream& upstream) {
    TestChain chain = ChainFor({host}, {serial});
    Reserve(host, UploadChain(chain));
    AddEndpoint("https://" + host, upstream.url());
    WaitForSerial(host, fmt::format("{:02x}", serial));
    WaitForEndpoint(host);
    return chain;
  }
  std::string WriteTemp(const std::string& name, const std::string& data) {
    auto path = dir_.path() / name;
    WriteFile(path, data);
    return path.string();
  }

  TempDir dir_;
  std::unique_ptr<CertgateServer> server_;
  std::unique_ptr<client::ApiClient> client_;
};

TEST_F(EdgeTest, SelectsTheCertificateByServerName) {
  TestChain exact = ChainFor({"app.example.com"}, {0x0a, 0x01});
  TestChain wild = ChainFor({"*.example.com"}, {0x0b, 0x02});
  TestChain pinned = ChainFor({"pinned.example.com"}, {0x0c, 0x03});
  Reserve("app.example.com", UploadChain(exact));
  Reserve("*.example.com", UploadChain(wild));
  TestUpstream upstream;
  AddEndpoint("https://pinned.example.com", upstream.url(),
              json::serialize(json::object{
                  {"on_tcp_connect",
                   json::array{json::object{
                       {"actions", json::array{json::object{
                                       {"type", "terminate-tls"},
                                       {"config", json::object{
                                                      {"server_certificate", pinned.BundlePem()},
                                                      {"server_private_key",
                                                       KeyPemPkcs8(pinned.leaf_key.get())}}}}}}}}}}));
  WaitForSerial("pinned.example.com", "0c03");
  const uint16_t port = server_->https_port();
  const std::string default_serial = OpensslServedSerial(port, "");
  ASSERT_FALSE(default_serial.empty());

  EXPECT_EQ(OpensslServedSerial(port, "app.example.com"), "0a01") << "exact";
  EXPECT_EQ(OpensslServedSerial(port, "APP.Example.COM"), "0a01") << "case-insensitive";
  EXPECT_EQ(OpensslServedSerial(port, "www.example.com"), "0b02") << "wildcard";
  EXPECT_EQ(OpensslServedSerial(port, "unknown.test"), default_serial) << "unknown name";
  EXPECT_EQ(OpensslServedSerial(port, "a.b.example.com"), default_serial)
      << "two labels under a wildcard";
  EXPECT_EQ(OpensslServedSerial(port, "example.com"), default_serial) << "a wildcard's own base";
  EXPECT_EQ(OpensslServedSerial(port, "pinned.example.com"), "0c03") << "terminate-tls override";
  EXPECT_NE(default_serial, "0a01");
  EXPECT_NE(default_serial, "0b02");

  // The default certificate is the service's own, for its base domain.
  std::string error;
  auto no_sni = TlsClient::Connect(port, {}, &error);
  ASSERT_NE(no_sni, nullptr) << error;
  EXPECT_EQ(no_sni->PeerCommonName(), "certgate.localhost");
}

TEST_F(EdgeTest, ProxiesHttpsToTheUpstream) {
  TestUpstream upstream;
  const TestChain chain = ProxiedDomain("app.example.com", 0x01, upstream);
  const std::string port = std::to_string(server_->https_port());
  const std::string cacert = WriteTemp("root.pem", CertPem(chain.root.get()));
  const std::string base = "https://app.example.com:" + port;
  const std::vector<std::string> curl = {"/usr/bin/curl", "-sS", "--max-time", "30", "--resolve",
                                         "app.example.com:" + port + ":127.0.0.1", "--cacert",
                                         cacert};

  // GET, with the forwarding headers.
  auto get = curl;
  get.push_back(base + "/echo?x=1");
  RunResult r = RunCommand(get);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json::value echo = json::parse(r.out);
  EXPECT_EQ(echo.at("method"), "GET");
  EXPECT_EQ(echo.at("target"), "/echo?x=1");
  const auto& headers = echo.at("headers").as_object();
  EXPECT_EQ(headers.at("X-Forwarded-Proto"), "https");
  EXPECT_EQ(headers.at("X-Forwarded-For"), "127.0.0.1");
  EXPECT_EQ(headers.at("X-Forwarded-Host"), json::value("app.example.com:" + port));

  // POST of 10 MiB.
  std::string big(10 * 1024 * 1024, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 2654435761u) >> 13);
  const std::string body_file = WriteTemp("big.bin", big);
  auto post = curl;
  post.insert(post.end(), {"--data-binary", "@" + body_file, "-H",
                           "Content-Type: application/octet-stream", base + "/echo"});
  post.insert(post.end() - 1, {"-H", "Expect: 100-continue", "-w", "\n%{time_total}"});
  r = RunCommand(post, {}, std::nullopt, std::chrono::seconds(60));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const size_t last_line = r.out.rfind('\n');
  // curl waits a second for "100 Continue" before sending anyway.
  EXPECT_LT(std::stod(r.out.substr(last_line + 1)), 1.0 * kSlowdown)
      << "the edge did not answer Expect";
  echo = json::parse(r.out.substr(0, last_line));
  EXPECT_EQ(echo.at("body_length").as_int64(), static_cast<int64_t>(big.size()));
  RunResult local = RunCommand({"/usr/bin/sha256sum", body_file});
  EXPECT_EQ(std::string(echo.at("body_sha256").as_string()), local.out.substr(0, 64));

  // A chunked response passes through whole.
  auto chunked = curl;
  chunked.insert(chunked.end(), {"-D", "-", base + "/chunked?n=50"});
  r = RunCommand(chunked);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Transfer-Encoding: chunked"), std::string::npos) << r.out.substr(0, 300);
  EXPECT_NE(r.out.find("chunk 0\n"), std::string::npos);
  EXPECT_NE(r.out.find("chunk 49\n"), std::string::npos);

  // Keep-alive: several requests on one TLS connection reach the upstream.
  std::string error;
  auto tls = TlsClient::Connect(server_->https_port(), {.sni = "app.example.com"}, &error);
  ASSERT_NE(tls, nullptr) << error;
  EXPECT_EQ(tls->Alpn(), "");
  for (int i = 0; i < 3; ++i) {
    auto reply = tls->Http("GET", "/echo", "app.example.com");
    EXPECT_EQ(reply.status, 200) << reply.error;
  }
}

TEST_F(EdgeTest, RelaysInformationalResponsesBeforeTheFinalOne) {
  TestUpstream upstream;
  ProxiedDomain("hints.example.com", 0x03, upstream);
  auto exchange = [&](const std::string& requests) {
    std::string error;
    auto tls = TlsClient::Connect(server_->https_port(), {.sni = "hints.example.com"}, &error);
    EXPECT_NE(tls, nullptr) << error;
    if (!tls || !tls->Write(requests)) return std::string();
    return tls->Read(1 << 20);  // up to the edge's close
  };
  // Two requests on one connection: the upstream sends two 103s, then the
  // first 200; the second request gets its own 200, not the first's.
  std::string got = exchange(
      "GET /early-hints HTTP/1.1\r\nHost: hints.example.com\r\n\r\n"
      "GET /echo?second HTTP/1.1\r\nHost: hints.example.com\r\nConnection: close\r\n\r\n");
  const size_t hint1 = got.find("HTTP/1.1 103");
  const size_t hint2 = hint1 == std::string::npos ? hint1 : got.find("HTTP/1.1 103", hint1 + 1);
  const size_t first = got.find(R"("target":"/early-hints")");
  const size_t second = got.find(R"("target":"/echo?second")");
  ASSERT_NE(hint2, std::string::npos) << got;
  EXPECT_NE(got.find("Link: </1.js>; rel=preload"), std::string::npos) << got;
  ASSERT_NE(first, std::string::npos) << got;
  ASSERT_NE(second, std::string::npos) << got;
  EXPECT_LT(hint2, first);
  EXPECT_LT(first, second);
  // HTTP/1.0 clients get only the final response.
  got = exchange("GET /early-hints HTTP/1.0\r\nHost: hints.example.com\r\n\r\n");
  EXPECT_EQ(got.find(" 103 "), std::string::npos) << got;
  EXPECT_EQ(got.rfind("HTTP/1.0 200", 0), 0u) << got;
  // An upstream that never stops sending them gets a 502 after 16.
  got = exchange("GET /early-hints?n=40 HTTP/1.1\r\nHost: hints.example.com\r\n\r\n");
  size_t hints = 0;
  for (size_t at = got.find(" 103 "); at != std::string::npos; at = got.find(" 103 ", at + 1)) {
    ++hints;
  }
  EXPECT_EQ(hints, 16u);
  EXPECT_NE(got.find("HTTP/1.1 502"), std::string::npos) << got;
  EXPECT_NE(got.find("too many informational responses"), std::string::npos) << got;
}

TEST_F(EdgeTest, PassesWebSocketsThrough) {
  TestUpstream upstream;
  ProxiedDomain("ws.example.com", 0x02, upstream);
  std::string error;
  auto tls = TlsClient::Connect(server_->https_port(),
                                {.sni = "ws.example.com", .alpn = {"http/1.1"}}, &error);
  ASSERT_NE(tls, nullptr) << error;
  EXPECT_EQ(tls->Alpn(), "http/1.1");
  auto echoed = tls->WebSocketEcho("ws.example.com", "hello through the edge");
  ASSERT_TRUE(echoed.has_value());
  EXPECT_EQ(*echoed, "hello through the edge");
}

TEST_F(EdgeTest, AnswersUnknownNamesWith404AndRedirectsPlainHttp) {
  std::string error;
  auto tls = TlsClient::Connect(server_->https_port(), {.sni = "nobody.example.org"}, &error);
  ASSERT_NE(tls, nullptr) << error;
  auto reply = tls->Http("GET", "/", "nobody.example.org");
  EXPECT_EQ(reply.status, 404);
  EXPECT_NE(reply.body.find("no endpoint serves nobody.example.org"), std::string::npos);

  RunResult r = RunCommand({"/usr/bin/curl", "-sS", "-o", "/dev/null", "-w",
                            "%{http_code} %{redirect_url}", "-H", "Host: app.example.com",
                            "http://127.0.0.1:" + std::to_string(server_->http_port()) + "/a?b=c"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "308 https://app.example.com/a?b=c");
}

TEST_F(EdgeTest, PassesTlsThroughToAnUpstreamThatTerminatesIt) {
  Reserve("*.example.com");
  // The upstream is openssl s_server with its own certificate.
  TestChain own = ChainFor({"pass.example.com"}, {0x0d, 0x0d});
  const std::string cert = WriteTemp("upstream.pem", own.BundlePem());
  const std::string key = WriteTemp("upstream.key", KeyPemPkcs8(own.leaf_key.get()));
  Process s_server({"/usr/bin/openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", cert,
                    "-key", key, "-www"},
                   {}, dir_.path() / "s_server.log");
  auto accept = s_server.WaitForLine("ACCEPT", std::chrono::seconds(10));
  ASSERT_TRUE(accept) << ReadFile(dir_.path() / "s_server.log");
  const std::string upstream_port = accept->substr(accept->rfind(':') + 1);
  AddEndpoint("tls://pass.example.com:443", "tcp://127.0.0.1:" + upstream_port);

  // The edge hands the untouched connection over: the client sees the
  // upstream's certificate, and its HTTP reaches s_server.
  std::string error;
  std::unique_ptr<TlsClient> tls;
  for (int i = 0; i < 200 && !(tls && tls->PeerSerial() == "0d0d"); ++i) {
    tls = TlsClient::Connect(server_->https_port(), {.sni = "pass.example.com"}, &error);
    if (!tls || tls->PeerSerial() != "0d0d") std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_NE(tls, nullptr) << error;
  EXPECT_EQ(tls->PeerSerial(), "0d0d");
  ASSERT_TRUE(tls->Write("GET / HTTP/1.0\r\n\r\n"));
  std::string page = tls->Read(200);
  EXPECT_NE(page.find("HTTP/1.0 200 ok"), std::string::npos) << page;
  tls.reset();  // s_server serves one connection at a time
  EXPECT_EQ(OpensslServedSerial(server_->https_port(), "pass.example.com"), "0d0d");
}

TEST_F(EdgeTest, TerminatesTlsEndpointsWithMutualTls) {
  TestChain server_chain = ChainFor({"*.example.com"}, {0x0e});
  Reserve("*.example.com", UploadChain(server_chain));
  // The CA clients must present certificates from, and one such client.
  CertSpec client_spec;
  client_spec.common_name = "client one";
  client_spec.extended_key_usage = "clientAuth";
  TestChain client_chain = MakeChain(TestKeyType::kEcP256, client_spec, false);
  // A client certificate of the same shape from a CA of its own (MakeChain
  // reuses CA keys, so build this one by hand).
  CertSpec stranger_spec = client_spec;
  stranger_spec.common_name = "stranger";
  auto stranger_key = pki::testing::MakeKey(TestKeyType::kEcP256);
  auto stranger_cert =
      pki::testing::IssueCertificate(stranger_spec, stranger_key.get(), nullptr, stranger_key.get());

  TcpEchoServer echo;
  json::object config{{"mutual_tls_certificate_authorities",
                       json::array{CertPem(client_chain.root.get())}},
                      {"mutual_tls_verification_strategy", "require-and-verify"}};
  // The CA list holds the root; clients send leaf and intermediate.
  AddEndpoint("tls://secure.example.com:443", "tcp://127.0.0.1:" + std::to_string(echo.port()),
              json::serialize(json::object{
                  {"on_tcp_connect",
                   json::array{json::object{
                       {"actions", json::array{json::object{{"type", "terminate-tls"},
                                                            {"config", config}}}}}}}}));
  const uint16_t port = server_->https_port();
  auto exchange = [&](const TlsClientOptions& options) -> std::string {
    std::string error;
    auto tls = TlsClient::Connect(port, options, &error);
    if (!tls) return "refused: " + error;
    if (!tls->Write("ping\n")) return "refused on write";
    std::string got = tls->Read(5);
    return got.size() == 5 ? got : "refused after the handshake";
  };
  const TlsClientOptions trusted = {.sni = "secure.example.com",
                                    .client_cert_pem = client_chain.BundlePem(),
                                    .client_key_pem = KeyPemPkcs8(client_chain.leaf_key.get())};
  // The name was served (by its domain's certificate, with HTTP) before the
  // endpoint existed: wait until the endpoint is what new connections reach.
  bool echoed = false;
  for (int i = 0; i < 200 && !echoed; ++i) {
    echoed = exchange(trusted) == "ping\n";
    if (!echoed) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(echoed) << "the endpoint never reached the edge";
  std::string error;
  auto presented = TlsClient::Connect(port, trusted, &error);
  ASSERT_NE(presented, nullptr) << error;
  EXPECT_EQ(presented->PeerSerial(), "0e");

  EXPECT_EQ(exchange({.sni = "secure.example.com"}).substr(0, 7), "refused")
      << "no client certificate";
  EXPECT_EQ(exchange({.sni = "secure.example.com",
                      .client_cert_pem = CertPem(stranger_cert.get()),
                      .client_key_pem = KeyPemPkcs8(stranger_key.get())})
                .substr(0, 7),
            "refused")
      << "a certificate from another CA";
  EXPECT_EQ(exchange(trusted), "ping\n");
  // Also over TLS 1.2, where the client certificate is part of the handshake.
  TlsClientOptions trusted12 = trusted;
  trusted12.max_version = TLS1_2_VERSION;
  EXPECT_EQ(exchange(trusted12), "ping\n");
  EXPECT_EQ(exchange({.sni = "secure.example.com", .max_version = TLS1_2_VERSION}).substr(0, 7),
            "refused");
}

TEST_F(EdgeTest, ServesAReplacedCertificateWithin100msWithoutDroppingConnections) {
  TestChain first = ChainFor({"live.example.com"}, {0x11});
  TestChain second = ChainFor({"live.example.com"}, {0x22});
  const std::string domain_id = Reserve("live.example.com", UploadChain(first));
  const std::string second_id = UploadChain(second);
  TestUpstream upstream;
  AddEndpoint("https://live.example.com", upstream.url());
  WaitForSerial("live.example.com", "11");
  WaitForEndpoint("live.example.com");

  std::string error;
  auto before = TlsClient::Connect(server_->https_port(), {.sni = "live.example.com"}, &error);
  ASSERT_NE(before, nullptr) << error;
  ASSERT_EQ(before->Http("GET", "/echo", "live.example.com").status, 200);

  ApiResult patched = Call(*client_, verb::patch, "/reserved_domains/" + domain_id,
                           json::object{{"certificate_id", second_id}});
  const auto changed_at = std::chrono::steady_clock::now();
  ASSERT_EQ(patched.status, 200) << patched.raw;
  std::string served;
  std::chrono::milliseconds took{0};
  while (took < std::chrono::seconds(2)) {
    auto c = TlsClient::Connect(server_->https_port(), {.sni = "live.example.com"}, &error);
    took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                 changed_at);
    if (c && (served = c->PeerSerial()) == "22") break;
  }
  EXPECT_EQ(served, "22");
  EXPECT_LT(took.count(), 100 * kSlowdown)
      << "the new certificate took " << took.count() << " ms";

  // The connection from before the change still works, still on the old one.
  EXPECT_EQ(before->PeerSerial(), "11");
  for (int i = 0; i < 3; ++i) {
    auto reply = before->Http("POST", "/echo", "live.example.com", std::string(100000, 'x'));
    EXPECT_EQ(reply.status, 200) << reply.error;
  }
}

// Limits: a slow or malformed client costs one connection, never the
// process; the server's settings come from serve's flags.
class EdgeLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.extra_args = {"--handshake-timeout", "1", "--idle-timeout", "2",
                          "--max-connections", "6", "--edge-workers", "1"};
    server_ = CertgateServer::Start(options);
    ASSERT_NE(server_, nullptr);
  }
  int RawConnect() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(server_->https_port());
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
  }
  // Seconds until the server closes fd (reads and drops whatever comes).
  double SecondsUntilClosed(int fd) {
    auto start = std::chrono::steady_clock::now();
    char buf[512];
    while (recv(fd, buf, sizeof buf, 0) > 0) {
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  bool Serves() {
    std::string error;
    auto c = TlsClient::Connect(server_->https_port(), {.sni = "x.test"}, &error);
    return c && c->Http("GET", "/", "x.test").status == 404;
  }
  std::unique_ptr<CertgateServer> server_;
};

TEST_F(EdgeLimitsTest, ASilentClientIsDroppedAfterTheHandshakeTimeout) {
  int silent = RawConnect();
  EXPECT_TRUE(Serves()) << "others are served meanwhile";
  double waited = SecondsUntilClosed(silent);
  close(silent);
  EXPECT_LT(waited, 3.0);
  EXPECT_TRUE(server_->process().running());
}

TEST_F(EdgeLimitsTest, GarbageInsteadOfAClientHelloIsDroppedAtOnce) {
  for (const std::string& junk :
       {std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), std::string(5000, '\x16'),
        std::string("\x16\x03\x01\x40\x00", 5) + std::string(100, 'A')}) {
    int fd = RawConnect();
    send(fd, junk.data(), junk.size(), MSG_NOSIGNAL);
    EXPECT_LT(SecondsUntilClosed(fd), 2.0);
    close(fd);
  }
  EXPECT_TRUE(Serves());
}

TEST_F(EdgeLimitsTest, OnlyTls12And13AreSpoken) {
  std::string error;
  auto tls12 = TlsClient::Connect(server_->https_port(),
                                  {.sni = "x.test", .max_version = TLS1_2_VERSION}, &error);
  ASSERT_NE(tls12, nullptr) << error;
  EXPECT_EQ(tls12->Version(), "TLSv1.2");
  auto tls13 = TlsClient::Connect(server_->https_port(), {.sni = "x.test"}, &error);
  ASSERT_NE(tls13, nullptr) << error;
  EXPECT_EQ(tls13->Version(), "TLSv1.3");
  auto tls11 = TlsClient::Connect(server_->https_port(),
                                  {.sni = "x.test", .max_version = TLS1_1_VERSION}, &error);
  EXPECT_EQ(tls11, nullptr) << "TLS 1.1 was accepted";
}

TEST_F(EdgeLimitsTest, OversizedRequestHeadersAre431) {
  std::string error;
  auto c = TlsClient::Connect(server_->https_port(), {.sni = "x.test"}, &error);
  ASSERT_NE(c, nullptr) << error;
  ASSERT_TRUE(c->Write("GET / HTTP/1.1\r\nHost: x.test\r\nX-Big: " + std::string(20000, 'a') +
                       "\r\n\r\n"));
  std::string reply = c->Read(12);
  EXPECT_EQ(reply, "HTTP/1.1 431");
}

TEST_F(EdgeLimitsTest, IdleKeepAliveConnectionsAreClosed) {
  std::string error;
  auto c = TlsClient::Connect(server_->https_port(), {.sni = "x.test"}, &error);
  ASSERT_NE(c, nullptr) << error;
  EXPECT_EQ(c->Http("GET", "/", "x.test").status, 404);
  auto start = std::chrono::steady_clock::now();
  std::string more = c->Read(1);  // returns when the server closes
  EXPECT_EQ(more, "");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 4.0);
}

TEST_F(EdgeLimitsTest, PipelinedRequestsAreAllAnswered) {
  std::string error;
  auto c = TlsClient::Connect(server_->https_port(), {.sni = "x.test"}, &error);
  ASSERT_NE(c, nullptr) << error;
  // Three requests in one write: the second and third wait in the server's
  // buffer while the first is answered.
  ASSERT_TRUE(c->Write("GET /1 HTTP/1.1\r\nHost: x.test\r\n\r\n"
                       "GET /2 HTTP/1.1\r\nHost: x.test\r\n\r\n"
                       "GET /3 HTTP/1.1\r\nHost: x.test\r\nConnection: close\r\n\r\n"));
  std::string replies = c->Read(1 << 20);  // up to the server's close
  size_t answered = 0;
  for (size_t at = replies.find("HTTP/1.1 404"); at != std::string::npos;
       at = replies.find("HTTP/1.1 404", at + 1)) {
    ++answered;
  }
  EXPECT_EQ(answered, 3u) << replies;
}

TEST_F(EdgeLimitsTest, AtTheLimitTheOldestIdleConnectionMakesRoom) {
  // Six connections, each idle after a request, fill --max-connections 6.
  std::vector<std::unique_ptr<TlsClient>> idle;
  for (int i = 0; i < 6; ++i) {
    std::string error;
    auto c = TlsClient::Connect(server_->https_port(), {.sni = "x.test"}, &error);
    ASSERT_NE(c, nullptr) << error;
    ASSERT_EQ(c->Http("GET", "/", "x.test").status, 404);
    idle.push_back(std::move(c));
  }
  // A seventh is served; the oldest idle one is closed for it, well before
  // its idle timeout (2 s).
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(Serves());
  EXPECT_EQ(idle.front()->Read(1), "") << "the oldest idle connection stayed open";
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 1.5);
  // The others are still open and serve their next request.
  for (size_t i = 1; i < idle.size(); ++i) {
    EXPECT_EQ(idle[i]->Http("GET", "/again", "x.test").status, 404) << i;
  }
}

TEST_F(EdgeLimitsTest, StoppingClosesIdleKeepAliveConnectionsAtOnce) {
  ServerOptions options;
  options.extra_args = {"--idle-timeout", "60"};
  auto server = CertgateServer::Start(options);
  ASSERT_NE(server, nullptr);
  std::string error;
  auto c = TlsClient::Connect(server->https_port(), {.sni = "x.test"}, &error);
  ASSERT_NE(c, nullptr) << error;
  ASSERT_EQ(c->Http("GET", "/", "x.test").status, 404);
  const auto start = std::chrono::steady_clock::now();
  server->process().Signal(SIGTERM);
  EXPECT_EQ(c->Read(1), "") << "the idle connection is closed";
  EXPECT_EQ(server->process().Wait(std::chrono::seconds(15)), 0);
  // Without closing it, serve would wait out its grace period (5 s) for it.
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
            3.0 * kSlowdown);
}

TEST_F(EdgeLimitsTest, AtTheLimitTheOldestSilentConnectionMakesRoom) {
  std::vector<int> held;
  for (int i = 0; i < 6; ++i) {
    held.push_back(RawConnect());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a clear order
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // A seventh connection is served, and the oldest silent one pays for it
  // (closed long before its handshake timeout of 1 s would).
  EXPECT_TRUE(Serves());
  EXPECT_LT(SecondsUntilClosed(held.front()), 0.5) << "the oldest connection stayed open";
  for (int fd : held) close(fd);
}

}  // namespace
}  // namespace certgate::testing
