// Tests of dns::Resolver through a real recursive resolver (unbound) whose
// stub zones are certgate's own zone (a dns::Responder in this process) and a
// customer's zone (pebble-challtestsrv, holding the CNAME records), plus
// direct exchanges with the Responder and with misbehaving fake servers.
#include "dns/resolver.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "dns/responder.h"
#include "support/process.h"
#include "support/unbound.h"

namespace certgate::dns {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using Clock = std::chrono::steady_clock;

class FakeZone : public ZoneSource {
 public:
  Result<bool> IsEdgeName(std::string_view name) override {
    std::lock_guard lock(mu_);
    return edge_.count(std::string(name)) > 0;
  }
  Result<std::vector<std::string>> TxtRecords(std::string_view name) override {
    std::lock_guard lock(mu_);
    auto it = txt_.find(std::string(name));
    if (it == txt_.end()) return std::vector<std::string>{};
    return it->second;
  }
  void AddEdge(std::string name) {
    std::lock_guard lock(mu_);
    edge_.insert(std::move(name));
  }
  void SetTxt(std::string name, std::vector<std::string> values) {
    std::lock_guard lock(mu_);
    txt_[std::move(name)] = std::move(values);
  }

 private:
  std::mutex mu_;
  std::set<std::string> edge_;
  std::map<std::string, std::vector<std::string>> txt_;
};

// pebble-challtestsrv as the customer's authoritative DNS server, started
// directly (the shared harness class lives elsewhere).
class CustomerDns {
 public:
  CustomerDns() {
    for (int attempt = 0; attempt < 5; ++attempt) {
      dns_port_ = testing::PickFreePort(/*udp_too=*/true);
      management_port_ = testing::PickFreePort();
      process_ = std::make_unique<testing::Process>(std::vector<std::string>{
          "/usr/bin/pebble-challtestsrv", "-dns01", fmt::format("127.0.0.1:{}", dns_port_),
          "-management", fmt::format("127.0.0.1:{}", management_port_), "-http01", "",
          "-https01", "", "-tlsalpn01", ""});
      const auto deadline = Clock::now() + std::chrono::seconds(10);
      while (Clock::now() < deadline && process_->running()) {
        if (Post("/clear-a", R"({"host":"unused.customer.test."})")) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      process_.reset();
    }
    throw std::runtime_error("pebble-challtestsrv did not start");
  }

  bool Post(const std::string& path, const std::string& body) {
    testing::RunResult r = testing::RunCommand(
        {"/usr/bin/curl", "-s", "-f", "-o", "/dev/null", "--max-time", "5", "-d", body,
         fmt::format("http://127.0.0.1:{}{}", management_port_, path)});
    return r.exit_code == 0;
  }
  bool SetCname(const std::string& host, const std::string& target) {
    return Post("/set-cname", fmt::format(R"({{"host":"{}.","target":"{}."}})", host, target));
  }
  uint16_t dns_port() const { return dns_port_; }

 private:
  uint16_t dns_port_ = 0;
  uint16_t management_port_ = 0;
  std::unique_ptr<testing::Process> process_;
};

// One set of peers for the whole suite: starting unbound and challtestsrv
// costs more than the tests.
struct Peers {
  FakeZone zone;
  std::unique_ptr<Responder> responder;
  uint16_t responder_port = 0;
  std::unique_ptr<CustomerDns> customer;
  uint16_t down_port = 0;
  std::unique_ptr<testing::Unbound> unbound;
};

class DnsResolverTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    peers_ = new Peers;
    peers_->zone.AddEdge("abc.cname.certgate.test");
    peers_->zone.SetTxt("_acme-challenge.abc.certgate.test", {"digest-one", "digest-two"});
    ResponderOptions options;
    options.listen = HostPort{"127.0.0.1", 0};
    options.zone = "certgate.test";
    options.edge_addresses = {boost::asio::ip::make_address("192.0.2.10")};
    auto responder = Responder::Create(options, peers_->zone);
    ASSERT_TRUE(responder.ok()) << responder.error().message;
    peers_->responder = std::move(*responder);
    auto bound = peers_->responder->Listen();
    ASSERT_TRUE(bound.ok()) << bound.error().message;
    peers_->responder_port = bound->port;
    peers_->responder->Start();

