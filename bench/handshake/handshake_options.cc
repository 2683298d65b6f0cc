#include "handshake/handshake_options.h"

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>

#include "common/flag_reader.h"

namespace certgate::bench::handshake {
namespace {

constexpr char kHelp[] =
    R"(handshake_bench: full TLS 1.3 handshakes per server CPU-second, certgate vs HAProxy and nginx

Every server is started by this program on 127.0.0.1 (free ports, a temp dir
each), pinned to cpu 0 with one worker/thread; the built-in load generator
(non-blocking OpenSSL clients, epoll) runs on cpu 1. Each connection is a
new SSL: a full TLS 1.3 handshake (X25519, TLS_AES_128_GCM_SHA256, no
session reuse), then "GET / HTTP/1.1" with "Connection: close", reading the
response until the server closes. The server process's utime+stime
(/proc/<pid>/stat, children included) is read before and after each batch:
the rate is handshakes per server CPU-second. Servers are interleaved round
by round; the tables print medians, wall-clock rates and steal as context.

All servers use the same ECDSA P-256 leaf certificates, signed by one local
CA (an intermediate under a local root; generated in process), and send the
leaf and that CA. certgate gets them through its API (POST
/tls_certificates, POST /reserved_domains), HAProxy through a crt-list, nginx
through one server block per name. certgate has no endpoints, so it answers
404 after the handshake; HAProxy and nginx answer 200: the same small response.

Scenarios (--scenario, comma separated; default all):
  handshake  one name, fixed SNI. Also the ceiling: libssl alone, client and
             server SSL objects over a BIO pair in this process, timing only
             the server side's calls (CLOCK_THREAD_CPUTIME_ID), with the server
             sending 0, 1 and 2 TLS 1.3 session tickets. certgate sends 1 by
             default, HAProxy and nginx OpenSSL's default 2 (the client counts
             the tickets each server really sends: "tickets/conn"); each
             server is compared with the ceiling for the ticket count it sends.
             Since the ticket count matters, the peers also run a second time
             with tickets turned off as far as their configuration allows
             (HAProxy: no-tls-tickets, tune.ssl.cachesize 0; nginx:
             ssl_session_tickets off, ssl_session_cache off).
  names      --names certificates, one per name; random SNI per connection.
             Prints the setup time (certgate: parallel uploads through the
             API, then restart-to-ready; the peers: start-to-ready, i.e. until
             a handshake for the last name returns that name's certificate),
             RSS after start, a first pass that touches every name once (in
             random order; certgate builds contexts lazily), then the rate
             with random SNI and its ratio to the same server with one name.
  idle       opens --idle TLS connections to each one-name server (handshake,
             one keep-alive request answered), then reads the server's VmRSS
             (and Pss) minus the baseline before connecting, divided by the
             count; "marginal" is the same over the last four fifths (the
             first connections reuse heap freed after the handshake rounds).
             Also prints libssl's own heap cost of an idle server SSL (the
             floor any OpenSSL server pays) and each server's cost above it.
  silent     opens --idle TCP connections to each one-name server that send
             nothing at all (no ClientHello), then reads VmRSS the same way:
             what a flood of idle sockets costs before any TLS. Then closes
             them and reads VmRSS again (is the memory given back?).

Options:
  --rounds=N          interleaved rounds, medians over them (default 7, at least 3)
  --connections=N     connections per server and round (default 2000)
  --concurrency=N     connections in flight (default 50)
  --names=N           names for the names scenario (default 10000)
  --idle=N            idle connections per server (default 5000)
  --ceiling=N         in-memory handshakes per ticket setting and round (default 1000)
  --only=LIST         servers among certgate,haproxy,nginx,ceiling (default all)
  --scenario=LIST     among handshake,names,idle,silent (default all)
  --certgate=PATH     certgate binary (default: this build tree's src/cli/certgate)
  --haproxy=PATH      haproxy binary (default: haproxy from PATH or /usr/sbin)
  --nginx=PATH        nginx binary (default: nginx from PATH or /usr/sbin)
  --no-nginx-names    leave nginx out of the names scenario (10k server blocks)
  --no-ticket-variants  leave out the peers' rows with session tickets turned off
  --upload-threads=N  parallel API uploads for certgate's names (default 8)
  --server-cpu=N      cpu for the servers (default 0); --client-cpu=N for the load (default 1)
  --seed=N            SNI choice seed (default 1)
  --keep-temp         keep the temp dir (configs, logs, certificates); a failed
                      run keeps it and prints where (an interrupted one keeps it too)
  --help              this text

HAProxy and nginx come from Debian: scripts/deps.sh bench installs them.
Progress goes to stderr, the tables to stdout. Targets (a benchmark, not a
test): certgate/haproxy >= 1.3x handshakes per CPU-second; certgate with
--names names / certgate with one name ~ 1 (no loss); <= 10 KB per idle
connection; <= 4 KB per connection that sent nothing yet.
)";

int IntValue(std::string_view name, std::string_view text, int min) {
  const int n = WholeNumber(name, text);
  if (n < min) throw std::invalid_argument(fmt::format("{} must be at least {}", name, min));
  return n;
}

std::set<std::string> ListValue(std::string_view list) {
  const auto items = SplitList(list);
  return {items.begin(), items.end()};
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
    } else if (key == "--rounds") {
      o.rounds = IntValue(key, flags.Value(), 3);
    } else if (key == "--connections") {
      o.connections = IntValue(key, flags.Value(), 50);
    } else if (key == "--concurrency") {
      o.concurrency = IntValue(key, flags.Value(), 1);
    } else if (key == "--names") {
      o.names = IntValue(key, flags.Value(), 2);
    } else if (key == "--idle") {
      o.idle = IntValue(key, flags.Value(), 10);
    } else if (key == "--ceiling") {
      o.ceiling_handshakes = IntValue(key, flags.Value(), 10);
    } else if (key == "--upload-threads") {
      o.upload_threads = IntValue(key, flags.Value(), 1);
    } else if (key == "--server-cpu") {
      o.server_cpu = IntValue(key, flags.Value(), 0);
    } else if (key == "--client-cpu") {
      o.client_cpu = IntValue(key, flags.Value(), 0);
    } else if (key == "--seed") {
      o.seed = static_cast<uint64_t>(IntValue(key, flags.Value(), 0));
    } else if (key == "--only") {
      o.only = ListValue(flags.Value());
      for (const auto& s : o.only) {
        if (s != "certgate" && s != "haproxy" && s != "nginx" && s != "ceiling") {
          throw std::invalid_argument(
              fmt::format("--only: unknown '{}'; use certgate,haproxy,nginx,ceiling", s));
        }
      }
    } else if (key == "--scenario") {
      o.scenarios = ListValue(flags.Value());
      for (const auto& s : o.scenarios) {
        if (s != "handshake" && s != "names" && s != "idle" && s != "silent") {
          throw std::invalid_argument(
              fmt::format("--scenario: unknown '{}'; use handshake,names,idle,silent", s));
        }
      }
    } else if (key == "--certgate") {
      o.certgate = flags.Value();
    } else if (key == "--haproxy") {
      o.haproxy = flags.Value();
    } else if (key == "--nginx") {
      o.nginx = flags.Value();
    } else if (key == "--no-nginx-names") {
      o.nginx_names = false;
    } else if (key == "--no-ticket-variants") {
      o.ticket_variants = false;
    } else if (key == "--keep-temp") {
      o.keep_temp = true;
    } else {
      throw std::invalid_argument(fmt::format("unknown option '{}' (see --help)", flags.arg()));
    }
  }
  return o;
}

}  // namespace certgate::bench::handshake
