#include "scale/scale_options.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>

#include "common/flag_reader.h"

namespace certgate::bench::scale {
namespace {

constexpr char kHelp[] =
    R"(scale_bench: certgate with many names: start-up, memory, changes, API creates, DNS

One wildcard certificate (*.bench.example, ECDSA P-256 from a local CA) and
N reserved domains pointing at it, for each N of --names, beside a server
with no names (the baseline the per-name memory subtracts). The N domains
are a "direct store load": certgate is started once on a fresh data dir, the
certificates are uploaded through the API, certgate is stopped, and the N
rows are written straight into data/certgate.db in one transaction (what
POST /reserved_domains would store, name_key included; the ownership checks
skipped), because N API calls take too long at a million.

Every server is `certgate serve --edge-workers 1 --dns-listen 127.0.0.1:0
--edge-address 127.0.0.1` (per-source connection limits raised, and, when
the binary has it, --dns-max-queries-per-source 0: all the DNS load comes
from 127.0.0.1, and a per-source budget would measure the budget, not the
lookups), pinned to --server-cpu; this program (probes, API
clients, DNS load) runs on --client-cpu. CPU figures are the server
process's CPU time (utime+stime of all its threads, read to the nanosecond
from its CPU-time clock, clock_getcpuclockid); after a change or a batch of
them, the server is given until it is quiet (under 1% of a cpu for 150 ms),
so the edge's work on the change is counted. Servers are interleaved round
by round; the table shows medians, or totals where the list below says so.

  start -> serving   launch of `certgate serve` until a TLS handshake with
                     SNI of the last loaded name serves the wildcard (its
                     serial checked); median of --rounds starts
  B/name cold        (VmRSS right after serving - the baseline's) / N
  B/name after chg   the same after the changes below (the baseline had them
                     too); the context table has the peak (VmHWM)
  change -> served   POST /reserved_domains for a fresh name with its own
                     uploaded certificate (one of four, in turn), timed from
                     the 201 until a handshake for that name serves that
                     certificate (probes 0.5 ms apart); p50 and p99 over
                     --latency-changes changes, after one unmeasured change
                     per certificate (their contexts are built on first use)
  CPU/change         server CPU over a burst of changes on one keep-alive
                     connection, divided by the changes: half creates of fresh
                     names (own certificates), half deletes of loaded names
                     (the baseline deletes its fresh ones), so each change
                     touches a name of its own; --changes per server in
                     --rounds bursts, all bursts' CPU over all their changes
                     (a cost that comes once in a while, such as a
                     re-sharding of the edge's names, is in the total, where
                     a median of bursts would hide it)
  creates/s          --creates domain creates (on the wildcard) from --clients
                     keep-alive connections at once, in --rounds rounds,
                     over all rounds together; also server CPU per create
  NXDOMAIN/s         UDP A queries for random names under the base domain
                     (certgate.test), --dns-concurrency in flight, for
                     --dns-seconds per round; also per server CPU-second

Distinct certificates (issue 17, section 5), with --distinct-certs: N names,
each with its own certificate (ECDSA P-256, its own key, signed by one local
CA; generated in process, the time printed), for each N. Also a direct
store load: per name a tls_certificates row, its key sealed by certgate's
KeyVault under the data dir's master key as POST /tls_certificates seals it
(provision::SealPrivateKey), and a reserved domain pointing at it. These
servers go through every phase above (rows "N certs"), then:

  cold handshake     --cold-handshakes names never handshaked, one at a
                     time, each "GET /" and read until the server closed:
                     the server's CPU (its CPU-time clock before connect()
                     and after the close) and the handshake's wall time
                     (connect() to its end), p50 and p99; then the same
                     names again, warm. Issue 17's target: <= 2 ms of server
                     CPU for a cold name's first handshake
  stall              handshakes to one warm name, timed, while a second
                     client thread handshakes in the background: with none,
                     with other warm names, with cold names (each a context
                     build); --stall-samples per background, in --rounds
  RSS after names    one handshake with each of --handshake-names distinct
                     names (at most N; 4 client threads), VmRSS every 5,000:
                     the edge's context cache is bounded (serve
                     --context-cache, read from `certgate serve --help`)
  peers              HAProxy (a crt-list) and nginx (a server block per
                     name) with the same N certificates, each started
                     --peer-rounds times beside a start of certgate: start ->
                     ready (a handshake with the last name's SNI serves its
                     own certificate), RSS after start, RSS per certificate
                     over the same server with one certificate, ratios to
                     certgate. Pinned to --server-cpu, on free ports of
                     127.0.0.1, stopped by pid (also on ^C)

