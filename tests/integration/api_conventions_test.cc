// The API's conventions over real HTTP: version header, routing, methods,
// limits, malformed requests, and the error shape for each.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/url.hpp>

#include "support/api_helpers.h"
#include "support/certgate_server.h"

namespace certgate::testing {
namespace {

class ApiConventionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = CertgateServer::Start();
    ASSERT_NE(server_, nullptr);
  }
  client::ApiClient Client() const { return server_->Client(); }

  // Sends raw bytes on a fresh connection and returns everything the server
  // answers until it closes (or 5 s pass).
  std::string RawExchange(const std::string& bytes) {
    auto url = boost::urls::parse_uri(server_->api_url());
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::stoi(std::string(url->port()))));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd);
      ADD_FAILURE() << "connect failed";
      return "";
    }
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    std::string out;
    char buf[4096];
    for (;;) {
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    close(fd);
    return out;
  }

  std::unique_ptr<CertgateServer> server_;
};

TEST_F(ApiConventionsTest, VersionHeaderAbsentMeans2AndOthersAreRefused) {
  ApiResult absent = Call(Client(), verb::get, "/tls_certificates", std::nullopt,
                          {{"Ngrok-Version", ""}});
  EXPECT_EQ(absent.status, 200) << absent.raw;
  ApiResult two = Call(Client(), verb::get, "/tls_certificates");
  EXPECT_EQ(two.status, 200) << two.raw;
  ApiResult three = Call(Client(), verb::get, "/tls_certificates", std::nullopt,
                         {{"Ngrok-Version", "3"}});
  EXPECT_TRUE(IsError(three, 400, "ERR_NGROK_217", "the supported version is 2"));
}

TEST_F(ApiConventionsTest, SuccessfulResponsesCarryAnOperationId) {
  ApiResult r = Call(Client(), verb::get, "/tls_certificates");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.http.Header("Ngrok-Operation-Id").rfind("op_", 0), 0u);
  EXPECT_EQ(r.json, (boost::json::object{{"tls_certificates", boost::json::array{}},
                                        {"uri", server_->api_url() + "/tls_certificates"},
                                        {"next_page_uri", nullptr}}));
}

TEST_F(ApiConventionsTest, UnknownPathsAndMethods) {
  EXPECT_TRUE(IsError(Call(Client(), verb::get, "/no_such_thing"), 404, 102, "/no_such_thing"));
  EXPECT_TRUE(IsError(Call(Client(), verb::get, "/tls_certificates/a/b"), 404, 102, ""));
  ApiResult put = Call(Client(), verb::put, "/tls_certificates", boost::json::object{});
  EXPECT_TRUE(IsError(put, 405, 103, "GET, POST"));
  EXPECT_EQ(put.http.Header("Allow"), "GET, POST");
  EXPECT_TRUE(IsError(Call(Client(), verb::post, "/tls_certificates/cert_2OEmZ6CE8wZrZW8lRQVjNoFTafd",
                           boost::json::object{}),
                      405, 103, "GET, PATCH, DELETE"));
}

TEST_F(ApiConventionsTest, HealthAndDashboardNeedNoKey) {
  auto anonymous = server_->Client("");
  ApiResult health = CallRaw(anonymous, verb::get, "/healthz", "");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.raw, "ok\n");
  ApiResult index = CallRaw(anonymous, verb::get, "/", "");
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.http.Header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(index.raw.find(R"(<script type="module" src="/assets/app.js">)"), std::string::npos);
  // The pages keep to their own origin: no inline script, no framing.
  const std::string csp = index.http.Header("Content-Security-Policy");
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
  EXPECT_EQ(index.http.Header("X-Content-Type-Options"), "nosniff");
  ApiResult js = CallRaw(anonymous, verb::get, "/assets/api.js", "");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.http.Header("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_NE(js.raw.find("export async function request"), std::string::npos);
  ApiResult css = CallRaw(anonymous, verb::get, "/assets/app.css", "");
  EXPECT_EQ(css.http.Header("Content-Type"), "text/css; charset=utf-8");
  // Unknown files and other methods get the API's own errors.
  EXPECT_TRUE(IsError(CallRaw(anonymous, verb::get, "/assets/missing.js", ""), 404, 102, ""));
  EXPECT_TRUE(IsError(CallRaw(anonymous, verb::post, "/", ""), 405, 103, "GET"));
}

