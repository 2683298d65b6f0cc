// Issue 17, "A million names": certgate with N reserved domains on one
// wildcard certificate, for each N of --names (default 10,000 and 100,000;
// 1,000,000 allowed) beside a server with none. Prints one table: start ->
// edge serving, RSS per name cold and after changes, one change -> served
// (p50, p99), server CPU per change, API creates per second from concurrent
// keep-alive clients, DNS NXDOMAIN answers per second; then context. With
// --distinct-certs, also servers whose N names each have their own
// certificate (issue 17, section 5): the same columns, plus the first
// handshake on a cold name, whether other handshakes stall meanwhile, the
// memory after handshakes to many names, and HAProxy and nginx started with
// the same certificates (start -> ready, RSS), as ratios.
//
//   build/bench/scale_bench [--names=10000,100000] [--rounds=3] ...   (--help)
//   build/bench/scale_bench --distinct-certs=10000,100000 ...
//
// The names are loaded by a "direct store load" (scale/store_load.h): rows
// written straight into a stopped server's SQLite file, as the issue allows,
// since a million API calls take too long. Everything else goes through
// certgate's public surfaces: its API over keep-alive HTTP/1.1, TLS
// handshakes on its edge, UDP queries to its DNS.
//
// How it measures (../shared/BENCHMARKING.md): every server runs pinned to
// --server-cpu with one edge worker, this program on --client-cpu; work is
// counted per CPU-second of the server process (utime+stime, read to the
// nanosecond from its CPU-time clock), servers are interleaved round by
// round (the order rotates), the table shows medians, and how busy each cpu
// was and its steal are printed per phase as context.
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>

#include "common/find_binary.h"
#include "common/interrupt_guard.h"
#include "common/proc_stats.h"
#include "common/progress.h"
#include "core/testing/temp_dir.h"
#include "scale/distinct_load.h"
#include "scale/distinct_phases.h"
#include "scale/distinct_pki.h"
#include "scale/distinct_report.h"
#include "scale/peer_servers.h"
#include "scale/phases.h"
#include "scale/scale_options.h"
#include "scale/scale_pki.h"
#include "scale/scale_report.h"
#include "scale/scale_server.h"
#include "scale/tls_probe.h"
#include "support/process.h"

namespace certgate::bench::scale {
namespace {

namespace fs = std::filesystem;

// Certificates that changes attach in turn.
constexpr int kChangeLeaves = 4;
// Client threads for the handshakes to many names, and how many names
// between VmRSS readings.
constexpr int kManyNamesThreads = 4;
constexpr int kManyNamesStep = 5000;

void PinThisThread(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    throw std::runtime_error(fmt::format("cannot pin to cpu {}: {}", cpu, std::strerror(errno)));
  }
}

// Limits that only make sense against many sources, turned off where the
// binary has them: all the bench's DNS load comes from 127.0.0.1, and a
// per-source budget (certgate after 04bcbd0: 1,000 answers a second) would
// measure the budget, not the lookups.
std::vector<std::string> LoadOnlyArgs(const std::string& serve_help) {
  if (serve_help.find("--dns-max-queries-per-source") != std::string::npos) {
    return {"--dns-max-queries-per-source", "0"};
  }
  return {};
}

// The edge's bound on built certificate contexts: --context-cache as given
// with --serve-arg, else its default as `certgate serve --help` shows it
// ("--context-cache INT:INT in [1 - 10000000]=20000"); 0 when neither says.
int ContextCacheBound(const std::string& serve_help, const std::vector<std::string>& serve_args) {
  for (size_t i = 0; i + 1 < serve_args.size(); ++i) {
    if (serve_args[i] == "--context-cache") return std::atoi(serve_args[i + 1].c_str());
  }
  const size_t flag = serve_help.find("--context-cache");
  if (flag == std::string::npos) return 0;
  const std::string line = serve_help.substr(flag, serve_help.find('\n', flag) - flag);
  const size_t equals = line.rfind('=');
  return equals == std::string::npos ? 0 : std::atoi(line.c_str() + equals + 1);
}

// Runs fn(subject index) for every subject, the order rotated by round.
template <class Fn>
void Interleaved(size_t count, int round, Fn&& fn) {
  for (size_t k = 0; k < count; ++k) fn((k + static_cast<size_t>(round)) % count);
}

// The CPU seconds of every server running for the phases.
double ServersCpu(const std::vector<Subject>& subjects) {
  double sum = 0;
  for (const Subject& s : subjects) sum += PreciseCpuSeconds(s.server->pid());
  return sum;
}

// Records the machine's cpu times around a phase (how busy each cpu was,
// its steal) and, given the subjects, their CPU seconds.
class PhaseClock {
 public:
  PhaseClock(std::vector<Phase>& phases, std::string name,
             const std::vector<Subject>* subjects = nullptr)
      : phases_(phases), subjects_(subjects), t0_(BenchClock::now()) {
    phases_.push_back(Phase{std::move(name), ReadCpuTimes(), {}, ReadIdleTimes(), {}});
    if (subjects_ != nullptr) cpu0_ = ServersCpu(*subjects_);
    Progress("== {}", phases_.back().name);
  }
  ~PhaseClock() {
    Phase& p = phases_.back();
    p.after = ReadCpuTimes();
    p.idle_after = ReadIdleTimes();
    p.wall_s = Seconds(BenchClock::now() - t0_);
    if (subjects_ != nullptr) p.server_cpu_s = ServersCpu(*subjects_) - cpu0_;
  }

