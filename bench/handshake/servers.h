// The servers handshake_bench measures, each started by it on 127.0.0.1
// with its own directory, pinned to the server cpu with one worker: certgate
// (its certificates uploaded through the API), HAProxy and nginx (their
// certificates in files). A Server is ready when it returns: a handshake for
// its last name got that name's certificate.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <sys/types.h>

#include "common/interrupt_guard.h"
#include "common/proc_stats.h"
#include "handshake/bench_pki.h"
#include "handshake/handshake_options.h"
#include "handshake/load_generator.h"
#include "support/certgate_server.h"
#include "support/process.h"

namespace certgate::bench::handshake {

struct Server {
  std::string kind;   // certgate, haproxy, nginx
  std::string label;  // as printed
  int names = 1;
  uint16_t port = 0;
  std::filesystem::path dir;
  double setup_s = 0;      // start-to-ready (certgate: uploads)
  double restart_s = 0;    // certgate: restart-to-ready with the names stored
  double setup_cpu_s = 0;  // the server's CPU-seconds during setup
  Memory after_start;
  std::vector<pid_t> procs;  // pid and children, for /proc readings

  // certgate runs in the first, the peers in the second.
  std::unique_ptr<testing::CertgateServer> certgate;
  std::unique_ptr<testing::Process> process;
  // Declared last: unregistered before the process goes.
  std::unique_ptr<KillOnInterrupt> interrupt_guard;

  pid_t pid() const;
  bool Alive();
  void Refresh() { procs = ProcessTree(pid()); }
  // The tails of its stdout and stderr.
  std::string Logs() const;
};

// Throws std::runtime_error with what, where the logs are and their tails.
[[noreturn]] void ServerFailed(const Server& s, const std::string& what);

// Waits until a handshake with SNI names[last] returns that name's
// certificate (the server is ready and serves every name).
void WaitServes(Server& s, LoadGenerator& load, const std::vector<std::string>& names, size_t last,
                std::chrono::seconds timeout);

// certgate with the first `names` names uploaded (POST /tls_certificates,
// POST /reserved_domains, --upload-threads at once); with more than one
// name, then restarted and timed to ready again.
Server StartCertgateServer(const Options& o, const Pki& pki, int names,
                           const std::filesystem::path& dir, LoadGenerator& load);

// no_tickets: the variant with session tickets turned off as far as its
// configuration allows (`no-tls-tickets`, no session cache).
Server StartHaproxyServer(const Options& o, const Pki& pki, int names,
                          const std::filesystem::path& dir, LoadGenerator& load, long maxconn,
                          bool no_tickets = false);
Server StartNginxServer(const Options& o, const Pki& pki, int names,
                        const std::filesystem::path& dir, LoadGenerator& load, long maxconn,
                        bool no_tickets = false);

}  // namespace certgate::bench::handshake
