// Full TLS 1.3 handshakes per server CPU-second: certgate's edge against
// HAProxy and nginx (Debian's packages, configured equivalently), with
// libssl's own in-memory handshake rate as the ceiling; then the same with
// 10,000 names and a random SNI per connection, and the memory an idle TLS
// connection costs each server. Prints tables of medians and ratios.
//
//   build-bench/bench/handshake_bench [--rounds=7] [--only=certgate,haproxy,nginx,ceiling]
//                                     [--scenario=handshake,names,idle] ...   (--help)
//
// How it measures (see ../shared/BENCHMARKING.md): every server runs pinned
// to cpu 0 with one worker, this program's load generator runs on cpu 1;
// the work is counted per CPU-second of the server process (utime + stime
// from /proc/<pid>/stat), the servers are interleaved round by round, and
// the table shows medians. Wall-clock rates and the machine's steal are
// printed as context only.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <boost/json.hpp>
#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client/api_client.h"
#include "pki/testing/cert_factory.h"

#ifndef CERTGATE_DEFAULT_BINARY
#define CERTGATE_DEFAULT_BINARY "certgate"
#endif

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using certgate::pki::EvpPkeyPtr;
using certgate::pki::SslCtxPtr;
using certgate::pki::X509Ptr;
namespace cgt = certgate::pki::testing;

constexpr char kCipherSuite[] = "TLS_AES_128_GCM_SHA256";
constexpr char kGroup[] = "X25519";

// ---------------------------------------------------------------------------
// Options

struct Options {
  int rounds = 7;
  int connections = 2000;  // per server and round
  int concurrency = 50;
  int names = 10000;
  int idle = 5000;
  int ceiling_handshakes = 1000;  // per ticket setting and round
  int upload_threads = 8;
  int server_cpu = 0;
  int client_cpu = 1;
  bool nginx_names = true;
  bool ticket_variants = true;
  bool keep_temp = false;
  uint64_t seed = 1;
  std::set<std::string> only = {"certgate", "haproxy", "nginx", "ceiling"};
  std::set<std::string> scenarios = {"handshake", "names", "idle", "silent"};
  std::string certgate = CERTGATE_DEFAULT_BINARY;
  std::string haproxy = "haproxy";
  std::string nginx = "nginx";
};

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
  --certgate=PATH     certgate binary (default: this build tree's src/app/certgate)
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

std::set<std::string> SplitList(std::string_view s) {
  std::set<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string_view::npos) end = s.size();
    if (end > start) out.emplace(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  auto int_value = [](std::string_view name, std::string_view v, int min) {
    int n = 0;
    try {
      size_t used = 0;
      n = std::stoi(std::string(v), &used);
      if (used != v.size()) throw std::invalid_argument("trailing");
    } catch (const std::exception&) {
      throw std::runtime_error(fmt::format("{} wants a whole number, not '{}'", name, v));
    }
    if (n < min) throw std::runtime_error(fmt::format("{} must be at least {}", name, min));
    return n;
  };
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
      if (i + 1 >= argc) throw std::runtime_error(fmt::format("{} needs a value", key));
      return argv[++i];
    };
    if (key == "--help" || key == "-h") {
      std::fputs(kHelp, stdout);
      std::exit(0);
    } else if (key == "--rounds") {
      o.rounds = int_value(key, need(), 3);
    } else if (key == "--connections") {
      o.connections = int_value(key, need(), 50);
    } else if (key == "--concurrency") {
      o.concurrency = int_value(key, need(), 1);
    } else if (key == "--names") {
      o.names = int_value(key, need(), 2);
    } else if (key == "--idle") {
      o.idle = int_value(key, need(), 10);
    } else if (key == "--ceiling") {
      o.ceiling_handshakes = int_value(key, need(), 10);
    } else if (key == "--upload-threads") {
      o.upload_threads = int_value(key, need(), 1);
    } else if (key == "--server-cpu") {
      o.server_cpu = int_value(key, need(), 0);
    } else if (key == "--client-cpu") {
      o.client_cpu = int_value(key, need(), 0);
    } else if (key == "--seed") {
      o.seed = static_cast<uint64_t>(int_value(key, need(), 0));
    } else if (key == "--only") {
      o.only = SplitList(need());
      for (const auto& s : o.only) {
        if (s != "certgate" && s != "haproxy" && s != "nginx" && s != "ceiling") {
          throw std::runtime_error(
              fmt::format("--only: unknown '{}'; use certgate,haproxy,nginx,ceiling", s));
        }
      }
    } else if (key == "--scenario") {
      o.scenarios = SplitList(need());
      for (const auto& s : o.scenarios) {
        if (s != "handshake" && s != "names" && s != "idle" && s != "silent") {
          throw std::runtime_error(
              fmt::format("--scenario: unknown '{}'; use handshake,names,idle,silent", s));
        }
      }
    } else if (key == "--certgate") {
      o.certgate = need();
    } else if (key == "--haproxy") {
      o.haproxy = need();
    } else if (key == "--nginx") {
      o.nginx = need();
    } else if (key == "--no-nginx-names") {
      o.nginx_names = false;
    } else if (key == "--no-ticket-variants") {
      o.ticket_variants = false;
    } else if (key == "--keep-temp") {
      o.keep_temp = true;
    } else {
      throw std::runtime_error(fmt::format("unknown option '{}' (see --help)", arg));
    }
  }
  return o;
}

// ---------------------------------------------------------------------------
// Progress, errors, small helpers

const Clock::time_point g_start = Clock::now();

template <class... Args>
void Progress(fmt::format_string<Args...> f, Args&&... args) {
  const double t = std::chrono::duration<double>(Clock::now() - g_start).count();
  fmt::print(stderr, "[{:7.1f}s] {}\n", t, fmt::format(f, std::forward<Args>(args)...));
  std::fflush(stderr);
}

[[noreturn]] void Fail(const std::string& message) { throw std::runtime_error(message); }

std::string OpensslErrors() {
  std::string out;
  unsigned long e = 0;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no OpenSSL error" : out;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const fs::path& p, std::string_view data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out) Fail(fmt::format("cannot write {}", p.string()));
}

std::string Tail(const std::string& text, size_t lines) {
  size_t pos = text.size();
  for (size_t n = 0; n <= lines; ++n) {
    if (pos == 0) return text;
    pos = text.rfind('\n', pos - 1);
    if (pos == std::string::npos) return text;
  }
  return text.substr(pos + 1);
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void PinThisThread(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    Fail(fmt::format("cannot pin to cpu {}: {}", cpu, std::strerror(errno)));
  }
}

// Searches PATH, then /usr/sbin and /sbin (Debian puts both servers there).
std::optional<std::string> FindBinary(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    if (::access(name.c_str(), X_OK) == 0) return name;
    return std::nullopt;
  }
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  path += ":/usr/sbin:/sbin:/usr/local/sbin";
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (!dir.empty()) {
      std::string candidate = dir + "/" + name;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    start = end + 1;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Children: every server process this program starts, killed at the end, on
// failure, and on SIGINT/SIGTERM (by pid; each is also its own process group
// leader, so nginx's worker goes with its master).

constexpr int kMaxChildren = 64;
std::atomic<pid_t> g_children[kMaxChildren];

void RegisterChild(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t expected = 0;
    if (slot.compare_exchange_strong(expected, pid)) return;
  }
}

