#include "scale/dns_load.h"

#include <cerrno>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

namespace certgate::bench::scale {
namespace {

using Clock = std::chrono::steady_clock;

constexpr uint8_t kRcodeNxdomain = 3;
constexpr size_t kIds = 65536;

// An A/IN query for name with the given id; no RD (certgate's DNS is
// authoritative), no EDNS.
std::string Query(uint16_t id, const std::string& name) {
  std::string q;
  q.reserve(12 + name.size() + 6);
  q += static_cast<char>(id >> 8);
  q += static_cast<char>(id & 0xff);
  q.append("\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00", 10);  // flags, QD=1, AN, NS, AR
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    q += static_cast<char>(dot - start);
    q.append(name, start, dot - start);
    start = dot + 1;
  }
  q.append("\x00\x00\x01\x00\x01", 5);  // root, QTYPE A, QCLASS IN
  return q;
}

std::string RandomLabel(std::mt19937_64& rng) {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string label(10, 'a');
  for (char& c : label) c = kChars[rng() % (sizeof kChars - 1)];
  return label;
}

double ThreadCpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

DnsLoadResult RunDnsLoad(const DnsLoadSpec& spec, std::mt19937_64& rng) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(fmt::format("socket: {}", std::strerror(errno)));
  struct CloseFd {
    int fd;
    ~CloseFd() { ::close(fd); }
  } close_fd{fd};
  const int buffer = 1 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(spec.port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw std::runtime_error(
        fmt::format("connect to DNS port {}: {}", spec.port, std::strerror(errno)));
  }

  DnsLoadResult r;
  std::vector<bool> in_flight(kIds, false);
  std::deque<std::pair<uint16_t, Clock::time_point>> order;  // send order, for timeouts
  int outstanding = 0;
  uint16_t next_id = static_cast<uint16_t>(rng());
  const auto start = Clock::now();
  const double cpu_start = ThreadCpuSeconds();
  const auto deadline = start + spec.duration;
  const auto drain_until = deadline + spec.timeout;
  bool sending = true;
  char answer[4096];
  for (;;) {
    const auto now = Clock::now();
    if (sending && now >= deadline) {
      sending = false;
      r.wall_s = std::chrono::duration<double>(now - start).count();
      r.load_cpu_s = ThreadCpuSeconds() - cpu_start;
    }
    if (!sending && (outstanding == 0 || now >= drain_until)) break;
    // Lost queries make room for new ones.
    while (!order.empty()) {
      auto [id, at] = order.front();
      if (in_flight[id] && now - at < spec.timeout) break;
      if (in_flight[id]) {
        in_flight[id] = false;
        --outstanding;
        ++r.lost;
      }
      order.pop_front();
    }
    while (sending && outstanding < spec.concurrency) {
      while (in_flight[next_id]) ++next_id;
      const std::string q = Query(next_id, RandomLabel(rng) + "." + spec.zone);
      if (::send(fd, q.data(), q.size(), 0) < 0) break;  // the socket's buffer is full
      in_flight[next_id] = true;
      order.emplace_back(next_id, now);
      ++outstanding;
      ++r.sent;
      ++next_id;
    }
    pollfd p{fd, POLLIN, 0};
    ::poll(&p, 1, 10);
    for (;;) {
      const ssize_t n = ::recv(fd, answer, sizeof answer, 0);
      if (n < 0) break;
      if (n < 12 || (static_cast<uint8_t>(answer[2]) & 0x80) == 0) continue;  // not a response
      const auto id = static_cast<uint16_t>(static_cast<uint8_t>(answer[0]) << 8 |
                                            static_cast<uint8_t>(answer[1]));
      if (!in_flight[id]) continue;  // answered after it was counted lost
      in_flight[id] = false;
      --outstanding;
      const uint8_t rcode = static_cast<uint8_t>(answer[3]) & 0x0f;
      if (!sending) {
        ++r.late;
      } else if (rcode == kRcodeNxdomain) {
        ++r.nxdomain;
      } else {
        ++r.other;
      }
    }
  }
  return r;
}

}  // namespace certgate::bench::scale