 private:
  std::vector<Phase>& phases_;
  const std::vector<Subject>* subjects_;
  BenchClock::time_point t0_;
  double cpu0_ = 0;
};

// The distinct-certificate servers' own phases, one server after another:
// cold handshakes, the stall check, and handshakes to many names.
std::vector<DistinctRow> MeasureDistinct(const Options& o, const std::vector<Row>& rows,
                                         std::vector<Subject>& subjects, const DistinctPki& pki,
                                         const TlsProbe& probe, std::vector<Phase>& phases) {
  std::vector<size_t> which;  // into rows and subjects
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].distinct) which.push_back(i);
  }
  std::vector<DistinctRow> out(which.size());
  std::vector<NamePool> pools;
  for (size_t k = 0; k < which.size(); ++k) {
    const Subject& s = subjects[which[k]];
    out[k].certs = rows[which[k]].names;
    // The change bursts deleted the first names.
    pools.emplace_back(static_cast<int>(s.next_loaded_delete), out[k].certs, o.seed + k);
  }
  if (which.empty()) return out;
  {
    PhaseClock clock(phases, "cold handshake", &subjects);
    for (size_t k = 0; k < which.size(); ++k) {
      const ScaleServer& server = *subjects[which[k]].server;
      ColdResult& c = out[k].cold = ColdHandshakes(server, pki, pools[k], o.cold_handshakes, probe);
      Progress(
          "{:<24} {} cold names: {:.2f} ms server CPU p50 ({:.2f} warm), handshake {:.2f} "
          "ms p50 ({:.2f} warm), {} failed",
          server.label(), c.cold.cpu_ms.size(), Quantile(c.cold.cpu_ms, 0.5),
          Quantile(c.warm.cpu_ms, 0.5), Quantile(c.cold.wall_ms, 0.5),
          Quantile(c.warm.wall_ms, 0.5), c.cold.failed + c.warm.failed);
    }
  }
  {
    PhaseClock clock(phases, "stall", &subjects);
    for (size_t k = 0; k < which.size(); ++k) {
      const ScaleServer& server = *subjects[which[k]].server;
      out[k].stall =
          StallCheck(server, pki, out[k].cold.names, pools[k], o.stall_samples, o.rounds, probe);
      for (const StallMode& m : out[k].stall) {
        Progress(
            "{:<24} warm name beside {} handshakes: p50 {:.2f} ms, p99 {:.2f} ms ({} "
            "background handshakes, {} failed)",
            server.label(), m.background, Quantile(m.wall_ms, 0.5), Quantile(m.wall_ms, 0.99),
            m.background_handshakes, m.failed);
      }
    }
  }
  {
    PhaseClock clock(phases, "RSS after names", &subjects);
    for (size_t k = 0; k < which.size(); ++k) {
      const ScaleServer& server = *subjects[which[k]].server;
      std::vector<size_t> names = pools[k].order();
      names.resize(std::min(names.size(), static_cast<size_t>(o.handshake_names)));
      Progress("{:<24} handshakes to {} distinct names", server.label(), names.size());
      out[k].many =
          HandshakeManyNames(server, pki, names, kManyNamesThreads, kManyNamesStep, probe);
    }
  }
  return out;
}

