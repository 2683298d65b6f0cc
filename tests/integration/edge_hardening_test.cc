// The edge under a hostile client: request smuggling and malformed heads
// refused with one 400 and a close, bodies that never arrive answered 408,
// a flood of connections from one source address (127.0.0.2) that neither
// locks out another client (127.0.0.1) nor outlives the handshake timeout,
// and what connections that send nothing cost in memory.
#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "pki/testing/cert_factory.h"
#include "support/api_helpers.h"
#include "support/certgate_server.h"
#include "support/edge_peers.h"

namespace certgate::testing {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

#ifdef CERTGATE_SANITIZED
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

// Lets this process (and the server it starts) hold thousands of sockets.
void RaiseOpenFileLimit() {
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  setrlimit(RLIMIT_NOFILE, &lim);
}

// A TCP connection to 127.0.0.1:port from source (e.g. "127.0.0.2"),
// non-blocking when asked; -1 on failure.
int ConnectFrom(const char* source, uint16_t port, bool nonblocking = false) {
  int fd = socket(AF_INET, SOCK_STREAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return -1;
  sockaddr_in src{};
  src.sin_family = AF_INET;
  inet_pton(AF_INET, source, &src.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) {
    close(fd);
    return -1;
  }
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  if (!nonblocking) {
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  return fd;
}

// Everything the server sends on fd until it closes it (or 10 s pass).
std::string ReadToClose(int fd) {
  std::string all;
  char buf[4096];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    all.append(buf, static_cast<size_t>(n));
  }
  return all;
}

// Status lines ("HTTP/1.1 400 ...") at the start of a line; a message body
// may mention HTTP/1.1 too.
size_t CountResponses(const std::string& replies) {
  size_t n = 0;
  for (size_t at = replies.find("HTTP/1."); at != std::string::npos;
       at = replies.find("HTTP/1.", at + 1)) {
    const bool line_start = at == 0 || replies[at - 1] == '\n';
    const bool status = at + 12 <= replies.size() && replies[at + 8] == ' ' &&
                        std::isdigit(static_cast<unsigned char>(replies[at + 9])) != 0;
    if (line_start && status) ++n;
  }
  return n;
}

// Resident memory of a process, in bytes.
size_t RssOf(pid_t pid) {
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoul(line.substr(6)) * 1024;
  }
  return 0;
}

// Holds `count` connections from 127.0.0.2 to a port, opening a new one
// whenever the server closes one, until stopped: a client that takes every
// connection it can and never gives one back on its own.
class Flood {
 public:
  Flood(uint16_t port, size_t count, std::string send = "") : port_(port), send_(std::move(send)) {
    fds_.assign(count, -1);
    thread_ = std::thread([this] { Run(); });
  }
  ~Flood() {
    stop_ = true;
    thread_.join();
    for (int fd : fds_) {
      if (fd >= 0) close(fd);
    }
  }
  size_t opened() const { return opened_.load(); }
  size_t closed_by_server() const { return closed_.load(); }

