// HttpClient against real servers on 127.0.0.1: a small Beast server in the
// test (plain or TLS, with certificates from pki's test CA) that answers each
// connection with what the test scripts.
#include "http_client/http_client.h"

#include <openssl/ssl.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include "core/testing/temp_dir.h"
#include "pki/testing/cert_factory.h"

namespace certgate::http_client {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using pki::testing::TestKeyType;
using namespace std::chrono_literals;

// What the server saw of the last request.
struct Seen {
  std::string target;
  std::string host;
  std::string connection;
  std::string body;
  std::string sni;  // "" when the client sent none
};

// Answers each connection, one at a time, with the raw bytes `answer`
// returns; an answer of nullopt holds the connection without answering until
// the server is destroyed.
class LoopbackServer {
 public:
  using Answer = std::function<std::optional<std::string>(const Seen&)>;

  // chain: serve TLS with its leaf (and intermediate); nullptr: plain HTTP.
  LoopbackServer(Answer answer, const pki::testing::TestChain* chain = nullptr)
      : answer_(std::move(answer)), acceptor_(io_, {net::ip::make_address("127.0.0.1"), 0}) {
    if (chain != nullptr) {
      ctx_ = std::make_unique<ssl::context>(ssl::context::tls_server);
      std::string bundle = chain->BundlePem();
      std::string key = pki::testing::KeyPemPkcs8(chain->leaf_key.get());
      ctx_->use_certificate_chain(net::buffer(bundle));
      ctx_->use_private_key(net::buffer(key), ssl::context::pem);
    }
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { Loop(); });
  }
  ~LoopbackServer() {
    stop_ = true;
    release_.set_value();
    net::io_context io;
    tcp::socket wake(io);
    boost::system::error_code ec;
    wake.connect({net::ip::make_address("127.0.0.1"), port_}, ec);  // unblocks accept
    thread_.join();
  }
  std::string port() const { return std::to_string(port_); }
  Seen seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  void Loop() {
    while (!stop_) {
      tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stop_) continue;
      if (ctx_) {
        ssl::stream<tcp::socket> stream(std::move(socket), *ctx_);
        stream.handshake(ssl::stream_base::server, ec);
        if (ec) continue;
        const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
        Serve(stream, sni == nullptr ? "" : sni);
      } else {
        Serve(socket, "");
      }
    }
  }

  template <class Stream>
  void Serve(Stream& stream, std::string sni) {
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    boost::system::error_code ec;
    http::read(stream, buffer, req, ec);
    if (ec) return;
    Seen seen{std::string(req.target()), std::string(req[http::field::host]),
              std::string(req[http::field::connection]), req.body(), std::move(sni)};
    {
      std::lock_guard lock(mu_);
      seen_ = seen;
    }
    std::optional<std::string> answer = answer_(seen);
    if (!answer) {
      release_future_.wait();  // the client gives up first
      return;
    }
    net::write(stream, net::buffer(*answer), ec);
  }

  Answer answer_;
  net::io_context io_;
  tcp::acceptor acceptor_;
  std::unique_ptr<ssl::context> ctx_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::promise<void> release_;
  std::shared_future<void> release_future_ = release_.get_future().share();
  mutable std::mutex mu_;
  Seen seen_;
  std::thread thread_;
};

std::string Ok(std::string body) {
  return "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::unique_ptr<HttpClient> MakeClient(HttpClientOptions options) {
  auto client = HttpClient::Create(std::move(options));
  EXPECT_TRUE(client.ok()) << client.error().message;
  return std::move(client).value();
}

