#include "acme/acme_report.h"

#include <thread>

#include <fmt/format.h>

#include "common/report.h"

namespace certgate::bench::acme {

void PrintReport(const Options& o, const Versions& versions,
                 const std::map<Tool, std::vector<StageResult>>& results, bool all_issued) {
  const std::string& pebble_version = versions.pebble;
  const std::string& lego_version = versions.lego;
  const std::string& unbound_version = versions.unbound;
  ReportText report;
  report.Line(fmt::format("acme_bench: {} domains issued at once; {} interleaved rounds, medians",
                          o.names, o.rounds));
  report.Line(
      fmt::format("  Pebble {} (Debian; PEBBLE_VA_NOSLEEP=1, 5% badNonce), HTTP-01 through "
                  "pebble-challtestsrv and unbound {}",
                  pebble_version, unbound_version));
  report.Line(fmt::format("  lego {} (Debian; ec256 keys, built-in HTTP-01 server)", lego_version));
  report.Line(fmt::format("  certgate {} (ECDSA; --acme-concurrency {} --acme-retry-min {})",
                          o.certgate, o.acme_concurrency, o.acme_retry_min));
  report.Line(
      fmt::format("  {} cpus; client CPU = certgate serve's utime+stime, or all lego processes'",
                  std::thread::hardware_concurrency()));
  report.Line("");
  report.Line("per round: seconds for all names (issued/names, client CPU s, steal)");
  for (Tool t : o.tools) {
    std::string row = fmt::format("  {:<34}", ToolLabel(t, o));
    for (const StageResult& r : results.at(t)) {
      row += fmt::format(" {:7.2f} ({}/{}, {:.2f}, {:.0f}%)", r.wall, r.issued, o.names, r.cpu,
                         r.steal);
    }
    report.Line(row);
  }

  // Medians. certgate's "once DNS resolves" row comes from its log (see the
  // header comment), the others from this program's clock.
  auto median_of = [&](Tool t, auto field) {
    std::vector<double> v;
    for (const StageResult& r : results.at(t)) v.push_back(field(r));
    return Median(v);
  };
  auto wall = [](const StageResult& r) { return r.wall; };
  const bool have_certgate = results.contains(Tool::kCertgate);
  const double certgate_wall = have_certgate ? median_of(Tool::kCertgate, wall) : 0;
  const bool have_ready = results.contains(Tool::kCertgateReady);
  const double ready_wall = have_ready ? median_of(Tool::kCertgateReady, wall) : 0;
  report.Line("");
  const std::string row_format = "  {:<34} {:>9} {:>8} {:>8} {:>8} {:>8} {:>6} {:>14}";
  report.Line(fmt::format(fmt::runtime(row_format), "medians", fmt::format("all {} s", o.names),
                          "s/name", "names/s", "client", "retries", "steal", "certgate/this"));
  report.Line(fmt::format(fmt::runtime(row_format), "", "", "", "", "CPU s", "", "", "(time)"));
  auto row = [&](const std::string& label, double w, const std::string& cpu,
                 const std::string& retries, const std::string& steal) {
    report.Line(fmt::format(
        fmt::runtime(row_format), label, fmt::format("{:.2f}", w),
        fmt::format("{:.3f}", w / o.names), fmt::format("{:.2f}", w > 0 ? o.names / w : 0), cpu,
        retries, steal, have_certgate && w > 0 ? fmt::format("{:.3f}", certgate_wall / w) : "-"));
  };
  for (Tool t : o.tools) {
    row(ToolLabel(t, o), median_of(t, wall),
        fmt::format("{:.2f}", median_of(t, [](const StageResult& r) { return r.cpu; })),
        fmt::format(
            "{:.0f}",
            median_of(t, [](const StageResult& r) { return static_cast<double>(r.retries); })),
        fmt::format("{:.0f}%", median_of(t, [](const StageResult& r) { return r.steal; })));
  }
  report.Line("");
  report.Line("  retries: certgate's failed steps retried later (a CNAME not visible yet);");
  report.Line("  lego's requests retried after a badNonce. s/name for lego-one: one certificate");
  report.Line("  holds every name.");
  report.Line("");
  for (Tool lego : {Tool::kLegoEach, Tool::kLegoOne}) {
    if (!results.contains(lego)) continue;
    const double w = median_of(lego, wall);
    for (Tool t : {Tool::kCertgate, Tool::kCertgateReady}) {
      const double c = t == Tool::kCertgate ? certgate_wall : ready_wall;
      if (!results.contains(t) || c <= 0) continue;
      report.Line(fmt::format("  {}/{}: {:.3f} of the time (lego takes {:.1f}x as long)",
                              ToolKey(t), ToolKey(lego), c / w, w / c));
    }
  }
  if (!all_issued) {
    report.Line("");
    report.Line("NOT ALL CERTIFICATES WERE ISSUED: see the problems printed to stderr");
  }
  report.Print();
}

}  // namespace certgate::bench::acme
