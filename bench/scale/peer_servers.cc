#include "scale/peer_servers.h"

#include <chrono>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "common/find_binary.h"
#include "common/haproxy_peer.h"
#include "common/interrupt_guard.h"
#include "common/nginx_peer.h"
#include "common/progress.h"
#include "common/report.h"
#include "scale/phases.h"
#include "support/process.h"

namespace certgate::bench::scale {
namespace {

constexpr auto kReadyTimeout = std::chrono::minutes(20);

std::string Binary(Peer peer, const Options& o) {
  const std::string& name = peer == Peer::kHaproxy ? o.haproxy : o.nginx;
  auto found = FindBinary(name);
  if (!found) {
    throw std::runtime_error(fmt::format(
        "{} not found: install it (scripts/deps.sh bench) or give --{}=PATH, or --no-peers", name,
        PeerName(peer)));
  }
  return *found;
}

[[noreturn]] void PeerFailed(Peer peer, const std::filesystem::path& dir, testing::Process& p,
                             const std::string& what) {
  throw std::runtime_error(
      fmt::format("{}: {} (logs in {}):\n{}{}", PeerName(peer), what, dir.string(),
                  testing::TailLines(p.Stdout(), 10),
                  testing::TailLines(testing::ReadFile(dir / "stderr.log"), 20)));
}

// MemAvailable from /proc/meminfo, in kB.
double AvailableKb() {
  const std::string info = testing::ReadFile("/proc/meminfo");
  const size_t pos = info.find("MemAvailable:");
  return pos == std::string::npos ? 0 : std::strtod(info.c_str() + pos + 13, nullptr);
}

// Why the peer should not start with `certs` certificates: its memory
// extrapolated from its row at a smaller count would not leave a fifth of
// the available memory. Empty when it may start.
std::string TooBig(const std::vector<PeerRow>& done, const std::string& server, int certs,
                   double base_kb) {
  for (auto it = done.rbegin(); it != done.rend(); ++it) {
    if (it->server != server || !it->skipped.empty() || it->rss_kb.empty()) continue;
    const double per_cert_kb = (Median(it->rss_kb) - base_kb) / it->certs;
    const double predicted_kb = base_kb + per_cert_kb * certs;
    const double available_kb = AvailableKb();
    if (available_kb > 0 && predicted_kb > 0.8 * available_kb) {
      return fmt::format("would take about {:.1f} GB (from {} certificates), {:.1f} GB available",
                         predicted_kb / (1024 * 1024), it->certs, available_kb / (1024 * 1024));
    }
    return {};
  }
  return {};
}

void StartCertgate(PeerRow& row, const Options& o, const DataDir& data, const TlsProbe& probe) {
  auto server = ScaleServer::Start(o, data, probe);
  const Memory m = MemoryOf({server->pid()});
  row.start_s.push_back(server->start_s());
  row.cpu_s.push_back(server->start_cpu_s());
  row.rss_kb.push_back(m.rss_kb);
  row.pss_kb.push_back(m.pss_kb);
  Progress("  {:<8} {} certs: ready after {:.3f} s, VmRSS {:.1f} MB", row.server, row.certs,
           server->start_s(), m.rss_kb / 1024);
  server->Stop();
}

}  // namespace

const char* PeerName(Peer peer) { return peer == Peer::kHaproxy ? "haproxy" : "nginx"; }

const char* PeerConfigStyle(Peer peer) {
  return peer == Peer::kHaproxy ? "a crt-list, one PEM file per line"
                                : "a server block per name (server_name, ssl_certificate)";
}

PeerStart StartPeerOnce(Peer peer, const Options& o, const DistinctPki& pki, int certs,
                        const std::filesystem::path& dir, const TlsProbe& probe) {
  TlsPeerSpec spec;
  spec.binary = Binary(peer, o);
  spec.dir = dir;
  spec.port = testing::PickFreePort();
  spec.cpu = o.server_cpu;
  for (int i = 0; i < certs; ++i) {
    spec.names.push_back(pki.certs[static_cast<size_t>(i)].name);
    spec.pem_files.push_back(pki.certs[static_cast<size_t>(i)].pem_file);
  }
  std::filesystem::create_directories(dir);
  const DistinctCert& last = pki.certs[static_cast<size_t>(certs - 1)];

  PeerStart out;
  const auto t0 = BenchClock::now();
  std::unique_ptr<testing::Process> process =
      peer == Peer::kHaproxy ? StartHaproxy(spec) : StartNginx(spec);
  // Declared after the process: unregistered before it is reaped.
  std::optional<KillOnInterrupt> guard;
  guard.emplace(process->pid());
  std::string why = "no handshake yet";
  for (;;) {
    const ProbeResult r = probe.Probe(spec.port, last.name);
    if (r.ok && r.serial == last.serial) break;
    why = r.ok ? fmt::format("{} served serial {}, not its own", last.name, r.serial) : r.error;
    if (!process->running()) PeerFailed(peer, dir, *process, "exited: " + why);
    if (BenchClock::now() - t0 > kReadyTimeout)
      PeerFailed(peer, dir, *process, "not ready: " + why);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  out.start_s = Seconds(BenchClock::now() - t0);
  const std::vector<pid_t> procs = ProcessTree(process->pid());
  out.cpu_s = CpuSeconds(procs);
  out.memory = MemoryOf(procs);
  guard.reset();
  process->Stop(std::chrono::seconds(30));
  return out;
}

std::vector<PeerRow> ComparePeers(const Options& o, const std::vector<Row>& rows,
                                  const std::vector<DataDir>& data, const DistinctPki& pki,
                                  const TlsProbe& probe, const std::filesystem::path& dir) {
  const Peer kinds[] = {Peer::kHaproxy, Peer::kNginx};
  double base_kb[2] = {};
  for (int k = 0; k < 2; ++k) {
    const PeerStart one =
        StartPeerOnce(kinds[k], o, pki, 1, dir / fmt::format("{}-1", PeerName(kinds[k])), probe);
    base_kb[k] = one.memory.rss_kb;
    Progress("  {:<8} 1 cert: ready after {:.3f} s, VmRSS {:.1f} MB (its baseline)",
             PeerName(kinds[k]), one.start_s, base_kb[k] / 1024);
  }
  std::vector<PeerRow> out;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (!rows[i].distinct) continue;
    const int n = rows[i].names;
    PeerRow certgate{.server = "certgate",
                     .style = "a direct store load; contexts built on first use",
                     .certs = n,
                     .base_rss_kb = Median(rows.front().rss_cold_kb)};
    PeerRow peers[2];
    for (int k = 0; k < 2; ++k) {
      peers[k] = PeerRow{.server = PeerName(kinds[k]),
                         .style = PeerConfigStyle(kinds[k]),
                         .certs = n,
                         .base_rss_kb = base_kb[k],
                         .skipped = TooBig(out, PeerName(kinds[k]), n, base_kb[k])};
      if (!peers[k].skipped.empty()) {
        Progress("  {} with {} certs skipped: {}", PeerName(kinds[k]), n, peers[k].skipped);
      }
    }
    for (int round = 0; round < o.peer_rounds; ++round) {
      for (int j = 0; j < 3; ++j) {
        const int which = (j + round) % 3;  // 0: certgate, 1: haproxy, 2: nginx
        if (which == 0) {
          StartCertgate(certgate, o, data[i], probe);
          continue;
        }
        PeerRow& row = peers[which - 1];
        if (!row.skipped.empty()) continue;
        const PeerStart p =
            StartPeerOnce(kinds[which - 1], o, pki, n,
                          dir / fmt::format("{}-{}-r{}", row.server, n, round), probe);
        row.start_s.push_back(p.start_s);
        row.cpu_s.push_back(p.cpu_s);
        row.rss_kb.push_back(p.memory.rss_kb);
        row.pss_kb.push_back(p.memory.pss_kb);
        Progress("  {:<8} {} certs: ready after {:.3f} s ({:.1f} CPU-s), VmRSS {:.1f} MB",
                 row.server, n, p.start_s, p.cpu_s, p.memory.rss_kb / 1024);
      }
    }
    out.push_back(std::move(certgate));
    for (PeerRow& p : peers) out.push_back(std::move(p));
  }
  return out;
}

}  // namespace certgate::bench::scale