 private:
  void Run() {
    std::vector<pollfd> polls;
    while (!stop_) {
      for (int& fd : fds_) {
        if (fd >= 0) continue;
        fd = ConnectFrom("127.0.0.2", port_, /*nonblocking=*/true);
        if (fd >= 0) {
          ++opened_;
          if (!send_.empty()) sent_.push_back(fd);
        }
      }
      polls.clear();
      for (int fd : fds_) {
        const short events = static_cast<short>(POLLIN | (Sending(fd) ? POLLOUT : 0));
        if (fd >= 0) polls.push_back({fd, events, 0});
      }
      poll(polls.data(), polls.size(), 20);
      for (const pollfd& p : polls) {
        if ((p.revents & POLLOUT) != 0) {
          ::send(p.fd, send_.data(), send_.size(), MSG_NOSIGNAL);
          std::erase(sent_, p.fd);
        }
        if ((p.revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        char buf[4096];
        ssize_t n = recv(p.fd, buf, sizeof buf, 0);
        if (n > 0 || (n < 0 && errno == EAGAIN)) continue;
        for (int& fd : fds_) {
          if (fd == p.fd) {
            close(fd);
            std::erase(sent_, fd);
            fd = -1;
            ++closed_;
          }
        }
      }
    }
  }
  bool Sending(int fd) const { return std::find(sent_.begin(), sent_.end(), fd) != sent_.end(); }

  uint16_t port_;
  std::string send_;  // sent once on each connection (e.g. part of a ClientHello)
  std::vector<int> fds_;
  std::vector<int> sent_;  // connections that still have send_ to send
  std::atomic<bool> stop_{false};
  std::atomic<size_t> opened_{0};
  std::atomic<size_t> closed_{0};
  std::thread thread_;
};

class EdgeHardeningTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { RaiseOpenFileLimit(); }

  std::unique_ptr<CertgateServer> Start(std::vector<std::string> args) {
    ServerOptions options;
    options.extra_args = std::move(args);
    return CertgateServer::Start(options);
  }
  // One request over TLS to a name without an endpoint (answered 404);
  // true if it was.
  static bool Served(uint16_t https_port) {
    std::string error;
    auto c = TlsClient::Connect(https_port, {.sni = "x.test"}, &error);
    return c && c->Http("GET", "/", "x.test").status == 404;
  }
  // One request on the plain-HTTP listener, answered with a redirect.
  static bool Redirected(uint16_t http_port) {
    int fd = ConnectFrom("127.0.0.1", http_port);
    if (fd < 0) return false;
    const std::string req = "GET /a HTTP/1.1\r\nHost: x.test\r\nConnection: close\r\n\r\n";
    send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    std::string reply = ReadToClose(fd);
    close(fd);
    return reply.rfind("HTTP/1.1 308", 0) == 0;
  }
};

// The smuggling cases of RFC 9112 §6.3 and the other malformed heads, each
// followed by a second request that must never be answered.
const std::vector<std::pair<std::string, std::string>> kBadHeads = {
    {"Transfer-Encoding: gzip", "POST / HTTP/1.1\r\nHost: x.test\r\nTransfer-Encoding: gzip\r\n\r\n"},
    {"Transfer-Encoding: chunked, identity",
     "POST / HTTP/1.1\r\nHost: x.test\r\nTransfer-Encoding: chunked, identity\r\n\r\n"},
    {"Content-Length with Transfer-Encoding",
     "POST / HTTP/1.1\r\nHost: x.test\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n"},
    {"HTTP/1.1 without Host", "GET / HTTP/1.1\r\nX-A: b\r\n\r\n"},
    {"two Host lines", "GET / HTTP/1.1\r\nHost: x.test\r\nHost: y.test\r\n\r\n"},
    {"obs-fold", "GET / HTTP/1.1\r\nHost: x.test\r\nX-A: b\r\n c\r\n\r\n"},
};
const std::string kSmuggled = "GET /smuggled HTTP/1.1\r\nHost: x.test\r\n\r\n";

TEST_F(EdgeHardeningTest, MalformedHeadsAreAnswered400AndClosedOverTls) {
  auto server = Start({});
  ASSERT_NE(server, nullptr);
  for (const auto& [what, head] : kBadHeads) {
    std::string error;
    auto c = TlsClient::Connect(server->https_port(), {.sni = "x.test"}, &error);
    ASSERT_NE(c, nullptr) << error;
    ASSERT_TRUE(c->Write(head + kSmuggled));
    std::string replies = c->Read(1 << 20);  // up to the server's close
    EXPECT_EQ(replies.substr(0, 12), "HTTP/1.1 400") << what << ":\n" << replies;
    EXPECT_EQ(CountResponses(replies), 1u) << what << ": a second answer:\n" << replies;
  }
}

TEST_F(EdgeHardeningTest, MalformedHeadsNeverReachTheUpstream) {
  auto server = Start({});
  ASSERT_NE(server, nullptr);
  auto client = server->Client();
  TestUpstream upstream;
  pki::testing::CertSpec spec;
  spec.dns_names = {"app.example.com"};
  spec.serial = {0x31};
  auto chain = pki::testing::MakeChain(pki::testing::TestKeyType::kEcP256, spec, false);
  ApiResult up = Call(client, verb::post, "/tls_certificates",
                      UploadBody(chain.BundlePem(), pki::testing::KeyPemPkcs8(chain.leaf_key.get())));
  ASSERT_EQ(up.status, 201) << up.raw;
  ASSERT_EQ(Call(client, verb::post, "/reserved_domains",
                 json::object{{"domain", "app.example.com"}, {"certificate_id", up.json.at("id")}})
                .status,
            201);
  ASSERT_EQ(Call(client, verb::post, "/endpoints",
                 json::object{{"url", "https://app.example.com"}, {"upstream", upstream.url()}})
                .status,
            201);
  bool reached = false;
  for (int i = 0; i < 300 && !reached; ++i) {
    std::string error;
    auto c = TlsClient::Connect(server->https_port(), {.sni = "app.example.com"}, &error);
    reached = c && c->Http("GET", "/echo", "app.example.com").status == 200;
    if (!reached) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(reached) << "the endpoint never reached the edge";
  const int before = upstream.connections();
  for (auto [what, head] : kBadHeads) {
    for (size_t at = head.find("x.test"); at != std::string::npos; at = head.find("x.test")) {
      head.replace(at, 6, "app.example.com");
    }
    std::string error;
    auto c = TlsClient::Connect(server->https_port(), {.sni = "app.example.com"}, &error);
    ASSERT_NE(c, nullptr) << error;
    ASSERT_TRUE(c->Write(head + kSmuggled));
    std::string replies = c->Read(1 << 20);
    EXPECT_EQ(replies.substr(0, 12), "HTTP/1.1 400") << what << ":\n" << replies;
    EXPECT_EQ(CountResponses(replies), 1u) << what << ":\n" << replies;
  }
  EXPECT_EQ(upstream.connections(), before) << "a refused request was forwarded";
}

TEST_F(EdgeHardeningTest, MalformedHeadsAreAnswered400AndClosedOnPlainHttp) {
  auto server = Start({});
  ASSERT_NE(server, nullptr);
  for (const auto& [what, head] : kBadHeads) {
    int fd = ConnectFrom("127.0.0.1", server->http_port());
    ASSERT_GE(fd, 0);
    const std::string all = head + kSmuggled;
    send(fd, all.data(), all.size(), MSG_NOSIGNAL);
    std::string replies = ReadToClose(fd);
    close(fd);
    EXPECT_EQ(replies.substr(0, 12), "HTTP/1.1 400") << what << ":\n" << replies;
    EXPECT_EQ(CountResponses(replies), 1u) << what << ":\n" << replies;
  }
}

TEST_F(EdgeHardeningTest, ABodyThatStopsArrivingIsAnswered408) {
  auto server = Start({"--io-timeout", "1"});
  ASSERT_NE(server, nullptr);
  std::string error;
  auto c = TlsClient::Connect(server->https_port(), {.sni = "x.test"}, &error);
  ASSERT_NE(c, nullptr) << error;
  const auto start = Clock::now();
  ASSERT_TRUE(c->Write("POST / HTTP/1.1\r\nHost: x.test\r\nContent-Length: 10\r\n\r\nabc"));
  std::string reply = c->Read(1 << 20);
  EXPECT_EQ(reply.substr(0, 12), "HTTP/1.1 408") << reply;
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), kSanitized ? 10 : 5);

