#include "handshake/handshake_report.h"

#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/report.h"
#include "handshake/bench_tls.h"

namespace certgate::bench::handshake {
namespace {

std::string Kb(double kb) { return fmt::format("{:.1f} MB", kb / 1024); }

}  // namespace

std::string CeilingLabel(int tickets) {
  return fmt::format("libssl ceiling, {} ticket{}", tickets, tickets == 1 ? "" : "s");
}

std::string StealSummary(const CpuTimes& a, const CpuTimes& b, const Options& o) {
  auto pct = [&](const std::string& cpu) {
    const auto steal = StealPercent(a, b, cpu);
    return steal ? fmt::format("{:.0f}%", *steal) : std::string("?");
  };
  return fmt::format("cpu{} (servers) {}, cpu{} (load) {}, all {}", o.server_cpu,
                     pct(fmt::format("cpu{}", o.server_cpu)), o.client_cpu,
                     pct(fmt::format("cpu{}", o.client_cpu)), pct("cpu"));
}

double PairedRatio(const std::map<std::string, Series>& series, const std::string& a,
                   const std::string& b) {
  auto ia = series.find(a);
  auto ib = series.find(b);
  if (ia == series.end() || ib == series.end()) return 0;
  return MedianOfRatios(ia->second.Rates(), ib->second.Rates());
}

void PrintReport(const Options& o, const ServerGroups& servers, const HandshakeResults& res) {
  const bool want_handshake = o.scenarios.count("handshake") > 0;
  const bool want_names = o.scenarios.count("names") > 0;
  const bool want_idle = o.scenarios.count("idle") > 0;
  const bool want_silent = o.scenarios.count("silent") > 0;
  auto selected = [&](const char* s) { return o.only.count(s) > 0; };
  ReportText report;
  report.Line("");
  report.Line(
      fmt::format("handshake_bench: TLS 1.3, {}, {}, ECDSA P-256 leaf + its CA, no session "
                  "reuse; {} concurrent connections",
                  kGroup, kCipherSuite, o.concurrency));
  report.Line(
      fmt::format("servers pinned to cpu {} (one worker each), load generator on cpu {}; {} "
                  "rounds, interleaved; medians (a ratio is the median of the per-round ratios)",
                  o.server_cpu, o.client_cpu, o.rounds));
  report.Line(fmt::format("steal during the rounds: {}",
                          StealSummary(res.rounds_start, res.rounds_end, o)));

  auto paired = [&](const std::string& a, const std::string& b) {
    return PairedRatio(res.series, a, b);
  };
  auto paired_text = [&](const std::string& a, const std::string& b) {
    return RatioText(paired(a, b));
  };
  auto ceiling_label = [](int tickets) { return CeilingLabel(tickets); };
  auto series = [&](const std::string& label) -> const Series& {
    static const Series kNone;
    auto it = res.series.find(label);
    return it == res.series.end() ? kNone : it->second;
  };

  if (want_handshake) {
    report.Line("");
    report.Line(fmt::format(
        "== Full handshakes, one name (fixed SNI), {} connections per server and round ==",
        o.connections));
    report.Line(fmt::format("{:<26} {:>9} {:>10} {:>5} {:>8} {:>7} {:>10} {:>10}  {}", "",
                            "hs/CPU-s", "hs/s wall", "busy", "tickets", "failed", "/ceil(0t)",
                            "/ceil(same)", "per round (hs/CPU-s)"));
    std::vector<std::string> labels;
    for (int t : res.ceiling_tickets) {
      labels.push_back(fmt::format("libssl ceiling, {} ticket{}", t, t == 1 ? "" : "s"));
    }
    for (auto& s : servers.one) labels.push_back(s.label);
    for (auto& s : servers.ticket_variants) labels.push_back(s.label);
    for (const auto& label : labels) {
      const Series& se = series(label);
      const bool is_ceiling = label.rfind("libssl", 0) == 0;
      const double tpc = se.TicketsPerConn();
      const int same = static_cast<int>(std::lround(tpc));
      report.Line(fmt::format(
          "{:<26} {:>9.0f} {:>10} {:>5} {:>8.2f} {:>7} {:>10} {:>10}  {}", label, se.MedianRate(),
          is_ceiling ? std::string("-") : fmt::format("{:.0f}", se.MedianWall()),
          is_ceiling ? std::string("-") : fmt::format("{:.0f}%", 100 * se.MedianBusy()), tpc,
          se.Failed(), paired_text(label, ceiling_label(0)),
          same <= 2 ? paired_text(label, ceiling_label(same)) : std::string("-"), se.Rounds()));
    }
    report.Line("busy = server CPU-s per wall second (below 100%: the load generator's cpu was");
    report.Line("the limit; the rate per CPU-second stays comparable). tickets = TLS 1.3 session");
    report.Line("tickets the server sent per connection (certgate's default is 1, HAProxy's and");
    report.Line(
        "nginx's OpenSSL's 2); /ceil(same) compares with libssl in memory sending as many.");
    report.Line(fmt::format("certgate/haproxy {}  (target >= 1.30x)   certgate/nginx {}",
                            paired_text("certgate", "haproxy"), paired_text("certgate", "nginx")));
  }

  if (want_names && !servers.many.empty()) {
    report.Line("");
    report.Line(
        fmt::format("== {} names, one certificate each, random SNI per connection ==", o.names));
    report.Line(fmt::format("{:<16} {:>9} {:>10} {:>7} {:>9} {:>9} {:>10} {:>10} {:>10}  {}", "",
                            "hs/CPU-s", "hs/s wall", "failed", "vs 1 name", "1st pass", "RSS start",
                            "PSS start", "RSS loaded", "per round (hs/CPU-s)"));
    std::vector<std::string> setups;
    for (auto& s : servers.many) {
      const Series& se = series(s.label);
      const Sample& fp = res.first_pass.at(s.label);
      std::string setup =
          s.kind == "certgate"
              ? fmt::format(
                    "uploads through the API until served {:.1f} s (certgate used {:.1f} "
                    "CPU-s), restart-to-ready {:.1f} s",
                    s.setup_s, s.setup_cpu_s, s.restart_s)
              : fmt::format("start-to-ready {:.1f} s ({:.1f} CPU-s)", s.setup_s, s.setup_cpu_s);
      report.Line(
          fmt::format("{:<16} {:>9.0f} {:>10.0f} {:>7} {:>9} {:>9.0f} {:>10} {:>10} {:>10}  {}",
                      s.label, se.MedianRate(), se.MedianWall(), se.Failed() + fp.failed + fp.wrong,
                      paired_text(s.label, s.kind), fp.rate(), Kb(s.after_start.rss_kb),
                      s.after_start.pss_kb > 0 ? Kb(s.after_start.pss_kb) : std::string("-"),
                      Kb(res.after_first_pass.at(s.label).rss_kb), se.Rounds()));
      setups.push_back(fmt::format("  {}: {}", s.label, setup));
    }
    report.Line("setup:");
    for (const auto& l : setups) report.Line(l);
    report.Line("1st pass = hs/CPU-s while every name is used once (certgate builds each context");
    report.Line("on first use); RSS loaded = after that pass. vs 1 name = this rate / the same");
    report.Line("server's one-name rate, per round (no loss is ~1).");
    if (selected("nginx") && !o.nginx_names) report.Line("nginx left out (--no-nginx-names).");
  }

  if (want_idle && !res.idle.empty()) {
    report.Line("");
    report.Line(fmt::format(
        "== {} idle TLS connections (handshake + one keep-alive request answered) ==", o.idle));
    report.Line(fmt::format("{:<16} {:>11} {:>11} {:>9} {:>12} {:>14} {:>11}", "", "RSS before",
                            "RSS with", "KB/conn", "PSS KB/conn", "marginal KB/c", "still open"));
    for (const auto& r : res.idle) {
      report.Line(fmt::format(
          "{:<16} {:>11} {:>11} {:>9.1f} {:>12} {:>14.1f} {:>11}", r.label, Kb(r.before.rss_kb),
          Kb(r.with.rss_kb), r.PerConnKb(),
          r.with.pss_kb > 0 ? fmt::format("{:.1f}", r.PerConnPssKb()) : std::string("-"),
          r.MarginalKb(), fmt::format("{}/{}", r.still_open, r.opened)));
    }
    report.Line("KB/conn = (RSS with - idle baseline) / connections; marginal = the same over the");
    report.Line("last 4/5 of them (the first ones reuse heap freed after the handshake rounds).");
    if (res.libssl_idle > 0) {
      report.Line(
          fmt::format("libssl floor: an idle server SSL (after handshake and one request, "
                      "RELEASE_BUFFERS) holds {:.1f} KB of heap",
                      res.libssl_idle / 1024));
      std::vector<std::string> over;
      for (const auto& r : res.idle) {
        over.push_back(
            fmt::format("{} {:+.1f} KB", r.label, r.MarginalKb() - res.libssl_idle / 1024));
      }
      report.Line(fmt::format("marginal KB/conn above that floor: {}", fmt::join(over, ", ")));
    }
    report.Line(
        "target: certgate <= 10 KB per idle connection (KB = 1024 bytes; kernel socket memory");
    report.Line("not included)");
  }
  if (want_silent && !res.silent.empty()) {
    report.Line("");
    report.Line(fmt::format("== {} connections that send nothing (no ClientHello) ==", o.idle));
    report.Line(fmt::format("{:<16} {:>11} {:>11} {:>12} {:>14} {:>11}", "", "RSS before",
                            "RSS with", "bytes/conn", "RSS closed", "still open"));
    for (const auto& r : res.silent) {
      report.Line(fmt::format("{:<16} {:>11} {:>11} {:>12.0f} {:>14} {:>11}", r.label,
                              Kb(r.before.rss_kb), Kb(r.with.rss_kb), r.PerConnBytes(),
                              Kb(r.after.rss_kb), fmt::format("{}/{}", r.still_open, r.opened)));
    }
    report.Line("bytes/conn = (RSS with - baseline) / connections; RSS closed = after they closed");
  }
  // The targets, as far as this run measured them.
  std::vector<std::string> targets;
  auto verdict = [](bool ok) { return ok ? "met" : "missed"; };
  if (paired("certgate", "haproxy") > 0) {
    const double r = paired("certgate", "haproxy");
    targets.push_back(fmt::format(
        "certgate/haproxy handshakes per CPU-second {:.2f}x (>= 1.30x: {})", r, verdict(r >= 1.3)));
  }
  const std::string many_label = fmt::format("certgate {}", o.names);
  if (paired(many_label, "certgate") > 0) {
    const double r = paired(many_label, "certgate");
    targets.push_back(fmt::format("certgate {} names / one name {:.2f}x (no loss, >= 0.95x: {})",
                                  o.names, r, verdict(r >= 0.95)));
  }
  for (const auto& r : res.idle) {
    if (r.label != "certgate") continue;
    const double kb = r.PerConnKb();
    targets.push_back(
        fmt::format("certgate {:.1f} KB per idle connection, marginal {:.1f} KB "
                    "(<= 10 KB: {})",
                    kb, r.MarginalKb(), verdict(kb <= 10)));
  }
  for (const auto& r : res.silent) {
    if (r.label != "certgate") continue;
    targets.push_back(
        fmt::format("certgate {:.0f} bytes per connection that sent nothing "
                    "(<= 4096: {})",
                    r.PerConnBytes(), verdict(r.PerConnBytes() <= 4096)));
  }
  if (!targets.empty()) {
    report.Line("");
    report.Line("targets (a benchmark, not a test; compare runs, the machine is noisy):");
    for (const auto& t : targets) report.Line("  " + t);
  }
  report.Print();
}

}  // namespace certgate::bench::handshake