int Run(const Options& given) {
  Options o = given;
  if (o.server_cpu == o.client_cpu)
    throw std::runtime_error("--server-cpu and --client-cpu must differ");
  if (static_cast<long>(std::thread::hardware_concurrency()) <=
      std::max(o.server_cpu, o.client_cpu)) {
    throw std::runtime_error(fmt::format("this machine has {} cpus; choose cpus below that",
                                         std::thread::hardware_concurrency()));
  }
  auto binary = FindBinary(o.certgate);
  if (!binary) {
    throw std::runtime_error(fmt::format(
        "certgate binary '{}' not found: build it (cmake --build build --target certgate) or "
        "give --certgate=PATH",
        o.certgate));
  }
  o.certgate = *binary;
  const std::string serve_help = testing::RunCommand({o.certgate, "serve", "--help"}).out;
  const std::vector<std::string> load_only = LoadOnlyArgs(serve_help);
  o.serve_args.insert(o.serve_args.begin(), load_only.begin(), load_only.end());
  if (!o.serve_args.empty()) Progress("certgate serve also gets: {}", fmt::join(o.serve_args, " "));
  const int context_cache = ContextCacheBound(serve_help, o.serve_args);

  testing::TempDir temp("scale-bench");
  ::chmod(temp.path().c_str(), 0755);
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

  const ScalePki pki = MakeScalePki(kChangeLeaves);
  std::vector<Phase> phases;
  DistinctPki distinct_pki;
  if (!o.distinct_certs.empty()) {
    PhaseClock clock(phases, "certificates");
    // Before this thread is pinned: generation uses every cpu.
    const int most = o.distinct_certs.back();
    Progress("generating {} ECDSA P-256 certificates, each with its own key, signed by one CA",
             most);
    distinct_pki = MakeDistinctPki(most, temp.path() / "distinct-pem");
    Progress("  {} certificates (and their PEM files) generated in {:.1f} s, {:.0f} a second", most,
             distinct_pki.seconds, most / distinct_pki.seconds);
  }
  PinThisThread(o.client_cpu);

  // The servers: the baseline, one per count of names, one per count of
  // distinct certificates.
  std::vector<Row> rows(1);
  for (int n : o.names) rows.push_back(Row{.names = n});
  for (int n : o.distinct_certs) rows.push_back(Row{.names = n, .distinct = true});
  std::vector<DataDir> data(rows.size());
  {
    PhaseClock clock(phases, "setup");
    for (size_t i = 0; i < rows.size(); ++i) {
      const int n = rows[i].names;
      if (rows[i].distinct) {
        Progress(
            "preparing {} names with certificates of their own: uploads through the API, "
            "then a direct store load",
            n);
        data[i] = PrepareEmptyDataDir(o, pki, temp.path() / fmt::format("d{}", n));
        DistinctStoreLoad(data[i], distinct_pki, n, static_cast<size_t>(o.changes));
        Progress("  {} certificates (keys sealed) and names loaded in {:.1f} s", n, data[i].load_s);
      } else {
        Progress("preparing {} names: uploads through the API, then a direct store load", n);
        data[i] = PrepareDataDir(o, pki, n, temp.path() / fmt::format("n{}", n));
        if (n > 0) Progress("  {} rows loaded in {:.1f} s", n, data[i].load_s);
      }
      rows[i].load_s = data[i].load_s;
    }
  }

  const TlsProbe probe;
  std::vector<Subject> subjects(rows.size());
  {
    PhaseClock clock(phases, "starts");
    for (int round = 0; round < o.rounds; ++round) {
      Interleaved(rows.size(), round, [&](size_t i) {
        auto server = ScaleServer::Start(o, data[i], probe);
        const ServerMemory m = ReadMemory(server->pid());
        rows[i].start_s.push_back(server->start_s());
        rows[i].ready_s.push_back(server->ready_s());
        rows[i].start_cpu_s.push_back(server->start_cpu_s());
        rows[i].rss_cold_kb.push_back(m.rss_kb);
        Progress("round {}/{} {:<24} serving after {:.3f} s ({:.2f} CPU-s), VmRSS {:.1f} MB",
                 round + 1, o.rounds, server->label(), server->start_s(), server->start_cpu_s(),
                 m.rss_kb / 1024);
        // The last round's servers stay for the phases below.
        if (round + 1 < o.rounds) {
          server->Stop();
        } else {
          subjects[i].server = std::move(server);
        }
      });
    }
  }
  for (Subject& s : subjects) {
    s.api = std::make_unique<ApiConnection>(s.server->api_url(), s.server->data().api_key);
  }

  {
    PhaseClock clock(phases, "change->served", &subjects);
    for (Subject& s : subjects) {
      for (int i = 0; i < kChangeLeaves; ++i) {
        if (ChangeToServed(s, pki, probe) < 0) s.server->Failed("a warm-up change was not served");
      }
    }
    const int per_pass = (o.latency_changes + o.rounds - 1) / o.rounds;
    for (int round = 0; round < o.rounds; ++round) {
      Interleaved(subjects.size(), round, [&](size_t i) {
        Row& row = rows[i];
        for (int k = 0;
             k < per_pass &&
             static_cast<int>(row.latency_ms.size()) + row.latency_failed < o.latency_changes;
             ++k) {
          const double ms = ChangeToServed(subjects[i], pki, probe);
          if (ms < 0) {
            ++row.latency_failed;
          } else {
            row.latency_ms.push_back(ms);
          }
        }
        Progress("round {}/{} {:<24} {} changes served so far, last {:.1f} ms", round + 1, o.rounds,
                 subjects[i].server->label(), row.latency_ms.size(),
                 row.latency_ms.empty() ? 0.0 : row.latency_ms.back());
      });
    }
  }

  {
    PhaseClock clock(phases, "CPU/change", &subjects);
    const int per_burst = std::max(2, o.changes / o.rounds);
    for (int round = 0; round < o.rounds; ++round) {
      Interleaved(subjects.size(), round, [&](size_t i) {
        const Burst b = ChangeBurst(subjects[i], per_burst);
        rows[i].bursts.push_back(Batch{b.changes, b.cpu_s, b.wall_s});
        Progress("round {}/{} {:<24} {} changes: {:.2f} ms CPU each, {:.0f}/s", round + 1, o.rounds,
                 subjects[i].server->label(), b.changes, 1000 * b.cpu_s / b.changes,
                 b.wall_s > 0 ? b.changes / b.wall_s : 0);
      });
    }
    for (size_t i = 0; i < subjects.size(); ++i) {
      const ServerMemory m = ReadMemory(subjects[i].server->pid());
      rows[i].changes_before_rss = subjects[i].next_change + subjects[i].changes_deleted;
      rows[i].rss_after_kb = m.rss_kb;
      rows[i].hwm_after_kb = m.hwm_kb;
      Progress("{:<24} after the changes: VmRSS {:.1f} MB, peak {:.1f} MB",
               subjects[i].server->label(), m.rss_kb / 1024, m.hwm_kb / 1024);
    }
  }

  {
    PhaseClock clock(phases, "creates/s", &subjects);
    const int per_round = std::max(1, o.creates / o.rounds);
    for (int round = 0; round < o.rounds; ++round) {
      Interleaved(subjects.size(), round, [&](size_t i) {
        const CreateRound c = ConcurrentCreates(subjects[i], o.clients, per_round);
        const double rate = c.wall_s > 0 ? c.creates / c.wall_s : 0;
        rows[i].create_rounds.push_back(Batch{c.creates, c.cpu_s, c.wall_s});
        Progress("round {}/{} {:<24} {} creates from {} clients: {:.0f}/s, {:.2f} ms CPU each",
                 round + 1, o.rounds, subjects[i].server->label(), c.creates, o.clients, rate,
                 1000 * c.cpu_s / c.creates);
      });
    }
  }

  {
    PhaseClock clock(phases, "DNS", &subjects);
    std::mt19937_64 rng(o.seed);
    DnsLoadSpec spec;
    spec.zone = kBaseDomain;
    spec.duration = std::chrono::seconds(o.dns_seconds);
    spec.concurrency = o.dns_concurrency;
    for (int round = 0; round < o.rounds; ++round) {
      Interleaved(subjects.size(), round, [&](size_t i) {
        const DnsRound d = DnsNxdomain(subjects[i], spec, rng);
        Row& row = rows[i];
        const double rate = d.load.wall_s > 0 ? d.load.nxdomain / d.load.wall_s : 0;
        const double per_cpu =
            d.cpu_s > 0 ? static_cast<double>(d.load.nxdomain + d.load.late) / d.cpu_s : 0;
        row.nx_per_s.push_back(rate);
        row.nx_per_cpu_s.push_back(per_cpu);
        row.dns_lost += d.load.lost;
        row.dns_other += d.load.other;
        Progress(
            "round {}/{} {:<24} {:.0f} NXDOMAIN/s, {:.0f} per CPU-second ({} lost, {} other; "
            "server busy {:.0f}%, load generator {:.0f}%)",
            round + 1, o.rounds, subjects[i].server->label(), rate, per_cpu, d.load.lost,
            d.load.other, 100 * d.cpu_s / d.load.wall_s, 100 * d.load.load_cpu_s / d.load.wall_s);
      });
    }
  }

  std::vector<DistinctRow> distinct =
      MeasureDistinct(o, rows, subjects, distinct_pki, probe, phases);

  for (Subject& s : subjects) {
    if (!s.server->Alive()) s.server->Failed("exited during the run");
    s.api.reset();
    s.server->Stop();
  }
  std::vector<PeerRow> peers;
  if (o.peers && !distinct.empty()) {
    PhaseClock clock(phases, "peers");
    peers = ComparePeers(o, rows, data, distinct_pki, probe, temp.path() / "peers");
  }
  PrintReport(o, rows, phases);
  PrintDistinctReport(o, rows, distinct, peers, context_cache);
  keep.ok = true;
  return 0;
}

}  // namespace
}  // namespace certgate::bench::scale

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  certgate::bench::InstallInterruptHandler();
  try {
    const auto o = certgate::bench::scale::ParseOptions(argc, argv);
    return certgate::bench::scale::Run(o);
  } catch (const std::exception& e) {
    fmt::print(stderr, "scale_bench: error: {}\n", e.what());
    return 1;
  }
}