  int fd = ConnectFrom("127.0.0.1", server->http_port());
  const std::string req = "POST / HTTP/1.1\r\nHost: x.test\r\nContent-Length: 10\r\n\r\nabc";
  send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  reply = ReadToClose(fd);
  close(fd);
  EXPECT_EQ(reply.substr(0, 12), "HTTP/1.1 408") << reply;
}

TEST_F(EdgeHardeningTest, ExpectContinueIsAnswered) {
  auto server = Start({});
  ASSERT_NE(server, nullptr);
  // No endpoint: the final answer at once, instead of 100 Continue.
  std::string error;
  auto c = TlsClient::Connect(server->https_port(), {.sni = "x.test"}, &error);
  ASSERT_NE(c, nullptr) << error;
  const auto start = Clock::now();
  ASSERT_TRUE(c->Write(
      "POST / HTTP/1.1\r\nHost: x.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  std::string reply = c->Read(1 << 20);
  EXPECT_EQ(reply.substr(0, 12), "HTTP/1.1 404") << reply;
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 5);
  // The plain-HTTP listener: 100 Continue, then the redirect once the body came.
  int fd = ConnectFrom("127.0.0.1", server->http_port());
  const std::string head =
      "POST / HTTP/1.1\r\nHost: x.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n"
      "Connection: close\r\n\r\n";
  send(fd, head.data(), head.size(), MSG_NOSIGNAL);
  char buf[256];
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)).substr(0, 12), "HTTP/1.1 100");
  send(fd, "hello", 5, MSG_NOSIGNAL);
  reply = ReadToClose(fd);
  close(fd);
  EXPECT_NE(reply.find("HTTP/1.1 308"), std::string::npos) << reply;
}

