// The unbound test peer: see unbound.h.
#include "support/unbound.h"

#include <fmt/format.h>

#include <chrono>
#include <stdexcept>
#include <thread>

namespace certgate::testing {
namespace {

constexpr char kUnbound[] = "/usr/sbin/unbound";
constexpr char kDig[] = "/usr/bin/dig";

std::string Config(const std::filesystem::path& dir, uint16_t port,
                   const std::vector<StubZone>& stubs) {
  std::string conf = fmt::format(R"(server:
  verbosity: 1
  interface: 127.0.0.1
  port: {port}
  outgoing-interface: 127.0.0.1
  # Its queries' random source ports stay in the kernel's ephemeral range:
  # below it, tests pick the ports their peers will bind (PickFreePort),
  # and one taken by a query meanwhile failed a node's start.
  outgoing-port-avoid: 0-{below_ephemeral}
  do-ip4: yes
  do-ip6: no
  do-udp: yes
  do-tcp: yes
  num-threads: 1
  so-reuseport: no
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  directory: "{dir}"
  chroot: ""
  username: ""
  pidfile: ""
  use-syslog: no
  logfile: "{dir}/unbound.log"
  log-time-ascii: yes
  module-config: "iterator"
  qname-minimisation: no
  cache-max-ttl: 2
  cache-max-negative-ttl: 1
  infra-host-ttl: 1
  # A stub server that is down gives SERVFAIL in about 2 s, not 10+: retry
  # less, and never wait more than 1 s for a server on loopback.
  outbound-msg-retry: 2
  infra-cache-max-rtt: 1000
  prefetch: no
  serve-expired: no
  minimal-responses: no
  # Only the stub zones resolve: other names are refused at once, so that no
  # query ever needs the root servers.
  local-zone: "." refuse
  local-zone: "test." nodefault
  local-zone: "localhost." nodefault
  local-zone: "invalid." nodefault
  local-zone: "example." nodefault
  local-zone: "local." nodefault
  local-zone: "onion." nodefault
  local-zone: "home.arpa." nodefault
remote-control:
  control-enable: no
)",
                                 fmt::arg("port", port), fmt::arg("dir", dir.string()),
                                 fmt::arg("below_ephemeral", LowestEphemeralPort() - 1));
  for (const auto& stub : stubs) {
    // A transparent local zone lets the stub zone's names past "." refuse.
    conf += fmt::format("server:\n  local-zone: \"{0}.\" transparent\n", stub.zone);
    conf += fmt::format("stub-zone:\n  name: \"{}.\"\n  stub-addr: {}@{}\n", stub.zone, stub.host,
                        stub.port);
  }
  return conf;
}

// True once unbound answers a query on port (any RCODE).
bool Answers(uint16_t port) {
  RunResult r = RunCommand({kDig, "@127.0.0.1", "-p", std::to_string(port), "+time=1",
                            "+tries=1", "+norecurse", "id.server", "CH", "TXT"},
                           {}, std::nullopt, std::chrono::seconds(5));
  return r.exit_code == 0 && r.out.find("status:") != std::string::npos;
}

}  // namespace

Unbound::Unbound(std::vector<StubZone> stubs) {
  const auto conf_path = dir_.path() / "unbound.conf";
  std::string last_log;
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = PickFreePort(/*udp_too=*/true);
    WriteFile(conf_path, Config(dir_.path(), port_, stubs));
    process_ = std::make_unique<Process>(
        std::vector<std::string>{kUnbound, "-d", "-c", conf_path.string()},
        std::map<std::string, std::string>{}, dir_.path() / "unbound.stderr");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline && process_->running()) {
      if (Answers(port_)) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    // It exited (e.g. the port was taken meanwhile) or never answered.
    last_log = Log();
    process_.reset();
  }
  throw std::runtime_error("unbound did not start; its log:\n" + last_log);
}

Unbound::~Unbound() { process_.reset(); }

std::string Unbound::address() const { return fmt::format("127.0.0.1:{}", port_); }

std::string Unbound::Log() const {
  std::string out;
  for (const char* name : {"unbound.log", "unbound.stderr"}) {
    const auto path = dir_.path() / name;
    if (std::filesystem::exists(path)) out += ReadFile(path);
  }
  return out;
}

}  // namespace certgate::testing
