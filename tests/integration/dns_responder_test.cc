// Tests of dns::Responder against real clients: dig (UDP and TCP) and raw
// packets built with ldns, including malformed ones.
#include "dns/responder.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <ldns/dname.h>
#include <ldns/wire2host.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "support/process.h"
// Last: ldns's C headers define true and false as macros.
#include "dns/ldns_util.h"

namespace certgate::dns {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr char kZone[] = "certgate.test";

class FakeZone : public ZoneSource {
 public:
  Result<bool> IsEdgeName(std::string_view name) override {
    std::lock_guard lock(mu_);
    names_seen_.emplace_back(name);
    if (fail_) return MakeError(ErrorCode::kStoreIo, "the store is down");
    return edge_.count(std::string(name)) > 0;
  }
  Result<std::vector<std::string>> TxtRecords(std::string_view name) override {
    std::lock_guard lock(mu_);
    names_seen_.emplace_back(name);
    if (fail_) return MakeError(ErrorCode::kStoreIo, "the store is down");
    auto it = txt_.find(std::string(name));
    if (it == txt_.end()) return std::vector<std::string>{};
    return it->second;
  }
  Result<bool> HasNamesBelow(std::string_view name) override {
    std::lock_guard lock(mu_);
    if (fail_) return MakeError(ErrorCode::kStoreIo, "the store is down");
    std::string suffix = "." + std::string(name);
    for (const auto& [n, v] : txt_) {
      if (n.size() > suffix.size() && n.ends_with(suffix)) return true;
    }
    return false;
  }

  void AddEdge(std::string name) {
    std::lock_guard lock(mu_);
    edge_.insert(std::move(name));
  }
  void SetTxt(std::string name, std::vector<std::string> values) {
    std::lock_guard lock(mu_);
    txt_[std::move(name)] = std::move(values);
  }
  void SetFail(bool fail) {
    std::lock_guard lock(mu_);
    fail_ = fail;
  }
  std::vector<std::string> names_seen() {
    std::lock_guard lock(mu_);
    return names_seen_;
  }

