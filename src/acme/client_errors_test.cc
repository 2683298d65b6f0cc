// acme::Client against a scripted fake CA on http://127.0.0.1 (plain HTTP is
// allowed to loopback): the answers Pebble never gives (rate limits, 5xx, wrong
// content types, oversized or incomplete bodies) and the nonce bookkeeping.
#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "acme/client.h"
#include "acme/jws.h"
#include "pki/ossl_ptr.h"
#include "pki/testing/cert_factory.h"
#include <openssl/x509v3.h>

namespace certgate::acme {
namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using tcp = net::ip::tcp;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// Serves /dir and HEAD /nonce itself; every other request goes to the
// handler. Each response but the directory's carries a fresh Replay-Nonce "n<k>".
class FakeCa {
 public:
  using Handler = std::function<Response(const Request&)>;
  explicit FakeCa(Handler handler)
      : handler_(std::move(handler)), acceptor_(io_, {net::ip::make_address("127.0.0.1"), 0}) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { Loop(); });
  }
  ~FakeCa() {
    stop_ = true;
    net::io_context io;
    tcp::socket wake(io);
    boost::system::error_code ec;
    wake.connect({net::ip::make_address("127.0.0.1"), port_}, ec);  // unblocks accept
    thread_.join();
  }
  std::string url(std::string_view path) const {
    return fmt::format("http://127.0.0.1:{}{}", port_, path);
  }
  int heads() const { return heads_.load(); }
  // The nonces the client's POSTs carried, in order.
  std::vector<std::string> used_nonces() const {
    std::lock_guard lock(mu_);
    return used_nonces_;
  }

 private:
  void Loop() {
    while (!stop_) {
      tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stop_) continue;
      boost::beast::flat_buffer buffer;
      Request req;
      http::read(socket, buffer, req, ec);
      if (ec) continue;
      Response res = Answer(req);
      if (req.target() != "/dir") res.set("Replay-Nonce", fmt::format("n{}", ++nonce_counter_));
      res.keep_alive(false);
      res.prepare_payload();
      http::write(socket, res, ec);
      socket.shutdown(tcp::socket::shutdown_both, ec);
    }
  }

  Response Answer(const Request& req) {
    if (req.target() == "/dir") {
      Response res{http::status::ok, 11};
      res.set(http::field::content_type, "application/json");
      res.body() = json::serialize(json::object{{"newNonce", url("/nonce")},
                                                {"newAccount", url("/acct")},
                                                {"newOrder", url("/order")},
                                                {"renewalInfo", url("/ari")}});
      return res;
    }
    if (req.method() == http::verb::head && req.target() == "/nonce") {
      ++heads_;
      return Response{http::status::ok, 11};
    }
    if (req.method() == http::verb::post) {
      json::object jws = json::parse(req.body()).as_object();
      auto prot = Base64UrlDecode(jws["protected"].as_string()).value();
      json::object header = json::parse(std::string(prot.begin(), prot.end())).as_object();
      std::lock_guard lock(mu_);
      used_nonces_.emplace_back(header["nonce"].as_string());
    }
    return handler_(req);
  }

  Handler handler_;
  net::io_context io_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> heads_{0};
  std::atomic<int> nonce_counter_{0};
  mutable std::mutex mu_;
  std::vector<std::string> used_nonces_;
  std::thread thread_;
};

Response Json(http::status status, std::string_view content_type, std::string body) {
  Response res{status, 11};
  res.set(http::field::content_type, content_type);
  res.body() = std::move(body);
  return res;
}

Response ProblemResponse(http::status status, std::string_view type, std::string_view detail) {
  return Json(status, "application/problem+json",
              json::serialize(json::object{{"type", std::string(kAcmeErrorPrefix) + std::string(type)},
                                           {"detail", detail},
                                           {"status", static_cast<int>(status)}}));
}

std::unique_ptr<Client> MakeClient(const FakeCa& ca, int bad_nonce_retries = 5) {
  auto c = Client::Create(ClientOptions{.directory_url = ca.url("/dir"),
                                        .timeout = std::chrono::seconds(5),
                                        .bad_nonce_retries = bad_nonce_retries});
  EXPECT_TRUE(c.ok()) << c.error().message;
  return std::move(c).value();
}

