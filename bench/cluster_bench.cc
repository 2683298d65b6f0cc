// A certgate cluster: --nodes `certgate serve` processes (default 3) on one
// PostgreSQL database, for each N of --names (default 10,000 and 100,000
// names). Prints one table: each node's start -> serving (a cold start of
// the whole cluster, until its edge serves the last name), and a change
// through one node's API -> served by every node (p50, p99; per node, the
// node that took the write, the others, and the slowest node), alone and
// beside a background of --load-writes API writes a second; the targets
// (p99 <= 100 ms to the slowest node; start <= 2 s with 100,000 names)
// beside the figures; then context.
//
//   build/bench/cluster_bench [--names=10000,100000] [--rounds=3] ...   (--help)
//
// PostgreSQL is this program's own (tests/support/pg_test_cluster.sh on a
// fresh /tmp dir), set to synchronous_commit, fsync and full_page_writes on
// (cluster/bench_postgres.h). The names are a "direct store load": by
// default a PostgreSQL COPY of the rows the API would store, with --load=store
// the store API's InsertDomains (cluster/cluster_nodes.h); everything else
// goes through certgate's public surfaces: its API over keep-alive HTTP/1.1
// and TLS handshakes on its edge. It borrows scale_bench's API client, TLS probe and
// certificates (certgate_bench_scale_parts) and the tests' CertgateServer.
#include <cerrno>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>

#include "cluster/bench_postgres.h"
#include "cluster/cluster_nodes.h"
#include "cluster/cluster_options.h"
#include "cluster/cluster_report.h"
#include "cluster/propagation.h"
#include "common/find_binary.h"
#include "common/interrupt_guard.h"
#include "common/proc_stats.h"
#include "common/progress.h"
#include "common/report.h"
#include "core/testing/temp_dir.h"
#include "support/process.h"

namespace certgate::bench::cluster {
namespace {

namespace fs = std::filesystem;

// Certificates that changes attach in turn.
constexpr int kChangeLeaves = 4;
// How long the background writes run before the changes are measured.
constexpr auto kLoadRampUp = std::chrono::seconds(1);

void PinThisThread(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    throw std::runtime_error(fmt::format("cannot pin to cpu {}: {}", cpu, std::strerror(errno)));
  }
}

// Records a phase's context into r.phases: wall time, the cpus' busy and
// steal, and, given the cluster, the nodes' and PostgreSQL's CPU seconds.
class PhaseClock {
 public:
  PhaseClock(CountResult& r, std::string name, const BenchPostgres& pg,
             const Cluster* cluster = nullptr)
      : r_(r), pg_(pg), cluster_(cluster), t0_(BenchClock::now()) {
    PhaseContext& p = r_.phases.emplace_back();
    p.name = std::move(name);
    p.before = ReadCpuTimes();
    p.idle_before = ReadIdleTimes();
    if (cluster_ != nullptr) {
      for (size_t i = 0; i < cluster_->size(); ++i) {
        node0_.push_back(PreciseCpuSeconds(cluster_->pid(i)));
      }
      pg0_ = pg_.CpuSeconds();
    }
    Progress("== {} names: {}", CountText(r_.names), p.name);
  }
  ~PhaseClock() {
    PhaseContext& p = r_.phases.back();
    p.after = ReadCpuTimes();
    p.idle_after = ReadIdleTimes();
    p.wall_s = Seconds(BenchClock::now() - t0_);
    if (cluster_ != nullptr) {
      for (size_t i = 0; i < node0_.size(); ++i) {
        p.node_cpu_s.push_back(PreciseCpuSeconds(cluster_->pid(i)) - node0_[i]);
      }
      p.pg_cpu_s = pg_.CpuSeconds() - pg0_;
    }
  }