    peers_->customer = std::make_unique<CustomerDns>();
    ASSERT_TRUE(peers_->customer->SetCname("www.customer.test", "abc.cname.certgate.test"));
    ASSERT_TRUE(peers_->customer->SetCname("_acme-challenge.wild.customer.test",
                                           "wild.acme.certgate.test"));
    // Nothing listens there: the stub zone "down.test" has no server.
    peers_->down_port = testing::PickFreePort(/*udp_too=*/true);
    peers_->unbound = std::make_unique<testing::Unbound>(std::vector<testing::StubZone>{
        {.zone = "certgate.test", .port = peers_->responder_port},
        {.zone = "customer.test", .port = peers_->customer->dns_port()},
        {.zone = "down.test", .port = peers_->down_port},
    });
  }
  static void TearDownTestSuite() {
    delete peers_;
    peers_ = nullptr;
  }

  static Resolver Through(HostPort server, std::chrono::milliseconds timeout =
                                               std::chrono::milliseconds(5000)) {
    auto r = Resolver::Create(ResolverOptions{.server = server, .timeout = timeout});
    EXPECT_TRUE(r.ok()) << r.error().message;
    return std::move(*r);
  }
  static Resolver ThroughUnbound() {
    return Through(HostPort{"127.0.0.1", peers_->unbound->port()});
  }

  static Peers* peers_;
};
Peers* DnsResolverTest::peers_ = nullptr;

TEST_F(DnsResolverTest, LookupCnameReturnsTheNormalizedTarget) {
  Resolver resolver = ThroughUnbound();
  for (const char* name : {"www.customer.test", "WWW.Customer.TEST."}) {
    auto cname = resolver.LookupCname(name);
    ASSERT_TRUE(cname.ok()) << cname.error().message << "\n" << peers_->unbound->Log();
    EXPECT_EQ(*cname, std::optional<std::string>("abc.cname.certgate.test")) << name;
  }
}

TEST_F(DnsResolverTest, LookupCnameIsNulloptWithoutACname) {
  Resolver resolver = ThroughUnbound();
  auto nodata = resolver.LookupCname("plain.customer.test");  // NODATA at challtestsrv
  ASSERT_TRUE(nodata.ok()) << nodata.error().message;
  EXPECT_EQ(*nodata, std::nullopt);
  auto nxdomain = resolver.LookupCname("nothing.certgate.test");  // NXDOMAIN at the responder
  ASSERT_TRUE(nxdomain.ok()) << nxdomain.error().message;
  EXPECT_EQ(*nxdomain, std::nullopt);
  auto edge = resolver.LookupCname("abc.cname.certgate.test");  // has A, no CNAME
  ASSERT_TRUE(edge.ok()) << edge.error().message;
  EXPECT_EQ(*edge, std::nullopt);
}

TEST_F(DnsResolverTest, LookupTxtReadsTheResponderThroughUnbound) {
  auto txt = ThroughUnbound().LookupTxt("_acme-challenge.abc.certgate.test");
  ASSERT_TRUE(txt.ok()) << txt.error().message;
  EXPECT_THAT(*txt, UnorderedElementsAre("digest-one", "digest-two"));
  auto none = ThroughUnbound().LookupTxt("nothing.certgate.test");
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_THAT(*none, IsEmpty());
}

// DNS-01 for a wildcard: the CA asks _acme-challenge.<customer name>, which
// CNAMEs into certgate's zone, where the responder holds the TXT record.
TEST_F(DnsResolverTest, LookupTxtFollowsTheCustomersCname) {
  peers_->zone.SetTxt("wild.acme.certgate.test", {"key-authorization-digest"});
  auto txt = ThroughUnbound().LookupTxt("_acme-challenge.wild.customer.test");
  ASSERT_TRUE(txt.ok()) << txt.error().message;
  EXPECT_THAT(*txt, ElementsAre("key-authorization-digest"));
}

