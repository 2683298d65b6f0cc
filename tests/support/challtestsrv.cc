// The pebble-challtestsrv test peer: see challtestsrv.h.
#include "support/challtestsrv.h"

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

constexpr char kChallTestSrv[] = "/usr/bin/pebble-challtestsrv";
constexpr char kCurl[] = "/usr/bin/curl";
constexpr int kStartAttempts = 5;

std::string Fqdn(std::string_view host) {
  std::string out(host);
  if (out.empty() || out.back() != '.') out += '.';
  return out;
}

}  // namespace

ChallTestSrv::ChallTestSrv() {
  std::string why;
  for (int attempt = 1;; ++attempt) {
    dns_port_ = PickFreePort(/*udp_too=*/true);
    http01_port_ = PickFreePort();
    management_port_ = PickFreePort();
    bool collision = false;
    if (TryStart(&why, &collision)) return;
    if (!collision || attempt == kStartAttempts) break;
  }
  throw std::runtime_error(fmt::format("pebble-challtestsrv did not start: {}", why));
}

ChallTestSrv::~ChallTestSrv() {
  if (process_ && process_->running()) {
    process_->Signal(SIGTERM);
    process_->Wait(std::chrono::seconds(5));
  }
  process_.reset();  // SIGKILL if still running
}

bool ChallTestSrv::TryStart(std::string* why, bool* port_collision) {
  std::vector<std::string> argv = {
      kChallTestSrv,
      "-dns01", fmt::format("127.0.0.1:{}", dns_port_),
      "-http01", fmt::format("127.0.0.1:{}", http01_port_),
      "-management", fmt::format("127.0.0.1:{}", management_port_),
      "-https01", "",
      "-tlsalpn01", "",
      "-defaultIPv4", "127.0.0.1",
      "-defaultIPv6", "",
  };
  process_ = std::make_unique<Process>(std::move(argv), std::map<std::string, std::string>{},
                                       dir_.path() / "challtestsrv.log");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_->running()) break;
    if (AcceptsTcp(management_port_) && AcceptsTcp(http01_port_) && AcceptsTcp(dns_port_)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::string log = Log();
  *port_collision = log.find("address already in use") != std::string::npos;
  *why = (process_->running() ? "no answer within 15 s; log:\n" : "it exited; log:\n") + LogTail(log);
  process_.reset();
  return false;
}

std::string ChallTestSrv::dns_address() const { return fmt::format("127.0.0.1:{}", dns_port_); }

std::string ChallTestSrv::Log() const {
  std::string log = ReadFile(dir_.path() / "challtestsrv.log");
  if (process_) log += process_->Stdout();
  return log;
}

void ChallTestSrv::Call(std::string_view path, const boost::json::object& body) {
  const std::string json_body = boost::json::serialize(body);
  RunResult r = RunCommand({kCurl, "-sS", "-f", "--max-time", "5", "-H",
                            "Content-Type: application/json", "--data-binary", json_body,
                            fmt::format("http://127.0.0.1:{}{}", management_port_, path)},
                           {}, std::nullopt, std::chrono::seconds(10));
  if (r.exit_code != 0) {
    throw std::runtime_error(fmt::format("pebble-challtestsrv {} {} failed ({}): {}\nlog:\n{}",
                                         path, json_body, r.exit_code, r.err, LogTail(Log())));
  }
}

void ChallTestSrv::SetCname(std::string_view host, std::string_view target) {
  Call("/set-cname", {{"host", Fqdn(host)}, {"target", Fqdn(target)}});
}

void ChallTestSrv::ClearCname(std::string_view host) {
  Call("/clear-cname", {{"host", Fqdn(host)}});
}

void ChallTestSrv::AddA(std::string_view host, std::string_view ip) {
  Call("/add-a", {{"host", Fqdn(host)}, {"addresses", boost::json::array{ip}}});
}

void ChallTestSrv::ClearA(std::string_view host) {
  Call("/clear-a", {{"host", Fqdn(host)}});
}

void ChallTestSrv::SetTxt(std::string_view host, std::string_view value) {
  Call("/set-txt", {{"host", Fqdn(host)}, {"value", value}});
}

void ChallTestSrv::ClearTxt(std::string_view host) {
  Call("/clear-txt", {{"host", Fqdn(host)}});
}

void ChallTestSrv::AddHttp01(std::string_view token, std::string_view content) {
  Call("/add-http01", {{"token", token}, {"content", content}});
}

void ChallTestSrv::DelHttp01(std::string_view token) {
  Call("/del-http01", {{"token", token}});
}

}  // namespace certgate::testing