 private:
  std::mutex mu_;
  std::set<std::string> edge_;
  std::map<std::string, std::vector<std::string>> txt_;
  std::vector<std::string> names_seen_;
  bool fail_ = false;
};

// ---- raw packets ----

using Bytes = std::vector<uint8_t>;

Bytes Encode(const ldns_pkt* pkt) {
  auto wire = ToWire(pkt);
  EXPECT_TRUE(wire.has_value());
  return wire.value_or(Bytes());
}

PktPtr NewQuery(const std::string& name, ldns_rr_type type, uint16_t id = 0x4242) {
  ldns_rdf* dname = ldns_dname_new_frm_str(name.c_str());
  EXPECT_NE(dname, nullptr) << name;
  PktPtr q(ldns_pkt_query_new(dname, type, LDNS_RR_CLASS_IN, 0));
  ldns_pkt_set_id(q.get(), id);
  return q;
}

Bytes Query(const std::string& name, ldns_rr_type type, bool edns = false, uint16_t id = 0x4242) {
  PktPtr q = NewQuery(name, type, id);
  if (edns) ldns_pkt_set_edns_udp_size(q.get(), 4096);
  return Encode(q.get());
}

PktPtr Parse(const Bytes& bytes) {
  ldns_pkt* p = nullptr;
  if (ldns_wire2pkt(&p, bytes.data(), bytes.size()) != LDNS_STATUS_OK) return nullptr;
  return PktPtr(p);
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

sockaddr_in Loopback(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

bool WaitReadable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, timeout_ms) == 1;
}

// Sends one datagram; returns the answer, or nullopt when none came in time.
std::optional<Bytes> Udp(uint16_t port, const Bytes& msg, int timeout_ms = 2000) {
  Fd fd(socket(AF_INET, SOCK_DGRAM, 0));
  sockaddr_in addr = Loopback(port);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return std::nullopt;
  if (send(fd.get(), msg.data(), msg.size(), 0) != static_cast<ssize_t>(msg.size())) {
    return std::nullopt;
  }
  if (!WaitReadable(fd.get(), timeout_ms)) return std::nullopt;
  Bytes buf(65536);
  ssize_t n = recv(fd.get(), buf.data(), buf.size(), 0);
  if (n < 0) return std::nullopt;
  buf.resize(static_cast<size_t>(n));
  return buf;
}

std::unique_ptr<Fd> TcpConnect(uint16_t port) {
  auto fd = std::make_unique<Fd>(socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in addr = Loopback(port);
  if (connect(fd->get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return nullptr;
  return fd;
}

bool TcpSend(int fd, const Bytes& msg) {
  Bytes framed{static_cast<uint8_t>(msg.size() >> 8), static_cast<uint8_t>(msg.size() & 0xff)};
  framed.insert(framed.end(), msg.begin(), msg.end());
  return send(fd, framed.data(), framed.size(), MSG_NOSIGNAL) ==
         static_cast<ssize_t>(framed.size());
}

// Reads exactly n bytes; false on EOF, error or timeout.
bool ReadExactly(int fd, uint8_t* out, size_t n, int timeout_ms) {
  size_t got = 0;
  while (got < n) {
    if (!WaitReadable(fd, timeout_ms)) return false;
    ssize_t r = recv(fd, out + got, n - got, 0);
    if (r <= 0) return false;
    got += static_cast<size_t>(r);
  }
  return true;
}

std::optional<Bytes> TcpReceive(int fd, int timeout_ms = 2000) {
  uint8_t len[2];
  if (!ReadExactly(fd, len, 2, timeout_ms)) return std::nullopt;
  Bytes body((size_t{len[0]} << 8) | len[1]);
  if (!ReadExactly(fd, body.data(), body.size(), timeout_ms)) return std::nullopt;
  return body;
}

// True when the peer closed the connection (EOF or reset) within timeout_ms.
bool ClosedByPeer(int fd, int timeout_ms) {
  if (!WaitReadable(fd, timeout_ms)) return false;
  uint8_t b;
  return recv(fd, &b, 1, 0) <= 0;
}

std::string OwnerText(const ldns_rr* rr) {
  const ldns_rdf* owner = ldns_rr_owner(rr);
  std::string out;
  const uint8_t* p = ldns_rdf_data(owner);
  for (size_t i = 0; p[i] != 0; i += 1 + p[i]) {
    out.append(reinterpret_cast<const char*>(p + i + 1), p[i]);
    out += '.';
  }
  return out;
}

// ---- dig ----

struct Dig {
  std::string status;
  std::string flags;
  std::vector<std::string> answer;      // "name type rdata", TTL and class removed
  std::vector<std::string> authority;
  std::vector<std::string> additional;
  std::string raw;
};

Dig RunDig(uint16_t port, std::vector<std::string> args) {
  std::vector<std::string> argv{"/usr/bin/dig", "@127.0.0.1", "-p", std::to_string(port),
                                "+norecurse", "+time=2", "+tries=1", "+nocookie"};
  argv.insert(argv.end(), args.begin(), args.end());
  testing::RunResult r = testing::RunCommand(argv);
  Dig d;
  d.raw = r.out;
  std::smatch m;
  if (std::regex_search(r.out, m, std::regex("status: ([A-Z]+)"))) d.status = m[1];
  if (std::regex_search(r.out, m, std::regex(";; flags: ([a-z ]*);"))) d.flags = m[1];
  std::vector<std::string>* section = nullptr;
  std::istringstream in(r.out);
  std::string line;
  const std::regex rr("^(\\S+)\\s+\\d+\\s+IN\\s+(\\S+)\\s+(.*)$");
  while (std::getline(in, line)) {
    if (line.starts_with(";; ANSWER SECTION")) {
      section = &d.answer;
    } else if (line.starts_with(";; AUTHORITY SECTION")) {
      section = &d.authority;
    } else if (line.starts_with(";; ADDITIONAL SECTION")) {
      section = &d.additional;
    } else if (line.empty() || line.starts_with(";")) {
      if (line.empty()) section = nullptr;
    } else if (section != nullptr && std::regex_match(line, m, rr)) {
      section->push_back(std::string(m[1]) + " " + std::string(m[2]) + " " + std::string(m[3]));
    }
  }
  return d;
}

class DnsResponderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    zone_.AddEdge("abc.cname.certgate.test");
    zone_.SetTxt("_acme-challenge.abc.certgate.test", {"digest-one", "digest-two"});
    Start(ResponderOptions{});
  }

  void Start(ResponderOptions options) {
    responder_.reset();
    options.listen = HostPort{"127.0.0.1", 0};
    options.zone = kZone;
    options.edge_addresses = {boost::asio::ip::make_address("192.0.2.10"),
                              boost::asio::ip::make_address("2001:db8::10")};
    auto created = Responder::Create(std::move(options), zone_);
    ASSERT_TRUE(created.ok()) << created.error().message;
    responder_ = std::move(*created);
    auto bound = responder_->Listen();
    ASSERT_TRUE(bound.ok()) << bound.error().message;
    port_ = bound->port;
    ASSERT_NE(port_, 0);
    responder_->Start();
  }

  Dig DigUdp(std::string name, std::string type) { return RunDig(port_, {name, type}); }

  FakeZone zone_;
  std::unique_ptr<Responder> responder_;
  uint16_t port_ = 0;
};

const std::string kSoaPrefix = "certgate.test. SOA ns1.certgate.test. hostmaster.certgate.test. ";

TEST_F(DnsResponderTest, ApexSoaAndNs) {
  Dig soa = DigUdp("certgate.test", "SOA");
  EXPECT_EQ(soa.status, "NOERROR") << soa.raw;
  EXPECT_THAT(soa.flags, HasSubstr("aa"));
  EXPECT_THAT(soa.flags, ::testing::Not(HasSubstr("ra")));
  ASSERT_EQ(soa.answer.size(), 1u) << soa.raw;
  EXPECT_THAT(soa.answer[0], ::testing::StartsWith(kSoaPrefix));
  EXPECT_THAT(soa.answer[0], ::testing::EndsWith(" 3600 600 604800 30"));

  Dig ns = DigUdp("certgate.test", "NS");
  EXPECT_EQ(ns.status, "NOERROR");
  EXPECT_THAT(ns.answer, ElementsAre("certgate.test. NS ns1.certgate.test."));
  EXPECT_THAT(ns.additional, UnorderedElementsAre("ns1.certgate.test. A 192.0.2.10",
                                                  "ns1.certgate.test. AAAA 2001:db8::10"));
  Dig ns1 = DigUdp("ns1.certgate.test", "A");
  EXPECT_THAT(ns1.answer, ElementsAre("ns1.certgate.test. A 192.0.2.10"));
  Dig apex = DigUdp("certgate.test", "AAAA");
  EXPECT_THAT(apex.answer, ElementsAre("certgate.test. AAAA 2001:db8::10"));
}

TEST_F(DnsResponderTest, EdgeNameHasEdgeAddresses) {
  Dig a = DigUdp("abc.cname.certgate.test", "A");
  EXPECT_EQ(a.status, "NOERROR") << a.raw;
  EXPECT_THAT(a.flags, HasSubstr("aa"));
  EXPECT_THAT(a.answer, ElementsAre("abc.cname.certgate.test. A 192.0.2.10"));
  Dig aaaa = DigUdp("abc.cname.certgate.test", "AAAA");
  EXPECT_THAT(aaaa.answer, ElementsAre("abc.cname.certgate.test. AAAA 2001:db8::10"));
  // The source is asked with the normalized name.
  EXPECT_THAT(zone_.names_seen(), ::testing::Contains("abc.cname.certgate.test"));
  // Answers follow the store: a name added later answers at once.
  EXPECT_EQ(DigUdp("new.cname.certgate.test", "A").status, "NXDOMAIN");
  zone_.AddEdge("new.cname.certgate.test");
  EXPECT_THAT(DigUdp("new.cname.certgate.test", "A").answer,
              ElementsAre("new.cname.certgate.test. A 192.0.2.10"));
}

TEST_F(DnsResponderTest, TxtWithTwoValues) {
  Dig txt = DigUdp("_acme-challenge.abc.certgate.test", "TXT");
  EXPECT_EQ(txt.status, "NOERROR") << txt.raw;
  EXPECT_THAT(txt.flags, HasSubstr("aa"));
  EXPECT_THAT(txt.answer,
              UnorderedElementsAre("_acme-challenge.abc.certgate.test. TXT \"digest-one\"",
                                   "_acme-challenge.abc.certgate.test. TXT \"digest-two\""));
  // Over TCP too.
  Dig tcp = RunDig(port_, {"+tcp", "_acme-challenge.abc.certgate.test", "TXT"});
  EXPECT_EQ(tcp.answer.size(), 2u) << tcp.raw;
}

TEST_F(DnsResponderTest, LongTxtValueIsSplitIntoCharacterStrings) {
  const std::string value(300, 'x');
  zone_.SetTxt("long.certgate.test", {value});
  Dig txt = DigUdp("long.certgate.test", "TXT");
  ASSERT_EQ(txt.answer.size(), 1u) << txt.raw;
  EXPECT_EQ(txt.answer[0], "long.certgate.test. TXT \"" + std::string(255, 'x') + "\" \"" +
                               std::string(45, 'x') + "\"");
}

TEST_F(DnsResponderTest, NodataHasSoaInAuthority) {
  for (auto [name, type] : std::vector<std::pair<std::string, std::string>>{
           {"_acme-challenge.abc.certgate.test", "A"},
           {"abc.cname.certgate.test", "TXT"},
           {"abc.cname.certgate.test", "MX"},
           {"abc.cname.certgate.test", "CAA"},
           {"certgate.test", "TXT"},
           {"abc.certgate.test", "TXT"},  // an empty non-terminal
       }) {
    Dig d = DigUdp(name, type);
    EXPECT_EQ(d.status, "NOERROR") << name << " " << type << "\n" << d.raw;
    EXPECT_THAT(d.flags, HasSubstr("aa"));
    EXPECT_THAT(d.answer, IsEmpty()) << name << " " << type;
    ASSERT_EQ(d.authority.size(), 1u) << d.raw;
    EXPECT_THAT(d.authority[0], ::testing::StartsWith(kSoaPrefix));
  }
}

TEST_F(DnsResponderTest, NxdomainHasSoaInAuthority) {
  for (const char* name : {"nothing.certgate.test", "x.abc.cname.certgate.test"}) {
    Dig d = DigUdp(name, "A");
    EXPECT_EQ(d.status, "NXDOMAIN") << d.raw;
    EXPECT_THAT(d.flags, HasSubstr("aa"));
    EXPECT_THAT(d.answer, IsEmpty());
    ASSERT_EQ(d.authority.size(), 1u) << d.raw;
    EXPECT_THAT(d.authority[0], ::testing::StartsWith(kSoaPrefix));
  }
  // A label with bytes no host name has cannot exist, and is not asked about.
  Dig odd = DigUdp("a\\.b.certgate.test", "A");
  EXPECT_EQ(odd.status, "NXDOMAIN") << odd.raw;
  EXPECT_THAT(zone_.names_seen(), ::testing::Not(::testing::Contains(HasSubstr("a.b."))));
}

TEST_F(DnsResponderTest, RefusesNamesOutsideTheZone) {
  for (const char* name : {"example.com", "xcertgate.test", "certgate.test.evil", "test", "."}) {
    Dig d = DigUdp(name, "A");
    EXPECT_EQ(d.status, "REFUSED") << name << "\n" << d.raw;
    EXPECT_THAT(d.flags, ::testing::Not(HasSubstr("aa"))) << name;
    EXPECT_THAT(d.answer, IsEmpty());
  }
  // Zone transfers are refused (over TCP, where they are asked).
  auto conn = TcpConnect(port_);
  ASSERT_TRUE(conn);
  ASSERT_TRUE(TcpSend(conn->get(), Query("certgate.test.", LDNS_RR_TYPE_AXFR)));
  auto axfr = TcpReceive(conn->get());
  ASSERT_TRUE(axfr);
  EXPECT_EQ((*axfr)[3] & 0x0f, LDNS_RCODE_REFUSED);
  Dig chaos = DigUdp("version.bind", "TXT");
  EXPECT_EQ(RunDig(port_, {"-c", "CH", "certgate.test", "TXT"}).status, "REFUSED");
  EXPECT_EQ(chaos.status, "REFUSED");
}

TEST_F(DnsResponderTest, MatchesCaseInsensitivelyAndEchoesTheQuestion) {
  PktPtr q = NewQuery("AbC.CnAmE.CertGate.TEST.", LDNS_RR_TYPE_A, 0x1357);
  auto reply = Udp(port_, Encode(q.get()));
  ASSERT_TRUE(reply);
  PktPtr r = Parse(*reply);
  ASSERT_TRUE(r);
  EXPECT_EQ(ldns_pkt_id(r.get()), 0x1357);
  EXPECT_TRUE(ldns_pkt_qr(r.get()));
  EXPECT_TRUE(ldns_pkt_aa(r.get()));
  EXPECT_EQ(ldns_pkt_get_rcode(r.get()), LDNS_RCODE_NOERROR);
  ASSERT_EQ(ldns_pkt_qdcount(r.get()), 1);
  EXPECT_EQ(OwnerText(ldns_rr_list_rr(ldns_pkt_question(r.get()), 0)), "AbC.CnAmE.CertGate.TEST.");
  ASSERT_EQ(ldns_pkt_ancount(r.get()), 1);
  const ldns_rr* a = ldns_rr_list_rr(ldns_pkt_answer(r.get()), 0);
  EXPECT_EQ(OwnerText(a), "AbC.CnAmE.CertGate.TEST.");
  EXPECT_EQ(ldns_rr_get_type(a), LDNS_RR_TYPE_A);
  EXPECT_EQ(ldns_rr_ttl(a), 30u);
}

TEST_F(DnsResponderTest, EdnsIsEchoedWithOurPayloadSize) {
  auto with = Udp(port_, Query("certgate.test.", LDNS_RR_TYPE_SOA, /*edns=*/true));
  ASSERT_TRUE(with);
  PktPtr r = Parse(*with);
  ASSERT_TRUE(r);
  EXPECT_TRUE(ldns_pkt_edns(r.get()));
  EXPECT_EQ(ldns_pkt_edns_udp_size(r.get()), 1232);
  auto without = Udp(port_, Query("certgate.test.", LDNS_RR_TYPE_SOA));
  ASSERT_TRUE(without);
  r = Parse(*without);
  ASSERT_TRUE(r);
  EXPECT_FALSE(ldns_pkt_edns(r.get()));
  EXPECT_EQ(ldns_pkt_ancount(r.get()), 1);
  // EDNS version 1: BADVERS.
  PktPtr q = NewQuery("certgate.test.", LDNS_RR_TYPE_SOA);
  ldns_pkt_set_edns_udp_size(q.get(), 1232);
  ldns_pkt_set_edns_version(q.get(), 1);
  auto bad = Udp(port_, Encode(q.get()));
  ASSERT_TRUE(bad);
  r = Parse(*bad);
  ASSERT_TRUE(r);
  EXPECT_EQ(ldns_pkt_edns_extended_rcode(r.get()), 1);
  EXPECT_EQ(ldns_pkt_ancount(r.get()), 0);
}

TEST_F(DnsResponderTest, BigUdpAnswersAreTruncated) {
  std::vector<std::string> values;
  for (int i = 0; i < 20; ++i) values.push_back(std::string(40, static_cast<char>('a' + i % 26)));
  zone_.SetTxt("big.certgate.test", values);
  // Without EDNS the limit is 512 bytes.
  auto plain = Udp(port_, Query("big.certgate.test.", LDNS_RR_TYPE_TXT));
  ASSERT_TRUE(plain);
  EXPECT_LE(plain->size(), 512u);
  PktPtr r = Parse(*plain);
  ASSERT_TRUE(r);
  EXPECT_TRUE(ldns_pkt_tc(r.get()));
  EXPECT_TRUE(ldns_pkt_aa(r.get()));
  EXPECT_EQ(ldns_pkt_ancount(r.get()), 0);
  EXPECT_EQ(ldns_pkt_qdcount(r.get()), 1);
  // With EDNS (4096 asked, 1232 given) it fits.
  auto big = Udp(port_, Query("big.certgate.test.", LDNS_RR_TYPE_TXT, /*edns=*/true));
  ASSERT_TRUE(big);
  r = Parse(*big);
  ASSERT_TRUE(r);
  EXPECT_FALSE(ldns_pkt_tc(r.get()));
  EXPECT_EQ(ldns_pkt_ancount(r.get()), 20);
  // Beyond 1232 bytes it is truncated even when the client offers more.
  values.resize(30, std::string(40, 'z'));
  zone_.SetTxt("big.certgate.test", values);
  auto bigger = Udp(port_, Query("big.certgate.test.", LDNS_RR_TYPE_TXT, /*edns=*/true));
  ASSERT_TRUE(bigger);
  EXPECT_LE(bigger->size(), 1232u);
  r = Parse(*bigger);
  ASSERT_TRUE(r);
  EXPECT_TRUE(ldns_pkt_tc(r.get()));
  // dig without EDNS retries over TCP and gets everything.
  Dig d = RunDig(port_, {"+noedns", "big.certgate.test", "TXT"});
  EXPECT_EQ(d.answer.size(), 30u) << d.raw;
}

TEST_F(DnsResponderTest, AnyAnswersEverythingTheNameHas) {
  zone_.SetTxt("abc.cname.certgate.test", {"hello"});
  Dig d = DigUdp("abc.cname.certgate.test", "ANY");
  EXPECT_EQ(d.status, "NOERROR") << d.raw;
  EXPECT_THAT(d.answer, UnorderedElementsAre("abc.cname.certgate.test. A 192.0.2.10",
                                             "abc.cname.certgate.test. AAAA 2001:db8::10",
                                             "abc.cname.certgate.test. TXT \"hello\""));
  Dig apex = DigUdp("certgate.test", "ANY");
  EXPECT_EQ(apex.answer.size(), 4u) << apex.raw;  // SOA, NS, A, AAAA
}

TEST_F(DnsResponderTest, GarbageIsDroppedOrFormerr) {
  // Shorter than a header: dropped.
  EXPECT_FALSE(Udp(port_, Bytes{1, 2, 3, 4, 5}, 300));
  // A header announcing a question that is not there: FORMERR, same id.
  Bytes header{0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  auto reply = Udp(port_, header);
  ASSERT_TRUE(reply);
  ASSERT_GE(reply->size(), 12u);
  EXPECT_EQ((*reply)[0], 0xab);
  EXPECT_EQ((*reply)[1], 0xcd);
  EXPECT_EQ((*reply)[2] & 0x80, 0x80);  // QR
  EXPECT_EQ((*reply)[3] & 0x0f, LDNS_RCODE_FORMERR);
  // A query cut in the middle of its name.
  Bytes cut = Query("abc.cname.certgate.test.", LDNS_RR_TYPE_A);
  cut.resize(20);
  reply = Udp(port_, cut);
  ASSERT_TRUE(reply);
  EXPECT_EQ((*reply)[3] & 0x0f, LDNS_RCODE_FORMERR);
  // A compression pointer loop.
  Bytes loop{0x00, 0x01, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1};
  reply = Udp(port_, loop);
  ASSERT_TRUE(reply);
  EXPECT_EQ((*reply)[3] & 0x0f, LDNS_RCODE_FORMERR);
  // A response (QR set) is never answered.
  Bytes response = Query("certgate.test.", LDNS_RR_TYPE_SOA);
  response[2] |= 0x80;
  EXPECT_FALSE(Udp(port_, response, 300));
  // Over 512 bytes without EDNS: FORMERR; over 4096: dropped.
  Bytes padded = Query("certgate.test.", LDNS_RR_TYPE_SOA);
  padded.resize(600, 0);
  reply = Udp(port_, padded);
  ASSERT_TRUE(reply);
  EXPECT_EQ((*reply)[3] & 0x0f, LDNS_RCODE_FORMERR);
  Bytes huge = Query("certgate.test.", LDNS_RR_TYPE_SOA, /*edns=*/true);
  huge.resize(5000, 0);
  EXPECT_FALSE(Udp(port_, huge, 300));
  // The responder still answers.
  EXPECT_EQ(DigUdp("certgate.test", "SOA").status, "NOERROR");
}

TEST_F(DnsResponderTest, MultipleQuestionsAreFormerr) {
  PktPtr q = NewQuery("certgate.test.", LDNS_RR_TYPE_SOA);
  ldns_rr* second = ldns_rr_new();
  ldns_rr_set_owner(second, ldns_dname_new_frm_str("ns1.certgate.test."));
  ldns_rr_set_type(second, LDNS_RR_TYPE_A);
  ldns_rr_set_class(second, LDNS_RR_CLASS_IN);
  ldns_rr_set_question(second, true);
  ASSERT_TRUE(ldns_pkt_push_rr(q.get(), LDNS_SECTION_QUESTION, second));
  ASSERT_EQ(ldns_pkt_qdcount(q.get()), 2);
  auto reply = Udp(port_, Encode(q.get()));
  ASSERT_TRUE(reply);
  PktPtr r = Parse(*reply);
  ASSERT_TRUE(r);
  EXPECT_EQ(ldns_pkt_get_rcode(r.get()), LDNS_RCODE_FORMERR);
  EXPECT_EQ(ldns_pkt_ancount(r.get()), 0);
}

TEST_F(DnsResponderTest, OtherOpcodesAreNotImplemented) {
  PktPtr q = NewQuery("certgate.test.", LDNS_RR_TYPE_SOA);
  ldns_pkt_set_opcode(q.get(), LDNS_PACKET_NOTIFY);
  auto reply = Udp(port_, Encode(q.get()));
  ASSERT_TRUE(reply);
  EXPECT_EQ((*reply)[3] & 0x0f, LDNS_RCODE_NOTIMPL);
  EXPECT_EQ(((*reply)[2] >> 3) & 0x0f, LDNS_PACKET_NOTIFY);
}

TEST_F(DnsResponderTest, TcpCarriesSeveralQueries) {
  auto conn = TcpConnect(port_);
  ASSERT_TRUE(conn);
  // Both queries go out before either answer is read.
  ASSERT_TRUE(TcpSend(conn->get(), Query("abc.cname.certgate.test.", LDNS_RR_TYPE_A, false, 1)));
  ASSERT_TRUE(TcpSend(conn->get(),
                      Query("_acme-challenge.abc.certgate.test.", LDNS_RR_TYPE_TXT, false, 2)));
  auto first = TcpReceive(conn->get());
  auto second = TcpReceive(conn->get());
  ASSERT_TRUE(first && second);
  PktPtr a = Parse(*first);
  PktPtr b = Parse(*second);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(ldns_pkt_id(a.get()), 1);
  EXPECT_EQ(ldns_pkt_ancount(a.get()), 1);
  EXPECT_EQ(ldns_pkt_id(b.get()), 2);
  EXPECT_EQ(ldns_pkt_ancount(b.get()), 2);
  // A message shorter than a header closes the connection.
  ASSERT_TRUE(TcpSend(conn->get(), Bytes{1, 2, 3}));
  EXPECT_TRUE(ClosedByPeer(conn->get(), 2000));
}

// RFC 7766 lets a server close on an unexpected message; the responder is
// friendlier: a well-framed response (QR set, e.g. the 43-byte one the
// dns_query fuzzer sent) is skipped unanswered and the connection reads on.
TEST_F(DnsResponderTest, TcpSkipsAResponseAndReadsOn) {
  auto conn = TcpConnect(port_);
  ASSERT_TRUE(conn);
  Bytes response = Query("certgate.test.", LDNS_RR_TYPE_SOA, false, 7);
  response[2] |= 0x80;
  ASSERT_TRUE(TcpSend(conn->get(), response));
  ASSERT_TRUE(TcpSend(conn->get(), Query("certgate.test.", LDNS_RR_TYPE_SOA, false, 8)));
  auto answer = TcpReceive(conn->get());
  ASSERT_TRUE(answer);
  PktPtr a = Parse(*answer);
  ASSERT_TRUE(a);
  EXPECT_EQ(ldns_pkt_id(a.get()), 8);  // the response got no answer of its own
}

// RFC 7766 §6.2.1.1: pipelined queries are answered without delay. With
// Nagle on, the second answer of each pair would wait for the client's
// delayed ACK (40 ms on Linux): 20 pairs would take 800 ms or more.
TEST_F(DnsResponderTest, PipelinedTcpAnswersAreNotHeldBack) {
  auto conn = TcpConnect(port_);
  ASSERT_TRUE(conn);
  const auto start = std::chrono::steady_clock::now();
  for (uint16_t i = 0; i < 20; ++i) {
    Bytes both;
    for (uint16_t id : {static_cast<uint16_t>(2 * i + 1), static_cast<uint16_t>(2 * i + 2)}) {
      const Bytes q = Query("certgate.test.", LDNS_RR_TYPE_SOA, false, id);
      both.push_back(static_cast<uint8_t>(q.size() >> 8));
      both.push_back(static_cast<uint8_t>(q.size() & 0xff));
      both.insert(both.end(), q.begin(), q.end());
    }
    ASSERT_EQ(send(conn->get(), both.data(), both.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(both.size()));
    ASSERT_TRUE(TcpReceive(conn->get()));
    ASSERT_TRUE(TcpReceive(conn->get()));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(400));
}

TEST_F(DnsResponderTest, IdleAndExcessTcpConnectionsAreClosed) {
  ResponderOptions options;
  options.max_tcp_connections = 2;
  options.tcp_idle_timeout = std::chrono::milliseconds(300);
  Start(options);
  auto one = TcpConnect(port_);
  auto two = TcpConnect(port_);
  ASSERT_TRUE(one && two);
  for (const auto& c : {one.get(), two.get()}) {
    ASSERT_TRUE(TcpSend(c->get(), Query("certgate.test.", LDNS_RR_TYPE_SOA)));
    ASSERT_TRUE(TcpReceive(c->get()));
  }
  auto three = TcpConnect(port_);
  ASSERT_TRUE(three);
  EXPECT_TRUE(ClosedByPeer(three->get(), 2000));
  // The two open ones go idle and are closed; then a new one is served.
  EXPECT_TRUE(ClosedByPeer(one->get(), 2000));
  EXPECT_TRUE(ClosedByPeer(two->get(), 2000));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto four = TcpConnect(port_);
  ASSERT_TRUE(four);
  ASSERT_TRUE(TcpSend(four->get(), Query("certgate.test.", LDNS_RR_TYPE_SOA)));
  EXPECT_TRUE(TcpReceive(four->get()));
}

TEST_F(DnsResponderTest, ZoneSourceErrorIsServfail) {
  zone_.SetFail(true);
  Dig d = DigUdp("abc.cname.certgate.test", "A");
  EXPECT_EQ(d.status, "SERVFAIL") << d.raw;
  EXPECT_THAT(d.answer, IsEmpty());
  // The apex SOA needs no source, so still answers.
  EXPECT_EQ(DigUdp("certgate.test", "SOA").status, "NOERROR");
  // ANY asks the source after the apex records are in: none of them leak.
  Dig any = DigUdp("certgate.test", "ANY");
  EXPECT_EQ(any.status, "SERVFAIL");
  EXPECT_THAT(any.answer, IsEmpty());
  zone_.SetFail(false);
  EXPECT_EQ(DigUdp("abc.cname.certgate.test", "A").status, "NOERROR");
}

TEST_F(DnsResponderTest, SurvivesRandomAndMutatedInput) {
  std::mt19937 rng(12345);
  Fd fd(socket(AF_INET, SOCK_DGRAM, 0));
  sockaddr_in addr = Loopback(port_);
  const std::vector<Bytes> seeds = {
      Query("abc.cname.certgate.test.", LDNS_RR_TYPE_A),
      Query("_acme-challenge.abc.certgate.test.", LDNS_RR_TYPE_TXT, true),
      Query("certgate.test.", LDNS_RR_TYPE_ANY, true),
  };
  for (int i = 0; i < 4000; ++i) {
    Bytes msg;
    if (i % 4 == 0) {
      msg.resize(rng() % 100);
      for (auto& b : msg) b = static_cast<uint8_t>(rng());
    } else {
      msg = seeds[i % seeds.size()];
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) msg[rng() % msg.size()] = static_cast<uint8_t>(rng());
      if (rng() % 3 == 0) msg.resize(rng() % (msg.size() + 1));
    }
    sendto(fd.get(), msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    if (i % 200 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // TCP too: random frames on a few connections.
  for (int c = 0; c < 20; ++c) {
    auto conn = TcpConnect(port_);
    ASSERT_TRUE(conn);
    Bytes msg = seeds[static_cast<size_t>(c) % seeds.size()];
    for (int f = 0; f < 3; ++f) msg[rng() % msg.size()] = static_cast<uint8_t>(rng());
    TcpSend(conn->get(), msg);
  }
  // The flood may still be queued (slowly, under sanitizers): a query that
  // times out meanwhile is asked again; one that is answered must be right.
  Dig d = DigUdp("abc.cname.certgate.test", "A");
  for (int attempt = 0; attempt < 10 && d.status.empty(); ++attempt) {
    d = DigUdp("abc.cname.certgate.test", "A");
  }
  EXPECT_EQ(d.status, "NOERROR") << d.raw;
  EXPECT_EQ(RunDig(port_, {"+tcp", "certgate.test", "SOA"}).status, "NOERROR");
}

TEST(DnsResponderCreateTest, RejectsBadZonesAndAddresses) {
  FakeZone zone;
  for (const char* bad : {"", "certgate.test.", "Certgate.test", "a..b", "*.x.test"}) {
    ResponderOptions options;
    options.zone = bad;
    EXPECT_FALSE(Responder::Create(options, zone).ok()) << bad;
  }
  ResponderOptions options;
  options.zone = kZone;
  options.listen = HostPort{"not-an-ip", 0};
  auto responder = Responder::Create(options, zone);
  ASSERT_TRUE(responder.ok());
  auto bound = (*responder)->Listen();
  ASSERT_FALSE(bound.ok());
  EXPECT_EQ(bound.error().code, ErrorCode::kConfigInvalid);
}

TEST(DnsResponderCreateTest, ListenFailsOnATakenPortAndStopIsIdempotent) {
  FakeZone zone;
  ResponderOptions options;
  options.zone = kZone;
  options.listen = HostPort{"127.0.0.1", 0};
  auto first = Responder::Create(options, zone);
  ASSERT_TRUE(first.ok());
  auto bound = (*first)->Listen();
  ASSERT_TRUE(bound.ok());
  options.listen.port = bound->port;
  auto second = Responder::Create(options, zone);
  ASSERT_TRUE(second.ok());
  auto taken = (*second)->Listen();
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().code, ErrorCode::kIo);
  (*first)->Start();
  (*first)->Stop();
  (*first)->Stop();
  EXPECT_FALSE((*first)->Listen().ok());  // one-shot
  (*second)->Stop();  // never started
}

}  // namespace
}  // namespace certgate::dns