TEST_F(DnsResolverTest, RecordAddedAfterANegativeAnswerShowsUpSoon) {
  Resolver resolver = ThroughUnbound();
  auto before = resolver.LookupTxt("_acme-challenge.late.certgate.test");
  ASSERT_TRUE(before.ok()) << before.error().message;
  EXPECT_THAT(*before, IsEmpty());
  peers_->zone.SetTxt("_acme-challenge.late.certgate.test", {"now-here"});
  const auto start = Clock::now();
  std::vector<std::string> seen;
  while (Clock::now() - start < std::chrono::seconds(4)) {
    auto after = resolver.LookupTxt("_acme-challenge.late.certgate.test");
    ASSERT_TRUE(after.ok()) << after.error().message;
    seen = *after;
    if (!seen.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_THAT(seen, ElementsAre("now-here"));
}

// The path the CA's HTTP-01 check takes: the customer's name, through its
// CNAME, ends at the edge address the responder gives. challtestsrv itself
// adds an A record (127.0.0.1) for the target, out of its bailiwick; unbound
// must not believe it.
TEST_F(DnsResolverTest, AQueryForACustomerNameEndsAtTheEdge) {
  testing::RunResult r = testing::RunCommand(
      {"/usr/bin/dig", "@127.0.0.1", "-p", std::to_string(peers_->unbound->port()), "+time=3",
       "+tries=1", "+short", "www.customer.test", "A"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "abc.cname.certgate.test.\n192.0.2.10\n");
}

TEST_F(DnsResolverTest, ServerFailureWhenTheStubServerIsDown) {
  const auto start = Clock::now();
  auto cname = Through(HostPort{"127.0.0.1", peers_->unbound->port()},
                       std::chrono::milliseconds(10000))
                   .LookupCname("www.down.test");
  ASSERT_FALSE(cname.ok());
  EXPECT_EQ(cname.error().code, ErrorCode::kDnsServerFailure) << cname.error().message;
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(10));
}

TEST_F(DnsResolverTest, ServerFailureWhenRefused) {
  // Outside every stub zone: unbound refuses.
  auto txt = ThroughUnbound().LookupTxt("example.com");
  ASSERT_FALSE(txt.ok());
  EXPECT_EQ(txt.error().code, ErrorCode::kDnsServerFailure);
  EXPECT_THAT(txt.error().message, ::testing::HasSubstr("REFUSED"));
  // The responder itself refuses names outside its zone.
  auto direct = Through(HostPort{"127.0.0.1", peers_->responder_port}).LookupCname("example.com");
  ASSERT_FALSE(direct.ok());
  EXPECT_EQ(direct.error().code, ErrorCode::kDnsServerFailure);
}

TEST_F(DnsResolverTest, TruncatedAnswersAreRetriedOverTcp) {
  std::vector<std::string> values;
  for (int i = 0; i < 40; ++i) values.push_back(fmt::format("value-{:02}-{}", i, std::string(30, 'v')));
  peers_->zone.SetTxt("big.certgate.test", values);
  // Directly against the responder: 40 records do not fit its 1232 bytes.
  auto txt = Through(HostPort{"127.0.0.1", peers_->responder_port}).LookupTxt("big.certgate.test");
  ASSERT_TRUE(txt.ok()) << txt.error().message;
  EXPECT_EQ(txt->size(), 40u);
  EXPECT_THAT(*txt, ::testing::Contains("value-39-" + std::string(30, 'v')));
}

// ---- misbehaving servers ----

// A UDP socket on 127.0.0.1 that reads queries and answers them with what
// `reply` makes of them (nothing when it returns an empty vector).
class FakeUdpServer {
 public:
  explicit FakeUdpServer(std::function<std::vector<uint8_t>(const std::vector<uint8_t>&)> reply)
      : reply_(std::move(reply)) {
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~FakeUdpServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }
  int queries() const { return queries_.load(); }

 private:
  void Loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) != 1) continue;
      std::vector<uint8_t> buf(4096);
      sockaddr_in from{};
      socklen_t len = sizeof from;
      ssize_t n = recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n <= 0) continue;
      buf.resize(static_cast<size_t>(n));
      ++queries_;
      std::vector<uint8_t> out = reply_(buf);
      if (!out.empty()) {
        sendto(fd_, out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
      }
    }
  }
  std::function<std::vector<uint8_t>(const std::vector<uint8_t>&)> reply_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> queries_{0};
  std::thread thread_;
};

TEST(DnsResolverTimeoutTest, UnreachableWithinTheTimeoutWhenNothingListens) {
  const uint16_t port = testing::PickFreePort(/*udp_too=*/true);
  auto resolver = Resolver::Create(ResolverOptions{.server = HostPort{"127.0.0.1", port},
                                                   .timeout = std::chrono::milliseconds(800)});
  ASSERT_TRUE(resolver.ok());
  const auto start = Clock::now();
  auto cname = resolver->LookupCname("www.customer.test");
  const auto elapsed = Clock::now() - start;
  ASSERT_FALSE(cname.ok());
  EXPECT_EQ(cname.error().code, ErrorCode::kDnsUnreachable) << cname.error().message;
  EXPECT_LT(elapsed, std::chrono::milliseconds(1500));
}