 private:
  CountResult& r_;
  const BenchPostgres& pg_;
  const Cluster* cluster_;
  BenchClock::time_point t0_;
  std::vector<double> node0_;
  double pg0_ = 0;
};

// --changes changes, through each node's API in turn, into out.
void MeasureChanges(const Options& o, const Cluster& cluster,
                    std::vector<std::unique_ptr<scale::ApiConnection>>& apis,
                    const ClusterData& data, const scale::ScalePki& pki,
                    const scale::TlsProbe& probe, int& next_change,
                    std::vector<ChangeSample>& out) {
  std::vector<double> slowest;  // each change's slowest node, for progress
  std::mt19937 rng(static_cast<unsigned>(next_change));
  std::uniform_int_distribution<int> gap_us(o.change_gap_ms * 500, o.change_gap_ms * 1500);
  for (int c = 0; c < o.changes; ++c) {
    if (c > 0) std::this_thread::sleep_for(std::chrono::microseconds(gap_us(rng)));
    const ChangeSample s = ChangeToServedEverywhere(cluster, apis, data, pki, probe, next_change++,
                                                    static_cast<size_t>(c) % cluster.size());
    out.push_back(s);
    if (s.Slowest() >= 0) slowest.push_back(s.Slowest());
    if ((c + 1) % 50 == 0 || c + 1 == o.changes) {
      Progress("  {} changes: slowest node p50 {:.1f} ms, p99 {:.1f} ms, {} never served", c + 1,
               Quantile(slowest, 0.5), Quantile(slowest, 0.99),
               static_cast<size_t>(c + 1) - slowest.size());
      cluster.CheckAlive();
    }
  }
}

CountResult MeasureCount(const Options& o, BenchPostgres& pg, const std::string& master_key,
                         const scale::ScalePki& pki, const scale::TlsProbe& probe, int names,
                         const fs::path& dir) {
  CountResult r;
  r.names = names;
  const std::string db = fmt::format("cb_{}", names);
  ClusterData data;
  {
    PhaseClock clock(r, "setup", pg);
    Progress("database {}: node 1 alone makes the store, takes the certificates", db);
    data = PrepareCluster(o, master_key, pki, pg.CreateDatabase(db), dir);
    Progress("direct store load of {} names ({})", names,
             o.copy_load ? std::string("COPY, one transaction")
                         : fmt::format("store API, {} a transaction", o.batch));
    r.load_s = DirectStoreLoad(o, data, names, dir / "names.csv", [&](const fs::path& csv) {
      pg.Psql(fmt::format("\\copy reserved_domains (id, account_id, created_at, description, "
                          "metadata, domain, certificate_id, cname_target, name_key) FROM '{}' "
                          "WITH (FORMAT csv)",
                          csv.string()),
              db);
    });
    const auto t0 = BenchClock::now();
    pg.Psql("VACUUM ANALYZE", db);
    r.analyze_s = Seconds(BenchClock::now() - t0);
    Progress("  loaded in {:.1f} s ({:.0f} names/s), VACUUM ANALYZE {:.1f} s", r.load_s,
             names / r.load_s, r.analyze_s);
  }

  std::unique_ptr<Cluster> cluster;
  {
    PhaseClock clock(r, "starts", pg);
    for (int round = 0; round < o.rounds; ++round) {
      std::vector<NodeStart> starts;
      cluster = Cluster::Start(o, data, pki, probe, starts);
      std::string line;
      for (size_t i = 0; i < starts.size(); ++i) {
        line += fmt::format(" node {} {:.3f} s ({:.2f} CPU-s);", i + 1, starts[i].serving_s,
                            starts[i].cpu_s);
      }
      Progress("round {}/{}: serving {} names:{}", round + 1, o.rounds, CountText(names), line);
      r.starts.push_back(std::move(starts));
      // The last round's nodes stay for the changes.
      if (round + 1 < o.rounds) cluster->Stop();
    }
  }

  std::vector<std::unique_ptr<scale::ApiConnection>> apis;
  for (size_t i = 0; i < cluster->size(); ++i) {
    apis.push_back(std::make_unique<scale::ApiConnection>(cluster->api_url(i), data.api_key));
  }
  int next_change = 0;
  // Each node builds a certificate's context on its first handshake: one
  // unmeasured change per change certificate, through each node in turn.
  for (int i = 0; i < kChangeLeaves; ++i) {
    const ChangeSample s = ChangeToServedEverywhere(*cluster, apis, data, pki, probe, next_change++,
                                                    static_cast<size_t>(i) % cluster->size());
    for (size_t node = 0; node < s.node_ms.size(); ++node) {
      if (s.node_ms[node] < 0) cluster->Failed(node, "a warm-up change was not served in 30 s");
    }
  }
  {
    PhaseClock clock(r, "changes alone", pg, cluster.get());
    MeasureChanges(o, *cluster, apis, data, pki, probe, next_change, r.alone);
  }
  if (o.load_writes > 0) {
    PhaseClock clock(r, fmt::format("changes, {} writes/s", o.load_writes), pg, cluster.get());
    BackgroundWrites load(*cluster, data, o.load_writes);
    std::this_thread::sleep_for(kLoadRampUp);
    MeasureChanges(o, *cluster, apis, data, pki, probe, next_change, r.loaded);
    r.load = load.Stop();
    r.under_load = true;
    Progress("  background: {} writes in {:.1f} s, {} failed{}", r.load.writes, r.load.wall_s,
             r.load.failed, r.load.first_error.empty() ? "" : ": " + r.load.first_error);
  }
  cluster->CheckAlive();
  apis.clear();
  cluster->Stop();
  return r;
}

int Run(const Options& given) {
  Options o = given;
  const auto cpus = static_cast<int>(std::thread::hardware_concurrency());
  if (o.server_cpu >= cpus || o.client_cpu >= cpus) {
    throw std::runtime_error(fmt::format("this machine has {} cpus; choose cpus below that", cpus));
  }
  if (o.server_cpu >= 0 && o.server_cpu == o.client_cpu) {
    throw std::runtime_error("--server-cpu and --client-cpu must differ");
  }
  auto binary = FindBinary(o.certgate);
  if (!binary) {
    throw std::runtime_error(fmt::format(
        "certgate binary '{}' not found: build it (cmake --build build --target certgate) or "
        "give --certgate=PATH",
        o.certgate));
  }
  o.certgate = *binary;
  const testing::RunResult key = testing::RunCommand({o.certgate, "admin", "keys", "generate"});
  std::string master_key = key.out.substr(0, key.out.find('\n'));
  if (key.exit_code != 0 || master_key.empty()) {
    throw std::runtime_error("`certgate admin keys generate` failed: " + key.err);
  }

  testing::TempDir temp("cluster-bench");
  ::chmod(temp.path().c_str(), 0755);
  // Kept with --keep-temp, and when the run fails (destroyed after
  // everything that runs, before the directory).
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

  const scale::ScalePki pki = scale::MakeScalePki(kChangeLeaves);
  const scale::TlsProbe probe;
  Progress("starting PostgreSQL (tests/support/pg_test_cluster.sh){}",
           o.server_cpu >= 0 ? fmt::format(" on cpu {}", o.server_cpu) : std::string());
  BenchPostgres pg(o.server_cpu, o.fsync);
  const std::string postgres = pg.Describe();
  Progress("{}", postgres);
  // Only with the servers pinned: what this thread starts unpinned would
  // inherit its cpu.
  if (o.server_cpu >= 0 && o.client_cpu >= 0) PinThisThread(o.client_cpu);

  std::vector<CountResult> results;
  for (int names : o.names) {
    results.push_back(MeasureCount(o, pg, master_key, pki, probe, names,
                                   temp.path() / fmt::format("n{}", names)));
  }
  PrintReport(o, postgres, results);
  keep.ok = true;
  return 0;
}

}  // namespace
}  // namespace certgate::bench::cluster

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  certgate::bench::InstallInterruptHandler();
  try {
    const auto o = certgate::bench::cluster::ParseOptions(argc, argv);
    return certgate::bench::cluster::Run(o);
  } catch (const std::exception& e) {
    fmt::print(stderr, "cluster_bench: error: {}\n", e.what());
    return 1;
  }
}
