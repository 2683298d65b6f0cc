#include "scale/scale_server.h"

#include <algorithm>
#include <chrono>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "common/progress.h"
#include "scale/api_connection.h"
#include "scale/phases.h"
#include "scale/store_load.h"
#include "support/process.h"

namespace certgate::bench::scale {
namespace {

namespace fs = std::filesystem;

testing::ServerOptions ServeOptions(const Options& o, const DataDir& data) {
  testing::ServerOptions so = testing::ServerOptions::InDir(data.dir / "data");
  so.binary = o.certgate;
  so.cpu = o.server_cpu;
  so.ready_timeout = std::chrono::seconds(600);
  so.extra_args = {"--base-domain", kBaseDomain, "--edge-workers", "1",
                   // Every bench connection comes from 127.0.0.1.
                   "--max-connections-per-source", "0", "--api-max-connections-per-source",
                   std::to_string(std::max(64, 2 * o.clients)), "--dns-listen", "127.0.0.1:0",
                   "--edge-address", "127.0.0.1"};
  so.extra_args.insert(so.extra_args.end(), o.serve_args.begin(), o.serve_args.end());
  return so;
}

// "dns: 127.0.0.1:5353" -> 5353; 0 when the line is missing.
uint16_t DnsPort(const std::string& stdout_text) {
  std::istringstream in(stdout_text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("dns: ", 0) == 0) {
      return static_cast<uint16_t>(std::stoi(line.substr(line.rfind(':') + 1)));
    }
  }
  return 0;
}

}  // namespace

DataDir PrepareEmptyDataDir(const Options& o, const ScalePki& pki, const fs::path& dir) {
  DataDir data;
  data.dir = dir;
  data.ready_name = LoadedName(0);  // no names: the default certificate, whatever its serial
  fs::create_directories(dir);
  auto server = testing::CertgateServer::Start(ServeOptions(o, data));
  if (!server) throw std::runtime_error(fmt::format("certgate did not start in {}", dir.string()));
  KillOnInterrupt guard(server->process().pid());
  data.api_key = server->api_key();
  if (data.api_key.empty())
    throw std::runtime_error("certgate printed no API key: the data dir was not fresh");
  ApiConnection api(server->api_url(), data.api_key);
  data.wildcard_id = api.UploadCertificate(pki.wildcard.chain_pem, pki.wildcard.key_pem);
  for (const Leaf& leaf : pki.changes) {
    data.change_ids.push_back(api.UploadCertificate(leaf.chain_pem, leaf.key_pem));
  }
  if (server->Stop() != 0)
    throw std::runtime_error("certgate did not stop cleanly after the uploads");
  return data;
}

DataDir PrepareDataDir(const Options& o, const ScalePki& pki, int names, const fs::path& dir) {
  DataDir data = PrepareEmptyDataDir(o, pki, dir);
  if (names > 0) {
    StoreLoad load = DirectStoreLoad(dir / "data" / "certgate.db", names, data.wildcard_id,
                                     static_cast<size_t>(o.changes));
    data.names = names;
    data.load_s = load.seconds;
    data.loaded_ids = std::move(load.first_ids);
    data.ready_name = LoadedName(names - 1);
    data.ready_serial = pki.wildcard.serial;
  }
  return data;
}

std::unique_ptr<ScaleServer> ScaleServer::Start(const Options& o, const DataDir& data,
                                                const TlsProbe& probe) {
  std::unique_ptr<ScaleServer> s(new ScaleServer(data));
  const auto t0 = BenchClock::now();
  s->certgate_ = testing::CertgateServer::Start(ServeOptions(o, data));
  if (!s->certgate_) throw std::runtime_error(fmt::format("{}: no 'certgate ready'", s->label()));
  s->ready_s_ = Seconds(BenchClock::now() - t0);
  s->guard_ = std::make_unique<KillOnInterrupt>(s->pid());
  s->https_port_ = s->certgate_->https_port();
  s->api_url_ = s->certgate_->api_url();
  s->dns_port_ = DnsPort(s->certgate_->process().Stdout());
  if (s->https_port_ == 0 || s->api_url_.empty() || s->dns_port_ == 0) {
    s->Failed("no api:, https: or dns: line before 'certgate ready'");
  }
  const auto deadline = BenchClock::now() + std::chrono::seconds(600);
  std::string why = "no handshake yet";
  for (;;) {
    ProbeResult r = probe.Probe(s->https_port_, data.ready_name);
    if (r.ok && (data.ready_serial.empty() || r.serial == data.ready_serial)) break;
    why = r.ok ? fmt::format("{} served serial {}, not {}", data.ready_name, r.serial,
                             data.ready_serial)
               : r.error;
    if (BenchClock::now() > deadline || !s->Alive()) s->Failed("not serving: " + why);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  s->start_s_ = Seconds(BenchClock::now() - t0);
  s->start_cpu_s_ = PreciseCpuSeconds(s->pid());
  return s;
}

ScaleServer::~ScaleServer() {
  guard_.reset();
  if (certgate_) certgate_->Kill();
}

std::string ScaleServer::label() const {
  return fmt::format("certgate {} {}", data_.names, data_.distinct ? "certs" : "names");
}

pid_t ScaleServer::pid() const { return certgate_->process().pid(); }

bool ScaleServer::Alive() const { return certgate_->process().running(); }

void ScaleServer::Stop() {
  guard_.reset();
  certgate_->process().Stop(std::chrono::seconds(20));
  certgate_.reset();
}

void ScaleServer::Failed(const std::string& what) const {
  std::string logs;
  if (certgate_) {
    logs = testing::TailLines(certgate_->process().Stdout(), 10) +
           testing::TailLines(testing::ReadFile(certgate_->stderr_path()), 20);
  }
  throw std::runtime_error(
      fmt::format("{}: {} (data dir {}):\n{}", label(), what, data_.dir.string(), logs));
}

}  // namespace certgate::bench::scale
