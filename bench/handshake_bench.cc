// Full TLS 1.3 handshakes per server CPU-second: certgate's edge against
// HAProxy and nginx (Debian's packages, configured equivalently), with
// libssl's own in-memory handshake rate as the ceiling; then the same with
// 10,000 names and a random SNI per connection, and the memory an idle TLS
// connection costs each server. Prints tables of medians and ratios.
//
//   build-bench/bench/handshake_bench [--rounds=7] [--only=certgate,haproxy,nginx,ceiling]
//                                     [--scenario=handshake,names,idle] ...   (--help)
//
// How it measures (see ../shared/BENCHMARKING.md): every server runs pinned
// to cpu 0 with one worker, this program's load generator runs on cpu 1;
// the work is counted per CPU-second of the server process (utime + stime
// from /proc/<pid>/stat), the servers are interleaved round by round, and
// the table shows medians. Wall-clock rates and the machine's steal are
// printed as context only.#include <sched.h>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "common/find_binary.h"
#include "common/interrupt_guard.h"
#include "common/proc_stats.h"
#include "common/progress.h"
#include "core/testing/temp_dir.h"
#include "handshake/bench_pki.h"
#include "handshake/ceiling.h"
#include "handshake/handshake_options.h"
#include "handshake/handshake_report.h"
#include "handshake/load_generator.h"
#include "handshake/measurement.h"
#include "handshake/memory_scenarios.h"
#include "handshake/servers.h"
#include "support/process.h"

namespace certgate::bench::handshake {
namespace {

namespace fs = std::filesystem;
using certgate::pki::SslCtxPtr;

void PinThisThread(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    throw std::runtime_error(fmt::format("cannot pin to cpu {}: {}", cpu, std::strerror(errno)));
  }
}

void RaiseFileLimit(long want) {
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  rlimit raised = lim;
  raised.rlim_cur = raised.rlim_max = static_cast<rlim_t>(want);
  if (lim.rlim_max >= static_cast<rlim_t>(want) || ::setrlimit(RLIMIT_NOFILE, &raised) != 0) {
    raised = lim;
    raised.rlim_cur = std::min<rlim_t>(lim.rlim_max, static_cast<rlim_t>(want));
    ::setrlimit(RLIMIT_NOFILE, &raised);
  }
}

long FileLimit() {
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  return static_cast<long>(lim.rlim_cur);
}

int Run(const Options& o) {
  const bool want_handshake = o.scenarios.count("handshake") > 0;
  const bool want_names = o.scenarios.count("names") > 0;
  const bool want_idle = o.scenarios.count("idle") > 0;
  const bool want_silent = o.scenarios.count("silent") > 0;
  auto selected = [&](const char* s) { return o.only.count(s) > 0; };

  if (o.server_cpu == o.client_cpu)
    throw std::runtime_error("--server-cpu and --client-cpu must differ");
  if (static_cast<long>(std::thread::hardware_concurrency()) <=
      std::max(o.server_cpu, o.client_cpu)) {
    throw std::runtime_error(
        fmt::format("this machine has {} cpus; choose --server-cpu and --client-cpu below that",
                    std::thread::hardware_concurrency()));
  }
  Options opts = o;
  if (selected("certgate")) {
    auto p = FindBinary(o.certgate);
    if (!p) {
      throw std::runtime_error(
          fmt::format("certgate binary '{}' not found: build it (cmake --build build-bench "
                      "--target certgate) or give --certgate=PATH",
                      o.certgate));
    }
    opts.certgate = *p;
  }
  for (auto [name, path] : {std::pair{"haproxy", &opts.haproxy}, std::pair{"nginx", &opts.nginx}}) {
    if (!selected(name)) continue;
    auto p = FindBinary(*path);
    if (!p) {
      throw std::runtime_error(
          fmt::format("{} not found ('{}'): install it with scripts/deps.sh bench, give "
                      "--{}=PATH, or leave it out with --only",
                      name, *path, name));
    }
    *path = *p;
  }
  const bool servers_needed = want_handshake || want_names || want_idle || want_silent;
  (void)servers_needed;

  // Open files: the idle connections on both ends, HAProxy's maxconn.
  RaiseFileLimit(std::max<long>(65536, 4L * o.idle + 1000));
  const long files = FileLimit();
  if (files < o.idle + 200) {
    throw std::runtime_error(fmt::format(
        "the open-file limit is {}; --idle={} needs more (run as root, or lower --idle)", files,
        o.idle));
  }
  const long maxconn = std::min<long>(20000, std::max<long>(o.idle + 1000, (files - 200) / 2));
  PinThisThread(o.client_cpu);
  testing::TempDir temp("handshake-bench");
  const fs::path root = temp.path();
  ::chmod(root.c_str(), 0755);  // nginx's worker runs as another user when not root
  // Kept with --keep-temp, and when the run fails (destroyed after the
  // servers, before the directory).
  struct KeepUnlessDone {
    testing::TempDir& temp;
    bool keep;
    bool ok = false;
    ~KeepUnlessDone() {
      if (keep || !ok) {
        temp.Keep();
        Progress("temp dir kept: {}", temp.path().string());
      }
    }
  } keep{temp, o.keep_temp};

  // Other instances of the peers compete for the same cpus.
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string comm = testing::ReadFile(entry.path() / "comm");
    if (comm == "nginx\n" || comm == "haproxy\n") {
      Progress("note: an {} (pid {}) not started by this bench is running; it may add noise",
               comm.substr(0, comm.size() - 1), entry.path().filename().string());
    }
  }

