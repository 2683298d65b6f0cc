// A DNS message sent to certgate's authoritative responder: ldns's parsing of
// the query and everything dns::Responder does with it (opcode, EDNS, the
// question, names inside and outside the zone, NXDOMAIN/NODATA, TXT, A/AAAA,
// truncation). The responder only answers over its sockets, so one runs for
// the whole fuzzing session on loopback with a fixed zone; the first byte of
// the input picks UDP or TCP, the rest is the message.
//
// After the message, a known query (a "barrier", with an id of its own) goes
// the same way; the responder handles one message at a time in arrival order,
// so its answer means the fuzzed message has been handled, whether it was
// answered or dropped.
//
// libFuzzer's -timeout arms a SIGALRM (every timeout/2 + 1 s) without
// SA_RESTART, so every blocking socket call here retries on EINTR: an
// interrupted recv is not a closed connection.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <netinet/tcp.h>

#include <boost/asio/ip/address.hpp>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "dns/responder.h"
#include "fuzz_util.h"

namespace {

using namespace certgate;

class FuzzZone : public dns::ZoneSource {
 public:
  Result<bool> IsEdgeName(std::string_view name) override {
    return name == "edge.certgate.test" || name == "abc123.certgate.test";
  }
  Result<std::vector<std::string>> TxtRecords(std::string_view name) override {
    if (name.starts_with("fail.")) return MakeError(ErrorCode::kInternal, "fuzz: store down");
    if (name == "_acme-challenge.app.certgate.test") {
      return std::vector<std::string>{"LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0",
                                      std::string(300, 'a')};
    }
    return std::vector<std::string>{};
  }
  Result<bool> HasNamesBelow(std::string_view name) override {
    return name == "app.certgate.test";
  }
};

struct Peer {
  int udp = -1;
  int tcp = -1;
  sockaddr_in addr{};
  uint16_t next_id = 1;
};

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "dns_query_fuzz: %s: %s\n", what, std::strerror(errno));
  std::abort();
}

void SetTimeout(int fd) {
  timeval tv{5, 0};  // the responder answers in microseconds; 5 s means it hangs
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

Peer& TheResponder() {
  static Peer* peer = [] {
    static FuzzZone zone;
    dns::ResponderOptions o;
    o.listen = {"127.0.0.1", 0};
    o.zone = "certgate.test";
    o.edge_addresses = {boost::asio::ip::make_address("192.0.2.1"),
                        boost::asio::ip::make_address("2001:db8::1")};
    o.tcp_idle_timeout = std::chrono::hours(1);
    // One source sends thousands of queries a second here; the per-source
    // budget would drop them (and the barrier query with them).
    o.udp_queries_per_source = 0;
    auto r = dns::Responder::Create(o, zone);
    if (!r.ok()) Die(r.error().message.c_str());
    static std::unique_ptr<dns::Responder> responder = std::move(*r);
    auto bound = responder->Listen();
    if (!bound.ok()) Die(bound.error().message.c_str());
    responder->Start();
    auto* p = new Peer;
    p->addr.sin_family = AF_INET;
    p->addr.sin_port = htons(bound->port);
    p->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    p->udp = socket(AF_INET, SOCK_DGRAM, 0);
    if (p->udp < 0 || connect(p->udp, reinterpret_cast<sockaddr*>(&p->addr), sizeof p->addr) != 0) {
      Die("udp socket");
    }
    SetTimeout(p->udp);
    return p;
  }();
  return *peer;
}

// barrier.certgate.test A IN, with the given id.
std::vector<uint8_t> Barrier(uint16_t id) {
  std::vector<uint8_t> q = {static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id), 0x01, 0x00,
                            0, 1, 0, 0, 0, 0, 0, 0};
  for (std::string_view label : {"barrier", "certgate", "test"}) {
    q.push_back(static_cast<uint8_t>(label.size()));
    q.insert(q.end(), label.begin(), label.end());
  }
  q.insert(q.end(), {0, 0, 1, 0, 1});
  return q;
}

