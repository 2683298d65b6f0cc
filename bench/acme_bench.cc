// Twenty domains created at once, all issued: how long certgate takes to get
// their certificates from an ACME CA, side by side with lego (Debian's
// package) issuing the same names against the same kind of CA. Prints a
// table of medians over interleaved rounds and the ratios certgate/lego.
//
//   build/bench/acme_bench [--rounds=3] [--names=20] [--acme-concurrency=8] ...   (--help)
//
// Everything runs on 127.0.0.1, started by this program (tests/support):
//   Pebble (Debian's 2.4; PEBBLE_VA_NOSLEEP=1, its default 5% badNonce
//   rejection and 50% authorization reuse left on), pebble-challtestsrv as the
//   customer's DNS for customer.test, unbound as the recursive resolver Pebble
//   (and certgate) ask, with stub zones customer.test -> challtestsrv and
//   certgate.test -> certgate's authoritative DNS. The same topology as
//   tests/integration/acme_test.cc. Validation is real HTTP-01: Pebble
//   resolves the name through unbound and connects to 127.0.0.1:<http port>.
//
// Every tool gets its own fresh set of peers (identical settings, new ports)
// for each round: Pebble sends every HTTP-01 check to one port, where either
// certgate's HTTP listener or lego's built-in server listens, and a fresh
// unbound cannot hand lego a cached CNAME into certgate's (stopped) zone.
// Peer start-up is outside the timed window.
//
// What is timed (the wall clock, seconds, for all names issued):
//   certgate   `certgate serve` runs (fresh data dir, --acme-retry-min 1,
//              --acme-concurrency N) and is ready; the clock starts just before
//              the first POST /reserved_domains. The names are created one
//              after another, each with an ECDSA managed policy, and each
//              name's CNAME to its cname_target is set at the customer's DNS
//              right after its creation returns (the target is random, so it
//              cannot exist before). The clock stops when a poll of GET
//              /reserved_domains (every 50 ms) shows a certificate on every
//              one. A job that checks the CNAME before it was set fails and
//              is retried after ~1 s: the "retries" column counts those
//              ("failed (attempt" lines in certgate's log); they are part of
//              the product's real behaviour and stay in the time.
//              Here they cost about 7 s: unbound keeps challtestsrv's "no
//              such CNAME" for 5 s (its NORR_TTL for a negative answer with no
//              SOA: challtestsrv's SOA is out of zone and dropped, so
//              cache-max-negative-ttl: 1 does not apply), so a raced domain
//              fails at ~0, 1 and 3 s and succeeds at ~7 s (backoff 1, 2, 4 s
//              from --acme-retry-min 1). A real resolver keeps a negative
//              answer for the zone's SOA minimum, often minutes.
//   certgate-ready  the same server, but the domains already exist (created
//              without a policy) and their CNAMEs are in place before the
//              clock starts, so no resolver has a negative answer cached; the
//              clock starts just before the first of N PATCH
//              /reserved_domains/<id> that turn the ECDSA managed policy on,
//              and stops like the above. This is the situation lego is
//              measured in (its DNS is in place before it runs): the ACME
//              work alone.
//   lego       The clock starts just before the customer's DNS gets an A
//              record (127.0.0.1) for every name, the same in spirit as
//              certgate's CNAMEs; then
//              (a) lego-each: `lego run` once per name, one after another,
//                  one account (the same --path), as one would script it;
//              (b) lego-one: one `lego run` with every name in one
//                  certificate: one order, N authorizations, the fastest lego
//                  can do.
//              The clock stops when the last lego exits.
//              lego 4.9 solves HTTP-01 authorizations one at a time, also
//              within one order, and after accepting a challenge it polls the
//              authorization, sleeping 5 s whenever the CA sends no
//              Retry-After (Pebble sends none): about 5-6 s per name in both
//              modes, whatever the CA's speed.
//   (c) lego in parallel is left out: Pebble sends every HTTP-01 check to
//       one port, and lego's built-in server must own that port while it
//       solves, so two lego processes cannot solve at the same time (the
//       second fails to bind its listener).
//
// Every certificate is checked after the clock stops: certgate's through the
// API (the domain's certificate, its chain verified against Pebble's issuing
// root for the name), lego's from --path/certificates (the same check).
//
// lego's "retries" are its requests retried after a badNonce ("retry due to"
// lines in its log; certgate retries those inside a step and does not log
// them). Pebble rejects 5% of nonces.
//
// As ../shared/BENCHMARKING.md asks: tools interleaved within a round (the
// order rotates from round to round), medians of --rounds rounds, ratios
// against the peers, and the client's CPU seconds (certgate's utime+stime from
// /proc/<pid>/stat; lego's from getrusage(RUSAGE_CHILDREN)) and the
// machine's steal printed as context. Issuance is latency-bound (polls,
// validation round trips), not CPU-bound, so the headline is wall time.
//
// Progress goes to stderr, the tables to stdout. Exit status 1 when any
// certificate was not issued (or on a setup error), 2 for bad flags.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <signal.h>