TEST(HttpClientTest, PlainExchange) {
  LoopbackServer server([](const Seen& seen) { return Ok("got " + seen.body); });
  auto client = MakeClient({.tls = std::nullopt});
  HttpRequest request{.method = http::verb::post,
                      .target = "/a?b=c",
                      .headers = {{"Content-Type", "text/plain"}},
                      .body = "hello"};
  ExchangeResult result = client->Send({.tls = false, .host = "127.0.0.1", .port = server.port()},
                                       request);
  ASSERT_TRUE(result.ok()) << result.failure().Describe("the server");
  EXPECT_EQ(result.response().status, 200);
  EXPECT_EQ(result.response().body, "got hello");
  EXPECT_EQ(result.response().MediaType(), "text/plain");
  Seen seen = server.seen();
  EXPECT_EQ(seen.target, "/a?b=c");
  EXPECT_EQ(seen.host, "127.0.0.1:" + server.port());
  EXPECT_EQ(seen.connection, "close");
}

TEST(HttpClientTest, ResponsesOverTheirLimitsFail) {
  LoopbackServer server([](const Seen& seen) -> std::optional<std::string> {
    if (seen.target == "/big-head") {
      return "HTTP/1.1 200 OK\r\nX-Padding: " + std::string(4096, 'x') +
             "\r\nContent-Length: 0\r\n\r\n";
    }
    return Ok(std::string(2048, 'b'));
  });
  auto client = MakeClient({.tls = std::nullopt});
  const HttpOrigin origin{.tls = false, .host = "127.0.0.1", .port = server.port()};

  ExchangeResult body = client->Send(origin, {.target = "/big-body", .limits = {.body = 1024}});
  ASSERT_FALSE(body.ok());
  EXPECT_EQ(body.failure().stage, HttpFailureStage::kResponseTooLarge) << body.failure().cause;
  EXPECT_EQ(body.failure().limit, 1024u);
  EXPECT_EQ(body.failure().Describe("x"), "the response from x is larger than 1024 bytes");

  ExchangeResult head = client->Send(origin, {.target = "/big-head", .limits = {.head = 1024}});
  ASSERT_FALSE(head.ok());
  EXPECT_EQ(head.failure().stage, HttpFailureStage::kResponseTooLarge) << head.failure().cause;
  EXPECT_EQ(head.failure().limit, 1024u);

  // Within the limits, the same answers arrive whole.
  ExchangeResult within = client->Send(origin, {.target = "/big-body", .limits = {.body = 2048}});
  ASSERT_TRUE(within.ok()) << within.failure().cause;
  EXPECT_EQ(within.response().body.size(), 2048u);
}

TEST(HttpClientTest, AServerThatNeverAnswersTimesOut) {
  LoopbackServer server([](const Seen&) { return std::nullopt; });
  auto client = MakeClient({.tls = std::nullopt, .timeout = 300ms});
  const auto start = std::chrono::steady_clock::now();
  ExchangeResult result =
      client->Send({.tls = false, .host = "127.0.0.1", .port = server.port()}, {});
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.failure().stage, HttpFailureStage::kReceive);
  EXPECT_TRUE(result.failure().timed_out) << result.failure().cause;
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 5s);
}

TEST(HttpClientTest, MalformedAndRefusedAreTheirOwnFailures) {
  LoopbackServer server([](const Seen&) { return std::string("SSH-2.0-OpenSSH\r\n\r\n"); });
  auto client = MakeClient({.tls = std::nullopt});
  ExchangeResult garbage =
      client->Send({.tls = false, .host = "127.0.0.1", .port = server.port()}, {});
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.failure().stage, HttpFailureStage::kMalformedResponse);

  ExchangeResult refused = client->Send({.tls = false, .host = "127.0.0.1", .port = "1"}, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.failure().stage, HttpFailureStage::kConnect);
  EXPECT_EQ(refused.failure().Describe("http://127.0.0.1:1"),
            "connecting to http://127.0.0.1:1 failed: Connection refused");

  ExchangeResult no_tls = client->Send({.tls = true, .host = "127.0.0.1", .port = "1"}, {});
  ASSERT_FALSE(no_tls.ok());
  EXPECT_EQ(no_tls.failure().stage, HttpFailureStage::kSetup);
}

