#include "scale/scale_report.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/report.h"

namespace certgate::bench::scale {
namespace {

// Bytes per name over the baseline, or the baseline's own size.
std::string PerName(const Row& row, double kb, double base_kb) {
  if (row.names == 0) return "(" + Mb(kb) + ")";
  return fmt::format("{:.0f} B", (kb - base_kb) * 1024 / row.names);
}

std::string Busy(const Phase& p, const std::string& cpu) {
  auto a = p.idle_before.find(cpu);
  auto b = p.idle_after.find(cpu);
  if (a == p.idle_before.end() || b == p.idle_after.end()) return "?";
  const auto total = static_cast<double>(b->second.first - a->second.first);
  const auto idle = static_cast<double>(b->second.second - a->second.second);
  return total > 0 ? fmt::format("{:.0f}%", 100 * (total - idle) / total) : std::string("?");
}

std::string CpuLine(const Phase& p, const Options& o) {
  auto steal = [&](const std::string& cpu) {
    const auto pct = StealPercent(p.before, p.after, cpu);
    return pct ? fmt::format("{:.0f}%", *pct) : std::string("?");
  };
  const std::string server = fmt::format("cpu{}", o.server_cpu);
  const std::string client = fmt::format("cpu{}", o.client_cpu);
  const std::string certgate = p.server_cpu_s >= 0 && p.wall_s > 0
                                   ? fmt::format("{:.0f}%", 100 * p.server_cpu_s / p.wall_s)
                                   : std::string("-");
  return fmt::format("{:<15} {:>6} {:>9} {:>6} {:>6} {:>6}", p.name, Busy(p, server), certgate,
                     steal(server), Busy(p, client), steal(client));
}

std::string Rounds(const std::vector<double>& v, const char* format) {
  std::vector<std::string> parts;
  for (double x : v) parts.push_back(fmt::format(fmt::runtime(format), x));
  return fmt::format("{}", fmt::join(parts, " "));
}

// Each batch's CPU ms per unit, or its units per wall second.
std::vector<double> PerBatch(const std::vector<Batch>& batches, bool cpu_ms) {
  std::vector<double> out;
  for (const Batch& b : batches) {
    if (cpu_ms) {
      out.push_back(b.count > 0 ? 1000 * b.cpu_s / b.count : 0);
    } else {
      out.push_back(b.wall_s > 0 ? b.count / b.wall_s : 0);
    }
  }
  return out;
}

}  // namespace

std::string Mb(double kb) { return fmt::format("{:.1f} MB", kb / 1024); }

std::string RowLabel(const Row& row) {
  if (row.names == 0) return "0 (base)";
  return row.distinct ? CountText(row.names) + " certs" : CountText(row.names);
}

double CpuMsPerUnit(const std::vector<Batch>& batches) {
  double cpu = 0;
  int count = 0;
  for (const Batch& b : batches) {
    cpu += b.cpu_s;
    count += b.count;
  }
  return count > 0 ? 1000 * cpu / count : 0;
}

double UnitsPerSecond(const std::vector<Batch>& batches) {
  double wall = 0;
  int count = 0;
  for (const Batch& b : batches) {
    wall += b.wall_s;
    count += b.count;
  }
  return wall > 0 ? count / wall : 0;
}

void PrintReport(const Options& o, const std::vector<Row>& rows, const std::vector<Phase>& phases) {
  ReportText report;
  const Row& base = rows.front();
  const double base_cold = Median(base.rss_cold_kb);
  report.Line("");
  report.Line(
      "scale_bench: certgate, one wildcard certificate (*.bench.example), N reserved "
      "domains pointing at it, loaded by a direct store load (see --help)");
  report.Line(fmt::format(
      "server pinned to cpu {} (--edge-workers 1), probes, API clients and "
      "DNS load on cpu {}; {} rounds, servers interleaved; medians or totals (see below)",
      o.server_cpu, o.client_cpu, o.rounds));
  if (!o.serve_args.empty()) {
    report.Line(fmt::format("certgate serve also got: {}", fmt::join(o.serve_args, " ")));
  }
  report.Line(fmt::format("{:<15} {:>23} {:>13}", "cpu per phase",
                          fmt::format("server cpu{}", o.server_cpu),
                          fmt::format("client cpu{}", o.client_cpu)));
  report.Line(fmt::format("{:<15} {:>6} {:>9} {:>6} {:>6} {:>6}", "", "busy", "certgate", "steal",
                          "busy", "steal"));
  for (const Phase& p : phases) report.Line(CpuLine(p, o));
  report.Line("busy: the cpu's time not idle, whoever used it (the machine is shared); certgate:");
  report.Line("the measured servers' CPU over the phase's wall time. Other work on the server's");
  report.Line("cpu slows the wall-clock figures (start, change->served, creates/s, NXDOMAIN/s),");
  report.Line("not the per-CPU ones.");
  report.Line("");
  report.Line(fmt::format("{:<13} {:>14} {:>11} {:>12} {:>22} {:>10} {:>9} {:>10} {:>10} {:>8}",
                          "names", "start->serving", "B/name cold", "B/name after",
                          "change->served p50/p99", "CPU/change", "creates/s", "CPU/create",
                          "NXDOMAIN/s", "/CPU-s"));
  for (const Row& r : rows) {
    report.Line(fmt::format(
        "{:<13} {:>12.3f} s {:>11} {:>12} {:>11.1f} / {:>5.1f} ms {:>7.2f} ms {:>9.0f} {:>7.2f} ms "
        "{:>10.0f} {:>8.0f}",
        RowLabel(r), Median(r.start_s), PerName(r, Median(r.rss_cold_kb), base_cold),
        PerName(r, r.rss_after_kb, base.rss_after_kb), Quantile(r.latency_ms, 0.5),
        Quantile(r.latency_ms, 0.99), CpuMsPerUnit(r.bursts), UnitsPerSecond(r.create_rounds),
        CpuMsPerUnit(r.create_rounds), Median(r.nx_per_s), Median(r.nx_per_cpu_s)));
  }
  report.Line("B/name: (VmRSS - the 0-name server's) / N; the 0-name row shows its own VmRSS.");
  if (std::any_of(rows.begin(), rows.end(), [](const Row& r) { return r.distinct; })) {
    report.Line(
        "N certs: N names, each with its own certificate (its key sealed as certgate seals "
        "keys),");
    report.Line("loaded by a direct store load as well; see the distinct certificates' tables.");
  }
  report.Line(
      fmt::format("B/name after: after the {} API changes of the change->served and "
                  "CPU/change phases (creates/s comes later).",
                  base.changes_before_rss));
  report.Line(
      "NXDOMAIN/s and creates/s are wall-clock rates; /CPU-s and CPU/create are the "
      "server's CPU.");
  report.Line("CPU/change, CPU/create and creates/s are over all of a server's bursts or rounds");
  report.Line(
      "together (a periodic cost, such as the edge re-sharding its names as they grow,");
  report.Line("lands in one of them); start->serving and NXDOMAIN/s are medians.");

  report.Line("");
  report.Line("== context ==");
  report.Line(fmt::format("{:<13} {:>9} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}  {}",
                          "names", "load", "ready", "start CPU", "RSS cold", "RSS after", "peak",
                          "changes/s", "lost/other", "per round"));
  for (const Row& r : rows) {
    report.Line(fmt::format(
        "{:<13} {:>7.1f} s {:>7.3f} s {:>8.2f} s {:>10} {:>10} {:>10} {:>10.0f} {:>5}/{:<4}  "
        "start s [{}] CPU/change ms [{}] creates/s [{}] NXDOMAIN/CPU-s [{}]",
        RowLabel(r), r.load_s, Median(r.ready_s), Median(r.start_cpu_s), Mb(Median(r.rss_cold_kb)),
        Mb(r.rss_after_kb), Mb(r.hwm_after_kb), UnitsPerSecond(r.bursts), r.dns_lost, r.dns_other,
        Rounds(r.start_s, "{:.3f}"), Rounds(PerBatch(r.bursts, true), "{:.2f}"),
        Rounds(PerBatch(r.create_rounds, false), "{:.0f}"), Rounds(r.nx_per_cpu_s, "{:.0f}")));
    if (r.latency_failed > 0) {
      report.Line(
          fmt::format("  {} names: {} changes were not served within 30 s (left out of "
                      "the percentiles)",
                      r.names, r.latency_failed));
    }
  }
  report.Line("load: the direct store load's time (setup, not certgate's). ready: launch to the");
  report.Line("\"certgate ready\" line (start->serving adds the first handshake). start CPU: the");
  report.Line("server's CPU seconds from launch to serving. peak: VmHWM after the changes.");
  report.Line("changes/s: wall-clock rate of the sequential bursts. lost/other: DNS queries");
  report.Line("unanswered within 1 s / answered with another rcode than NXDOMAIN.");

  // Issue 17's targets, read against the largest count of names measured
  // (the distinct certificates' targets are under their own tables).
  const Row& top =
      *std::find_if(rows.rbegin(), rows.rend(), [](const Row& r) { return !r.distinct; });
  if (top.names > 0) {
    const double per_name_cold = (Median(top.rss_cold_kb) - base_cold) * 1024 / top.names;
    const double per_name_after = (top.rss_after_kb - base.rss_after_kb) * 1024 / top.names;
    const double cpu_ratio =
        CpuMsPerUnit(base.bursts) > 0 ? CpuMsPerUnit(top.bursts) / CpuMsPerUnit(base.bursts) : 0;
    report.Line("");
    report.Line(fmt::format("issue 17's targets at {} names (they are set for 1,000,000):",
                            CountText(top.names)));
    report.Line(fmt::format(
        "  ready {:.3f} s (<= 1 s); {:.0f} B/name cold, {:.0f} after changes "
        "(<= 300 B); change served p99 {:.1f} ms (<= 10 ms)",
        Median(top.start_s), per_name_cold, per_name_after, Quantile(top.latency_ms, 0.99)));
    report.Line(
        fmt::format("  CPU/change {:.2f} ms = {} the 0-name server's (independent of N: "
                    "~1x); {:.0f} NXDOMAIN/s (>= 20,000); {:.0f} creates/s (>= 3,000)",
                    CpuMsPerUnit(top.bursts), RatioText(cpu_ratio), Median(top.nx_per_s),
                    UnitsPerSecond(top.create_rounds)));
  }
  report.Print();
}

}  // namespace certgate::bench::scale
