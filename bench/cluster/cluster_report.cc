#include "cluster/cluster_report.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/report.h"

namespace certgate::bench::cluster {
namespace {

constexpr double kTargetP99Ms = 100;
constexpr double kTargetStartS = 2;
constexpr int kTargetStartNames = 100000;

// The samples of one column: a node's times, the writing node's, the
// others', or each change's slowest node. Samples of a node that never
// served the change are left out and counted.
struct Column {
  std::vector<double> ms;
  int failed = 0;
  void Add(double v) {
    if (v < 0) {
      ++failed;
    } else {
      ms.push_back(v);
    }
  }
};

enum class Who { kNode, kWriter, kOthers, kSlowest };

Column Collect(const std::vector<ChangeSample>& samples, Who who, size_t node = 0) {
  Column c;
  for (const ChangeSample& s : samples) {
    switch (who) {
      case Who::kNode:
        c.Add(s.node_ms[node]);
        break;
      case Who::kWriter:
        c.Add(s.node_ms[s.via]);
        break;
      case Who::kOthers:
        for (size_t i = 0; i < s.node_ms.size(); ++i) {
          if (i != s.via) c.Add(s.node_ms[i]);
        }
        break;
      case Who::kSlowest:
        c.Add(s.Slowest());
        break;
    }
  }
  return c;
}

std::string Latency(const Column& c) {
  if (c.ms.empty()) return fmt::format("{:>8} {:>8}", "-", "-");
  std::string out = fmt::format("{:8.1f} {:8.1f}", Quantile(c.ms, 0.5), Quantile(c.ms, 0.99));
  if (c.failed > 0) out += fmt::format(" ({} never)", c.failed);
  return out;
}

// Per round, node i's start (or the slowest node's, for i = npos).
std::vector<double> StartsOf(const CountResult& r, size_t i, bool cpu) {
  std::vector<double> out;
  for (const std::vector<NodeStart>& round : r.starts) {
    if (i < round.size()) {
      out.push_back(cpu ? round[i].cpu_s : round[i].serving_s);
    } else {
      double worst = 0;
      for (const NodeStart& s : round) worst = std::max(worst, cpu ? s.cpu_s : s.serving_s);
      out.push_back(worst);
    }
  }
  return out;
}

std::string StartColumns(const CountResult& r, size_t i, bool with_cpu) {
  const std::vector<double> s = StartsOf(r, i, false);
  if (s.empty()) return fmt::format("{:>8} {:>8} {:>7}", "", "", "");
  const std::string cpu =
      with_cpu ? fmt::format("{:7.2f}", Median(StartsOf(r, i, true))) : fmt::format("{:>7}", "");
  return fmt::format("{:8.3f} {:8.3f} {}", Median(s), *std::max_element(s.begin(), s.end()), cpu);
}

std::string Percent(double part, double whole) {
  return whole > 0 && part >= 0 ? fmt::format("{:.0f}%", 100 * part / whole) : std::string("-");
}

std::string Busy(const PhaseContext& p, const std::string& cpu) {
  auto a = p.idle_before.find(cpu);
  auto b = p.idle_after.find(cpu);
  if (a == p.idle_before.end() || b == p.idle_after.end()) return "?";
  const auto total = static_cast<double>(b->second.first - a->second.first);
  const auto idle = static_cast<double>(b->second.second - a->second.second);
  return Percent(total - idle, total);
}

std::string Steal(const PhaseContext& p, const std::string& cpu) {
  const auto pct = StealPercent(p.before, p.after, cpu);
  return pct ? fmt::format("{:.0f}%", *pct) : std::string("?");
}

std::string Verdict(bool met) { return met ? "met" : "NOT met"; }

}  // namespace

void PrintReport(const Options& o, const std::string& postgres,
                 const std::vector<CountResult>& counts) {
  ReportText report;
  const auto n = static_cast<size_t>(o.nodes);
  report.Line("");
  report.Line(fmt::format(
      "cluster_bench: {} certgate nodes on one PostgreSQL (a database per name count); names on "
      "one wildcard certificate, loaded by a direct store load ({}; see --help)",
      o.nodes,
      o.copy_load
          ? std::string("--load=copy: PostgreSQL COPY of the rows the API would store, "
                        "ownership checks skipped")
          : fmt::format("--load=store: the store API's InsertDomains, {} a transaction", o.batch)));
  report.Line(postgres);
  report.Line(
      o.server_cpu >= 0
          ? fmt::format("nodes and PostgreSQL pinned to cpu {} (--edge-workers 1), "
                        "probes and API clients on cpu {}",
                        o.server_cpu,
                        o.client_cpu >= 0 ? std::to_string(o.client_cpu) : std::string("any"))
          : std::string("nothing pinned"));
  report.Line(fmt::format(
      "start -> serving: all nodes launched at once, seconds until each edge serves the last "
      "name, median and worst of {} starts, CPU-s median;",
      o.rounds));
  report.Line(fmt::format(
      "change -> served: ms from the 201 until served, p50 and p99 of {} changes ~{} ms apart, "
      "through each node's API in turn; alone, and beside {} API writes/s",
      o.changes, o.change_gap_ms, o.load_writes));
  report.Line("");
  const std::string load_head = o.load_writes > 0
                                    ? fmt::format("{} writes/s: p50 / p99", o.load_writes)
                                    : std::string("under load: -");
  report.Line(fmt::format("{:<9} {:<15} {:>8} {:>8} {:>7} | {:>17} | {}", "names", "", "start s",
                          "worst", "CPU-s", "alone: p50 / p99", load_head));
  for (const CountResult& r : counts) {
    for (size_t i = 0; i < n; ++i) {
      report.Line(fmt::format(
          "{:<9} {:<15} {} | {} | {}", i == 0 ? CountText(r.names) : std::string(),
          fmt::format("node {}", i + 1), StartColumns(r, i, true),
          Latency(Collect(r.alone, Who::kNode, i)), Latency(Collect(r.loaded, Who::kNode, i))));
    }
    report.Line(fmt::format("{:<9} {:<15} {:>8} {:>8} {:>7} | {} | {}", "", "took the write", "",
                            "", "", Latency(Collect(r.alone, Who::kWriter)),
                            Latency(Collect(r.loaded, Who::kWriter))));
    report.Line(fmt::format("{:<9} {:<15} {:>8} {:>8} {:>7} | {} | {}", "", "the others", "", "",
                            "", Latency(Collect(r.alone, Who::kOthers)),
                            Latency(Collect(r.loaded, Who::kOthers))));
    report.Line(fmt::format(
        "{:<9} {:<15} {} | {} | {}", "", "slowest node", StartColumns(r, std::string::npos, false),
        Latency(Collect(r.alone, Who::kSlowest)), Latency(Collect(r.loaded, Who::kSlowest))));
    report.Line(fmt::format("{:<9} {:<15} {:>8} {:>8} {:>7} | {:>17} | {:>17}", "", "target",
                            r.names == kTargetStartNames ? "<= 2 s" : "", "", "", "p99 <= 100",
                            r.under_load ? "p99 <= 100" : ""));
  }

  report.Line("");
  report.Line("targets:");
  for (const CountResult& r : counts) {
    const Column alone = Collect(r.alone, Who::kSlowest);
    const Column loaded = Collect(r.loaded, Who::kSlowest);
    auto p99 = [](const Column& c) {
      if (c.ms.empty()) return std::string("no samples");
      const double v = Quantile(c.ms, 0.99);
      return fmt::format("{:.1f} ms ({})", v, Verdict(v <= kTargetP99Ms && c.failed == 0));
    };
    report.Line(
        fmt::format("  {:>9} names: change -> served p99 <= 100 ms to the slowest node: alone {}{}",
                    CountText(r.names), p99(alone),
                    r.under_load ? fmt::format(", under {} writes/s {}", o.load_writes, p99(loaded))
                                 : std::string()));
    const std::vector<double> slowest = StartsOf(r, std::string::npos, false);
    if (!slowest.empty()) {
      const double start = Median(slowest);
      report.Line(fmt::format(
          "  {:>9} names: start -> serving <= 2 s with 100,000 names: slowest node {:.2f} s "
          "(median of {} starts){}",
          CountText(r.names), start, slowest.size(),
          r.names == kTargetStartNames ? fmt::format(" ({})", Verdict(start <= kTargetStartS))
                                       : std::string(" (the target is set for 100,000)")));
    }
  }

  report.Line("");
  for (const CountResult& r : counts) {
    std::vector<double> post_ms;
    for (const auto* v : {&r.alone, &r.loaded}) {
      for (const ChangeSample& s : *v) post_ms.push_back(s.api_ms);
    }
    report.Line(fmt::format(
        "{} names: store load {:.1f} s ({:.0f} names/s), VACUUM ANALYZE {:.1f} s; the measured "
        "changes' POST took p50 {:.1f} ms, p99 {:.1f} ms",
        CountText(r.names), r.load_s, r.load_s > 0 ? r.names / r.load_s : 0, r.analyze_s,
        Quantile(post_ms, 0.5), Quantile(post_ms, 0.99)));
    if (r.under_load) {
      const BackgroundWrites::Summary& l = r.load;
      report.Line(fmt::format(
          "  background writes: {:.1f}/s of {} asked ({} in {:.1f} s, {} failed{}), their API "
          "time p50 {:.1f} ms, p99 {:.1f} ms, at worst {:.0f} ms behind schedule",
          l.wall_s > 0 ? l.writes / l.wall_s : 0, o.load_writes, l.writes, l.wall_s, l.failed,
          l.first_error.empty() ? "" : ": " + l.first_error, Quantile(l.api_ms, 0.5),
          Quantile(l.api_ms, 0.99), l.max_lag_ms));
    }
  }

  report.Line("");
  const std::string server = fmt::format("cpu{}", std::max(0, o.server_cpu));
  const std::string client = fmt::format("cpu{}", o.client_cpu >= 0 ? o.client_cpu : 1);
  std::string node_heads;
  for (size_t i = 0; i < n; ++i) node_heads += fmt::format(" {:>6}", fmt::format("node{}", i + 1));
  report.Line(fmt::format(
      "context (CPU as % of the phase's wall time; busy: any process; the machine is shared):"));
  report.Line(fmt::format("{:<26} {:>7}{} {:>6} | {:>5} busy {:>5} | {:>5} busy {:>5}", "phase",
                          "wall s", node_heads, "pg", server, "steal", client, "steal"));
  for (const CountResult& r : counts) {
    for (const PhaseContext& p : r.phases) {
      std::string nodes;
      for (size_t i = 0; i < n; ++i) {
        nodes += fmt::format(" {:>6}", i < p.node_cpu_s.size() ? Percent(p.node_cpu_s[i], p.wall_s)
                                                               : std::string("-"));
      }
      report.Line(fmt::format("{:<26} {:7.1f}{} {:>6} | {:>10} {:>5} | {:>10} {:>5}",
                              CountText(r.names) + " " + p.name, p.wall_s, nodes,
                              Percent(p.pg_cpu_s, p.wall_s), Busy(p, server), Steal(p, server),
                              Busy(p, client), Steal(p, client)));
    }
  }
  report.Line("");
  report.Line(
      "Figures from one machine that is shared and whose vCPUs lose time to steal: noisy; "
      "compare runs only side by side.");
  report.Print();
}

}  // namespace certgate::bench::cluster