class HttpClientTlsTest : public ::testing::Test {
 protected:
  // A chain for names (DNS SANs) and ips (IP SANs), and a client that trusts
  // its root.
  std::unique_ptr<HttpClient> TrustingClient(const pki::testing::TestChain& chain) {
    return TrustingClient(chain.root.get());
  }
  std::unique_ptr<HttpClient> TrustingClient(X509* root) {
    std::filesystem::path ca = dir_.path() / "ca.pem";
    std::ofstream(ca) << pki::testing::CertPem(root);
    return MakeClient({.tls = TlsTrust{ca.string()}, .timeout = 10s});
  }
  static pki::testing::TestChain Chain(std::vector<std::string> names,
                                       std::vector<std::string> ips) {
    pki::testing::CertSpec spec;
    spec.dns_names = std::move(names);
    spec.ips = std::move(ips);
    return pki::testing::MakeChain(TestKeyType::kEcP256, spec);
  }
  testing::TempDir dir_{"http_client"};
};

TEST_F(HttpClientTlsTest, NameVerifiedAndSentAsSni) {
  auto chain = Chain({"localhost"}, {});
  LoopbackServer server([](const Seen&) { return Ok("secure"); }, &chain);
  auto client = TrustingClient(chain);
  ExchangeResult result = client->Send({.tls = true, .host = "localhost", .port = server.port()},
                                       {});
  ASSERT_TRUE(result.ok()) << result.failure().Describe("localhost");
  EXPECT_EQ(result.response().body, "secure");
  EXPECT_EQ(server.seen().sni, "localhost");
  EXPECT_EQ(server.seen().host, "localhost:" + server.port());
}

TEST_F(HttpClientTlsTest, NameMismatchIsRefused) {
  auto chain = Chain({"other.test"}, {"127.0.0.2"});
  LoopbackServer server([](const Seen&) { return Ok("should not arrive"); }, &chain);
  auto client = TrustingClient(chain);
  ExchangeResult by_name =
      client->Send({.tls = true, .host = "localhost", .port = server.port()}, {});
  ASSERT_FALSE(by_name.ok());
  EXPECT_EQ(by_name.failure().stage, HttpFailureStage::kTlsHandshake);
  ExchangeResult by_ip = client->Send({.tls = true, .host = "127.0.0.1", .port = server.port()},
                                      {});
  ASSERT_FALSE(by_ip.ok());
  EXPECT_EQ(by_ip.failure().stage, HttpFailureStage::kTlsHandshake);
}

TEST_F(HttpClientTlsTest, IpAddressSanIsAcceptedWithoutSni) {
  auto chain = Chain({"other.test"}, {"127.0.0.1"});
  LoopbackServer server([](const Seen&) { return Ok("by address"); }, &chain);
  auto client = TrustingClient(chain);
  ExchangeResult result = client->Send({.tls = true, .host = "127.0.0.1", .port = server.port()},
                                       {});
  ASSERT_TRUE(result.ok()) << result.failure().Describe("127.0.0.1");
  EXPECT_EQ(result.response().body, "by address");
  EXPECT_EQ(server.seen().sni, "");
}

TEST_F(HttpClientTlsTest, AnotherCaIsRefusedAndAMissingCaFileIsAConfigError) {
  auto chain = Chain({"localhost"}, {"127.0.0.1"});
  // A root of its own key (the test chains' roots share one cached key).
  pki::EvpPkeyPtr stranger_key = pki::testing::MakeKey(TestKeyType::kEcP256);
  pki::X509Ptr stranger = pki::testing::IssueCertificate(
      {.common_name = "stranger", .is_ca = true, .extended_key_usage = std::nullopt,
       .key_usage = std::nullopt},
      stranger_key.get(), nullptr, stranger_key.get());
  LoopbackServer server([](const Seen&) { return Ok("should not arrive"); }, &chain);
  auto client = TrustingClient(stranger.get());
  ExchangeResult result = client->Send({.tls = true, .host = "127.0.0.1", .port = server.port()},
                                       {});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.failure().stage, HttpFailureStage::kTlsHandshake);

  auto missing = HttpClient::Create({.tls = TlsTrust{"/nonexistent/ca.pem"}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kConfigInvalid);
}

}  // namespace
}  // namespace certgate::http_client
