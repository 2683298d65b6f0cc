#include "handshake/servers.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "client/api_client.h"
#include "common/haproxy_peer.h"
#include "common/nginx_peer.h"
#include "common/progress.h"
#include "handshake/bench_tls.h"

namespace certgate::bench::handshake {
namespace {

namespace fs = std::filesystem;

// Uploads names [0, count) and attaches each to its reserved domain, in
// parallel through the API.
void UploadNames(const Server& s, const Pki& pki, int count, int threads) {
  const std::string api_url = s.certgate->api_url();
  const std::string api_key = s.certgate->api_key();
  std::atomic<int> next{0};
  std::atomic<int> done{0};
  std::string error;
  std::mutex error_mu;
  auto work = [&] {
    auto client = certgate::client::ApiClient::Create(api_url, api_key);
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

// `certgate serve` with one edge worker, pinned; its data in s.dir/data.
void RunCertgate(Server& s, const Options& o) {
  testing::ServerOptions so = testing::ServerOptions::InDir(s.dir / "data");
  so.binary = o.certgate;
  so.cpu = o.server_cpu;
  so.ready_timeout = std::chrono::seconds(60);
  // Every bench connection comes from 127.0.0.1.
  so.extra_args = {"--edge-workers", "1", "--max-connections-per-source", "0"};
  s.interrupt_guard.reset();
  s.certgate = testing::CertgateServer::Start(so);
  if (!s.certgate) ServerFailed(s, "no 'certgate ready' in 60 s");
  s.interrupt_guard = std::make_unique<KillOnInterrupt>(s.pid());
  s.port = s.certgate->https_port();
  if (s.certgate->api_url().empty() || s.port == 0) {
    ServerFailed(s, "no api:/https: lines before ready");
  }
}

TlsPeerSpec PeerSpec(const std::string& binary, const Options& o, const Pki& pki, int names,
                     const fs::path& dir, long maxconn, bool no_tickets) {
  TlsPeerSpec spec;
  spec.binary = binary;
  spec.dir = dir;
  spec.port = testing::PickFreePort();
  spec.cpu = o.server_cpu;
  spec.group = kGroup;
  spec.maxconn = maxconn;
  spec.names.assign(pki.names.begin(), pki.names.begin() + names);
  spec.pem_files.assign(pki.combined.begin(), pki.combined.begin() + names);
  spec.no_tickets = no_tickets;
  return spec;
}

// What tells HAProxy and nginx apart when starting them.
struct PeerKind {
  const char* kind;
  const char* no_tickets_suffix;  // of the label
  const std::string& binary;
  std::unique_ptr<testing::Process> (*start)(const TlsPeerSpec&);
  size_t processes;  // nginx: master and worker
};

Server StartPeerServer(const PeerKind& peer, const Options& o, const Pki& pki, int names,
                       const fs::path& dir, LoadGenerator& load, long maxconn, bool no_tickets) {
  Server s;
  s.kind = peer.kind;
  s.label = names == 1 ? s.kind : fmt::format("{} {}", s.kind, names);
  if (no_tickets) s.label += peer.no_tickets_suffix;
  s.names = names;
  s.dir = dir;
  fs::create_directories(dir);
  const TlsPeerSpec spec = PeerSpec(peer.binary, o, pki, names, dir, maxconn, no_tickets);
  s.port = spec.port;
  Progress("starting {} ({} names)", s.label, names);
  const auto t0 = Clock::now();
  s.process = peer.start(spec);
  s.interrupt_guard = std::make_unique<KillOnInterrupt>(s.pid());
  WaitServes(s, load, pki.names, static_cast<size_t>(names - 1), std::chrono::seconds(300));
  s.setup_s = Seconds(Clock::now() - t0);
  s.Refresh();
  if (s.procs.size() < peer.processes) ServerFailed(s, "no worker process");
  s.setup_cpu_s = CpuSeconds(s.procs);
  s.after_start = MemoryOf(s.procs);
  if (peer.processes == 1) {
    Progress("  {} ready on port {} in {:.1f} s (pid {})", s.label, s.port, s.setup_s, s.pid());
  } else {
    Progress("  {} ready on port {} in {:.1f} s (pids {})", s.label, s.port, s.setup_s,
             fmt::join(s.procs, ","));
  }
  return s;
}

}  // namespace

pid_t Server::pid() const { return certgate ? certgate->process().pid() : process->pid(); }

bool Server::Alive() { return certgate ? certgate->process().running() : process->running(); }

std::string Server::Logs() const {
  std::string out;
  if (certgate) {
    out += testing::TailLines(certgate->process().Stdout(), 15);
    out += testing::TailLines(testing::ReadFile(certgate->stderr_path()), 15);
  } else if (process) {
    out += testing::TailLines(process->Stdout(), 15);
    out += testing::TailLines(testing::ReadFile(dir / "stderr.log"), 15);
  }
  return out;
}

void ServerFailed(const Server& s, const std::string& what) {
  throw std::runtime_error(
      fmt::format("{}: {} (logs in {}):\n{}", s.label, what, s.dir.string(), s.Logs()));
}

void WaitServes(Server& s, LoadGenerator& load, const std::vector<std::string>& names, size_t last,
                std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string why = "no answer";
  while (Clock::now() < deadline) {
    if (!s.Alive()) ServerFailed(s, "exited during start");
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

Server StartCertgateServer(const Options& o, const Pki& pki, int names, const fs::path& dir,
                           LoadGenerator& load) {
  Server s;
  s.kind = "certgate";
  s.label = names == 1 ? "certgate" : fmt::format("certgate {}", names);
  s.names = names;
  s.dir = dir;
  fs::create_directories(s.dir);
  Progress("starting {} ({})", s.label, o.certgate);
  const auto t0 = Clock::now();
  RunCertgate(s, o);
  if (s.certgate->api_key().empty()) {
    ServerFailed(s, "no API key printed (the data dir was not fresh)");
  }
  UploadNames(s, pki, names, o.upload_threads);
  WaitServes(s, load, pki.names, static_cast<size_t>(names - 1), std::chrono::seconds(120));
  s.setup_s = Seconds(Clock::now() - t0);
  s.setup_cpu_s = CpuSeconds(s.pid());
  if (names > 1) {
    // What a restart costs with the names stored: comparable to the peers'
    // start with their certificates on disk.
    Progress("  {}: {} names uploaded and served in {:.1f} s; restarting", s.label, names,
             s.setup_s);
    s.interrupt_guard.reset();
    s.certgate->process().Stop(std::chrono::milliseconds(15000));
    s.certgate.reset();
    const auto t1 = Clock::now();
    RunCertgate(s, o);
    WaitServes(s, load, pki.names, static_cast<size_t>(names - 1), std::chrono::seconds(120));
    s.restart_s = Seconds(Clock::now() - t1);
  }
  s.Refresh();
  s.after_start = MemoryOf(s.procs);
  Progress("  {} ready on port {} (pid {})", s.label, s.port, s.pid());
  return s;
}

Server StartHaproxyServer(const Options& o, const Pki& pki, int names, const fs::path& dir,
                          LoadGenerator& load, long maxconn, bool no_tickets) {
  return StartPeerServer(PeerKind{"haproxy", " no-tls-tickets", o.haproxy, &StartHaproxy, 1}, o,
                         pki, names, dir, load, maxconn, no_tickets);
}

Server StartNginxServer(const Options& o, const Pki& pki, int names, const fs::path& dir,
                        LoadGenerator& load, long maxconn, bool no_tickets) {
  return StartPeerServer(PeerKind{"nginx", " tickets off", o.nginx, &StartNginx, 2}, o, pki, names,
                         dir, load, maxconn, no_tickets);
}

}  // namespace certgate::bench::handshake