  const int name_count = want_names ? o.names : 1;
  const auto pki_t0 = Clock::now();
  Pki pki = MakePki(name_count, root / "certs");
  Progress("generated {} ECDSA P-256 certificates in {:.1f} s ({})", name_count,
           Seconds(Clock::now() - pki_t0), (root / "certs").string());

  SslCtxPtr client_ctx = MakeClientContext();
  LoadGenerator load(client_ctx.get());
  std::mt19937_64 rng(o.seed);

  // --- servers
  ServerGroups servers;
  std::vector<Server>& one = servers.one;                          // one name
  std::vector<Server>& many = servers.many;                        // o.names names
  std::vector<Server>& ticket_variants = servers.ticket_variants;  // the peers, tickets off
  HandshakeResults res;
  if (want_handshake || want_idle || want_silent) {
    if (selected("certgate"))
      one.push_back(StartCertgateServer(opts, pki, 1, root / "certgate", load));
    if (selected("haproxy"))
      one.push_back(StartHaproxyServer(opts, pki, 1, root / "haproxy", load, maxconn));
    if (selected("nginx"))
      one.push_back(StartNginxServer(opts, pki, 1, root / "nginx", load, maxconn));
  }
  if (want_handshake && o.ticket_variants) {
    if (selected("haproxy")) {
      ticket_variants.push_back(
          StartHaproxyServer(opts, pki, 1, root / "haproxy-no-tickets", load, maxconn, true));
    }
    if (selected("nginx")) {
      ticket_variants.push_back(
          StartNginxServer(opts, pki, 1, root / "nginx-no-tickets", load, maxconn, true));
    }
  }
  if (want_names) {
    if (selected("certgate")) {
      many.push_back(StartCertgateServer(opts, pki, o.names, root / "certgate-names", load));
    }
    if (selected("haproxy")) {
      many.push_back(StartHaproxyServer(opts, pki, o.names, root / "haproxy-names", load, maxconn));
    }
    if (selected("nginx") && o.nginx_names) {
      many.push_back(StartNginxServer(opts, pki, o.names, root / "nginx-names", load, maxconn));
    }
  }

  // --- warm-up; the first pass over every name
  std::vector<Server*> warm;
  for (auto& s : one) warm.push_back(&s);
  for (auto& s : ticket_variants) warm.push_back(&s);
  for (Server* sp : warm) {
    Server& s = *sp;
    LoadSpec spec;
    spec.port = s.port;
    spec.total = 200;
    spec.concurrency = o.concurrency;
    spec.names = &pki.names;
    load.Run(spec);
  }
  auto& first_pass = res.first_pass;
  auto& after_first_pass = res.after_first_pass;
  std::vector<size_t> order(static_cast<size_t>(name_count));
  std::iota(order.begin(), order.end(), size_t{0});
  std::shuffle(order.begin(), order.end(), rng);
  for (auto& s : many) {
    Progress("{}: first pass, each of {} names once", s.label, o.names);
    LoadSpec spec;
    spec.port = s.port;
    spec.total = o.names;
    spec.concurrency = o.concurrency;
    spec.names = &pki.names;
    spec.sni = LoadSpec::Sni::kOrder;
    spec.order = &order;
    first_pass[s.label] = Measure(s, load, spec);
    after_first_pass[s.label] = MemoryOf(s.procs);
    Progress("  {}: {:.0f} handshakes per CPU-second", s.label, first_pass[s.label].rate());
  }

