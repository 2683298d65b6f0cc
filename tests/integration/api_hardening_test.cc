// The API's listener under hostile input (issue 14): strict HTTP/1.1 framing
// (no request smuggling), error bodies that are always valid JSON, fair
// connection limits under a flood from another address, and the API over
// TLS. Real `certgate serve` processes on 127.0.0.1; the flood comes from
// 127.0.0.2-4 (Linux routes all of 127/8 to lo).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <boost/url.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pki/ossl_ptr.h"
#include "pki/testing/cert_factory.h"
#include "support/api_helpers.h"
#include "support/certgate_server.h"

namespace certgate::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

uint16_t PortOf(const std::string& url) {
  auto parsed = boost::urls::parse_uri(url);
  return static_cast<uint16_t>(std::stoi(std::string(parsed->port())));
}

// A TCP connection to 127.0.0.1:port, from source (port chosen by the kernel).
int ConnectFrom(const char* source, uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source, &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void SendAll(int fd, std::string_view bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

struct RawAnswer {
  std::string bytes;
  bool closed = false;  // the server closed the connection
  Clock::duration took{};
};

// Reads what the server sends until it closes or `wait` passes.
RawAnswer ReadUntilClosed(int fd, std::chrono::milliseconds wait) {
  RawAnswer answer;
  const auto start = Clock::now();
  const auto deadline = start + wait;
  char buf[4096];
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (poll(&p, 1, static_cast<int>(std::max<int64_t>(1, left.count()))) <= 0) continue;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      answer.closed = true;
      break;
    }
    answer.bytes.append(buf, static_cast<size_t>(n));
  }
  answer.took = Clock::now() - start;
  return answer;
}

// Sends bytes on a fresh connection (the write side stays open unless
// half_close) and returns what comes back until the server closes.
RawAnswer Exchange(uint16_t port, std::string_view bytes, std::chrono::milliseconds wait = 8s,
                   bool half_close = false) {
  int fd = ConnectFrom("127.0.0.1", port);
  if (fd < 0) {
    ADD_FAILURE() << "connect failed";
    return {};
  }
  SendAll(fd, bytes);
  if (half_close) shutdown(fd, SHUT_WR);
  RawAnswer answer = ReadUntilClosed(fd, wait);
  close(fd);
  return answer;
}

// The status codes of the responses in bytes, in order ("HTTP/1.1 NNN" at
// the start of a line; the answers' bodies are JSON, never such a line).
std::vector<int> Statuses(const std::string& bytes) {
  std::vector<int> out;
  for (size_t at = 0; (at = bytes.find("HTTP/1.", at)) != std::string::npos; at += 7) {
    if (at != 0 && bytes[at - 1] != '\n') continue;
    if (at + 12 <= bytes.size()) out.push_back(std::stoi(bytes.substr(at + 9, 3)));
  }
  return out;
}

// The body of the last response in bytes.
std::string LastBody(const std::string& bytes) {
  size_t at = bytes.rfind("\r\n\r\n");
  return at == std::string::npos ? "" : bytes.substr(at + 4);
}

