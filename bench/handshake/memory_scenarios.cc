#include "handshake/memory_scenarios.h"

#include <cerrno>
#include <chrono>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/progress.h"

namespace certgate::bench::handshake {
namespace {

// How many of the kept connections the server still holds open (no EOF).
int StillOpen(const std::vector<std::unique_ptr<Conn>>& conns) {
  int n = 0;
  for (const auto& c : conns) {
    char b;
    ssize_t r = ::recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      ++n;
    else if (r > 0)
      ++n;  // bytes pending (a close_notify would be followed by EOF)
  }
  return n;
}

}  // namespace

IdleResult MeasureIdle(Server& s, LoadGenerator& load, const Pki& pki, const Options& o) {
  IdleResult out;
  out.label = s.label;
  s.Refresh();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  out.before = MemoryOf(s.procs);
  LoadSpec spec;
  spec.port = s.port;
  spec.concurrency = o.concurrency;
  spec.names = &pki.names;
  spec.keep_alive = true;
  const auto t0 = Clock::now();
  spec.total = o.idle / 5;
  LoadResult r = load.Run(spec);
  out.first_batch = static_cast<int>(r.kept.size());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  out.middle = MemoryOf(s.procs);
  spec.total = o.idle - o.idle / 5;
  LoadResult rest = load.Run(spec);
  for (auto& c : rest.kept) r.kept.push_back(std::move(c));
  r.failed += rest.failed;
  if (r.first_error.empty()) r.first_error = rest.first_error;
  out.open_s = Seconds(Clock::now() - t0);
  out.opened = static_cast<int>(r.kept.size());
  if (r.failed > 0) {
    Progress("  warning: {}: {} of {} idle connections failed; first: {}", s.label, r.failed,
             o.idle, r.first_error);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  out.with = MemoryOf(s.procs);
  out.still_open = StillOpen(r.kept);
  CloseAll(r.kept);
  Progress(
      "  {}: {} idle connections opened in {:.1f} s, {} still open at the reading; "
      "RSS {:.0f} -> {:.0f} kB",
      s.label, out.opened, out.open_s, out.still_open, out.before.rss_kb, out.with.rss_kb);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // let the server close them
  return out;
}

SilentResult MeasureSilent(Server& s, const Options& o) {
  SilentResult out;
  out.label = s.label;
  s.Refresh();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  out.before = MemoryOf(s.procs);
  std::vector<int> fds;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(s.port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < o.idle; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) break;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      break;
    }
    fds.push_back(fd);
  }
  out.opened = static_cast<int>(fds.size());
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // all accepted
  out.with = MemoryOf(s.procs);
  for (int fd : fds) {
    char b;
    ssize_t r = ::recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) ++out.still_open;
  }
  for (int fd : fds) ::close(fd);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // let the server close them
  out.after = MemoryOf(s.procs);
  Progress(
      "  {}: {} silent connections, {} still open at the reading; RSS {:.0f} -> {:.0f} -> "
      "{:.0f} kB",
      s.label, out.opened, out.still_open, out.before.rss_kb, out.with.rss_kb, out.after.rss_kb);
  return out;
}

}  // namespace certgate::bench::handshake