TEST_F(ApiConventionsTest, OversizedBodyIs413BeforeTheBodyIsRead) {
  // Announce 2 MiB but send only the headers: the answer must come anyway.
  std::string req =
      "POST /tls_certificates HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + server_->api_key() +
      "\r\nContent-Type: application/json\r\nContent-Length: 2097152\r\n\r\n";
  std::string answer = RawExchange(req);
  EXPECT_EQ(answer.rfind("HTTP/1.1 413", 0), 0u) << answer;
  EXPECT_NE(answer.find("ERR_CERTGATE_107"), std::string::npos) << answer;
}

TEST_F(ApiConventionsTest, OversizedHeadersAre431) {
  std::string req = "GET /tls_certificates HTTP/1.1\r\nHost: x\r\nX-Big: " +
                    std::string(20000, 'a') + "\r\n\r\n";
  std::string answer = RawExchange(req);
  EXPECT_EQ(answer.rfind("HTTP/1.1 431", 0), 0u) << answer.substr(0, 200);
  EXPECT_NE(answer.find("ERR_CERTGATE_116"), std::string::npos);
}

TEST_F(ApiConventionsTest, MalformedHttpIs400AndTheServerLivesOn) {
  std::string answer = RawExchange("GARBAGE\x01 / HTTP/9\r\n\r\n");
  EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
  EXPECT_NE(answer.find("ERR_CERTGATE_118"), std::string::npos);
  ApiResult r = Call(Client(), verb::get, "/tls_certificates");
  EXPECT_EQ(r.status, 200);
}

TEST_F(ApiConventionsTest, ASlowClientCostsOneConnectionOnly) {
  auto url = boost::urls::parse_uri(server_->api_url());
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(std::string(url->port()))));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string partial = "POST /tls_certificates HTTP/1.1\r\nHost: x\r\nContent-Le";
  ASSERT_EQ(send(fd, partial.data(), partial.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(partial.size()));
  // The half-sent request is still open while others are served.
  for (int i = 0; i < 3; ++i) {
    ApiResult r = Call(Client(), verb::get, "/tls_certificates");
    EXPECT_EQ(r.status, 200);
  }
  close(fd);
}

TEST_F(ApiConventionsTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  std::string one = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string last = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  std::string answer = RawExchange(one + one + last);
  size_t count = 0;
  for (size_t pos = 0; (pos = answer.find("HTTP/1.1 200", pos)) != std::string::npos; ++pos) ++count;
  EXPECT_EQ(count, 3u) << answer;
}

TEST_F(ApiConventionsTest, CurlUploadWithExpectContinueWorks) {
  // curl sends "Expect: 100-continue" for large bodies; the server must
  // answer it instead of making curl wait.
  TempDir dir;
  std::string body = "{\"description\": \"" + std::string(2000, 'x') + "\"}";
  WriteFile(dir.path() / "body.json", body);
  RunResult r = RunCommand({"/usr/bin/curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
                     "-H", "Authorization: Bearer " + server_->api_key(), "-H",
                     "Expect: 100-continue", "-H", "Content-Type: application/json",
                     "--data-binary", "@" + (dir.path() / "body.json").string(),
                     server_->api_url() + "/tls_certificates"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 3), "400") << r.out;  // the body misses the PEM fields
  EXPECT_LT(std::stod(r.out.substr(4)), 0.9) << "curl waited for 100 Continue";
}

}  // namespace
}  // namespace certgate::testing