TEST_F(EdgeHardeningTest, IdlePlainHttpConnectionsCloseAtTheHandshakeTimeout) {
  auto server = Start({"--handshake-timeout", "1", "--idle-timeout", "60"});
  ASSERT_NE(server, nullptr);
  // Nothing sent.
  int fd = ConnectFrom("127.0.0.1", server->http_port());
  auto start = Clock::now();
  ReadToClose(fd);
  close(fd);
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 3.0);
  // After one request, kept alive: the same short timeout, not --idle-timeout.
  fd = ConnectFrom("127.0.0.1", server->http_port());
  const std::string req = "GET / HTTP/1.1\r\nHost: x.test\r\n\r\n";
  send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  start = Clock::now();
  std::string reply = ReadToClose(fd);
  close(fd);
  EXPECT_EQ(reply.substr(0, 12), "HTTP/1.1 308");
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 3.0);
  // A TLS connection that finished its handshake and sends no request.
  std::string error;
  auto c = TlsClient::Connect(server->https_port(), {.sni = "x.test"}, &error);
  ASSERT_NE(c, nullptr) << error;
  start = Clock::now();
  EXPECT_EQ(c->Read(1), "");
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 3.0);
}

// Runs `rounds` requests of the client's own while the flood goes on;
// returns how many were served.
template <class Fn>
int ServedDuring(int rounds, Fn&& request) {
  int served = 0;
  for (int i = 0; i < rounds; ++i) {
    if (request()) ++served;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return served;
}

TEST_F(EdgeHardeningTest, AFloodFromOneSourceIsCappedAndLocksNobodyOut) {
  // Each source may hold 20 of the 60; the flood wants 200 on each listener.
  auto server = Start({"--max-connections", "60", "--max-connections-per-source", "20",
                       "--handshake-timeout", "5"});
  ASSERT_NE(server, nullptr);
  Flood https_flood(server->https_port(), 200);
  Flood http_flood(server->http_port(), 200);
  // Wait until the flood holds its share.
  for (int i = 0; i < 200 && https_flood.opened() < 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const int rounds = 40;
  const int https_served = ServedDuring(rounds, [&] { return Served(server->https_port()); });
  const int http_served = ServedDuring(rounds, [&] { return Redirected(server->http_port()); });
  EXPECT_GE(https_served, rounds * 95 / 100);
  EXPECT_GE(http_served, rounds * 95 / 100);
  EXPECT_GT(https_flood.closed_by_server(), 100u) << "the flood was not refused beyond its share";
}

TEST_F(EdgeHardeningTest, ConnectionsThatSendNothingAreSmall) {
  if (kSanitized) GTEST_SKIP() << "the sanitizers' own memory would be measured";
  auto server = Start({"--handshake-timeout", "60", "--max-connections-per-source", "0"});
  ASSERT_NE(server, nullptr);
  const pid_t pid = server->process().pid();
  // Warm up: the first connections bring the reactor's and allocator's
  // first blocks.
  ASSERT_TRUE(Served(server->https_port()));
  std::vector<int> warm;
  for (int i = 0; i < 200; ++i) warm.push_back(ConnectFrom("127.0.0.1", server->https_port()));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (int fd : warm) close(fd);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const size_t before = RssOf(pid);

  constexpr size_t kCount = 5000;
  std::vector<int> fds;
  for (size_t i = 0; i < kCount; ++i) {
    int fd = ConnectFrom("127.0.0.1", server->https_port());
    ASSERT_GE(fd, 0) << "connection " << i << ": " << strerror(errno);
    fds.push_back(fd);
  }
  // Until the server has accepted them all (each then holds a place).
  bool accepted = false;
  for (int i = 0; i < 500 && !accepted; ++i) {
    auto dir = std::filesystem::directory_iterator(fmt::format("/proc/{}/fd", pid));
    accepted = static_cast<size_t>(std::distance(dir, {})) >= kCount;
    if (!accepted) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(accepted);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const size_t during = RssOf(pid);
  const double per_connection = (static_cast<double>(during) - static_cast<double>(before)) / kCount;
  std::printf("RSS before %zu KB, with %zu silent connections %zu KB: %.0f bytes each\n",
              before / 1024, kCount, during / 1024, per_connection);
  EXPECT_LE(per_connection, 4096.0);
  // Still serving meanwhile.
  EXPECT_TRUE(Served(server->https_port()));

  for (int fd : fds) close(fd);
  // Once they are gone, closing them cost nothing more (no TLS state is
  // made for a connection that leaves without a byte). Asio keeps each
  // socket's reactor entry (176 bytes) pooled for reuse, so the RSS does not
  // fall all the way back.
  for (int i = 0; i < 100; ++i) {
    auto dir = std::filesystem::directory_iterator(fmt::format("/proc/{}/fd", pid));
    if (static_cast<size_t>(std::distance(dir, {})) < 100) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const size_t after = RssOf(pid);
  std::printf("RSS after they closed: %zu KB\n", after / 1024);
  EXPECT_LE(after, during + (256 << 10));
}

}  // namespace
}  // namespace certgate::testing
