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
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "client/api_client.h"
#include "pki/ossl_ptr.h"
#include "support/challtestsrv.h"
#include "support/pebble.h"
#include "support/process.h"
#include "support/unbound.h"

namespace certgate::bench {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using boost::beast::http::verb;
using Clock = std::chrono::steady_clock;
using testing::ChallTestSrv;
using testing::Pebble;
using testing::PebbleOptions;
using testing::Process;
using testing::StubZone;
using testing::Unbound;

constexpr char kBase[] = "certgate.test";
constexpr char kCustomer[] = "customer.test";
constexpr char kEmail[] = "bench@customer.test";

// ---------------------------------------------------------------------------
// Options

enum class Tool { kCertgate, kCertgateReady, kLegoEach, kLegoOne };
constexpr std::array<Tool, 4> kAllTools = {Tool::kCertgate, Tool::kCertgateReady,
                                           Tool::kLegoEach, Tool::kLegoOne};

std::string_view ToolKey(Tool t) {
  switch (t) {
    case Tool::kCertgate:
      return "certgate";
    case Tool::kCertgateReady:
      return "certgate-ready";
    case Tool::kLegoEach:
      return "lego-each";
    case Tool::kLegoOne:
      return "lego-one";
  }
  return "?";
}

struct Options {
  int rounds = 3;
  int names = 20;
  int acme_concurrency = 8;
  int acme_retry_min = 1;
  int timeout_seconds = 900;  // per tool and round
  std::vector<Tool> tools = {kAllTools.begin(), kAllTools.end()};
  std::string certgate = CERTGATE_DEFAULT_BINARY;
  std::string lego = "/usr/bin/lego";
  bool keep_temp = false;
};

constexpr char kHelp[] =
    R"(acme_bench: time to issue certificates for N domains created at once,
certgate vs lego (Debian), against the same local Pebble

Each round starts, for every tool in turn, a fresh Pebble (PEBBLE_VA_NOSLEEP=1,
5% badNonce), pebble-challtestsrv (the customer's DNS for customer.test) and
unbound (stub zones for customer.test and certgate.test), all on 127.0.0.1;
validation is real HTTP-01. The names are new each round
("b<round>-<i>-<random>.customer.test") and the same for every tool of a round.

  certgate   `certgate serve` (fresh data dir) gets the names through
             POST /reserved_domains (managed, ECDSA), each name's CNAME set at
             the customer's DNS right after its creation returns; timed from
             the first POST until GET /reserved_domains shows a certificate on
             every name (polled every 50 ms). A job that checks a CNAME before
             it is set retries (--acme-retry-min); unbound keeps challtestsrv's
             negative answer 5 s, so those domains take ~7 s more.
  certgate-ready  the domains exist already (no policy) and their CNAMEs are
             set before the clock starts; timed from the first PATCH that turns
             the managed policy on: the ACME work alone, as lego is measured.
  lego-each  the customer's DNS gets an A record per name, then one `lego run`
             per name, one after another (one account); timed from the first
             DNS change until the last lego exits.
  lego-one   the same, with one `lego run` for one certificate with every name.

Tools run interleaved within a round (the order rotates each round); the
table shows medians: seconds for all names, seconds per name, names per
second, client CPU seconds, certgate's retried steps, steal; then the ratios
certgate/lego of the times. Every certificate is verified (chain to Pebble's
root, name) after the clock stops; a missing one makes the exit status 1.

Options:
  --rounds=N            interleaved rounds, medians over them (default 3, at least 1)
  --names=N             domains per round (default 20, 1..100)
  --acme-concurrency=N  certgate serve --acme-concurrency (default 8)
  --acme-retry-min=S    certgate serve --acme-retry-min (default 1; certgate's own is 10)
  --only=LIST           tools among certgate,certgate-ready,lego-each,lego-one
                        (default all)
  --timeout=S           give up on a tool's round after S seconds (default 900)
  --certgate=PATH       certgate binary (default: this build tree's src/app/certgate)
  --lego=PATH           lego binary (default /usr/bin/lego)
  --keep-temp           keep the work dir (certgate data and logs, lego --path and
                        logs); a failed run keeps it and prints where
  --help                this text

Needs Debian's pebble, lego and unbound (scripts/deps.sh installs the test peers).
One round takes about 4 minutes with 20 names, nearly all of it lego's.
)";

[[noreturn]] void BadFlag(const std::string& message) {
  throw std::invalid_argument(message);
}

int IntValue(std::string_view name, std::string_view v, int min, int max) {
  int n = 0;
  try {
    size_t used = 0;
    n = std::stoi(std::string(v), &used);
    if (used != v.size()) throw std::invalid_argument("trailing");
  } catch (const std::exception&) {
    BadFlag(fmt::format("{} wants a whole number, not '{}'", name, v));
  }
  if (n < min || n > max) BadFlag(fmt::format("{} must be from {} to {}, not {}", name, min, max, n));
  return n;
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view key = arg;
    std::string_view value;
    bool has_value = false;
    if (auto eq = arg.find('='); eq != std::string_view::npos) {
      key = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    auto need = [&]() -> std::string_view {
      if (has_value) return value;
      if (i + 1 >= argc) BadFlag(fmt::format("{} needs a value", key));
      return argv[++i];
    };
    auto no_value = [&] {
      if (has_value) BadFlag(fmt::format("{} takes no value", key));
    };
    if (key == "--help" || key == "-h") {
      std::fputs(kHelp, stdout);
      std::exit(0);
    } else if (key == "--rounds") {
      o.rounds = IntValue(key, need(), 1, 1000);
    } else if (key == "--names") {
      o.names = IntValue(key, need(), 1, 100);
    } else if (key == "--acme-concurrency") {
      o.acme_concurrency = IntValue(key, need(), 1, 256);
    } else if (key == "--acme-retry-min") {
      o.acme_retry_min = IntValue(key, need(), 1, 86400);
    } else if (key == "--timeout") {
      o.timeout_seconds = IntValue(key, need(), 10, 86400);
    } else if (key == "--only") {
      o.tools.clear();
      std::string_view list = need();
      size_t start = 0;
      while (start <= list.size()) {
        size_t end = std::min(list.find(',', start), list.size());
        std::string_view item = list.substr(start, end - start);
        start = end + 1;
        if (item.empty()) continue;
        auto it = std::find_if(kAllTools.begin(), kAllTools.end(),
                               [&](Tool t) { return ToolKey(t) == item; });
        if (it == kAllTools.end()) {
          BadFlag(fmt::format(
              "--only: unknown tool '{}'; use certgate,certgate-ready,lego-each,lego-one", item));
        }
        if (std::find(o.tools.begin(), o.tools.end(), *it) == o.tools.end()) o.tools.push_back(*it);
      }
      if (o.tools.empty()) BadFlag("--only needs at least one tool");
      // Keep the table's order whatever order the flag gave.
      std::sort(o.tools.begin(), o.tools.end());
    } else if (key == "--certgate") {
      o.certgate = need();
    } else if (key == "--lego") {
      o.lego = need();
    } else if (key == "--keep-temp") {
      no_value();
      o.keep_temp = true;
    } else {
      BadFlag(fmt::format("unknown option '{}'", arg));
    }
  }
  for (const std::string* path : {&o.certgate, &o.lego}) {
    if (::access(path->c_str(), X_OK) != 0) {
      BadFlag(fmt::format("'{}' is not an executable file", *path));
    }
  }
  return o;
}

// ---------------------------------------------------------------------------
// Progress, interruption, small helpers

const Clock::time_point g_start = Clock::now();
volatile std::sig_atomic_t g_stop = 0;

void OnSignal(int) { g_stop = 1; }

// The children live in their own process groups (Process): a ^C reaches only
// this program, which then unwinds and kills them by pid.
void CheckStop() {
  if (g_stop) throw std::runtime_error("interrupted");
}

template <class... Args>
void Progress(fmt::format_string<Args...> f, Args&&... args) {
  const double t = std::chrono::duration<double>(Clock::now() - g_start).count();
  fmt::print(stderr, "[{:7.1f}s] {}\n", t, fmt::format(f, std::forward<Args>(args)...));
  std::fflush(stderr);
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

void SleepFor(std::chrono::milliseconds d) {
  std::this_thread::sleep_for(d);
  CheckStop();
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string TailLines(const std::string& text, size_t lines) {
  size_t pos = text.size();
  for (size_t n = 0; n <= lines; ++n) {
    if (pos == 0) return text;
    pos = text.rfind('\n', pos - 1);
    if (pos == std::string::npos) return text;
  }
  return text.substr(pos + 1);
}

size_t CountOccurrences(const std::string& text, std::string_view needle) {
  size_t count = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos;
       pos = text.find(needle, pos + needle.size())) {
    ++count;
  }
  return count;
}

std::string JsonString(const json::value& v, std::string_view key) {
  const json::object* o = v.if_object();
  if (o == nullptr) return "";
  const json::value* f = o->if_contains(key);
  return f != nullptr && f->is_string() ? std::string(f->get_string()) : "";
}

// What children inherit: never a proxy (everything here is on 127.0.0.1).
std::map<std::string, std::string> NoProxyEnv() {
  std::map<std::string, std::string> env;
  for (const char* k : {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY",
                        "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"}) {
    env[k] = "";
  }
  return env;
}

std::string PackageVersion(const std::string& package) {
  testing::RunResult r =
      testing::RunCommand({"/usr/bin/dpkg-query", "-W", "-f=${Version}", package});
  return r.exit_code == 0 && !r.out.empty() ? r.out : "unknown";
}

// utime + stime of a live process, in seconds.
double ProcessCpuSeconds(pid_t pid) {
  std::string stat = testing::ReadFile(fmt::format("/proc/{}/stat", pid));
  size_t close_paren = stat.rfind(')');
  if (close_paren == std::string::npos) return 0;
  std::istringstream in(stat.substr(close_paren + 2));
  std::string field;
  double ticks = 0;
  // After the comm: state is field 3; utime and stime are fields 14 and 15.
  for (int n = 3; n <= 15 && in >> field; ++n) {
    if (n == 14 || n == 15) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double ChildrenCpuSeconds() {
  rusage ru{};
  ::getrusage(RUSAGE_CHILDREN, &ru);
  auto sec = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

// All cpus' jiffies from /proc/stat: total and steal.
struct CpuTimes {
  unsigned long long total = 0;
  unsigned long long steal = 0;
};

CpuTimes ReadCpuTimes() {
  std::istringstream in(testing::ReadFile("/proc/stat"));
  std::string name;
  in >> name;  // "cpu": the sum over all cpus
  CpuTimes t;
  for (int i = 0; i < 8; ++i) {
    unsigned long long v = 0;
    in >> v;
    t.total += v;
    if (i == 7) t.steal = v;
  }
  return t;
}

double StealPercent(const CpuTimes& a, const CpuTimes& b) {
  const auto total = static_cast<double>(b.total - a.total);
  return total > 0 ? 100 * static_cast<double>(b.steal - a.steal) / total : 0;
}

// ---------------------------------------------------------------------------
// Checking a certificate: the chain (leaf first) verifies against Pebble's
// issuing roots, for name. Returns "" when it does, else why not.

using X509StorePtr = std::unique_ptr<X509_STORE, pki::OsslFree<&X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, pki::OsslFree<&X509_STORE_CTX_free>>;
void FreeX509Stack(STACK_OF(X509) * s) { sk_X509_pop_free(s, X509_free); }
using X509StackPtr = std::unique_ptr<STACK_OF(X509), pki::OsslFree<&FreeX509Stack>>;
// A stack that borrows its elements.
void FreeX509StackOnly(STACK_OF(X509) * s) { sk_X509_free(s); }
using X509BorrowingStackPtr = std::unique_ptr<STACK_OF(X509), pki::OsslFree<&FreeX509StackOnly>>;

X509StackPtr ReadCertificates(const std::string& pem) {
  X509StackPtr out(sk_X509_new_null());
  pki::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    sk_X509_push(out.get(), x);
  }
  ERR_clear_error();  // the end of the PEM text reads as an error
  return out;
}

std::string VerifyChain(const std::string& chain_pem, const std::string& roots_pem,
                        const std::string& name) {
  X509StackPtr chain = ReadCertificates(chain_pem);
  X509StackPtr roots = ReadCertificates(roots_pem);
  if (sk_X509_num(chain.get()) == 0) return "no certificate in the PEM";
  if (sk_X509_num(roots.get()) == 0) return "no Pebble root";
  X509StorePtr store(X509_STORE_new());
  for (int i = 0; i < sk_X509_num(roots.get()); ++i) {
    X509_STORE_add_cert(store.get(), sk_X509_value(roots.get(), i));
  }
  // The intermediates: everything after the leaf (borrowed from chain).
  X509BorrowingStackPtr untrusted(sk_X509_new_null());
  for (int i = 1; i < sk_X509_num(chain.get()); ++i) {
    sk_X509_push(untrusted.get(), sk_X509_value(chain.get(), i));
  }
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), sk_X509_value(chain.get(), 0), untrusted.get());
  X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx.get()), name.c_str(), name.size());
  if (X509_verify_cert(ctx.get()) == 1) return "";
  return X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
}

// ---------------------------------------------------------------------------
// The peers: the same topology as tests/integration/acme_test.cc.

class Peers {
 public:
  Peers() {
    dns_port_ = testing::PickFreePort(true);
    http_port_ = testing::PickFreePort();
    customer_ = std::make_unique<ChallTestSrv>();
    unbound_ = std::make_unique<Unbound>(std::vector<StubZone>{
        {kCustomer, "127.0.0.1", customer_->dns_port()}, {kBase, "127.0.0.1", dns_port_}});
    PebbleOptions po;
    po.http_port = http_port_;
    po.dns_server = unbound_->address();
    pebble_ = std::make_unique<Pebble>(po);
  }

  // certgate's authoritative DNS (the certgate.test stub zone's server).
  uint16_t dns_port() const { return dns_port_; }
  // Where Pebble sends HTTP-01 checks.
  uint16_t http_port() const { return http_port_; }
  ChallTestSrv& customer() { return *customer_; }
  Unbound& unbound() { return *unbound_; }
  Pebble& pebble() { return *pebble_; }

 private:
  uint16_t dns_port_ = 0;
  uint16_t http_port_ = 0;
  std::unique_ptr<ChallTestSrv> customer_;
  std::unique_ptr<Unbound> unbound_;
  std::unique_ptr<Pebble> pebble_;
};

// One tool's round.
struct StageResult {
  bool ran = false;
  double wall = 0;     // seconds until every name was issued (or the give-up time)
  double cpu = 0;      // the client's CPU seconds in that time
  int issued = 0;      // names with a verified certificate
  int retries = 0;     // certgate: failed steps retried later; lego: badNonce retries
  double steal = 0;    // % over the stage
  std::vector<std::string> problems;
};

// Keeps at most a few problem lines; says how many more there were.
void AddProblem(StageResult& r, std::string text) {
  constexpr size_t kMax = 8;
  if (r.problems.size() < kMax) {
    r.problems.push_back(std::move(text));
  } else if (r.problems.size() == kMax) {
    r.problems.push_back("(more problems left out)");
  }
}

// ---------------------------------------------------------------------------
// certgate

// Sends one API request and wants `status` back; returns the JSON body.
json::value ApiCall(const client::ApiClient& api, verb method, const std::string& path,
                    const json::object& body, int status) {
  auto res = api.Send(method, path, json::serialize(body));
  if (!res) {
    throw std::runtime_error(fmt::format("{} {}: {}", std::string_view(to_string(method)), path,
                                         res.error().message));
  }
  if (res->status != status) {
    throw std::runtime_error(fmt::format("{} {} answered {}: {}",
                                         std::string_view(to_string(method)), path, res->status,
                                         res->body));
  }
  return json::parse(res->body);
}

// certgate (dns_ready false) or certgate-ready (true): see the header comment.
class CertgateStage {
 public:
  CertgateStage(const Options& o, const std::vector<std::string>& names, bool dns_ready,
                fs::path dir)
      : o_(o),
        names_(names),
        dns_ready_(dns_ready),
        label_(ToolKey(dns_ready ? Tool::kCertgateReady : Tool::kCertgate)),
        dir_(std::move(dir)) {}

  StageResult Run() {
    StageResult r;
    r.ran = true;
    Progress("  {}: starting Pebble, challtestsrv, unbound", label_);
    Peers peers;
    CheckStop();
    StartServer(peers);
    Progress("  {}: serve ready ({})", label_, api_url_);
    auto api_or = client::ApiClient::Create(api_url_, api_key_);
    if (!api_or) throw std::runtime_error("API client: " + api_or.error().message);
    const client::ApiClient& api = *api_or;
    const json::object policy{{"authority", "letsencrypt"}, {"private_key_type", "ecdsa"}};

    std::map<std::string, std::string> name_by_id;
    if (dns_ready_) {
      // Untimed: the domains without a policy, and their CNAMEs.
      for (const std::string& name : names_) {
        json::value d = ApiCall(api, verb::post, "/reserved_domains", {{"domain", name}}, 201);
        peers.customer().SetCname(name, JsonString(d, "cname_target"));
        name_by_id[JsonString(d, "id")] = name;
      }
      Progress("  {}: {} domains and their CNAMEs in place; turning their policies on", label_,
               names_.size());
    }

    const CpuTimes steal0 = ReadCpuTimes();
    const double cpu0 = ProcessCpuSeconds(server_->pid());
    const Clock::time_point t0 = Clock::now();
    const Clock::time_point deadline = t0 + std::chrono::seconds(o_.timeout_seconds);
    if (dns_ready_) {
      for (const auto& [id, name] : name_by_id) {
        ApiCall(api, verb::patch, "/reserved_domains/" + id,
                {{"certificate_management_policy", policy}}, 200);
      }
    } else {
      for (const std::string& name : names_) {
        json::value d = ApiCall(api, verb::post, "/reserved_domains",
                                {{"domain", name}, {"certificate_management_policy", policy}}, 201);
        peers.customer().SetCname(name, JsonString(d, "cname_target"));
        name_by_id[JsonString(d, "id")] = name;
      }
    }
    Progress("  {}: {} requests sent{} in {:.2f} s", label_, names_.size(),
             dns_ready_ ? "" : " and CNAMEs set", Seconds(Clock::now() - t0));

    // Poll until every domain has a certificate.
    std::map<std::string, std::string> cert_by_id;
    Clock::time_point next_report = Clock::now() + std::chrono::seconds(5);
    json::value last_list;
    for (;;) {
      auto res = api.Send(verb::get, "/reserved_domains?limit=100");
      if (res && res->status == 200) {
        last_list = json::parse(res->body);
        for (const json::value& d : last_list.as_object().at("reserved_domains").as_array()) {
          const std::string id = JsonString(d, "id");
          if (!name_by_id.contains(id)) continue;
          const json::value* c = d.as_object().if_contains("certificate");
          if (c != nullptr && c->is_object()) cert_by_id[id] = JsonString(*c, "id");
        }
      }
      if (cert_by_id.size() == name_by_id.size() || Clock::now() >= deadline) break;
      if (Clock::now() >= next_report) {
        Progress("  {}: {}/{} issued, {} retries so far", label_, cert_by_id.size(),
                 name_by_id.size(), CountRetries());
        next_report += std::chrono::seconds(5);
      }
      SleepFor(std::chrono::milliseconds(50));
    }
    r.wall = Seconds(Clock::now() - t0);
    r.cpu = ProcessCpuSeconds(server_->pid()) - cpu0;
    r.steal = StealPercent(steal0, ReadCpuTimes());
    r.retries = CountRetries();
    Progress("  {}: {}/{} issued in {:.2f} s ({} retries); verifying", label_,
             cert_by_id.size(), name_by_id.size(), r.wall, r.retries);

    // Verify each certificate, and explain the missing ones.
    const std::string roots = peers.pebble().IssuingRootsPem();
    for (const auto& [id, name] : name_by_id) {
      auto it = cert_by_id.find(id);
      if (it == cert_by_id.end()) {
        std::string status;
        if (last_list.is_object()) {
          for (const json::value& d : last_list.as_object().at("reserved_domains").as_array()) {
            if (JsonString(d, "id") == id) {
              status = json::serialize(d.as_object().at("certificate_management_status"));
            }
          }
        }
        AddProblem(r, fmt::format("{}: no certificate for {}: {}", label_, name, status));
        continue;
      }
      auto cert = api.Send(verb::get, "/tls_certificates/" + it->second);
      if (!cert || cert->status != 200) {
        AddProblem(r, fmt::format("{}: GET /tls_certificates/{} failed", label_, it->second));
        continue;
      }
      const std::string why =
          VerifyChain(JsonString(json::parse(cert->body), "certificate_pem"), roots, name);
      if (why.empty()) {
        ++r.issued;
      } else {
        AddProblem(r, fmt::format("{}: the certificate for {} does not verify: {}", label_, name,
                                  why));
      }
    }
    if (r.retries > 0) {
      AddProblem(r, label_ + " retried (the first one): " + FirstRetryLine());
    }
    StopServer();
    if (r.issued != static_cast<int>(names_.size())) {
      AddProblem(r, label_ + ": the log's tail:\n" + TailLines(testing::ReadFile(log_path_), 30));
    }
    return r;
  }

 private:
  void StartServer(Peers& peers) {
    log_path_ = dir_ / "serve.log";
    std::vector<std::string> argv = {
        o_.certgate,
        "serve",
        "--data-dir",
        (dir_ / "data").string(),
        "--api-listen",
        "127.0.0.1:0",
        "--https-listen",
        "127.0.0.1:0",
        "--base-domain",
        kBase,
        "--http-listen",
        fmt::format("127.0.0.1:{}", peers.http_port()),
        "--dns-listen",
        fmt::format("127.0.0.1:{}", peers.dns_port()),
        "--edge-address",
        "127.0.0.1",
        "--resolver",
        peers.unbound().address(),
        "--acme-directory",
        peers.pebble().directory_url(),
        "--acme-ca-file",
        peers.pebble().ca_file(),
        "--acme-concurrency",
        std::to_string(o_.acme_concurrency),
        "--acme-retry-min",
        std::to_string(o_.acme_retry_min),
    };
    server_ = std::make_unique<Process>(argv, NoProxyEnv(), log_path_);
    if (!server_->WaitForLine("certgate ready", std::chrono::seconds(30))) {
      throw std::runtime_error(fmt::format(
          "certgate serve did not become ready; stdout:\n{}\nstderr:\n{}", server_->Stdout(),
          TailLines(testing::ReadFile(log_path_), 30)));
    }
    std::istringstream out(server_->Stdout());
    std::string line;
    constexpr std::string_view kKey = "  export CERTGATE_API_KEY=";
    while (std::getline(out, line)) {
      if (line.starts_with("api: ")) api_url_ = line.substr(5);
      if (line.starts_with(kKey)) api_key_ = line.substr(kKey.size());
    }
    if (api_url_.empty() || api_key_.empty()) {
      throw std::runtime_error("certgate serve printed no API URL or key:\n" + server_->Stdout());
    }
  }

  void StopServer() {
    server_->Signal(SIGTERM);
    if (!server_->Wait(std::chrono::seconds(20))) Progress("  {}: no exit after SIGTERM", label_);
    server_.reset();  // kills it if it is still there
  }

  int CountRetries() const {
    return static_cast<int>(CountOccurrences(testing::ReadFile(log_path_), "failed (attempt"));
  }

  std::string FirstRetryLine() const {
    std::istringstream in(testing::ReadFile(log_path_));
    std::string line;
    while (std::getline(in, line)) {
      if (line.find("failed (attempt") != std::string::npos) return line;
    }
    return "";
  }

  const Options& o_;
  const std::vector<std::string>& names_;
  const bool dns_ready_;
  const std::string label_;
  fs::path dir_;
  fs::path log_path_;
  std::unique_ptr<Process> server_;
  std::string api_url_;
  std::string api_key_;
};

// ---------------------------------------------------------------------------
// lego

class LegoStage {
 public:
  LegoStage(const Options& o, const std::vector<std::string>& names, bool one_certificate,
            fs::path dir)
      : o_(o), names_(names), one_certificate_(one_certificate), dir_(std::move(dir)) {}

  StageResult Run() {
    StageResult r;
    r.ran = true;
    const std::string label(ToolKey(one_certificate_ ? Tool::kLegoOne : Tool::kLegoEach));
    Progress("  {}: starting Pebble, challtestsrv, unbound", label);
    Peers peers;
    CheckStop();
    const fs::path lego_path = dir_ / "lego";
    std::map<std::string, std::string> env = NoProxyEnv();
    env["LEGO_CA_CERTIFICATES"] = peers.pebble().ca_file();
    env["LEGO_PATH"] = "";
    auto argv_for = [&](const std::vector<std::string>& domains) {
      std::vector<std::string> argv = {o_.lego,
                                       "--accept-tos",
                                       "--email",
                                       kEmail,
                                       "--server",
                                       peers.pebble().directory_url(),
                                       "--path",
                                       lego_path.string(),
                                       "--key-type",
                                       "ec256",
                                       "--http",
                                       "--http.port",
                                       fmt::format("127.0.0.1:{}", peers.http_port())};
      for (const std::string& d : domains) argv.insert(argv.end(), {"--domains", d});
      argv.push_back("run");
      return argv;
    };

    const CpuTimes steal0 = ReadCpuTimes();
    const Clock::time_point t0 = Clock::now();
    const Clock::time_point deadline = t0 + std::chrono::seconds(o_.timeout_seconds);
    for (const std::string& name : names_) peers.customer().AddA(name, "127.0.0.1");
    const double cpu0 = ChildrenCpuSeconds();  // after the curl calls the DNS changes made
    int failed_runs = 0;
    if (one_certificate_) {
      if (!RunLego(argv_for(names_), env, dir_ / "lego.log", deadline, r)) ++failed_runs;
    } else {
      for (size_t i = 0; i < names_.size(); ++i) {
        const Clock::time_point s = Clock::now();
        if (!RunLego(argv_for({names_[i]}), env, dir_ / fmt::format("lego-{:02}.log", i),
                     deadline, r)) {
          ++failed_runs;
        }
        Progress("  {}: {}/{} {} in {:.2f} s", label, i + 1, names_.size(), names_[i],
                 Seconds(Clock::now() - s));
        if (Clock::now() >= deadline) break;
      }
    }
    r.wall = Seconds(Clock::now() - t0);
    r.cpu = ChildrenCpuSeconds() - cpu0;
    r.steal = StealPercent(steal0, ReadCpuTimes());
    for (const auto& entry : fs::directory_iterator(dir_)) {
      if (entry.path().extension() == ".log") {
        r.retries += static_cast<int>(
            CountOccurrences(testing::ReadFile(entry.path()), "retry due to"));
      }
    }
    Progress("  {}: done in {:.2f} s ({} failed lego runs, {} badNonce retries); verifying",
             label, r.wall, failed_runs, r.retries);

    const std::string roots = peers.pebble().IssuingRootsPem();
    for (const std::string& name : names_) {
      const std::string file_name = one_certificate_ ? names_.front() : name;
      const fs::path crt = lego_path / "certificates" / (file_name + ".crt");
      if (!fs::exists(crt)) {
        AddProblem(r, fmt::format("{}: no {}", label, crt.string()));
        continue;
      }
      const std::string why = VerifyChain(testing::ReadFile(crt), roots, name);
      if (why.empty()) {
        ++r.issued;
      } else {
        AddProblem(r, fmt::format("{}: {} does not verify for {}: {}", label, crt.string(), name,
                                  why));
      }
    }
    return r;
  }

 private:
  // Runs one lego to its end (or the deadline); false when it failed.
  bool RunLego(std::vector<std::string> argv, const std::map<std::string, std::string>& env,
               const fs::path& log, Clock::time_point deadline, StageResult& r) {
    Process lego(std::move(argv), env, log);
    std::optional<int> code;
    while (!(code = lego.Wait(std::chrono::milliseconds(200)))) {
      CheckStop();
      if (Clock::now() >= deadline) {
        AddProblem(r, fmt::format("lego gave no answer before --timeout; {}", log.string()));
        return false;  // Process's destructor kills it
      }
    }
    if (*code != 0) {
      AddProblem(r, fmt::format("lego exited with {}: {}", *code,
                                TailLines(testing::ReadFile(log), 5)));
      return false;
    }
    return true;
  }

  const Options& o_;
  const std::vector<std::string>& names_;
  bool one_certificate_;
  fs::path dir_;
};

// ---------------------------------------------------------------------------
// The rounds and the tables

std::string ToolLabel(Tool t, const Options& o) {
  switch (t) {
    case Tool::kCertgate:
      return fmt::format("certgate ({} orders at once)", o.acme_concurrency);
    case Tool::kCertgateReady:
      return "certgate, CNAMEs in place";
    case Tool::kLegoEach:
      return fmt::format("lego, {} runs in a row", o.names);
    case Tool::kLegoOne:
      return fmt::format("lego, 1 run, 1 cert, {} names", o.names);
  }
  return "?";
}

int RunBench(const Options& o) {
  const std::string pebble_version = PackageVersion("pebble");
  const std::string lego_version = PackageVersion("lego");
  const std::string unbound_version = PackageVersion("unbound");

  std::string base = "/tmp/acme-bench-XXXXXX";
  if (const char* tmp = std::getenv("TMPDIR"); tmp != nullptr && *tmp != '\0') {
    base = std::string(tmp) + "/acme-bench-XXXXXX";
  }
  if (::mkdtemp(base.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + base);
  const fs::path work = base;
  Progress("acme_bench: {} names, {} rounds, tools {}; work dir {}", o.names, o.rounds,
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
    std::rotate(order.begin(),
                order.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(round - 1) %
                                                             order.size()),
                order.end());
    for (Tool t : order) {
      Progress("round {}/{}: {}", round, o.rounds, ToolKey(t));
      const fs::path dir = work / fmt::format("round{}-{}", round, ToolKey(t));
      fs::create_directories(dir);
      StageResult r;
      try {
        if (t == Tool::kCertgate || t == Tool::kCertgateReady) {
          r = CertgateStage(o, names, t == Tool::kCertgateReady, dir).Run();
        } else {
          r = LegoStage(o, names, t == Tool::kLegoOne, dir).Run();
        }
      } catch (const std::exception& e) {
        if (g_stop) throw;
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

  // The tables.
  std::string out;
  auto line = [&](const std::string& s) { out += s + "\n"; };
  line(fmt::format("acme_bench: {} domains issued at once; {} interleaved rounds, medians", o.names,
                   o.rounds));
  line(fmt::format("  Pebble {} (Debian; PEBBLE_VA_NOSLEEP=1, 5% badNonce), HTTP-01 through "
                   "pebble-challtestsrv and unbound {}",
                   pebble_version, unbound_version));
  line(fmt::format("  lego {} (Debian; ec256 keys, built-in HTTP-01 server)", lego_version));
  line(fmt::format("  certgate {} (ECDSA; --acme-concurrency {} --acme-retry-min {})", o.certgate,
                   o.acme_concurrency, o.acme_retry_min));
  line(fmt::format("  {} cpus; client CPU = certgate serve's utime+stime, or all lego processes'",
                   std::thread::hardware_concurrency()));
  line("");
  line("per round: seconds for all names (issued/names, client CPU s, steal)");
  for (Tool t : o.tools) {
    std::string row = fmt::format("  {:<34}", ToolLabel(t, o));
    for (const StageResult& r : results[t]) {
      row += fmt::format(" {:7.2f} ({}/{}, {:.2f}, {:.0f}%)", r.wall, r.issued, o.names, r.cpu,
                         r.steal);
    }
    line(row);
  }

  // Medians. certgate's "once DNS resolves" row comes from its log (see the
  // header comment), the others from this program's clock.
  auto median_of = [&](Tool t, auto field) {
    std::vector<double> v;
    for (const StageResult& r : results[t]) v.push_back(field(r));
    return Median(v);
  };
  auto wall = [](const StageResult& r) { return r.wall; };
  const bool have_certgate = results.contains(Tool::kCertgate);
  const double certgate_wall = have_certgate ? median_of(Tool::kCertgate, wall) : 0;
  const bool have_ready = results.contains(Tool::kCertgateReady);
  const double ready_wall = have_ready ? median_of(Tool::kCertgateReady, wall) : 0;
  line("");
  const std::string row_format = "  {:<34} {:>9} {:>8} {:>8} {:>8} {:>8} {:>6} {:>14}";
  line(fmt::format(fmt::runtime(row_format), "medians", fmt::format("all {} s", o.names),
                   "s/name", "names/s", "client", "retries", "steal", "certgate/this"));
  line(fmt::format(fmt::runtime(row_format), "", "", "", "", "CPU s", "", "", "(time)"));
  auto row = [&](const std::string& label, double w, const std::string& cpu,
                 const std::string& retries, const std::string& steal) {
    line(fmt::format(fmt::runtime(row_format), label, fmt::format("{:.2f}", w),
                     fmt::format("{:.3f}", w / o.names),
                     fmt::format("{:.2f}", w > 0 ? o.names / w : 0), cpu, retries, steal,
                     have_certgate && w > 0 ? fmt::format("{:.3f}", certgate_wall / w) : "-"));
  };
  for (Tool t : o.tools) {
    row(ToolLabel(t, o), median_of(t, wall),
        fmt::format("{:.2f}", median_of(t, [](const StageResult& r) { return r.cpu; })),
        fmt::format("{:.0f}", median_of(t, [](const StageResult& r) {
                      return static_cast<double>(r.retries);
                    })),
        fmt::format("{:.0f}%", median_of(t, [](const StageResult& r) { return r.steal; })));
  }
  line("");
  line("  retries: certgate's failed steps retried later (a CNAME not visible yet);");
  line("  lego's requests retried after a badNonce. s/name for lego-one: one certificate");
  line("  holds every name.");
  line("");
  for (Tool lego : {Tool::kLegoEach, Tool::kLegoOne}) {
    if (!results.contains(lego)) continue;
    const double w = median_of(lego, wall);
    for (Tool t : {Tool::kCertgate, Tool::kCertgateReady}) {
      const double c = t == Tool::kCertgate ? certgate_wall : ready_wall;
      if (!results.contains(t) || c <= 0) continue;
      line(fmt::format("  {}/{}: {:.3f} of the time (lego takes {:.1f}x as long)", ToolKey(t),
                       ToolKey(lego), c / w, w / c));
    }
  }
  if (!all_issued) {
    line("");
    line("NOT ALL CERTIFICATES WERE ISSUED: see the problems printed to stderr");
  }
  std::fputs(out.c_str(), stdout);
  std::fflush(stdout);

  if (o.keep_temp || !all_issued) {
    Progress("work dir kept: {}", work.string());
  } else {
    std::error_code ec;
    fs::remove_all(work, ec);
  }
  return all_issued ? 0 : 1;
}

}  // namespace
}  // namespace certgate::bench

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = &certgate::bench::OnSignal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
  certgate::bench::Options o;
  try {
    o = certgate::bench::ParseOptions(argc, argv);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "acme_bench: %s (see --help)\n", e.what());
    return 2;
  }
  try {
    return certgate::bench::RunBench(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "acme_bench: error: %s\n", e.what());
    return 1;
  }
}