bool IsBarrierAnswer(const uint8_t* m, size_t n, uint16_t id) {
  return n >= 12 && m[0] == static_cast<uint8_t>(id >> 8) && m[1] == static_cast<uint8_t>(id) &&
         (m[2] & 0x80) != 0;
}

void OverUdp(Peer& p, const uint8_t* data, size_t size) {
  const uint16_t id = p.next_id++;
  if (send(p.udp, data, size, 0) < 0) Die("udp send");
  const std::vector<uint8_t> barrier = Barrier(id);
  if (send(p.udp, barrier.data(), barrier.size(), 0) < 0) Die("udp send");
  std::vector<uint8_t> buf(65536);
  for (;;) {
    const ssize_t n = recv(p.udp, buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) Die("no UDP answer to the barrier query: the responder hangs or died");
    FUZZ_CHECK(n <= 1232, "a UDP answer over the largest size the responder offers");
    if (IsBarrierAnswer(buf.data(), static_cast<size_t>(n), id)) return;
  }
}

enum class ReadEnd { kOk, kClosed, kTimedOut };

ReadEnd ReadFull(int fd, uint8_t* out, size_t n) {
  while (n > 0) {
    const ssize_t got = recv(fd, out, n, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return ReadEnd::kTimedOut;
    if (got <= 0) return ReadEnd::kClosed;
    out += got;
    n -= static_cast<size_t>(got);
  }
  return ReadEnd::kOk;
}

void AppendFramed(std::vector<uint8_t>& out, const uint8_t* data, size_t size) {
  out.push_back(static_cast<uint8_t>(size >> 8));
  out.push_back(static_cast<uint8_t>(size));
  out.insert(out.end(), data, data + size);
}

// False when the responder has closed the connection (or the send timed out).
bool SendAll(int fd, const std::vector<uint8_t>& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

void OverTcp(Peer& p, const uint8_t* data, size_t size) {
  if (p.tcp < 0) {
    p.tcp = socket(AF_INET, SOCK_STREAM, 0);
    if (p.tcp < 0 || connect(p.tcp, reinterpret_cast<sockaddr*>(&p.addr), sizeof p.addr) != 0) {
      Die("tcp connect");
    }
    SetTimeout(p.tcp);
    // The barrier must not wait for the ACK of a message the responder drops.
    const int one = 1;
    setsockopt(p.tcp, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  const uint16_t id = p.next_id++;
  const std::vector<uint8_t> barrier = Barrier(id);
  std::vector<uint8_t> out;
  AppendFramed(out, data, size);
  AppendFramed(out, barrier.data(), barrier.size());
  std::vector<uint8_t> buf;
  ReadEnd end = ReadEnd::kClosed;  // (a send fails when the responder closed already)
  if (SendAll(p.tcp, out)) {
    for (;;) {
      uint8_t len[2];
      if ((end = ReadFull(p.tcp, len, 2)) != ReadEnd::kOk) break;
      buf.resize((size_t{len[0]} << 8) | len[1]);
      if ((end = ReadFull(p.tcp, buf.data(), buf.size())) != ReadEnd::kOk) break;
      if (IsBarrierAnswer(buf.data(), buf.size(), id)) return;
    }
  }
  FUZZ_CHECK(end != ReadEnd::kTimedOut, "no TCP answer to the barrier query: the responder hangs");
  // The responder closes a connection only for a message shorter than a DNS
  // header or over its limit; it skips a well-framed message it does not
  // answer (a response, QR set) and reads on.
  FUZZ_CHECK(size < 12 || size > 4096,
             "the responder closed a TCP connection on a message it should read");
  close(p.tcp);
  p.tcp = -1;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 4097) return -1;  // the responder drops anything longer unread
  Peer& p = TheResponder();
  if (data[0] & 1) {
    OverTcp(p, data + 1, size - 1);
  } else {
    OverUdp(p, data + 1, size - 1);
  }
  return 0;
}