#include "acme/acme_options.h"
#include "acme/acme_peers.h"
#include "acme/acme_report.h"
#include "acme/certgate_stage.h"
#include "acme/lego_stage.h"
#include "acme/stage.h"
#include "common/progress.h"
#include "core/testing/temp_dir.h"
#include "support/process.h"

namespace certgate::bench::acme {
namespace {

namespace fs = std::filesystem;

std::string PackageVersion(const std::string& package) {
  testing::RunResult r =
      testing::RunCommand({"/usr/bin/dpkg-query", "-W", "-f=${Version}", package});
  return r.exit_code == 0 && !r.out.empty() ? r.out : "unknown";
}

int RunBench(const Options& o) {
  const Versions versions{PackageVersion("pebble"), PackageVersion("lego"),
                          PackageVersion("unbound")};

  testing::TempDir temp("acme-bench");
  const fs::path work = temp.path();
  Progress(
      "acme_bench: {} names, {} rounds, tools {}; work dir {}", o.names, o.rounds,
      [&] {
        std::string s;
        for (Tool t : o.tools) s += (s.empty() ? "" : ",") + std::string(ToolKey(t));
        return s;
      }(),
      work.string());

  std::random_device rd;
  std::mt19937_64 rng(rd());
  std::map<Tool, std::vector<StageResult>> results;
  bool all_issued = true;
  for (int round = 1; round <= o.rounds; ++round) {
    std::vector<std::string> names;
    const std::string tag = fmt::format("{:06x}", rng() & 0xffffff);
    for (int i = 1; i <= o.names; ++i) {
      names.push_back(fmt::format("b{}-{:02}-{}.{}", round, i, tag, kCustomer));
    }
    std::vector<Tool> order = o.tools;
    std::rotate(
        order.begin(),
        order.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(round - 1) % order.size()),
        order.end());
    for (Tool t : order) {
      Progress("round {}/{}: {}", round, o.rounds, ToolKey(t));
      const fs::path dir = work / fmt::format("round{}-{}", round, ToolKey(t));
      fs::create_directories(dir);
      StageResult r;
      try {
        if (t == Tool::kCertgate || t == Tool::kCertgateReady) {
          r = RunCertgateStage(o, names, t == Tool::kCertgateReady, dir);
        } else {
          r = RunLegoStage(o, names, t == Tool::kLegoOne, dir);
        }
      } catch (const std::exception& e) {
        if (StopRequested()) throw;
        // A setup failure (a peer that did not start): this round of the
        // tool counts as nothing issued; the other rounds still run.
        r = StageResult{};
        r.ran = true;
        AddProblem(r, fmt::format("{}: {}", ToolKey(t), e.what()));
      }
      if (r.issued != o.names) all_issued = false;
      for (const std::string& p : r.problems) Progress("  {}", p);
      results[t].push_back(std::move(r));
    }
  }

  PrintReport(o, versions, results, all_issued);
  if (o.keep_temp || !all_issued) {
    temp.Keep();
    Progress("work dir kept: {}", temp.path().string());
  }
  return all_issued ? 0 : 1;
}

}  // namespace
}  // namespace certgate::bench::acme

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = [](int) { certgate::bench::acme::RequestStop(); };
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
  certgate::bench::acme::Options o;
  try {
    o = certgate::bench::acme::ParseOptions(argc, argv);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "acme_bench: %s (see --help)\n", e.what());
    return 2;
  }
  try {
    return certgate::bench::acme::RunBench(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "acme_bench: error: %s\n", e.what());
    return 1;
  }
}