AccountRef Account(const FakeCa& ca) {
  return AccountRef{pki::testing::CachedKey(pki::testing::TestKeyType::kEcP256), ca.url("/acct/1")};
}

TEST(AcmeClientErrorsTest, RateLimitedCarriesRetryAfter) {
  FakeCa ca([](const Request&) {
    Response res = ProblemResponse(http::status::too_many_requests, "rateLimited",
                                   "too many certificates for this domain");
    res.set(http::field::retry_after, "120");
    return res;
  });
  auto client = MakeClient(ca);
  auto order = client->NewOrder(Account(ca), {"a.example"});
  ASSERT_FALSE(order.ok());
  EXPECT_EQ(order.error().code, ErrorCode::kAcmeRateLimited);
  EXPECT_EQ(order.error().retry_after, std::chrono::seconds(120));
  EXPECT_EQ(order.error().message,
            "the CA refused newOrder: rateLimited: too many certificates for this domain");
  EXPECT_TRUE(IsProblem(order.error(), "rateLimited"));
}

TEST(AcmeClientErrorsTest, ServerErrorWithoutProblemIsUnreachable) {
  FakeCa ca([](const Request&) {
    Response res = Json(http::status::service_unavailable, "text/html", "<h1>down</h1>");
    res.set(http::field::retry_after, "7");
    return res;
  });
  auto order = MakeClient(ca)->NewOrder(Account(ca), {"a.example"});
  ASSERT_FALSE(order.ok());
  EXPECT_EQ(order.error().code, ErrorCode::kAcmeUnreachable) << order.error().message;
  EXPECT_EQ(order.error().retry_after, std::chrono::seconds(7));
}

TEST(AcmeClientErrorsTest, MalformedAnswersAreBadResponses) {
  std::atomic<int> mode{0};
  FakeCa ca([&](const Request&) {
    switch (mode.load()) {
      case 0:  // wrong content type
        return Json(http::status::created, "text/html", "{}");
      case 1:  // not JSON
        return Json(http::status::created, "application/json", "{\"status\":");
      case 2:  // no finalize URL
        return Json(http::status::created, "application/json",
                    R"({"status":"pending","identifiers":[],"authorizations":[]})");
      case 3:  // a 4xx without a problem document
        return Json(http::status::forbidden, "text/plain", "no");
      default:  // over the 1 MiB bound
        return Json(http::status::created, "application/json",
                    std::string(Client::kMaxJsonBytes + 10, ' '));
    }
  });
  auto client = MakeClient(ca);
  for (int m = 0; m <= 4; ++m) {
    mode = m;
    auto order = client->NewOrder(Account(ca), {"a.example"});
    ASSERT_FALSE(order.ok()) << m;
    EXPECT_EQ(order.error().code, ErrorCode::kAcmeBadResponse) << m << ": "
                                                               << order.error().message;
  }
}

TEST(AcmeClientErrorsTest, NoncesComeFromResponsesAndBadNonceIsRetriedBoundedly) {
  std::atomic<int> posts{0};
  std::atomic<bool> reject{false};
  FakeCa ca([&](const Request&) {
    ++posts;
    if (reject) return ProblemResponse(http::status::bad_request, "badNonce", "stale nonce");
    Response res = Json(http::status::ok, "application/json",
                        R"({"status":"pending","identifiers":[{"type":"dns","value":"a.example"}],
                            "authorizations":["http://127.0.0.1/authz/1"],
                            "finalize":"http://127.0.0.1/fin/1"})");
    res.set(http::field::retry_after, "Sun, 06 Nov 1994 08:49:37 GMT");  // past: 0 s
    return res;
  });
  auto client = MakeClient(ca, /*bad_nonce_retries=*/3);
  for (int i = 0; i < 3; ++i) {
    auto order = client->GetOrder(Account(ca), ca.url("/order/1"));
    ASSERT_TRUE(order.ok()) << order.error().message;
    EXPECT_EQ(order->finalize, "http://127.0.0.1/fin/1");
    EXPECT_EQ(order->retry_after, std::chrono::seconds(0));
  }
  // One HEAD for the first request; then each response's nonce is reused.
  EXPECT_EQ(ca.heads(), 1);
  auto used = ca.used_nonces();
  ASSERT_EQ(used.size(), 3u);
  EXPECT_EQ(used[0], "n1");
  EXPECT_EQ(used[1], "n2");  // n1 came with the HEAD, n2 with the first POST's answer
  EXPECT_EQ(used[2], "n3");

  reject = true;
  posts = 0;
  auto refused = client->GetOrder(Account(ca), ca.url("/order/1"));
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(IsProblem(refused.error(), "badNonce")) << refused.error().message;
  EXPECT_EQ(posts.load(), 4);  // the request and 3 retries
  EXPECT_EQ(client->bad_nonce_retries(), 3u);
}

}  // namespace
}  // namespace certgate::acme