Options:
  --names=LIST          name counts (default 10000,100000; 1000000 adds about
                        four minutes, 90 s of them the direct store load; 0:
                        only the 0-name baseline)
  --distinct-certs=LIST distinct-certificate counts (default none; 10000 adds
                        about 2 minutes, 100000 about 10 with the peers)
  --cold-handshakes=N   cold names timed per distinct server (default 1000)
  --stall-samples=N     warm handshakes timed per background (default 400)
  --handshake-names=N   names handshaked before "RSS after" (default 25000)
  --no-peers            no HAProxy and nginx
  --peer-rounds=N       starts of each peer per count (default 1)
  --haproxy=PATH        HAProxy binary (default haproxy)
  --nginx=PATH          nginx binary (default nginx)
  --rounds=N            starts, bursts and rounds per server (default 3)
  --latency-changes=N   change -> served samples per server (default 200)
  --changes=N           API changes per server for CPU/change (default 1000)
  --clients=N           concurrent API connections for creates/s (default 16)
  --creates=N           creates per server for creates/s (default 5000)
  --dns-seconds=N       DNS load per server and round (default 3)
  --dns-concurrency=N   DNS queries in flight (default 32)
  --certgate=PATH       certgate binary (default: this build tree's)
  --serve-arg=ARG       one more argument for every `certgate serve` (repeatable:
                        --serve-arg=--context-cache --serve-arg=100)
  --server-cpu=N        cpu for the servers (default 0)
  --client-cpu=N        cpu for this program (default 1)
  --seed=N              DNS names' seed (default 1)
  --keep-temp           keep the temp dir (data dirs, logs); a failed run keeps it
  --help                this text

Progress goes to stderr, the tables to stdout. Issue 17's targets (a
benchmark, not a test) are printed under the table.
)";

int IntValue(std::string_view name, std::string_view text, int min) {
  const int n = WholeNumber(name, text);
  if (n < min) throw std::invalid_argument(fmt::format("{} must be at least {}", name, min));
  return n;
}

// A comma-separated list of counts, each at least min, without repeats,
// ascending; a 0 (the baseline, which always runs) is left out.
std::vector<int> Counts(std::string_view name, std::string_view list, int min) {
  std::vector<int> out;
  for (const std::string& item : SplitList(list)) {
    const int n = IntValue(name, item, min);
    if (n > 0 && std::find(out.begin(), out.end(), n) == out.end()) out.push_back(n);
  }
  if (out.empty() && min > 0) {
    throw std::invalid_argument(fmt::format("{} needs at least one count", name));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

Options ParseOptions(int argc, char** argv) {
  Options o;
  FlagReader flags(argc, argv);
  while (flags.Next()) {
    const std::string_view key = flags.key();
    if (key == "--help" || key == "-h") {
      std::fputs(kHelp, stdout);
      std::exit(0);
    } else if (key == "--names") {
      o.names = Counts(key, flags.Value(), 0);
    } else if (key == "--distinct-certs") {
      o.distinct_certs = Counts(key, flags.Value(), 1);
    } else if (key == "--cold-handshakes") {
      o.cold_handshakes = IntValue(key, flags.Value(), 1);
    } else if (key == "--stall-samples") {
      o.stall_samples = IntValue(key, flags.Value(), 1);
    } else if (key == "--handshake-names") {
      o.handshake_names = IntValue(key, flags.Value(), 1);
    } else if (key == "--no-peers") {
      flags.NoValue();
      o.peers = false;
    } else if (key == "--peer-rounds") {
      o.peer_rounds = IntValue(key, flags.Value(), 1);
    } else if (key == "--haproxy") {
      o.haproxy = flags.Value();
    } else if (key == "--nginx") {
      o.nginx = flags.Value();
    } else if (key == "--rounds") {
      o.rounds = IntValue(key, flags.Value(), 1);
    } else if (key == "--latency-changes") {
      o.latency_changes = IntValue(key, flags.Value(), 1);
    } else if (key == "--changes") {
      o.changes = IntValue(key, flags.Value(), 2);
    } else if (key == "--clients") {
      o.clients = IntValue(key, flags.Value(), 1);
    } else if (key == "--creates") {
      o.creates = IntValue(key, flags.Value(), 1);
    } else if (key == "--dns-seconds") {
      o.dns_seconds = IntValue(key, flags.Value(), 1);
    } else if (key == "--dns-concurrency") {
      o.dns_concurrency = IntValue(key, flags.Value(), 1);
    } else if (key == "--certgate") {
      o.certgate = flags.Value();
    } else if (key == "--serve-arg") {
      o.serve_args.emplace_back(flags.Value());
    } else if (key == "--server-cpu") {
      o.server_cpu = IntValue(key, flags.Value(), 0);
    } else if (key == "--client-cpu") {
      o.client_cpu = IntValue(key, flags.Value(), 0);
    } else if (key == "--seed") {
      o.seed = static_cast<uint64_t>(IntValue(key, flags.Value(), 0));
    } else if (key == "--keep-temp") {
      flags.NoValue();
      o.keep_temp = true;
    } else {
      throw std::invalid_argument(fmt::format("unknown option '{}' (see --help)", flags.arg()));
    }
  }
  return o;
}

}  // namespace certgate::bench::scale