void UnregisterChild(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t expected = pid;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

void OnSignal(int sig) {
  for (auto& slot : g_children) {
    pid_t pid = slot.load();
    if (pid > 0) {
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
    }
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

bool Alive(pid_t pid) {
  int status = 0;
  pid_t r = ::waitpid(pid, &status, WNOHANG);
  return r == 0;
}

// SIGTERM, up to `grace` to exit, then SIGKILL; always reaped.
void Stop(pid_t pid, std::chrono::milliseconds grace = std::chrono::milliseconds(3000)) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  const auto deadline = Clock::now() + grace;
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) break;
    if (Clock::now() > deadline) {
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(-pid, SIGKILL);  // whatever is left of its group (nginx's worker)
  UnregisterChild(pid);
}

void StopAllChildren() {
  for (auto& slot : g_children) {
    pid_t pid = slot.load();
    if (pid > 0) Stop(pid);
  }
}

// Starts argv pinned to cpu, stdout and stderr to files, in its own process
// group, killed if this program dies.
pid_t Spawn(const std::vector<std::string>& argv, const fs::path& cwd, const fs::path& out,
            const fs::path& err, int cpu) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  // Opened (and truncated) here, before the child runs: a reader never sees
  // a previous run's output.
  const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (o < 0 || e < 0) Fail(fmt::format("cannot create {}: {}", out.string(), std::strerror(errno)));
  pid_t pid = ::fork();
  if (pid < 0) Fail(fmt::format("fork: {}", std::strerror(errno)));
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    ::sched_setaffinity(0, sizeof set, &set);
    ::signal(SIGPIPE, SIG_DFL);
    int in = ::open("/dev/null", O_RDONLY);
    if (in < 0) ::_exit(127);
    ::dup2(in, 0);
    ::dup2(o, 1);
    ::dup2(e, 2);
    if (::chdir(cwd.c_str()) != 0) ::_exit(127);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(o);
  ::close(e);
  ::setpgid(pid, pid);
  RegisterChild(pid);
  return pid;
}

// ---------------------------------------------------------------------------
// /proc readings

// The process and its direct children (nginx: master and worker).
std::vector<pid_t> ProcessTree(pid_t root) {
  std::vector<pid_t> out{root};
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::string stat = ReadFile(entry.path() / "stat");
    size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream in(stat.substr(close + 2));
    std::string state;
    long ppid = 0;
    in >> state >> ppid;
    if (ppid == root) out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

// utime + stime, in seconds, of the process (all its threads, living and
// exited).
double CpuSeconds(pid_t pid) {
  std::string stat = ReadFile(fmt::format("/proc/{}/stat", pid));
  size_t close = stat.rfind(')');
  if (close == std::string::npos) Fail(fmt::format("cannot read /proc/{}/stat", pid));
  std::istringstream in(stat.substr(close + 2));
  std::string field;
  // Fields after the command: 3 state ... 14 utime, 15 stime.
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15; ++i) {
    in >> field;
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double CpuSeconds(const std::vector<pid_t>& pids) {
  double sum = 0;
  for (pid_t p : pids) sum += CpuSeconds(p);
  return sum;
}

struct Memory {
  double rss_kb = 0;
  double pss_kb = 0;  // 0 when smaps_rollup is unreadable
};

double KbField(const std::string& text, std::string_view field) {
  size_t pos = text.find(field);
  if (pos == std::string::npos) return 0;
  return std::strtod(text.c_str() + pos + field.size(), nullptr);
}

Memory MemoryOf(const std::vector<pid_t>& pids) {
  Memory m;
  for (pid_t p : pids) {
    m.rss_kb += KbField(ReadFile(fmt::format("/proc/{}/status", p)), "VmRSS:");
    m.pss_kb += KbField(ReadFile(fmt::format("/proc/{}/smaps_rollup", p)), "\nPss:");
  }
  return m;
}

// Per-cpu jiffies from /proc/stat: total and steal.
struct CpuTimes {
  std::map<std::string, std::pair<unsigned long long, unsigned long long>> by_cpu;
};

CpuTimes ReadCpuTimes() {
  CpuTimes t;
  std::istringstream in(ReadFile("/proc/stat"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("cpu", 0) != 0) continue;
    std::istringstream ls(line);
    std::string name;
    ls >> name;
    unsigned long long v[8] = {};
    for (auto& x : v) ls >> x;
    unsigned long long total = 0;
    for (auto x : v) total += x;
    t.by_cpu[name] = {total, v[7]};
  }
  return t;
}

std::string StealSummary(const CpuTimes& a, const CpuTimes& b, const Options& o) {
  auto pct = [&](const std::string& cpu) {
    auto ia = a.by_cpu.find(cpu);
    auto ib = b.by_cpu.find(cpu);
    if (ia == a.by_cpu.end() || ib == b.by_cpu.end()) return std::string("?");
    double total = static_cast<double>(ib->second.first - ia->second.first);
    double steal = static_cast<double>(ib->second.second - ia->second.second);
    return total > 0 ? fmt::format("{:.0f}%", 100 * steal / total) : std::string("?");
  };
  return fmt::format("cpu{} (servers) {}, cpu{} (load) {}, all {}", o.server_cpu,
                     pct(fmt::format("cpu{}", o.server_cpu)), o.client_cpu,
                     pct(fmt::format("cpu{}", o.client_cpu)), pct("cpu"));
}

// ---------------------------------------------------------------------------
// The test PKI: a root, one intermediate CA that signs every leaf, one leaf
// per name; all ECDSA P-256. Every server sends leaf + intermediate, as a
// real deployment would (a leaf alone would also make libssl try to build
// the chain on every handshake in some servers and not others).

struct Pki {
  std::vector<std::string> names;
  std::vector<std::string> cert_pem;  // leaf + intermediate (what every server sends)
  std::vector<std::string> key_pem;   // PKCS#8
  std::vector<fs::path> combined;     // chain + key, for HAProxy and nginx
  std::string root_pem;
};

std::string NameOf(int i) { return fmt::format("h{:05}.bench.example.com", i); }

Pki MakePki(int count, const fs::path& dir) {
  Pki pki;
  cgt::CertSpec ca_spec;
  ca_spec.common_name = "certgate handshake bench root";
  ca_spec.is_ca = true;
  ca_spec.key_usage = "keyCertSign,cRLSign";
  ca_spec.extended_key_usage = std::nullopt;
  ca_spec.not_after_offset = std::chrono::hours(24 * 365);
  EvpPkeyPtr root_key = cgt::MakeKey(cgt::TestKeyType::kEcP256);
  X509Ptr root = cgt::IssueCertificate(ca_spec, root_key.get(), nullptr, root_key.get());
  ca_spec.common_name = "certgate handshake bench CA";
  EvpPkeyPtr ca_key = cgt::MakeKey(cgt::TestKeyType::kEcP256);
  X509Ptr ca = cgt::IssueCertificate(ca_spec, ca_key.get(), root.get(), root_key.get());
  const std::string ca_pem = cgt::CertPem(ca.get());
  pki.root_pem = cgt::CertPem(root.get());
  fs::create_directories(dir);
  WriteFile(dir / "root.pem", pki.root_pem);
  pki.names.resize(static_cast<size_t>(count));
  pki.cert_pem.resize(pki.names.size());
  pki.key_pem.resize(pki.names.size());
  pki.combined.resize(pki.names.size());
  // Two threads: key generation and signing dominate.
  std::atomic<int> next{0};
  auto work = [&] {
    for (int i = next++; i < count; i = next++) {
      const auto idx = static_cast<size_t>(i);
      cgt::CertSpec spec;
      spec.common_name = NameOf(i);
      spec.dns_names = {spec.common_name};
      EvpPkeyPtr key = cgt::MakeKey(cgt::TestKeyType::kEcP256);
      X509Ptr leaf = cgt::IssueCertificate(spec, key.get(), ca.get(), ca_key.get());
      pki.names[idx] = spec.common_name;
      pki.cert_pem[idx] = cgt::CertPem(leaf.get()) + ca_pem;
      pki.key_pem[idx] = cgt::KeyPemPkcs8(key.get());
      pki.combined[idx] = dir / fmt::format("{}.pem", i);
      WriteFile(pki.combined[idx], pki.cert_pem[idx] + pki.key_pem[idx]);
    }
  };
  std::thread helper(work);
  work();
  helper.join();
  return pki;
}

// ---------------------------------------------------------------------------
// The load generator: non-blocking OpenSSL clients on one epoll loop.

struct Conn {
  int fd = -1;
  SSL* ssl = nullptr;
  enum State { kConnecting, kHandshake, kWriting, kReading, kDone } state = kConnecting;
  uint32_t events = 0;
  size_t name = 0;
  std::string request;
  size_t sent = 0;
  std::string response;
  int tickets = 0;
  Clock::time_point started;
};

int OnNewSession(SSL* ssl, SSL_SESSION*) {
  if (auto* c = static_cast<Conn*>(SSL_get_app_data(ssl))) ++c->tickets;
  return 0;  // not kept
}

SslCtxPtr MakeClientContext() {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) Fail("SSL_CTX_new: " + OpensslErrors());
  SSL_CTX* c = ctx.get();
  SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
  if (SSL_CTX_set_ciphersuites(c, kCipherSuite) != 1 || SSL_CTX_set1_groups_list(c, kGroup) != 1) {
    Fail("client context: " + OpensslErrors());
  }
  SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
  // No chain building either (the load generator's cpu is the bottleneck):
  // the certificate is checked by name only (X509_check_host), which is what
  // tells a server's SNI selection apart. TLS 1.3's CertificateVerify
  // signature is still checked by libssl.
  SSL_CTX_set_cert_verify_callback(
      c, [](X509_STORE_CTX*, void*) { return 1; }, nullptr);
  SSL_CTX_set_options(c, SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  // Tickets are counted (OnNewSession) and dropped: no session is ever reused.
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(c, &OnNewSession);
  return ctx;
}

struct LoadSpec {
  uint16_t port = 0;
  int total = 0;
  int concurrency = 50;
  const std::vector<std::string>* names = nullptr;
  // Which name each connection uses: fixed, uniformly random, or a given
  // order (the first pass over every name).
  enum class Sni { kFixed, kRandom, kOrder } sni = Sni::kFixed;
  size_t fixed = 0;
  size_t name_count = 1;  // the first name_count names, for kRandom
  const std::vector<size_t>* order = nullptr;
  std::mt19937_64* rng = nullptr;
  // Keep each connection open after its response (the idle scenario).
  bool keep_alive = false;
  std::chrono::seconds timeout{30};
};

struct LoadResult {
  int ok = 0;
  int failed = 0;
  int status_200 = 0;
  int status_404 = 0;
  int status_other = 0;
  int wrong_certificate = 0;
  long tickets = 0;
  double wall_s = 0;
  std::string first_error;
  std::vector<std::unique_ptr<Conn>> kept;  // keep_alive: the open connections
};

void CloseConn(Conn& c) {
  if (c.ssl != nullptr) SSL_free(c.ssl);
  c.ssl = nullptr;
  if (c.fd >= 0) ::close(c.fd);
  c.fd = -1;
}

void CloseAll(std::vector<std::unique_ptr<Conn>>& conns) {
  for (auto& c : conns) CloseConn(*c);
  conns.clear();
}

// True once the response (status line, headers, Content-Length body or a
// chunked body's last chunk) is complete.
bool ResponseComplete(const std::string& r) {
  size_t end = r.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  std::string head = r.substr(0, end);
  std::transform(head.begin(), head.end(), head.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  const size_t body = r.size() - end - 4;
  if (auto p = head.find("\r\ncontent-length:"); p != std::string::npos) {
    return body >= std::strtoull(head.c_str() + p + 17, nullptr, 10);
  }
  if (head.find("\r\ntransfer-encoding: chunked") != std::string::npos) {
    return r.size() >= 5 && r.compare(r.size() - 5, 5, "0\r\n\r\n") == 0;
  }
  return true;  // no body
}

class LoadGenerator {
 public:
  explicit LoadGenerator(SSL_CTX* ctx) : ctx_(ctx) {}

  LoadResult Run(const LoadSpec& spec) {
    LoadResult result;
    int ep = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) Fail(fmt::format("epoll_create1: {}", std::strerror(errno)));
    std::vector<std::unique_ptr<Conn>> live;
    int started = 0;
    int finished = 0;
    const auto t0 = Clock::now();
    auto last_sweep = t0;
    std::vector<epoll_event> events(256);

    auto fail = [&](Conn& c, const std::string& why) {
      ++result.failed;
      if (result.first_error.empty()) result.first_error = why;
      ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
      CloseConn(c);
      c.state = Conn::kDone;
    };
    auto want = [&](Conn& c, uint32_t ev) {
      if (c.events == ev) return;
      epoll_event e{};
      e.events = ev;
      e.data.ptr = &c;
      ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &e);
      c.events = ev;
    };
    auto finish = [&](Conn& c) {
      ++result.ok;
      result.tickets += c.tickets;
      if (c.response.compare(0, 12, "HTTP/1.1 200") == 0) {
        ++result.status_200;
      } else if (c.response.compare(0, 12, "HTTP/1.1 404") == 0) {
        ++result.status_404;
      } else {
        ++result.status_other;
        if (result.first_error.empty()) {
          result.first_error = "unexpected response: " + c.response.substr(0, 60);
        }
      }
      ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
      if (!spec.keep_alive) CloseConn(c);
      c.state = Conn::kDone;
    };
    auto ssl_wait = [&](Conn& c, int r, const char* what) {
      int err = SSL_get_error(c.ssl, r);
      if (err == SSL_ERROR_WANT_READ) {
        want(c, EPOLLIN);
        return true;
      }
      if (err == SSL_ERROR_WANT_WRITE) {
        want(c, EPOLLOUT);
        return true;
      }
      fail(c, fmt::format("{}: SSL error {} ({}; errno {})", what, err, OpensslErrors(),
                          std::strerror(errno)));
      return false;
    };
    auto advance = [&](Conn& c) {
      if (c.state == Conn::kConnecting) {
        int soerr = 0;
        socklen_t len = sizeof soerr;
        ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        if (soerr != 0) return fail(c, fmt::format("connect: {}", std::strerror(soerr)));
        c.state = Conn::kHandshake;
      }
      if (c.state == Conn::kHandshake) {
        ERR_clear_error();
        int r = SSL_do_handshake(c.ssl);
        if (r != 1) {
          ssl_wait(c, r, "handshake");
          return;
        }
        X509* peer = SSL_get0_peer_certificate(c.ssl);
        const std::string& name = (*spec.names)[c.name];
        if (peer == nullptr || X509_check_host(peer, name.data(), name.size(), 0, nullptr) != 1) {
          ++result.wrong_certificate;
        }
        c.state = Conn::kWriting;
      }
      if (c.state == Conn::kWriting) {
        while (c.sent < c.request.size()) {
          size_t n = 0;
          ERR_clear_error();
          int r = SSL_write_ex(c.ssl, c.request.data() + c.sent, c.request.size() - c.sent, &n);
          if (r != 1) {
            ssl_wait(c, r, "write");
            return;
          }
          c.sent += n;
        }
        c.state = Conn::kReading;
      }
      if (c.state == Conn::kReading) {
        char buf[4096];
        for (;;) {
          size_t n = 0;
          ERR_clear_error();
          int r = SSL_read_ex(c.ssl, buf, sizeof buf, &n);
          if (r == 1) {
            if (c.response.size() < 65536) c.response.append(buf, n);
            if (spec.keep_alive && ResponseComplete(c.response)) return finish(c);
            continue;
          }
          int err = SSL_get_error(c.ssl, r);
          if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
            // The server closed: the end of a Connection: close response.
            if (spec.keep_alive) return fail(c, "the server closed a kept-alive connection");
            if (c.response.empty()) return fail(c, "the server closed without a response");
            return finish(c);
          }
          ssl_wait(c, r, "read");
          return;
        }
      }
    };
    auto start_one = [&] {
      auto c = std::make_unique<Conn>();
      c->started = Clock::now();
      switch (spec.sni) {
        case LoadSpec::Sni::kFixed:
          c->name = spec.fixed;
          break;
        case LoadSpec::Sni::kRandom:
          c->name = std::uniform_int_distribution<size_t>(0, spec.name_count - 1)(*spec.rng);
          break;
        case LoadSpec::Sni::kOrder:
          c->name = (*spec.order)[static_cast<size_t>(started) % spec.order->size()];
          break;
      }
      const std::string& name = (*spec.names)[c->name];
      c->request =
          spec.keep_alive
              ? fmt::format("GET / HTTP/1.1\r\nHost: {}\r\n\r\n", name)
              : fmt::format("GET / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", name);
      c->fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (c->fd < 0)
        Fail(fmt::format("socket: {} (raise the open-file limit)", std::strerror(errno)));
      int one = 1;
      ::setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(spec.port);
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      int r = ::connect(c->fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
      Conn& ref = *c;
      live.push_back(std::move(c));
      ++started;
      if (r != 0 && errno != EINPROGRESS) {
        ++result.failed;
        if (result.first_error.empty()) {
          result.first_error = fmt::format("connect: {}", std::strerror(errno));
        }
        CloseConn(ref);
        ref.state = Conn::kDone;
        return;
      }
      ref.ssl = SSL_new(ctx_);
      SSL_set_app_data(ref.ssl, &ref);
      SSL_set_fd(ref.ssl, ref.fd);
      // SSL_set_tlsext_host_name without its C cast.
      SSL_ctrl(ref.ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(name.c_str()));
      SSL_set_connect_state(ref.ssl);
      epoll_event e{};
      e.events = EPOLLOUT;
      e.data.ptr = &ref;
      ::epoll_ctl(ep, EPOLL_CTL_ADD, ref.fd, &e);
      ref.events = EPOLLOUT;
    };
    auto reap = [&] {
      // Drop finished connections (kept ones move to the result).
      auto it = std::stable_partition(live.begin(), live.end(),
                                      [](const auto& c) { return c->state != Conn::kDone; });
      for (auto k = it; k != live.end(); ++k) {
        ++finished;
        if ((*k)->fd >= 0) {
          (*k)->response.clear();
          (*k)->response.shrink_to_fit();
          (*k)->request.clear();
          (*k)->request.shrink_to_fit();
          result.kept.push_back(std::move(*k));
        }
      }
      live.erase(it, live.end());
    };

    while (finished < spec.total) {
      while (static_cast<int>(live.size()) < spec.concurrency && started < spec.total) start_one();
      reap();
      if (live.empty()) continue;
      int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
      if (n < 0 && errno != EINTR) Fail(fmt::format("epoll_wait: {}", std::strerror(errno)));
      for (int i = 0; i < n; ++i) {
        Conn& c = *static_cast<Conn*>(events[static_cast<size_t>(i)].data.ptr);
        if (c.state != Conn::kDone) advance(c);
      }
      const auto now = Clock::now();
      if (now - last_sweep > std::chrono::seconds(1)) {
        last_sweep = now;
        for (auto& c : live) {
          if (c->state != Conn::kDone && now - c->started > spec.timeout) {
            fail(*c, fmt::format("no progress in {} s (state {})", spec.timeout.count(),
                                 static_cast<int>(c->state)));
          }
        }
      }
      reap();
    }
    result.wall_s = Seconds(Clock::now() - t0);
    ::close(ep);
    return result;
  }

 private:
  SSL_CTX* ctx_;
};

// ---------------------------------------------------------------------------
// Servers

uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    Fail(fmt::format("bind: {}", std::strerror(errno)));
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

struct Server {
  std::string kind;   // certgate, haproxy, nginx
  std::string label;  // as printed
  int names = 1;
  pid_t pid = -1;
  uint16_t port = 0;
  fs::path dir;
  double setup_s = 0;      // start-to-ready (certgate: uploads)
  double restart_s = 0;    // certgate: restart-to-ready with the names stored
  double setup_cpu_s = 0;  // the server's CPU-seconds during setup
  Memory after_start;
  std::vector<pid_t> procs;  // pid and children, for /proc readings

  void Refresh() { procs = ProcessTree(pid); }
  std::string Logs() const {
    std::string out;
    for (const char* f : {"stdout.log", "stderr.log"}) {
      if (fs::exists(dir / f)) out += Tail(ReadFile(dir / f), 15);
    }
    return out;
  }
};

[[noreturn]] void ServerFailed(const Server& s, const std::string& what) {
  Fail(fmt::format("{}: {} (logs in {}):\n{}", s.label, what, s.dir.string(), s.Logs()));
}

// Waits until a handshake with SNI names[last] returns that name's
// certificate (the server is ready and serves every name).
void WaitServes(Server& s, LoadGenerator& load, const std::vector<std::string>& names, size_t last,
                std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string why = "no answer";
  while (Clock::now() < deadline) {
    if (!Alive(s.pid)) ServerFailed(s, "exited during start");
    LoadSpec spec;
    spec.port = s.port;
    spec.total = 1;
    spec.concurrency = 1;
    spec.names = &names;
    spec.fixed = last;
    spec.timeout = std::chrono::seconds(5);
    LoadResult r = load.Run(spec);
    if (r.ok == 1 && r.wrong_certificate == 0) return;
    why = r.ok == 1 ? std::string("the wrong certificate was served") : r.first_error;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ServerFailed(s, "not ready in time: " + why);
}

struct CertgateProcess {
  std::string api_url;
  std::string api_key;
};

CertgateProcess StartCertgateProcess(Server& s, const Options& o) {
  fs::create_directories(s.dir);
  s.pid = Spawn(
      {o.certgate, "serve", "--data-dir", (s.dir / "data").string(), "--api-listen", "127.0.0.1:0",
       "--https-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--edge-workers", "1",
       // Every bench connection comes from 127.0.0.1.
       "--max-connections-per-source", "0"},
      s.dir, s.dir / "stdout.log", s.dir / "stderr.log", o.server_cpu);
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  CertgateProcess p;
  for (;;) {
    std::string out = ReadFile(s.dir / "stdout.log");
    if (out.find("certgate ready") != std::string::npos) {
      std::istringstream in(out);
      std::string line;
      while (std::getline(in, line)) {
        if (line.rfind("api: ", 0) == 0) p.api_url = line.substr(5);
        if (line.rfind("https: ", 0) == 0) {
          s.port = static_cast<uint16_t>(std::stoi(line.substr(line.rfind(':') + 1)));
        }
        if (auto k = line.find("export CERTGATE_API_KEY="); k != std::string::npos) {
          p.api_key = line.substr(k + 24);
        }
      }
      if (p.api_url.empty() || s.port == 0) ServerFailed(s, "no api:/https: lines before ready");
      return p;
    }
    if (!Alive(s.pid)) ServerFailed(s, "exited during start");
    if (Clock::now() > deadline) ServerFailed(s, "no 'certgate ready' in 60 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Uploads names [0, count) and attaches each to its reserved domain, in
// parallel through the API.
void UploadNames(const Server& s, const CertgateProcess& p, const Pki& pki, int count,
                 int threads) {
  std::atomic<int> next{0};
  std::atomic<int> done{0};
  std::string error;
  std::mutex error_mu;
  auto work = [&] {
    auto client = certgate::client::ApiClient::Create(p.api_url, p.api_key);
    if (!client) {
      std::lock_guard lock(error_mu);
      error = client.error().message;
      return;
    }
    for (int i = next++; i < count; i = next++) {
      {
        std::lock_guard lock(error_mu);
        if (!error.empty()) return;
      }
      const auto idx = static_cast<size_t>(i);
      boost::json::object cert{{"certificate_pem", pki.cert_pem[idx]},
                               {"private_key_pem", pki.key_pem[idx]},
                               {"description", "handshake bench"}};
      auto r = client->Send(boost::beast::http::verb::post, "/tls_certificates",
                            boost::json::serialize(cert));
      std::string id;
      if (r && r->status == 201) {
        id = std::string(boost::json::parse(r->body).as_object().at("id").as_string());
        boost::json::object domain{{"domain", pki.names[idx]}, {"certificate_id", id}};
        r = client->Send(boost::beast::http::verb::post, "/reserved_domains",
                         boost::json::serialize(domain));
      }
      if (!r || r->status != 201) {
        std::lock_guard lock(error_mu);
        error = fmt::format("uploading {}: {}", pki.names[idx],
                            r ? fmt::format("HTTP {}: {}", r->status, r->body) : r.error().message);
        return;
      }
      int d = ++done;
      if (count >= 1000 && d % 2000 == 0)
        Progress("  {}: {} of {} names uploaded", s.label, d, count);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < std::min(threads, count); ++t) pool.emplace_back(work);
  for (auto& t : pool) t.join();
  if (!error.empty()) ServerFailed(s, error);
}

Server StartCertgate(const Options& o, const Pki& pki, int names, const fs::path& dir,
                     LoadGenerator& load) {
  Server s;
  s.kind = "certgate";
  s.label = names == 1 ? "certgate" : fmt::format("certgate {}", names);
  s.names = names;
  s.dir = dir;
  Progress("starting {} ({})", s.label, o.certgate);
  const auto t0 = Clock::now();
  CertgateProcess p = StartCertgateProcess(s, o);
  if (p.api_key.empty()) ServerFailed(s, "no API key printed (the data dir was not fresh)");
  UploadNames(s, p, pki, names, o.upload_threads);
  WaitServes(s, load, pki.names, static_cast<size_t>(names - 1), std::chrono::seconds(120));
  s.setup_s = Seconds(Clock::now() - t0);
  s.setup_cpu_s = CpuSeconds(s.pid);
  if (names > 1) {
    // What a restart costs with the names stored: comparable to the peers'
    // start with their certificates on disk.
    Progress("  {}: {} names uploaded and served in {:.1f} s; restarting", s.label, names,
             s.setup_s);
    Stop(s.pid, std::chrono::milliseconds(15000));
    const auto t1 = Clock::now();
    StartCertgateProcess(s, o);
    WaitServes(s, load, pki.names, static_cast<size_t>(names - 1), std::chrono::seconds(120));
    s.restart_s = Seconds(Clock::now() - t1);
  }
  s.Refresh();
  s.after_start = MemoryOf(s.procs);
  Progress("  {} ready on port {} (pid {})", s.label, s.port, s.pid);
  return s;
}

// no_tickets: the variant with session tickets turned off as far as its
// configuration allows (`no-tls-tickets`, no session cache).
Server StartHaproxy(const Options& o, const Pki& pki, int names, const fs::path& dir,
                    LoadGenerator& load, long maxconn, bool no_tickets = false) {
  Server s;
  s.kind = "haproxy";
  s.label = names == 1 ? "haproxy" : fmt::format("haproxy {}", names);
  if (no_tickets) s.label += " no-tls-tickets";
  s.names = names;
  s.dir = dir;
  s.port = FreePort();
  fs::create_directories(dir);
  std::string list;
  for (int i = 0; i < names; ++i) list += pki.combined[static_cast<size_t>(i)].string() + "\n";
  WriteFile(dir / "crt-list.txt", list);
  // As shipped but for what the comparison needs: one thread, TLS 1.2-1.3,
  // X25519, a fixed 200 answer; session tickets at OpenSSL's default.
  WriteFile(dir / "haproxy.cfg",
            fmt::format(R"(global
  nbthread 1
  maxconn {maxconn}
  stats socket {dir}/admin.sock mode 600 level admin
{cache}defaults
  mode http
  timeout connect 5s
  timeout client 300s
  timeout server 30s
  timeout http-request 30s
  timeout http-keep-alive 300s
frontend bench
  maxconn {maxconn}
  bind 127.0.0.1:{port} ssl crt-list {dir}/crt-list.txt ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.3 curves {group}{tickets}
  http-request return status 200
)",
                        fmt::arg("maxconn", maxconn), fmt::arg("dir", dir.string()),
                        fmt::arg("port", s.port), fmt::arg("group", kGroup),
                        fmt::arg("cache", no_tickets ? "  tune.ssl.cachesize 0\n" : ""),
                        fmt::arg("tickets", no_tickets ? " no-tls-tickets" : "")));
  Progress("starting {} ({} names)", s.label, names);
  const auto t0 = Clock::now();
  s.pid = Spawn({o.haproxy, "-db", "-f", (dir / "haproxy.cfg").string()}, dir, dir / "stdout.log",
                dir / "stderr.log", o.server_cpu);
  WaitServes(s, load, pki.names, static_cast<size_t>(names - 1), std::chrono::seconds(300));
  s.setup_s = Seconds(Clock::now() - t0);
  s.Refresh();
  s.setup_cpu_s = CpuSeconds(s.procs);
  s.after_start = MemoryOf(s.procs);
  Progress("  {} ready on port {} in {:.1f} s (pid {})", s.label, s.port, s.setup_s, s.pid);
  return s;
}

Server StartNginx(const Options& o, const Pki& pki, int names, const fs::path& dir,
                  LoadGenerator& load, long maxconn, bool no_tickets = false) {
  Server s;
  s.kind = "nginx";
  s.label = names == 1 ? "nginx" : fmt::format("nginx {}", names);
  if (no_tickets) s.label += " tickets off";
  s.names = names;
  s.dir = dir;
  s.port = FreePort();
  fs::create_directories(dir);
  std::string servers;
  for (int i = 0; i < names; ++i) {
    const auto idx = static_cast<size_t>(i);
    servers += fmt::format(
        "  server {{\n    listen 127.0.0.1:{port} ssl{def};\n    server_name {name};\n"
        "    ssl_certificate {pem};\n    ssl_certificate_key {pem};\n"
        "    location / {{ return 200; }}\n  }}\n",
        fmt::arg("port", s.port), fmt::arg("def", i == 0 ? " default_server" : ""),
        fmt::arg("name", pki.names[idx]), fmt::arg("pem", pki.combined[idx].string()));
  }
  // As shipped but for what the comparison needs: one worker, TLS 1.2-1.3,
  // X25519, a fixed 200 answer, no access log; session tickets at OpenSSL's
  // default; everything it writes inside its temp dir.
  WriteFile(dir / "nginx.conf",
            fmt::format(R"(worker_processes 1;
{user}pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
worker_rlimit_nofile {files};
events {{ worker_connections {maxconn}; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  keepalive_timeout 300s;
  keepalive_requests 1000000;
  server_names_hash_max_size {hash};
  server_names_hash_bucket_size 128;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_ecdh_curve {group};
{tickets}{servers}}}
)",
                        fmt::arg("user", ::geteuid() == 0 ? "user root;\n" : ""),
                        fmt::arg("dir", dir.string()), fmt::arg("files", 2 * maxconn + 100),
                        fmt::arg("maxconn", maxconn), fmt::arg("hash", std::max(512, 2 * names)),
                        fmt::arg("group", kGroup), fmt::arg("servers", servers),
                        fmt::arg("tickets", no_tickets ? "  ssl_session_tickets off;\n"
                                                         "  ssl_session_cache off;\n"
                                                       : "")));
  Progress("starting {} ({} names)", s.label, names);
  const auto t0 = Clock::now();
  s.pid = Spawn({o.nginx, "-p", dir.string(), "-e", (dir / "error.log").string(), "-c",
                 (dir / "nginx.conf").string(), "-g", "daemon off;"},
                dir, dir / "stdout.log", dir / "stderr.log", o.server_cpu);
  WaitServes(s, load, pki.names, static_cast<size_t>(names - 1), std::chrono::seconds(300));
  s.setup_s = Seconds(Clock::now() - t0);
  s.Refresh();
  if (s.procs.size() < 2) ServerFailed(s, "no worker process");
  s.setup_cpu_s = CpuSeconds(s.procs);
  s.after_start = MemoryOf(s.procs);
  Progress("  {} ready on port {} in {:.1f} s (pids {})", s.label, s.port, s.setup_s,
           fmt::join(s.procs, ","));
  return s;
}

// ---------------------------------------------------------------------------
// The ceiling: libssl alone, in memory.

SslCtxPtr MakeCeilingServerContext(const Pki& pki, int tickets) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  SSL_CTX* c = ctx.get();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
  SSL_CTX_set1_groups_list(c, kGroup);
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_num_tickets(c, static_cast<size_t>(tickets));
  BIO* bio = BIO_new_mem_buf(pki.cert_pem[0].data(), static_cast<int>(pki.cert_pem[0].size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  X509* issuer = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  bio = BIO_new_mem_buf(pki.key_pem[0].data(), static_cast<int>(pki.key_pem[0].size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (cert == nullptr || issuer == nullptr || key == nullptr ||
      SSL_CTX_use_certificate(c, cert) != 1 || SSL_CTX_add0_chain_cert(c, issuer) != 1 ||
      SSL_CTX_use_PrivateKey(c, key) != 1) {
    Fail("ceiling context: " + OpensslErrors());
  }
  X509_free(cert);
  EVP_PKEY_free(key);
  return ctx;
}

double ThreadCpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct CeilingSample {
  double server_cpu_s = 0;
  int handshakes = 0;
  long tickets = 0;
};

constexpr char kCeilingResponse[] = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";

// One connection over a BIO pair: handshake, request, response, close_notify.
// Only the server side's calls are timed (into *server_cpu). When keep is
// set, the server SSL is kept (its BIO swapped for a null one) and returned.
SSL* CeilingConnection(SSL_CTX* server_ctx, SSL_CTX* client_ctx, const std::string& sni,
                       double* server_cpu, long* tickets, bool keep) {
  Conn client_state;
  SSL* client = SSL_new(client_ctx);
  SSL_set_app_data(client, &client_state);
  SSL_ctrl(client, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
           const_cast<char*>(sni.c_str()));
  double t = ThreadCpu();
  SSL* server = SSL_new(server_ctx);
  *server_cpu += ThreadCpu() - t;
  BIO* cb = nullptr;
  BIO* sb = nullptr;
  BIO_new_bio_pair(&cb, 0, &sb, 0);
  SSL_set_bio(client, cb, cb);
  SSL_set_bio(server, sb, sb);
  SSL_set_connect_state(client);
  SSL_set_accept_state(server);
  bool client_done = false;
  bool server_done = false;
  for (int i = 0; i < 20 && !(client_done && server_done); ++i) {
    if (!client_done) {
      int r = SSL_do_handshake(client);
      if (r == 1)
        client_done = true;
      else if (SSL_get_error(client, r) != SSL_ERROR_WANT_READ)
        Fail("ceiling client: " + OpensslErrors());
    }
    if (!server_done) {
      t = ThreadCpu();
      int r = SSL_do_handshake(server);
      *server_cpu += ThreadCpu() - t;
      if (r == 1)
        server_done = true;
      else if (SSL_get_error(server, r) != SSL_ERROR_WANT_READ)
        Fail("ceiling server: " + OpensslErrors());
    }
  }
  if (!client_done || !server_done) Fail("ceiling: the handshake did not finish");
  const std::string request = "GET / HTTP/1.1\r\nHost: " + sni + "\r\nConnection: close\r\n\r\n";
  size_t n = 0;
  SSL_write_ex(client, request.data(), request.size(), &n);
  char buf[1024];
  t = ThreadCpu();
  if (SSL_read_ex(server, buf, sizeof buf, &n) != 1)
    Fail("ceiling server read: " + OpensslErrors());
  SSL_write_ex(server, kCeilingResponse, sizeof kCeilingResponse - 1, &n);
  if (!keep) SSL_shutdown(server);
  *server_cpu += ThreadCpu() - t;
  // The client reads the tickets and the response.
  while (SSL_read_ex(client, buf, sizeof buf, &n) == 1) {
  }
  *tickets += client_state.tickets;
  SSL_free(client);
  if (keep) {
    BIO* null = BIO_new(BIO_s_null());
    SSL_set_bio(server, null, null);
    return server;
  }
  t = ThreadCpu();
  SSL_free(server);
  *server_cpu += ThreadCpu() - t;
  return nullptr;
}

CeilingSample RunCeiling(SSL_CTX* server_ctx, SSL_CTX* client_ctx, const std::string& sni,
                         int handshakes) {
  CeilingSample s;
  for (int i = 0; i < handshakes; ++i) {
    CeilingConnection(server_ctx, client_ctx, sni, &s.server_cpu_s, &s.tickets, false);
    ++s.handshakes;
  }
  return s;
}

// Heap bytes an idle server SSL holds after a handshake and one request
// (SSL_MODE_RELEASE_BUFFERS, as every server here sets), measured with
// mallinfo2 over `count` of them kept at once.
double LibsslIdleBytes(SSL_CTX* server_ctx, SSL_CTX* client_ctx, const std::string& sni,
                       int count) {
  double cpu = 0;
  long tickets = 0;
  // Warm OpenSSL's lazily built tables first.
  for (int i = 0; i < 20; ++i)
    CeilingConnection(server_ctx, client_ctx, sni, &cpu, &tickets, false);
  std::vector<SSL*> kept;
  kept.reserve(static_cast<size_t>(count));
  ::malloc_trim(0);
  const struct mallinfo2 before = ::mallinfo2();
  for (int i = 0; i < count; ++i) {
    kept.push_back(CeilingConnection(server_ctx, client_ctx, sni, &cpu, &tickets, true));
  }
  const struct mallinfo2 after = ::mallinfo2();
  for (SSL* s : kept) SSL_free(s);
  const double used = static_cast<double>(after.uordblks + after.hblkhd) -
                      static_cast<double>(before.uordblks + before.hblkhd);
  return used / count;
}

// ---------------------------------------------------------------------------
// Runs and tables

struct Sample {
  double cpu_s = 0;
  int ok = 0;
  int failed = 0;
  double wall_s = 0;
  long tickets = 0;
  int wrong = 0;
  int status_other = 0;
  double rate() const { return cpu_s > 0 ? ok / cpu_s : 0; }
  double wall_rate() const { return wall_s > 0 ? ok / wall_s : 0; }
};

struct Series {
  std::vector<Sample> samples;
  double MedianRate() const {
    std::vector<double> v;
    for (const auto& s : samples) v.push_back(s.rate());
    return Median(v);
  }
  double MedianWall() const {
    std::vector<double> v;
    for (const auto& s : samples) v.push_back(s.wall_rate());
    return Median(v);
  }
  // How busy the server's cpu was: its CPU-seconds per wall-clock second.
  double MedianBusy() const {
    std::vector<double> v;
    for (const auto& s : samples) v.push_back(s.wall_s > 0 ? s.cpu_s / s.wall_s : 0);
    return Median(v);
  }
  double TicketsPerConn() const {
    long t = 0;
    long n = 0;
    for (const auto& s : samples) {
      t += s.tickets;
      n += s.ok;
    }
    return n > 0 ? static_cast<double>(t) / static_cast<double>(n) : 0;
  }
  int Failed() const {
    int f = 0;
    for (const auto& s : samples) f += s.failed + s.wrong + s.status_other;
    return f;
  }
  std::string Rounds() const {
    std::vector<std::string> v;
    for (const auto& s : samples) v.push_back(fmt::format("{:.0f}", s.rate()));
    return fmt::format("{}", fmt::join(v, " "));
  }
};

Sample Measure(Server& s, LoadGenerator& load, const LoadSpec& spec) {
  s.Refresh();
  const double before = CpuSeconds(s.procs);
  LoadResult r = load.Run(spec);
  // The server's last closes (nginx's lingering close) land after the client is done.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const double after = CpuSeconds(s.procs);
  if (!Alive(s.pid)) ServerFailed(s, "exited under load");
  Sample out;
  out.cpu_s = after - before;
  out.ok = r.ok;
  out.failed = r.failed;
  out.wall_s = r.wall_s;
  out.tickets = r.tickets;
  out.wrong = r.wrong_certificate;
  out.status_other = r.status_other;
  if (r.failed > 0 || r.wrong_certificate > 0 || r.status_other > 0) {
    Progress("  warning: {}: {} failed, {} wrong certificate, {} unexpected responses; first: {}",
             s.label, r.failed, r.wrong_certificate, r.status_other, r.first_error);
  }
  if (r.ok == 0) ServerFailed(s, "no connection succeeded: " + r.first_error);
  return out;
}

std::string Kb(double kb) { return fmt::format("{:.1f} MB", kb / 1024); }

struct IdleResult {
  std::string label;
  int opened = 0;       // connections kept open, in all
  int first_batch = 0;  // of which opened before the `middle` reading
  int still_open = 0;
  Memory before;  // the idle baseline
  Memory middle;  // after the first fifth
  Memory with;    // with all of them
  double open_s = 0;
  double PerConnKb() const { return (with.rss_kb - before.rss_kb) / std::max(1, opened); }
  double PerConnPssKb() const { return (with.pss_kb - before.pss_kb) / std::max(1, opened); }
  // The last four fifths only: heap the server freed after the handshake
  // rounds is reused by the first connections and hides their cost.
  double MarginalKb() const {
    return (with.rss_kb - middle.rss_kb) / std::max(1, opened - first_batch);
  }
};

// How many of the kept connections the server still holds open (no EOF).
int StillOpen(const std::vector<std::unique_ptr<Conn>>& conns) {
  int n = 0;
  for (const auto& c : conns) {
    char b;
    ssize_t r = ::recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      ++n;
    else if (r > 0)
      ++n;  // bytes pending (a close_notify would be followed by EOF)
  }
  return n;
}

IdleResult MeasureIdle(Server& s, LoadGenerator& load, const Pki& pki, const Options& o) {
  IdleResult out;
  out.label = s.label;
  s.Refresh();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  out.before = MemoryOf(s.procs);
  LoadSpec spec;
  spec.port = s.port;
  spec.concurrency = o.concurrency;
  spec.names = &pki.names;
  spec.keep_alive = true;
  const auto t0 = Clock::now();
  spec.total = o.idle / 5;
  LoadResult r = load.Run(spec);
  out.first_batch = static_cast<int>(r.kept.size());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  out.middle = MemoryOf(s.procs);
  spec.total = o.idle - o.idle / 5;
  LoadResult rest = load.Run(spec);
  for (auto& c : rest.kept) r.kept.push_back(std::move(c));
  r.failed += rest.failed;
  if (r.first_error.empty()) r.first_error = rest.first_error;
  out.open_s = Seconds(Clock::now() - t0);
  out.opened = static_cast<int>(r.kept.size());
  if (r.failed > 0) {
    Progress("  warning: {}: {} of {} idle connections failed; first: {}", s.label, r.failed,
             o.idle, r.first_error);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  out.with = MemoryOf(s.procs);
  out.still_open = StillOpen(r.kept);
  CloseAll(r.kept);
  Progress(
      "  {}: {} idle connections opened in {:.1f} s, {} still open at the reading; "
      "RSS {:.0f} -> {:.0f} kB",
      s.label, out.opened, out.open_s, out.still_open, out.before.rss_kb, out.with.rss_kb);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // let the server close them
  return out;
}

struct SilentResult {
  std::string label;
  int opened = 0;
  int still_open = 0;
  Memory before;  // the baseline
  Memory with;    // with all of them open
  Memory after;   // once they were closed again
  double PerConnBytes() const {
    return (with.rss_kb - before.rss_kb) * 1024 / std::max(1, opened);
  }
};

// Connections that connect and send nothing: what each costs the server
// before a ClientHello arrives, and whether the memory goes back after.
SilentResult MeasureSilent(Server& s, const Options& o) {
  SilentResult out;
  out.label = s.label;
  s.Refresh();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  out.before = MemoryOf(s.procs);
  std::vector<int> fds;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(s.port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < o.idle; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) break;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      break;
    }
    fds.push_back(fd);
  }
  out.opened = static_cast<int>(fds.size());
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // all accepted
  out.with = MemoryOf(s.procs);
  for (int fd : fds) {
    char b;
    ssize_t r = ::recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) ++out.still_open;
  }
  for (int fd : fds) ::close(fd);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // let the server close them
  out.after = MemoryOf(s.procs);
  Progress("  {}: {} silent connections, {} still open at the reading; RSS {:.0f} -> {:.0f} -> "
           "{:.0f} kB",
           s.label, out.opened, out.still_open, out.before.rss_kb, out.with.rss_kb,
           out.after.rss_kb);
  return out;
}

void RaiseFileLimit(long want) {
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  rlimit raised = lim;
  raised.rlim_cur = raised.rlim_max = static_cast<rlim_t>(want);
  if (lim.rlim_max >= static_cast<rlim_t>(want) || ::setrlimit(RLIMIT_NOFILE, &raised) != 0) {
    raised = lim;
    raised.rlim_cur = std::min<rlim_t>(lim.rlim_max, static_cast<rlim_t>(want));
    ::setrlimit(RLIMIT_NOFILE, &raised);
  }
}

long FileLimit() {
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  return static_cast<long>(lim.rlim_cur);
}

int Run(const Options& o) {
  const bool want_handshake = o.scenarios.count("handshake") > 0;
  const bool want_names = o.scenarios.count("names") > 0;
  const bool want_idle = o.scenarios.count("idle") > 0;
  const bool want_silent = o.scenarios.count("silent") > 0;
  auto selected = [&](const char* s) { return o.only.count(s) > 0; };

  if (o.server_cpu == o.client_cpu) Fail("--server-cpu and --client-cpu must differ");
  if (static_cast<long>(std::thread::hardware_concurrency()) <=
      std::max(o.server_cpu, o.client_cpu)) {
    Fail(fmt::format("this machine has {} cpus; choose --server-cpu and --client-cpu below that",
                     std::thread::hardware_concurrency()));
  }
  Options opts = o;
  if (selected("certgate")) {
    auto p = FindBinary(o.certgate);
    if (!p) {
      Fail(
          fmt::format("certgate binary '{}' not found: build it (cmake --build build-bench "
                      "--target certgate) or give --certgate=PATH",
                      o.certgate));
    }
    opts.certgate = *p;
  }
  for (auto [name, path] : {std::pair{"haproxy", &opts.haproxy}, std::pair{"nginx", &opts.nginx}}) {
    if (!selected(name)) continue;
    auto p = FindBinary(*path);
    if (!p) {
      Fail(
          fmt::format("{} not found ('{}'): install it with scripts/deps.sh bench, give "
                      "--{}=PATH, or leave it out with --only",
                      name, *path, name));
    }
    *path = *p;
  }
  const bool servers_needed = want_handshake || want_names || want_idle || want_silent;
  (void)servers_needed;

  // Open files: the idle connections on both ends, HAProxy's maxconn.
  RaiseFileLimit(std::max<long>(65536, 4L * o.idle + 1000));
  const long files = FileLimit();
  if (files < o.idle + 200) {
    Fail(fmt::format(
        "the open-file limit is {}; --idle={} needs more (run as root, or lower --idle)", files,
        o.idle));
  }
  const long maxconn = std::min<long>(20000, std::max<long>(o.idle + 1000, (files - 200) / 2));

  PinThisThread(o.client_cpu);
  char tmpl[] = "/tmp/certgate-handshake-bench.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) Fail(fmt::format("mkdtemp: {}", std::strerror(errno)));
  const fs::path root = tmpl;
  ::chmod(root.c_str(), 0755);  // nginx's worker runs as another user when not root
  struct TempDir {
    fs::path path;
    bool keep;
    bool ok = false;
    ~TempDir() {
      StopAllChildren();
      if (keep || !ok) {
        Progress("temp dir kept: {}", path.string());
      } else {
        std::error_code ec;
        fs::remove_all(path, ec);
      }
    }
  } temp{root, o.keep_temp};

  // Other instances of the peers compete for the same cpus.
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string comm = ReadFile(entry.path() / "comm");
    if (comm == "nginx\n" || comm == "haproxy\n") {
      Progress("note: an {} (pid {}) not started by this bench is running; it may add noise",
               comm.substr(0, comm.size() - 1), entry.path().filename().string());
    }
  }

  const int name_count = want_names ? o.names : 1;
  const auto pki_t0 = Clock::now();
  Pki pki = MakePki(name_count, root / "certs");
  Progress("generated {} ECDSA P-256 certificates in {:.1f} s ({})", name_count,
           Seconds(Clock::now() - pki_t0), (root / "certs").string());

  SslCtxPtr client_ctx = MakeClientContext();
  LoadGenerator load(client_ctx.get());
  std::mt19937_64 rng(o.seed);

  // --- servers
  std::vector<Server> one;              // one name
  std::vector<Server> many;             // o.names names
  std::vector<Server> ticket_variants;  // the peers with tickets off, one name
  if (want_handshake || want_idle || want_silent) {
    if (selected("certgate")) one.push_back(StartCertgate(opts, pki, 1, root / "certgate", load));
    if (selected("haproxy"))
      one.push_back(StartHaproxy(opts, pki, 1, root / "haproxy", load, maxconn));
    if (selected("nginx")) one.push_back(StartNginx(opts, pki, 1, root / "nginx", load, maxconn));
  }
  if (want_handshake && o.ticket_variants) {
    if (selected("haproxy")) {
      ticket_variants.push_back(
          StartHaproxy(opts, pki, 1, root / "haproxy-no-tickets", load, maxconn, true));
    }
    if (selected("nginx")) {
      ticket_variants.push_back(
          StartNginx(opts, pki, 1, root / "nginx-no-tickets", load, maxconn, true));
    }
  }
  if (want_names) {
    if (selected("certgate")) {
      many.push_back(StartCertgate(opts, pki, o.names, root / "certgate-names", load));
    }
    if (selected("haproxy")) {
      many.push_back(StartHaproxy(opts, pki, o.names, root / "haproxy-names", load, maxconn));
    }
    if (selected("nginx") && o.nginx_names) {
      many.push_back(StartNginx(opts, pki, o.names, root / "nginx-names", load, maxconn));
    }
  }

  // --- warm-up; the first pass over every name
  std::vector<Server*> warm;
  for (auto& s : one) warm.push_back(&s);
  for (auto& s : ticket_variants) warm.push_back(&s);
  for (Server* sp : warm) {
    Server& s = *sp;
    LoadSpec spec;
    spec.port = s.port;
    spec.total = 200;
    spec.concurrency = o.concurrency;
    spec.names = &pki.names;
    load.Run(spec);
  }
  std::map<std::string, Sample> first_pass;
  std::map<std::string, Memory> after_first_pass;
  std::vector<size_t> order(static_cast<size_t>(name_count));
  std::iota(order.begin(), order.end(), size_t{0});
  std::shuffle(order.begin(), order.end(), rng);
  for (auto& s : many) {
    Progress("{}: first pass, each of {} names once", s.label, o.names);
    LoadSpec spec;
    spec.port = s.port;
    spec.total = o.names;
    spec.concurrency = o.concurrency;
    spec.names = &pki.names;
    spec.sni = LoadSpec::Sni::kOrder;
    spec.order = &order;
    first_pass[s.label] = Measure(s, load, spec);
    after_first_pass[s.label] = MemoryOf(s.procs);
    Progress("  {}: {:.0f} handshakes per CPU-second", s.label, first_pass[s.label].rate());
  }

  // --- ceiling contexts
  std::vector<std::pair<int, SslCtxPtr>> ceilings;
  if (want_handshake && selected("ceiling")) {
    for (int t : {0, 1, 2}) ceilings.emplace_back(t, MakeCeilingServerContext(pki, t));
  }

  // --- interleaved rounds
  std::map<std::string, Series> series;
  using Step = std::pair<std::string, std::function<Sample()>>;
  std::vector<Step> steps;
  for (auto& [tickets, ctx] : ceilings) {
    SSL_CTX* server_ctx = ctx.get();
    std::string label =
        fmt::format("libssl ceiling, {} ticket{}", tickets, tickets == 1 ? "" : "s");
    steps.emplace_back(label, [&, server_ctx] {
      PinThisThread(o.server_cpu);
      CeilingSample c =
          RunCeiling(server_ctx, client_ctx.get(), pki.names[0], o.ceiling_handshakes);
      PinThisThread(o.client_cpu);
      Sample s;
      s.cpu_s = c.server_cpu_s;
      s.ok = c.handshakes;
      s.tickets = c.tickets;
      return s;
    });
  }
  if (want_handshake) {
    std::vector<Server*> measured;
    for (auto& srv : one) measured.push_back(&srv);
    for (auto& srv : ticket_variants) measured.push_back(&srv);
    for (Server* s : measured) {
      steps.emplace_back(s->label, [&, s] {
        LoadSpec spec;
        spec.port = s->port;
        spec.total = o.connections;
        spec.concurrency = o.concurrency;
        spec.names = &pki.names;
        return Measure(*s, load, spec);
      });
    }
  }
  for (auto& srv : many) {
    Server* s = &srv;
    steps.emplace_back(s->label, [&, s] {
      LoadSpec spec;
      spec.port = s->port;
      spec.total = o.connections;
      spec.concurrency = o.concurrency;
      spec.names = &pki.names;
      spec.sni = LoadSpec::Sni::kRandom;
      spec.name_count = static_cast<size_t>(o.names);
      spec.rng = &rng;
      return Measure(*s, load, spec);
    });
  }
  const CpuTimes rounds_t0 = ReadCpuTimes();
  for (int round = 0; round < o.rounds && !steps.empty(); ++round) {
    for (size_t k = 0; k < steps.size(); ++k) {
      // Rotate the order each round: no server always runs first or last.
      auto& [label, step] = steps[(k + static_cast<size_t>(round)) % steps.size()];
      const CpuTimes a = ReadCpuTimes();
      Sample s = step();
      const CpuTimes b = ReadCpuTimes();
      series[label].samples.push_back(s);
      Progress(
          "round {}/{} {:<26} {:6} conns  {:6.2f} CPU-s  {:6.0f} hs/CPU-s  {:>6} hs/s wall  "
          "steal {}",
          round + 1, o.rounds, label, s.ok, s.cpu_s, s.rate(),
          s.wall_s > 0 ? fmt::format("{:.0f}", s.wall_rate()) : std::string("-"),
          StealSummary(a, b, o));
    }
  }
  const CpuTimes rounds_t1 = ReadCpuTimes();

  // --- idle connections
  std::vector<IdleResult> idle;
  double libssl_idle = 0;
  if (want_idle) {
    for (auto& s : one) {
      Progress("{}: opening {} idle connections", s.label, o.idle);
      idle.push_back(MeasureIdle(s, load, pki, o));
    }
    if (selected("ceiling")) {
      SslCtxPtr ctx = MakeCeilingServerContext(pki, 2);
      libssl_idle = LibsslIdleBytes(ctx.get(), client_ctx.get(), pki.names[0], 1000);
    }
  }

  // --- connections that send nothing
  std::vector<SilentResult> silent;
  if (want_silent) {
    for (auto& s : one) {
      Progress("{}: opening {} silent connections", s.label, o.idle);
      silent.push_back(MeasureSilent(s, o));
    }
  }

  // --- tables
  std::string out;
  auto line = [&out](const std::string& s) { out += s + "\n"; };
  line("");
  line(
      fmt::format("handshake_bench: TLS 1.3, {}, {}, ECDSA P-256 leaf + its CA, no session "
                  "reuse; {} concurrent connections",
                  kGroup, kCipherSuite, o.concurrency));
  line(
      fmt::format("servers pinned to cpu {} (one worker each), load generator on cpu {}; {} "
                  "rounds, interleaved; medians (a ratio is the median of the per-round ratios)",
                  o.server_cpu, o.client_cpu, o.rounds));
  line(fmt::format("steal during the rounds: {}", StealSummary(rounds_t0, rounds_t1, o)));

  // a/b as the median of the per-round ratios: both ran in the same round,
  // seconds apart, so a slow round slows both (0 when either is missing).
  auto paired = [&](const std::string& a, const std::string& b) -> double {
    auto ia = series.find(a);
    auto ib = series.find(b);
    if (ia == series.end() || ib == series.end()) return 0;
    std::vector<double> r;
    for (size_t i = 0; i < std::min(ia->second.samples.size(), ib->second.samples.size()); ++i) {
      const double x = ia->second.samples[i].rate();
      const double y = ib->second.samples[i].rate();
      if (x > 0 && y > 0) r.push_back(x / y);
    }
    return Median(r);
  };
  auto paired_text = [&](const std::string& a, const std::string& b) {
    const double r = paired(a, b);
    return r > 0 ? fmt::format("{:.2f}x", r) : std::string("-");
  };
  auto ceiling_label = [](int tickets) {
    return fmt::format("libssl ceiling, {} ticket{}", tickets, tickets == 1 ? "" : "s");
  };

  if (want_handshake) {
    line("");
    line(fmt::format(
        "== Full handshakes, one name (fixed SNI), {} connections per server and round ==",
        o.connections));
    line(fmt::format("{:<26} {:>9} {:>10} {:>5} {:>8} {:>7} {:>10} {:>10}  {}", "", "hs/CPU-s",
                     "hs/s wall", "busy", "tickets", "failed", "/ceil(0t)", "/ceil(same)",
                     "per round (hs/CPU-s)"));
    std::vector<std::string> labels;
    for (auto& [t, ctx] : ceilings) {
      labels.push_back(fmt::format("libssl ceiling, {} ticket{}", t, t == 1 ? "" : "s"));
    }
    for (auto& s : one) labels.push_back(s.label);
    for (auto& s : ticket_variants) labels.push_back(s.label);
    for (const auto& label : labels) {
      const Series& se = series[label];
      const bool is_ceiling = label.rfind("libssl", 0) == 0;
      const double tpc = se.TicketsPerConn();
      const int same = static_cast<int>(std::lround(tpc));
      line(fmt::format(
          "{:<26} {:>9.0f} {:>10} {:>5} {:>8.2f} {:>7} {:>10} {:>10}  {}", label, se.MedianRate(),
          is_ceiling ? std::string("-") : fmt::format("{:.0f}", se.MedianWall()),
          is_ceiling ? std::string("-") : fmt::format("{:.0f}%", 100 * se.MedianBusy()), tpc,
          se.Failed(), paired_text(label, ceiling_label(0)),
          same <= 2 ? paired_text(label, ceiling_label(same)) : std::string("-"), se.Rounds()));
    }
    line("busy = server CPU-s per wall second (below 100%: the load generator's cpu was");
    line("the limit; the rate per CPU-second stays comparable). tickets = TLS 1.3 session");
    line("tickets the server sent per connection (certgate's default is 1, HAProxy's and");
    line("nginx's OpenSSL's 2); /ceil(same) compares with libssl in memory sending as many.");
    line(fmt::format("certgate/haproxy {}  (target >= 1.30x)   certgate/nginx {}",
                     paired_text("certgate", "haproxy"), paired_text("certgate", "nginx")));
  }

  if (want_names && !many.empty()) {
    line("");
    line(fmt::format("== {} names, one certificate each, random SNI per connection ==", o.names));
    line(fmt::format("{:<16} {:>9} {:>10} {:>7} {:>9} {:>9} {:>10} {:>10} {:>10}  {}", "",
                     "hs/CPU-s", "hs/s wall", "failed", "vs 1 name", "1st pass", "RSS start",
                     "PSS start", "RSS loaded", "per round (hs/CPU-s)"));
    std::vector<std::string> setups;
    for (auto& s : many) {
      const Series& se = series[s.label];
      const Sample& fp = first_pass[s.label];
      std::string setup =
          s.kind == "certgate"
              ? fmt::format(
                    "uploads through the API until served {:.1f} s (certgate used {:.1f} "
                    "CPU-s), restart-to-ready {:.1f} s",
                    s.setup_s, s.setup_cpu_s, s.restart_s)
              : fmt::format("start-to-ready {:.1f} s ({:.1f} CPU-s)", s.setup_s, s.setup_cpu_s);
      line(fmt::format("{:<16} {:>9.0f} {:>10.0f} {:>7} {:>9} {:>9.0f} {:>10} {:>10} {:>10}  {}",
                       s.label, se.MedianRate(), se.MedianWall(),
                       se.Failed() + fp.failed + fp.wrong, paired_text(s.label, s.kind), fp.rate(),
                       Kb(s.after_start.rss_kb),
                       s.after_start.pss_kb > 0 ? Kb(s.after_start.pss_kb) : std::string("-"),
                       Kb(after_first_pass[s.label].rss_kb), se.Rounds()));
      setups.push_back(fmt::format("  {}: {}", s.label, setup));
    }
    line("setup:");
    for (const auto& l : setups) line(l);
    line("1st pass = hs/CPU-s while every name is used once (certgate builds each context");
    line("on first use); RSS loaded = after that pass. vs 1 name = this rate / the same");
    line("server's one-name rate, per round (no loss is ~1).");
    if (selected("nginx") && !o.nginx_names) line("nginx left out (--no-nginx-names).");
  }

  if (want_idle && !idle.empty()) {
    line("");
    line(fmt::format("== {} idle TLS connections (handshake + one keep-alive request answered) ==",
                     o.idle));
    line(fmt::format("{:<16} {:>11} {:>11} {:>9} {:>12} {:>14} {:>11}", "", "RSS before",
                     "RSS with", "KB/conn", "PSS KB/conn", "marginal KB/c", "still open"));
    for (const auto& r : idle) {
      line(fmt::format(
          "{:<16} {:>11} {:>11} {:>9.1f} {:>12} {:>14.1f} {:>11}", r.label, Kb(r.before.rss_kb),
          Kb(r.with.rss_kb), r.PerConnKb(),
          r.with.pss_kb > 0 ? fmt::format("{:.1f}", r.PerConnPssKb()) : std::string("-"),
          r.MarginalKb(), fmt::format("{}/{}", r.still_open, r.opened)));
    }
    line("KB/conn = (RSS with - idle baseline) / connections; marginal = the same over the");
    line("last 4/5 of them (the first ones reuse heap freed after the handshake rounds).");
    if (libssl_idle > 0) {
      line(
          fmt::format("libssl floor: an idle server SSL (after handshake and one request, "
                      "RELEASE_BUFFERS) holds {:.1f} KB of heap",
                      libssl_idle / 1024));
      std::vector<std::string> over;
      for (const auto& r : idle) {
        over.push_back(fmt::format("{} {:+.1f} KB", r.label, r.MarginalKb() - libssl_idle / 1024));
      }
      line(fmt::format("marginal KB/conn above that floor: {}", fmt::join(over, ", ")));
    }
    line("target: certgate <= 10 KB per idle connection (KB = 1024 bytes; kernel socket memory");
    line("not included)");
  }
  if (want_silent && !silent.empty()) {
    line("");
    line(fmt::format("== {} connections that send nothing (no ClientHello) ==", o.idle));
    line(fmt::format("{:<16} {:>11} {:>11} {:>12} {:>14} {:>11}", "", "RSS before", "RSS with",
                     "bytes/conn", "RSS closed", "still open"));
    for (const auto& r : silent) {
      line(fmt::format("{:<16} {:>11} {:>11} {:>12.0f} {:>14} {:>11}", r.label,
                       Kb(r.before.rss_kb), Kb(r.with.rss_kb), r.PerConnBytes(),
                       Kb(r.after.rss_kb), fmt::format("{}/{}", r.still_open, r.opened)));
    }
    line("bytes/conn = (RSS with - baseline) / connections; RSS closed = after they closed");
  }
  // The issue's targets, as far as this run measured them.
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
  for (const auto& r : idle) {
    if (r.label != "certgate") continue;
    const double kb = r.PerConnKb();
    targets.push_back(
        fmt::format("certgate {:.1f} KB per idle connection, marginal {:.1f} KB "
                    "(<= 10 KB: {})",
                    kb, r.MarginalKb(), verdict(kb <= 10)));
  }
  for (const auto& r : silent) {
    if (r.label != "certgate") continue;
    targets.push_back(fmt::format("certgate {:.0f} bytes per connection that sent nothing "
                                  "(<= 4096: {})",
                                  r.PerConnBytes(), verdict(r.PerConnBytes() <= 4096)));
  }
  if (!targets.empty()) {
    line("");
    line("targets (a benchmark, not a test; compare runs, the machine is noisy):");
    for (const auto& t : targets) line("  " + t);
  }
  std::fputs(out.c_str(), stdout);
  std::fflush(stdout);
  temp.ok = true;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = &OnSignal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
  try {
    Options o = ParseOptions(argc, argv);
    return Run(o);
  } catch (const std::exception& e) {
    StopAllChildren();
    fmt::print(stderr, "handshake_bench: error: {}\n", e.what());
    return 1;
  }
}