namespace certgate::acme {
namespace {

// A certificate with RFC 9773's example authority key identifier and serial.
pki::X509Ptr Rfc9773ExampleCertificate() {
  pki::X509Ptr cert(X509_new());
  BIGNUM* serial = nullptr;
  BN_hex2bn(&serial, "0087654321");
  BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get()));
  BN_free(serial);
  static constexpr unsigned char kKeyId[] = {0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40,
                                             0x41, 0xE1, 0xB3, 0x7B, 0x84, 0x7B, 0xA0,
                                             0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4};
  AUTHORITY_KEYID* akid = AUTHORITY_KEYID_new();
  akid->keyid = ASN1_OCTET_STRING_new();
  ASN1_OCTET_STRING_set(akid->keyid, kKeyId, sizeof kKeyId);
  X509_add1_ext_i2d(cert.get(), NID_authority_key_identifier, akid, 0, 0);
  AUTHORITY_KEYID_free(akid);
  return cert;
}

TEST(AcmeRenewalInfoTest, CertIdMatchesTheRfcExample) {
  pki::X509Ptr cert = Rfc9773ExampleCertificate();
  auto id = Client::RenewalCertId(cert.get());
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(*id, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
  pki::X509Ptr bare(X509_new());
  EXPECT_EQ(Client::RenewalCertId(bare.get()).error().code, ErrorCode::kAcmeBadResponse);
}

TEST(AcmeRenewalInfoTest, WindowIsReadFromTheCertificatesUrl) {
  std::mutex mu;
  std::string asked;
  int answer = 0;
  FakeCa ca([&](const Request& req) {
    std::lock_guard lock(mu);
    asked = std::string(req.target());
    if (answer == 0) {
      Response res = Json(http::status::ok, "application/json",
                          R"({"suggestedWindow": {"start": "2026-12-01T00:00:00Z",)"
                          R"( "end": "2026-12-03T12:30:00.5Z"},)"
                          R"( "explanationURL": "https://ca.test/why"})");
      res.set(http::field::retry_after, "21600");
      return res;
    }
    if (answer == 1) {
      return Json(http::status::ok, "application/json",
                  R"({"suggestedWindow": {"start": "2026-12-03T00:00:00Z",)"
                  R"( "end": "2026-12-01T00:00:00Z"}})");
    }
    return Json(http::status::ok, "application/json", R"({"window": {}})");
  });
  auto client = MakeClient(ca);
  pki::X509Ptr cert = Rfc9773ExampleCertificate();
  auto window = client->GetRenewalInfo(cert.get());
  ASSERT_TRUE(window.ok()) << window.error().message;
  ASSERT_TRUE(window->has_value());
  EXPECT_EQ(asked, "/ari/aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
  EXPECT_EQ((*window)->start, ParseRfc3339("2026-12-01T00:00:00Z"));
  EXPECT_EQ((*window)->end, ParseRfc3339("2026-12-03T12:30:00Z"));
  EXPECT_EQ((*window)->retry_after, std::chrono::seconds(21600));
  {
    std::lock_guard lock(mu);
    answer = 1;
  }
  EXPECT_EQ(client->GetRenewalInfo(cert.get()).error().code, ErrorCode::kAcmeBadResponse)
      << "a window that ends before it starts";
  {
    std::lock_guard lock(mu);
    answer = 2;
  }
  EXPECT_EQ(client->GetRenewalInfo(cert.get()).error().code, ErrorCode::kAcmeBadResponse);
}

}  // namespace
}  // namespace certgate::acme