// Well-formed UTF-8 (RFC 3629), written independently of the server's.
bool IsStrictUtf8(std::string_view s) {
  size_t i = 0;
  auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  while (i < s.size()) {
    unsigned char c = at(i);
    uint32_t cp = 0;
    size_t len = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1Fu;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0Fu;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07u;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((at(i + k) & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (at(i + k) & 0x3Fu);
    }
    const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Strict HTTP/1.1

class ApiHttpStrictTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ServerOptions options;
    options.extra_args = {"--api-io-timeout", "2", "--api-first-request-timeout", "2"};
    server_ = CertgateServer::Start(options);
    ASSERT_NE(server_, nullptr);
    port_ = PortOf(server_->api_url());
  }

  // A complete authenticated list request: what a smuggler hides in a body.
  std::string SmuggledGet() const {
    return "GET /tls_certificates HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer " +
           server_->api_key() + "\r\n\r\n";
  }
  std::string Auth() const { return "Authorization: Bearer " + server_->api_key() + "\r\n"; }

  std::unique_ptr<CertgateServer> server_;
  uint16_t port_ = 0;
};

TEST_F(ApiHttpStrictTest, EachSmugglingCaseIsOne400AndTheConnectionClosed) {
  const std::string post = "POST /tls_certificates HTTP/1.1\r\nHost: h\r\n" + Auth() +
                           "Content-Type: application/json\r\n";
  const std::string smuggled = SmuggledGet();
  struct Case {
    const char* name;
    std::string bytes;
  };
  const Case cases[] = {
      {"Transfer-Encoding gzip", post + "Transfer-Encoding: gzip\r\n\r\n" + smuggled},
      {"Transfer-Encoding chunked, identity",
       post + "Transfer-Encoding: chunked, identity\r\n\r\n" + smuggled},
      {"Transfer-Encoding identity", post + "Transfer-Encoding: identity\r\n\r\n" + smuggled},
      {"Transfer-Encoding gzip, chunked",
       post + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + smuggled},
      {"Transfer-Encoding over two lines",
       post + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
           smuggled},
      {"Content-Length and Transfer-Encoding",
       post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
      {"Transfer-Encoding and Content-Length",
       post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggled},
      {"Transfer-Encoding in HTTP/1.0",
       "POST /tls_certificates HTTP/1.0\r\nHost: h\r\n" + Auth() +
           "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled},
      {"obs-fold", "GET /tls_certificates HTTP/1.1\r\nHost: h\r\n" + Auth() +
                       "X-Folded: a\r\n b\r\n\r\n" + smuggled},
      {"obs-fold with a tab", "GET /tls_certificates HTTP/1.1\r\nHost: h\r\n" + Auth() +
                                  "X-Folded: a\r\n\tb\r\n\r\n" + smuggled},
      {"whitespace before the first field",
       "GET /tls_certificates HTTP/1.1\r\n Host: h\r\n" + Auth() + "\r\n" + smuggled},
      {"HTTP/1.1 without Host", "GET /tls_certificates HTTP/1.1\r\n" + Auth() + "\r\n" + smuggled},
      {"two Host headers",
       "GET /tls_certificates HTTP/1.1\r\nHost: h\r\nHost: i\r\n" + Auth() + "\r\n" + smuggled},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    RawAnswer answer = Exchange(port_, c.bytes);
    EXPECT_EQ(Statuses(answer.bytes), std::vector<int>{400}) << answer.bytes;
    EXPECT_TRUE(answer.closed) << "the connection stayed open";
    EXPECT_NE(answer.bytes.find("Connection: close"), std::string::npos) << answer.bytes;
    boost::system::error_code ec;
    auto body = boost::json::parse(LastBody(answer.bytes), ec);
    const auto* object = body.if_object();
    EXPECT_TRUE(!ec && object != nullptr && object->contains("error_code") &&
                object->at("error_code") == "ERR_CERTGATE_118")
        << answer.bytes;
  }
}

// HEAD gets GET's head and no body: on a kept-alive connection the next
// answer follows at once, not after a body no client reads.
TEST_F(ApiHttpStrictTest, HeadAnswersCarryNoBody) {
  for (const std::string path : {"/healthz", "/", "/assets/app.css", "/readyz"}) {
    RawAnswer answer = Exchange(port_, "HEAD " + path + " HTTP/1.1\r\nHost: h\r\n\r\n" +
                                           "GET /healthz HTTP/1.1\r\nHost: h\r\n"
                                           "Connection: close\r\n\r\n");
    EXPECT_EQ(Statuses(answer.bytes), (std::vector<int>{200, 200})) << path << answer.bytes;
    const size_t end_of_head = answer.bytes.find("\r\n\r\n");
    ASSERT_NE(end_of_head, std::string::npos) << answer.bytes;
    EXPECT_EQ(answer.bytes.compare(end_of_head + 4, 8, "HTTP/1.1"), 0)
        << path << ": the HEAD answer carried a body: " << answer.bytes;
    EXPECT_EQ(answer.bytes.find("Content-Length: 0\r\n"), std::string::npos)
        << path << ": HEAD gives GET's length: " << answer.bytes;
  }
}

TEST_F(ApiHttpStrictTest, WellFramedRequestsStillWork) {
  // HTTP/1.0 needs no Host.
  RawAnswer http10 = Exchange(port_, "GET /healthz HTTP/1.0\r\n\r\n");
  EXPECT_EQ(Statuses(http10.bytes), std::vector<int>{200}) << http10.bytes;
  // Two pipelined requests get two answers.
  RawAnswer pipelined =
      Exchange(port_, SmuggledGet() + "GET /healthz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(Statuses(pipelined.bytes), (std::vector<int>{200, 200})) << pipelined.bytes;
  // A chunked body (any case, spaces around) is read as the body: the
  // missing fields are named, and the connection goes on.
  const std::string chunked_post = "POST /tls_certificates HTTP/1.1\r\nHost: h\r\n" + Auth() +
                                   "Content-Type: application/json\r\n"
                                   "Transfer-Encoding:  Chunked \r\n\r\n"
                                   "2\r\n{}\r\n0\r\n\r\n";
  RawAnswer chunked = Exchange(
      port_, chunked_post + "GET /healthz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  ASSERT_EQ(Statuses(chunked.bytes), (std::vector<int>{400, 200})) << chunked.bytes;
  EXPECT_NE(chunked.bytes.find("ERR_CERTGATE_111"), std::string::npos) << chunked.bytes;
}

TEST_F(ApiHttpStrictTest, AnIncompleteBodyIsAnswered408AtItsTimeout) {
  int fd = ConnectFrom("127.0.0.1", port_);
  ASSERT_GE(fd, 0);
  SendAll(fd, "POST /tls_certificates HTTP/1.1\r\nHost: h\r\n" + Auth() +
                  "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"descr");
  RawAnswer answer = ReadUntilClosed(fd, 10s);
  close(fd);
  EXPECT_EQ(Statuses(answer.bytes), std::vector<int>{408}) << answer.bytes;
  EXPECT_TRUE(answer.closed);
  EXPECT_GE(answer.took, 1500ms);
  EXPECT_NE(answer.bytes.find("did not arrive within 2 seconds"), std::string::npos)
      << answer.bytes;
}

TEST_F(ApiHttpStrictTest, ExpectContinueWithoutABodyGets100ThenA408) {
  RawAnswer answer = Exchange(port_, "POST /tls_certificates HTTP/1.1\r\nHost: h\r\n" + Auth() +
                                         "Content-Type: application/json\r\n"
                                         "Content-Length: 50\r\nExpect: 100-continue\r\n\r\n",
                              10s);
  EXPECT_EQ(Statuses(answer.bytes), (std::vector<int>{100, 408})) << answer.bytes;
  EXPECT_TRUE(answer.closed);
}

TEST_F(ApiHttpStrictTest, ABodyCutShortIsA400) {
  RawAnswer answer = Exchange(port_,
                              "POST /tls_certificates HTTP/1.1\r\nHost: h\r\n" + Auth() +
                                  "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
                              8s, /*half_close=*/true);
  EXPECT_EQ(Statuses(answer.bytes), std::vector<int>{400}) << answer.bytes;
  EXPECT_NE(answer.bytes.find("before the request body was complete"), std::string::npos)
      << answer.bytes;
}

TEST_F(ApiHttpStrictTest, AnIncompleteHeadIsAnswered408AndSilenceIsClosedQuietly) {
  RawAnswer partial = Exchange(port_, "GET /tls_certificates HTTP/1.1\r\nHost: h\r\n", 10s);
  EXPECT_EQ(Statuses(partial.bytes), std::vector<int>{408}) << partial.bytes;
  EXPECT_TRUE(partial.closed);
  RawAnswer silent = Exchange(port_, "", 10s);
  EXPECT_EQ(silent.bytes, "");
  EXPECT_TRUE(silent.closed);
}

// ---------------------------------------------------------------------------
// Error bodies are valid JSON whatever bytes the request carried

TEST(ApiErrorJsonTest, InvalidUtf8InEveryPositionStillGivesJsonAnswers) {
  auto server = CertgateServer::Start();
  ASSERT_NE(server, nullptr);
  const auto client = server->Client();
  const std::vector<std::string> encoded = {"%ff",       "%c0%af",       "%00%ff", "%ed%a0%80",
                                            "%f4%90%80%80", "%e2%82", "%80", "a%fe%ffb"};
  const std::vector<std::string> raw = {"\xff", "\xc0\xaf", std::string("\x00\xff", 2),
                                        "\xed\xa0\x80", "\xe2\x82"};
  const std::vector<std::string> collections = {"tls_certificates", "reserved_domains",
                                                "endpoints"};
  struct Probe {
    verb method;
    std::string path;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
  };
  std::vector<Probe> probes;
  for (const std::string& bad : encoded) {
    probes.push_back({verb::get, "/" + bad, "", {}});
    for (const std::string& c : collections) {
      for (verb m : {verb::get, verb::delete_, verb::put}) {
        probes.push_back({m, "/" + c + "/" + bad, "", {}});
      }
      probes.push_back({verb::patch, "/" + c + "/" + bad, "{}", {}});
      probes.push_back({verb::get, "/" + c + bad, "", {}});
      probes.push_back({verb::get, "/" + c + "/" + bad + "/x", "", {}});
      for (const char* sub : {"chain", "certificate", "certificate_management_policy",
                              "dns_records"}) {
        probes.push_back({verb::get, "/" + c + "/" + bad + "/" + sub, "", {}});
        probes.push_back({verb::delete_, "/" + c + "/" + bad + "/" + sub, "", {}});
      }
      for (const char* key : {"limit", "before_id", "beforeId", "filter"}) {
        probes.push_back({verb::get, "/" + c + "?" + key + "=" + bad, "", {}});
      }
      probes.push_back({verb::get, "/" + c + "?" + bad + "=1", "", {}});
      probes.push_back({verb::get, "/" + c + "?filter=obj.description%20%3D%3D%20%22" + bad +
                                       "%22",
                        "", {}});
    }
  }
  // JSON bodies: invalid bytes as raw string bytes, as keys, and as \u
  // escapes of lone surrogates, in every field of every collection.
  const std::map<std::string, std::vector<std::string>> fields = {
      {"tls_certificates", {"certificate_pem", "private_key_pem", "description", "metadata", "id"}},
      {"reserved_domains",
       {"domain", "name", "description", "metadata", "certificate_id", "resolves_to", "id"}},
      {"endpoints",
       {"url", "upstream_url", "upstream", "type", "traffic_policy", "description", "metadata",
        "id"}},
  };
  std::vector<std::string> values;
  for (const std::string& b : raw) values.push_back("\"" + b + "\"");
  values.insert(values.end(), {"\"\\udcff\"", "\"\\ud800\"", "\"\\ud800x\"", "\"a\\u0000\""});
  for (const auto& [c, names] : fields) {
    for (const std::string& field : names) {
      for (const std::string& v : values) {
        const std::string body = "{\"" + field + "\": " + v + "}";
        probes.push_back({verb::post, "/" + c, body, {}});
        probes.push_back({verb::patch, "/" + c + "/x_1", body, {}});
      }
    }
    for (const std::string& b : raw) {
      probes.push_back({verb::post, "/" + c, "{\"" + b + "\": 1}", {}});
      probes.push_back({verb::post, "/" + c, "{\"description\": 1, \"x" + b + "\": \"\"}", {}});
    }
    probes.push_back({verb::post, "/reserved_domains",
                      "{\"domain\": \"a.example.com\", \"certificate_management_policy\": "
                      "{\"authority\": \"\\udcff\xff\", \"private_key_type\": \"\xff\"}}",
                      {}});
  }
  // Header values.
  for (const std::string& b : raw) {
    probes.push_back({verb::get, "/tls_certificates", "", {{"Ngrok-Version", b}}});
    probes.push_back({verb::get, "/tls_certificates", "", {{"Authorization", "Bearer " + b}}});
  }
  // Raw bytes in the path (not percent-encoded).
  for (const std::string& b : raw) {
    probes.push_back({verb::get, "/tls_certificates/" + b, "", {}});
  }

  size_t bad_bodies = 0;
  for (const Probe& p : probes) {
    ApiResult r = CallRaw(client, p.method, p.path, p.body, p.headers);
    if (r.status == 0) continue;  // already a failure
    const bool ok = IsStrictUtf8(r.raw) && r.json.is_object() &&
                    (r.status < 400 || (r.json.as_object().contains("error_code") &&
                                        r.json.as_object().contains("msg")));
    if (!ok && ++bad_bodies <= 10) {
      ADD_FAILURE() << std::string(boost::beast::http::to_string(p.method)) << " " << p.path
                    << " body " << p.body << " -> " << r.status << ": " << r.raw;
    }
  }
  EXPECT_EQ(bad_bodies, 0u) << "of " << probes.size() << " probes";
  EXPECT_GT(probes.size(), 500u);
}

// ---------------------------------------------------------------------------
// Connection limits

// Holds up to `hold` connections from source to port, reconnecting each one
// the server closes, until stop. Counts the closes.
class Flood {
 public:
  Flood(const char* source, uint16_t port, size_t hold) {
    thread_ = std::thread([this, source, port, hold] { Run(source, port, hold); });
  }
  ~Flood() {
    stop_ = true;
    thread_.join();
  }
  size_t closed_by_server() const { return closed_; }
  size_t held() const { return held_; }

 private:
  void Run(const char* source, uint16_t port, size_t hold) {
    std::vector<int> fds;
    while (!stop_) {
      while (fds.size() < hold && !stop_) {
        int fd = ConnectFrom(source, port);
        if (fd < 0) break;
        fds.push_back(fd);
      }
      held_ = fds.size();
      std::vector<pollfd> polls;
      for (int fd : fds) polls.push_back({fd, POLLIN, 0});
      poll(polls.data(), polls.size(), 20);
      std::vector<int> still;
      for (const pollfd& p : polls) {
        char c;
        if (p.revents != 0 && recv(p.fd, &c, 1, MSG_DONTWAIT) <= 0) {
          close(p.fd);
          ++closed_;
        } else {
          still.push_back(p.fd);
        }
      }
      fds = std::move(still);
    }
    for (int fd : fds) close(fd);
  }

  std::atomic<bool> stop_{false};
  std::atomic<size_t> closed_{0};
  std::atomic<size_t> held_{0};
  std::thread thread_;
};

TEST(ApiConnectionLimitsTest, AFloodFromOtherAddressesDoesNotLockOutAClient) {
  ServerOptions options;
  options.extra_args = {"--api-max-connections", "40", "--api-max-connections-per-source", "16",
                        "--api-first-request-timeout", "5"};
  auto server = CertgateServer::Start(options);
  ASSERT_NE(server, nullptr);
  const uint16_t port = PortOf(server->api_url());
  client::ClientOptions client_options;
  client_options.timeout = 5s;
  auto client = client::ApiClient::Create(server->api_url(), server->api_key(), client_options);
  ASSERT_TRUE(client);

  // Three addresses hold 20 connections each: over the per-address cap
  // (16) and, together, over the total (40).
  Flood a("127.0.0.2", port, 20);
  Flood b("127.0.0.3", port, 20);
  Flood c("127.0.0.4", port, 20);
  const auto flood_start = Clock::now();
  while (a.held() + b.held() + c.held() < 40 && Clock::now() - flood_start < 10s) {
    std::this_thread::sleep_for(10ms);
  }
  int ok = 0;
  const int calls = 100;
  for (int i = 0; i < calls; ++i) {
    auto res = client->Send(verb::get, "/tls_certificates");
    if (res && res->status == 200) ++ok;
  }
  EXPECT_GE(ok, 95) << "of " << calls << " API calls from 127.0.0.1 succeeded";
  // The flood was under pressure the whole time: the server closed its
  // connections over and over.
  EXPECT_GT(a.closed_by_server() + b.closed_by_server() + c.closed_by_server(), 100u);
}

TEST(ApiConnectionLimitsTest, ASilentConnectionGetsTheShortFirstRequestTimeout) {
  ServerOptions options;
  options.extra_args = {"--api-first-request-timeout", "1"};  // io timeout: 30 s
  auto server = CertgateServer::Start(options);
  ASSERT_NE(server, nullptr);
  const uint16_t port = PortOf(server->api_url());
  RawAnswer silent = Exchange(port, "", 10s);
  EXPECT_TRUE(silent.closed);
  EXPECT_LT(silent.took, 5s);
  EXPECT_EQ(silent.bytes, "");

  // After a first request, the connection may idle for the io timeout.
  int fd = ConnectFrom("127.0.0.1", port);
  ASSERT_GE(fd, 0);
  SendAll(fd, "GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n");
  RawAnswer first = ReadUntilClosed(fd, 2500ms);
  EXPECT_EQ(Statuses(first.bytes), std::vector<int>{200}) << first.bytes;
  EXPECT_FALSE(first.closed);
  SendAll(fd, "GET /healthz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  RawAnswer second = ReadUntilClosed(fd, 5s);
  EXPECT_EQ(Statuses(second.bytes), std::vector<int>{200}) << second.bytes;
  close(fd);
}

// ---------------------------------------------------------------------------
// The API over TLS

struct TlsFiles {
  TempDir dir;
  std::filesystem::path cert = dir.path() / "api.crt";
  std::filesystem::path key = dir.path() / "api.key";
  std::filesystem::path ca = dir.path() / "ca.crt";

  // A fresh chain for 127.0.0.1 with the given serial; writes all three files.
  void Write(std::vector<uint8_t> serial) {
    pki::testing::CertSpec spec;
    spec.common_name = "certgate api";
    spec.dns_names = {"localhost"};
    spec.ips = {"127.0.0.1"};
    spec.serial = std::move(serial);
    auto chain = pki::testing::MakeChain(pki::testing::TestKeyType::kEcP256, spec,
                                         /*reuse_leaf_key=*/false);
    WriteFile(cert, chain.BundlePem());
    WriteFile(key, pki::testing::KeyPemPkcs8(chain.leaf_key.get()));
    WriteFile(ca, pki::testing::CertPem(chain.root.get()));
  }
};

// Handshakes with 127.0.0.1:port (no verification) and returns the served
// leaf's serial in lower-case hex, or nullopt when the handshake fails.
// max_version and tls12_ciphers narrow what the client offers.
std::optional<std::string> ServedSerial(uint16_t port, int max_version = TLS1_3_VERSION,
                                        const char* tls12_ciphers = nullptr) {
  pki::SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_max_proto_version(ctx.get(), max_version);
  if (tls12_ciphers != nullptr) SSL_CTX_set_cipher_list(ctx.get(), tls12_ciphers);
  pki::SslPtr ssl(SSL_new(ctx.get()));
  int fd = ConnectFrom("127.0.0.1", port);
  if (fd < 0) return std::nullopt;
  SSL_set_fd(ssl.get(), fd);
  std::optional<std::string> serial;
  if (SSL_connect(ssl.get()) == 1) {
    pki::X509Ptr leaf(SSL_get1_peer_certificate(ssl.get()));
    pki::BignumPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf.get()), nullptr));
    pki::OsslCharsPtr hex(BN_bn2hex(bn.get()));
    serial = hex.get();
    for (char& ch : *serial) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    SSL_shutdown(ssl.get());
  }
  ERR_clear_error();
  close(fd);
  return serial;
}

class ApiTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    files_.Write({0x0a, 0x01});
    ServerOptions options;
    options.extra_args = {"--api-tls-cert", files_.cert.string(), "--api-tls-key",
                          files_.key.string()};
    options.api_ca_file = files_.ca.string();
    server_ = CertgateServer::Start(options);
    ASSERT_NE(server_, nullptr);
    port_ = PortOf(server_->api_url());
  }

  TlsFiles files_;
  std::unique_ptr<CertgateServer> server_;
  uint16_t port_ = 0;
};

TEST_F(ApiTlsTest, TheApiIsServedOverTlsWithHsts) {
  EXPECT_EQ(server_->api_url().rfind("https://127.0.0.1:", 0), 0u) << server_->api_url();
  ApiResult list = Call(server_->Client(), verb::get, "/tls_certificates");
  EXPECT_EQ(list.status, 200) << list.raw;
  EXPECT_EQ(list.http.Header("Strict-Transport-Security"), "max-age=31536000");
  EXPECT_EQ(list.json.at("uri"), boost::json::value(server_->api_url() + "/tls_certificates"));
  ApiResult missing = Call(server_->Client(), verb::get, "/tls_certificates/cert_x");
  EXPECT_EQ(missing.status, 404) << missing.raw;
  EXPECT_EQ(missing.http.Header("Strict-Transport-Security"), "max-age=31536000");

  // The CA is needed: the system's CAs do not know it.
  auto untrusting = client::ApiClient::Create(server_->api_url(), server_->api_key(),
                                              client::ClientOptions{"/dev/null"});
  ASSERT_TRUE(untrusting);
  EXPECT_FALSE(untrusting->Send(verb::get, "/tls_certificates"));

  // And so is TLS: plain HTTP gets no API answer.
  RawAnswer plain = Exchange(port_, "GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n", 5s);
  EXPECT_EQ(plain.bytes.find("HTTP/1.1 200"), std::string::npos) << plain.bytes;
}

TEST_F(ApiTlsTest, TheEdgesPostureOnlyEcdheAeadInTls12) {
  EXPECT_EQ(ServedSerial(port_), "0a01");
  EXPECT_EQ(ServedSerial(port_, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256"), "0a01");
  EXPECT_EQ(ServedSerial(port_, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA"), std::nullopt);
  EXPECT_EQ(ServedSerial(port_, TLS1_2_VERSION, "ECDHE-ECDSA-AES256-SHA384"), std::nullopt);
  EXPECT_EQ(ServedSerial(port_, TLS1_1_VERSION), std::nullopt);
}

TEST_F(ApiTlsTest, SighupReloadsTheCertificateAndKeepsItWhenTheNewFilesAreBad) {
  ASSERT_EQ(ServedSerial(port_), "0a01");
  files_.Write({0x0b, 0x02});
  server_->process().Signal(SIGHUP);
  std::optional<std::string> served;
  for (auto start = Clock::now(); Clock::now() - start < 10s;) {
    served = ServedSerial(port_);
    if (served == "0b02") break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(served, "0b02");
  // The new CA file came with the new chain.
  EXPECT_EQ(Call(server_->Client(), verb::get, "/tls_certificates").status, 200);

  // A key that does not match: the old pair stays, and the log says why.
  TlsFiles other;
  other.Write({0x0c, 0x03});
  std::filesystem::copy_file(other.key, files_.key,
                             std::filesystem::copy_options::overwrite_existing);
  server_->process().Signal(SIGHUP);
  bool logged = false;
  for (auto start = Clock::now(); Clock::now() - start < 10s && !logged;) {
    logged = ReadFile(server_->stderr_path()).find("keeping the API's current TLS certificate") !=
             std::string::npos;
    if (!logged) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(logged) << ReadFile(server_->stderr_path());
  EXPECT_NE(ReadFile(server_->stderr_path()).find("does not belong to the certificate"),
            std::string::npos);
  EXPECT_EQ(ServedSerial(port_), "0b02");
  EXPECT_EQ(Call(server_->Client(), verb::get, "/tls_certificates").status, 200);
}

TEST(ApiListenTest, PlainHttpBeyondLoopbackIsRefusedUnlessInsecureHttpIsGiven) {
  TempDir dir;
  RunResult refused = RunCommand({CertgateBinary(), "serve", "--data-dir",
                                  (dir.path() / "data").string(), "--api-listen", "0.0.0.0:0",
                                  "--https-listen", "127.0.0.1:0", "--http-listen",
                                  "127.0.0.1:0"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("--api-listen 0.0.0.0:0"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("--api-insecure-http"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("--api-tls-cert"), std::string::npos) << refused.err;

  ServerOptions options;
  options.extra_args = {"--api-listen", "0.0.0.0:0", "--api-insecure-http"};
  auto server = CertgateServer::Start(options);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->api_url().rfind("http://0.0.0.0:", 0), 0u) << server->api_url();
  RawAnswer health = Exchange(PortOf(server->api_url()), "GET /healthz HTTP/1.0\r\n\r\n");
  EXPECT_EQ(Statuses(health.bytes), std::vector<int>{200}) << health.bytes;
}

TEST(ApiListenTest, BadTlsFlagsAreRefusedAtStartWithTheReason) {
  TempDir dir;
  TlsFiles files;
  files.Write({0x01});
  auto serve = [&](std::vector<std::string> extra) {
    std::vector<std::string> argv = {CertgateBinary(), "serve", "--data-dir",
                                     (dir.path() / "data").string(), "--api-listen",
                                     "127.0.0.1:0", "--https-listen", "127.0.0.1:0",
                                     "--http-listen", "127.0.0.1:0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunCommand(argv);
  };
  RunResult alone = serve({"--api-tls-cert", files.cert.string()});
  EXPECT_NE(alone.exit_code, 0);
  EXPECT_NE(alone.err.find("--api-tls-cert and --api-tls-key go together"), std::string::npos)
      << alone.err;
  RunResult swapped =
      serve({"--api-tls-cert", files.key.string(), "--api-tls-key", files.cert.string()});
  EXPECT_NE(swapped.exit_code, 0);
  EXPECT_NE(swapped.err.find("not a PEM certificate chain"), std::string::npos) << swapped.err;
}

}  // namespace
}  // namespace certgate::testing
