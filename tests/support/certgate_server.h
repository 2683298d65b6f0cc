// A real `certgate serve` for integration tests: a fresh data directory,
// the API on 127.0.0.1 port 0, started and stopped by process id.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/api_client.h"
#include "support/process.h"

namespace certgate::testing {

// The certgate binary under test (set by CMake).
std::string CertgateBinary();

struct ServerOptions {
  std::filesystem::path data_dir;  // empty: a fresh temporary directory
  std::vector<std::string> extra_args;
  std::map<std::string, std::string> env;
  // For an API served over TLS (--api-tls-cert): the CA its clients trust.
  std::string api_ca_file;
  // The binary to run; empty: CertgateBinary().
  std::string binary;
  // Pins the server to this cpu (benchmarks).
  std::optional<int> cpu;
  // How long Start waits for "certgate ready".
  std::chrono::seconds ready_timeout{30};

  static ServerOptions InDir(std::filesystem::path dir,
                             std::map<std::string, std::string> env = {}) {
    ServerOptions o;
    o.data_dir = std::move(dir);
    o.env = std::move(env);
    return o;
  }
};

// A fresh master key in CERTGATE_MASTER_KEY's form ("v1:<base64>"), for
// nodes of a cluster, which must share one.
std::string RandomMasterKey();

class CertgateServer {
 public:
  // Starts the server and waits for "certgate ready" (fails the test with
  // the server's stderr when it does not come within 30 s).
  static std::unique_ptr<CertgateServer> Start(ServerOptions options = {});
  // Starts all the processes first, then waits for each: servers starting
  // at once (a cluster's nodes). Start them from the test's own thread: a
  // child is killed when the thread that started it ends (PDEATHSIG).
  static std::vector<std::unique_ptr<CertgateServer>> StartTogether(
      std::vector<ServerOptions> options);
  ~CertgateServer();

  const std::string& api_url() const { return api_url_; }
  // The edge's listeners on 127.0.0.1.
  uint16_t https_port() const { return https_port_; }
  uint16_t http_port() const { return http_port_; }
  // The first account's key, printed on a first start ("" on a restart).
  const std::string& api_key() const { return api_key_; }
  const std::filesystem::path& data_dir() const { return data_dir_; }
  const std::filesystem::path& stderr_path() const { return stderr_path_; }
  Process& process() { return *process_; }

  client::ApiClient Client(const std::string& key) const;
  client::ApiClient Client() const { return Client(api_key_); }

  // `certgate admin ...` against this server's data directory.
  RunResult Admin(std::vector<std::string> args) const;
  // Creates an account on plan and returns an API key for it.
  std::string NewAccountKey(const std::string& plan) const;

  // SIGTERM and wait; returns the exit code.
  int Stop();
  void Kill();

 private:
  // Starts the process; WaitReady waits for "certgate ready" and reads the
  // addresses it printed (nullptr, with a test failure, when it does not come).
  static std::unique_ptr<CertgateServer> Launch(ServerOptions options);
  static std::unique_ptr<CertgateServer> WaitReady(std::unique_ptr<CertgateServer> server,
                                                   std::chrono::seconds timeout);

  std::unique_ptr<TempDir> temp_;
  std::filesystem::path data_dir_;
  std::filesystem::path stderr_path_;
  std::map<std::string, std::string> env_;
  std::unique_ptr<Process> process_;
  std::string api_ca_file_;
  std::string api_url_;
  std::string api_key_;
  uint16_t https_port_ = 0;
  uint16_t http_port_ = 0;
};

}  // namespace certgate::testing