  // --- ceiling contexts
  std::vector<std::pair<int, SslCtxPtr>> ceilings;
  if (want_handshake && selected("ceiling")) {
    for (int t : {0, 1, 2}) {
      ceilings.emplace_back(t, MakeCeilingServerContext(pki, t));
      res.ceiling_tickets.push_back(t);
    }
  }

  // --- interleaved rounds
  auto& series = res.series;
  using Step = std::pair<std::string, std::function<Sample()>>;
  std::vector<Step> steps;
  for (auto& [tickets, ctx] : ceilings) {
    SSL_CTX* server_ctx = ctx.get();
    std::string label = CeilingLabel(tickets);
    steps.emplace_back(label, [&, server_ctx] {
      PinThisThread(o.server_cpu);
      CeilingSample c =
          RunCeiling(server_ctx, client_ctx.get(), pki.names[0], o.ceiling_handshakes);
      PinThisThread(o.client_cpu);
      Sample s;
      s.cpu_s = c.server_cpu_s;
      s.ok = c.handshakes;
      s.tickets = c.tickets;
      return s;
    });
  }
  if (want_handshake) {
    std::vector<Server*> measured;
    for (auto& srv : one) measured.push_back(&srv);
    for (auto& srv : ticket_variants) measured.push_back(&srv);
    for (Server* s : measured) {
      steps.emplace_back(s->label, [&, s] {
        LoadSpec spec;
        spec.port = s->port;
        spec.total = o.connections;
        spec.concurrency = o.concurrency;
        spec.names = &pki.names;
        return Measure(*s, load, spec);
      });
    }
  }
  for (auto& srv : many) {
    Server* s = &srv;
    steps.emplace_back(s->label, [&, s] {
      LoadSpec spec;
      spec.port = s->port;
      spec.total = o.connections;
      spec.concurrency = o.concurrency;
      spec.names = &pki.names;
      spec.sni = LoadSpec::Sni::kRandom;
      spec.name_count = static_cast<size_t>(o.names);
      spec.rng = &rng;
      return Measure(*s, load, spec);
    });
  }
  res.rounds_start = ReadCpuTimes();
  for (int round = 0; round < o.rounds && !steps.empty(); ++round) {
    for (size_t k = 0; k < steps.size(); ++k) {
      // Rotate the order each round: no server always runs first or last.
      auto& [label, step] = steps[(k + static_cast<size_t>(round)) % steps.size()];
      const CpuTimes a = ReadCpuTimes();
      Sample s = step();
      const CpuTimes b = ReadCpuTimes();
      series[label].samples.push_back(s);
      Progress(
          "round {}/{} {:<26} {:6} conns  {:6.2f} CPU-s  {:6.0f} hs/CPU-s  {:>6} hs/s wall  "
          "steal {}",
          round + 1, o.rounds, label, s.ok, s.cpu_s, s.rate(),
          s.wall_s > 0 ? fmt::format("{:.0f}", s.wall_rate()) : std::string("-"),
          StealSummary(a, b, o));
    }
  }
  res.rounds_end = ReadCpuTimes();

  // --- idle connections
  auto& idle = res.idle;
  double& libssl_idle = res.libssl_idle;
  if (want_idle) {
    for (auto& s : one) {
      Progress("{}: opening {} idle connections", s.label, o.idle);
      idle.push_back(MeasureIdle(s, load, pki, o));
    }
    if (selected("ceiling")) {
      SslCtxPtr ctx = MakeCeilingServerContext(pki, 2);
      libssl_idle = LibsslIdleBytes(ctx.get(), client_ctx.get(), pki.names[0], 1000);
    }
  }

  // --- connections that send nothing
  auto& silent = res.silent;
  if (want_silent) {
    for (auto& s : one) {
      Progress("{}: opening {} silent connections", s.label, o.idle);
      silent.push_back(MeasureSilent(s, o));
    }
  }

  PrintReport(o, servers, res);
  keep.ok = true;
  return 0;
}

}  // namespace
}  // namespace certgate::bench::handshake

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  certgate::bench::InstallInterruptHandler();
  try {
    const auto o = certgate::bench::handshake::ParseOptions(argc, argv);
    return certgate::bench::handshake::Run(o);
  } catch (const std::exception& e) {
    fmt::print(stderr, "handshake_bench: error: {}\n", e.what());
    return 1;
  }
}
