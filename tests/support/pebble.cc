// The Pebble test peer: see pebble.h.
#include "support/pebble.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <chrono>
#include <stdexcept>
#include <thread>

namespace certgate::testing {
namespace {

constexpr char kPebble[] = "/usr/bin/pebble";
constexpr char kOpenssl[] = "/usr/bin/openssl";
constexpr char kCurl[] = "/usr/bin/curl";
constexpr int kStartAttempts = 5;

void Run(std::vector<std::string> argv, std::string_view what) {
  RunResult r = RunCommand(std::move(argv));
  if (r.exit_code != 0) {
    throw std::runtime_error(fmt::format("Pebble harness: {} failed ({}): {}", what, r.exit_code,
                                         LogTail(r.err + r.out)));
  }
}

}  // namespace

Pebble::Pebble(PebbleOptions options) : options_(std::move(options)) {
  if (options_.http_port == 0) {
    throw std::invalid_argument("Pebble harness: PebbleOptions::http_port is required");
  }
  if (options_.tls_port == 0) options_.tls_port = PickFreePort();
  const auto& d = dir_.path();
  // A throw-away CA and a certificate for Pebble's own listeners.
  Run({kOpenssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
       "-nodes", "-keyout", (d / "ca.key").string(), "-out", (d / "ca.pem").string(), "-days",
       "2", "-subj", "/CN=certgate test Pebble listener CA", "-addext",
       "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"},
      "making the listener CA");
  Run({kOpenssl, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-keyout", (d / "key.pem").string(), "-out", (d / "csr.pem").string(), "-subj",
       "/CN=localhost"},
      "making the listener key");
  WriteFile(d / "ext.cnf",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
            "keyUsage=critical,digitalSignature\nbasicConstraints=CA:FALSE\n");
  Run({kOpenssl, "x509", "-req", "-in", (d / "csr.pem").string(), "-CA", (d / "ca.pem").string(),
       "-CAkey", (d / "ca.key").string(), "-CAcreateserial", "-out", (d / "cert.pem").string(),
       "-days", "2", "-extfile", (d / "ext.cnf").string()},
      "signing the listener certificate");

  std::string why;
  for (int attempt = 1;; ++attempt) {
    port_ = PickFreePort();
    management_port_ = PickFreePort();
    bool collision = false;
    if (TryStart(&why, &collision)) return;
    if (!collision || attempt == kStartAttempts) break;
  }
  throw std::runtime_error(fmt::format("Pebble did not start: {}", why));
}

Pebble::~Pebble() { Stop(); }

void Pebble::WriteConfig() const {
  boost::json::object eab_keys;
  for (const auto& [kid, key] : options_.eab_keys) eab_keys[kid] = key;
  const auto& d = dir_.path();
  boost::json::object pebble{
      {"listenAddress", fmt::format("127.0.0.1:{}", port_)},
      {"managementListenAddress", fmt::format("127.0.0.1:{}", management_port_)},
      {"certificate", (d / "cert.pem").string()},
      {"privateKey", (d / "key.pem").string()},
      {"httpPort", options_.http_port},
      {"tlsPort", options_.tls_port},
      {"ocspResponderURL", ""},
      {"externalAccountBindingRequired", !options_.eab_keys.empty()},
      {"externalAccountMACKeys", eab_keys}};
  if (options_.certificate_validity_seconds > 0) {
    pebble["certificateValidityPeriod"] = options_.certificate_validity_seconds;
  }
  WriteFile(d / "pebble-config.json",
            boost::json::serialize(boost::json::object{{"pebble", pebble}}) + "\n");
}

bool Pebble::TryStart(std::string* why, bool* port_collision) {
  WriteConfig();
  std::vector<std::string> argv = {kPebble, "-config",
                                   (dir_.path() / "pebble-config.json").string()};
  if (!options_.dns_server.empty()) {
    argv.push_back("-dnsserver");
    argv.push_back(options_.dns_server);
  }
  std::map<std::string, std::string> env = {
      {"PEBBLE_VA_NOSLEEP", options_.va_sleep_seconds > 0 ? "" : "1"},
      {"PEBBLE_VA_SLEEPTIME",
       options_.va_sleep_seconds > 0 ? std::to_string(options_.va_sleep_seconds) : ""},
      {"PEBBLE_WFE_NONCEREJECT", std::to_string(options_.nonce_reject_percent)},
      // Never the test machine's own variables.
      {"PEBBLE_VA_ALWAYS_VALID", ""},
      {"PEBBLE_AUTHZREUSE",
       options_.authz_reuse_percent >= 0 ? std::to_string(options_.authz_reuse_percent) : ""},
      {"PEBBLE_ALTERNATE_ROOTS",
       options_.alternate_roots > 0 ? std::to_string(options_.alternate_roots) : ""},
      {"PEBBLE_CHAIN_LENGTH",
       options_.chain_length > 0 ? std::to_string(options_.chain_length) : ""},
  };
  process_ = std::make_unique<Process>(std::move(argv), std::move(env), dir_.path() / "pebble.log");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_->running()) break;
    // The management listener starts first; the ACME one last.
    if (AcceptsTcp(management_port_) && AcceptsTcp(port_)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::string log = Log();
  *port_collision = log.find("address already in use") != std::string::npos;
  *why = process_->running() ? "no answer within 20 s; log:\n" + LogTail(log)
                             : "it exited; log:\n" + LogTail(log);
  Stop();
  return false;
}

void Pebble::Stop() {
  if (!process_) return;
  if (process_->running()) {
    process_->Signal(SIGTERM);
    process_->Wait(std::chrono::seconds(5));
  }
  if (process_->running()) {
    process_->Signal(SIGKILL);
    process_->Wait(std::chrono::seconds(5));
  }
  previous_stdout_ += process_->StdoutToEof(std::chrono::seconds(2));
  process_.reset();
}

void Pebble::Start() {
  Stop();
  std::string why;
  for (int attempt = 1;; ++attempt) {
    bool collision = false;
    if (TryStart(&why, &collision)) return;
    // The same ports: someone else may hold them for a moment.
    if (!collision || attempt == kStartAttempts) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  throw std::runtime_error(fmt::format("Pebble did not restart: {}", why));
}

bool Pebble::running() { return process_ && process_->running(); }

std::string Pebble::directory_url() const {
  return fmt::format("https://127.0.0.1:{}/dir", port_);
}

std::string Pebble::ca_file() const { return (dir_.path() / "ca.pem").string(); }

std::string Pebble::Log() const {
  std::string log = ReadFile(dir_.path() / "pebble.log") + previous_stdout_;
  if (process_) log += process_->Stdout();
  return log;
}

std::string Pebble::FetchAll(std::string_view kind) const {
  std::string pem;
  for (int i = 0; i < 10; ++i) {
    RunResult r = RunCommand({kCurl, "-sS", "-f", "--max-time", "5", "--cacert", ca_file(),
                              fmt::format("https://127.0.0.1:{}/{}/{}", management_port_, kind,
                                          i)},
                             {}, std::nullopt, std::chrono::seconds(10));
    if (r.exit_code == 22 && i > 0) break;  // HTTP error: no such alternate
    if (r.exit_code != 0 || r.out.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
      throw std::runtime_error(fmt::format("Pebble harness: fetching /{}/{} failed ({}): {}",
                                           kind, i, r.exit_code, LogTail(r.err + r.out)));
    }
    pem += r.out;
    if (pem.back() != '\n') pem += '\n';
  }
  return pem;
}

std::string Pebble::IssuingRootsPem() const { return FetchAll("roots"); }
std::string Pebble::IntermediatesPem() const { return FetchAll("intermediates"); }

}  // namespace certgate::testing