TEST(DnsResolverTimeoutTest, UnreachableWithinTheTimeoutWhenTheServerIsSilent) {
  FakeUdpServer silent([](const std::vector<uint8_t>&) { return std::vector<uint8_t>{}; });
  auto resolver = Resolver::Create(ResolverOptions{
      .server = HostPort{"127.0.0.1", silent.port()}, .timeout = std::chrono::milliseconds(600)});
  ASSERT_TRUE(resolver.ok());
  const auto start = Clock::now();
  auto txt = resolver->LookupTxt("x.certgate.test");
  const auto elapsed = Clock::now() - start;
  ASSERT_FALSE(txt.ok());
  EXPECT_EQ(txt.error().code, ErrorCode::kDnsUnreachable) << txt.error().message;
  EXPECT_GE(elapsed, std::chrono::milliseconds(550));
  EXPECT_LT(elapsed, std::chrono::milliseconds(1200));
  EXPECT_GE(silent.queries(), 2);  // retransmitted
}

TEST(DnsResolverTimeoutTest, MalformedAnswer) {
  // Right id and QR, a question count with no question behind it.
  FakeUdpServer bad([](const std::vector<uint8_t>& q) {
    std::vector<uint8_t> out(q.begin(), q.begin() + 12);
    out[2] |= 0x80;
    out[5] = 1;
    out.push_back(0x07);  // a label that ends early
    return out;
  });
  auto resolver = Resolver::Create(ResolverOptions{
      .server = HostPort{"127.0.0.1", bad.port()}, .timeout = std::chrono::milliseconds(2000)});
  ASSERT_TRUE(resolver.ok());
  auto cname = resolver->LookupCname("www.customer.test");
  ASSERT_FALSE(cname.ok());
  EXPECT_EQ(cname.error().code, ErrorCode::kDnsMalformed) << cname.error().message;
}

TEST(DnsResolverTimeoutTest, AnswersWithAnotherIdAreIgnored) {
  FakeUdpServer spoofer([](const std::vector<uint8_t>& q) {
    std::vector<uint8_t> out(q);
    out[0] ^= 0xff;  // wrong id
    out[2] |= 0x80;
    return out;
  });
  auto resolver = Resolver::Create(ResolverOptions{
      .server = HostPort{"127.0.0.1", spoofer.port()}, .timeout = std::chrono::milliseconds(500)});
  ASSERT_TRUE(resolver.ok());
  auto txt = resolver->LookupTxt("x.certgate.test");
  ASSERT_FALSE(txt.ok());
  EXPECT_EQ(txt.error().code, ErrorCode::kDnsUnreachable);
}

TEST(DnsResolverCreateTest, OptionsAreChecked) {
  EXPECT_FALSE(Resolver::Create(ResolverOptions{.server = HostPort{"127.0.0.1", 53},
                                                .timeout = std::chrono::milliseconds(0)})
                   .ok());
  EXPECT_FALSE(Resolver::Create(ResolverOptions{.server = HostPort{"dns.example", 53}}).ok());
  EXPECT_FALSE(Resolver::Create(ResolverOptions{.server = HostPort{"127.0.0.1", 0}}).ok());
  auto parsed = ParseHostPort("127.0.0.1:5353", "--dns-resolver");
  ASSERT_TRUE(parsed.ok());
  auto resolver = Resolver::Create(ResolverOptions{.server = *parsed});
  ASSERT_TRUE(resolver.ok());
  ASSERT_EQ(resolver->servers().size(), 1u);
  EXPECT_EQ(resolver->servers()[0].port, 5353);
  for (const char* bad : {"", ".", "a..b", ".a"}) {
    auto r = resolver->LookupTxt(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kDomainInvalid) << bad;
  }
}

TEST(DnsResolverCreateTest, SystemResolversComeFromResolvConf) {
  if (!std::filesystem::exists("/etc/resolv.conf")) GTEST_SKIP() << "no /etc/resolv.conf";
  const std::string conf = testing::ReadFile("/etc/resolv.conf");
  if (conf.find("nameserver") == std::string::npos) GTEST_SKIP() << "no nameserver line";
  auto resolver = Resolver::Create(ResolverOptions{});
  ASSERT_TRUE(resolver.ok()) << resolver.error().message;
  ASSERT_FALSE(resolver->servers().empty());
  EXPECT_NE(conf.find(resolver->servers()[0].host), std::string::npos);
  EXPECT_EQ(resolver->servers()[0].port, 53);
}

}  // namespace
}  // namespace certgate::dns
