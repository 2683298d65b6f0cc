#include "cluster/cluster_nodes.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <signal.h>

#include "api/new_domain.h"
#include "common/proc_stats.h"
#include "common/progress.h"
#include "core/ids.h"
#include "core/time.h"
#include "scale/api_connection.h"
#include "store/name_key.h"
#include "store/store.h"
#include "support/process.h"

namespace certgate::bench::cluster {
namespace {

namespace fs = std::filesystem;

constexpr auto kStartTimeout = std::chrono::minutes(5);
constexpr auto kStartProbeGap = std::chrono::milliseconds(2);

testing::ServerOptions NodeOptions(const Options& o, const ClusterData& data, size_t index,
                                   uint16_t https_port) {
  testing::ServerOptions so = testing::ServerOptions::InDir(
      data.dir / fmt::format("node{}", index + 1), {{"CERTGATE_MASTER_KEY", data.master_key}});
  so.binary = o.certgate;
  if (o.server_cpu >= 0) so.cpu = o.server_cpu;
  so.ready_timeout = std::chrono::duration_cast<std::chrono::seconds>(kStartTimeout);
  so.extra_args = {"--store", data.conninfo, "--base-domain", scale::kBaseDomain, "--https-listen",
                   fmt::format("127.0.0.1:{}", https_port),
                   // Every probe comes from 127.0.0.1.
                   "--max-connections-per-source", "0"};
  // One server cpu: one edge thread, as scale_bench runs it.
  if (o.server_cpu >= 0) so.extra_args.insert(so.extra_args.end(), {"--edge-workers", "1"});
  so.extra_args.insert(so.extra_args.end(), o.serve_args.begin(), o.serve_args.end());
  return so;
}

// The tail of the newest `certgate serve` log under dir (CertgateServer
// writes them beside the data dirs), for a node that never became ready.
std::string NewestServeLog(const fs::path& dir) {
  fs::path newest;
  fs::file_time_type when{};
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("serve-", 0) == 0 && entry.last_write_time() >= when) {
      newest = entry.path();
      when = entry.last_write_time();
    }
  }
  if (newest.empty()) return "(no log)";
  return newest.string() + ":\n" + testing::TailLines(testing::ReadFile(newest), 30);
}

// "created account acct_... (plan payg) and its first API key" -> "acct_...".
std::string AccountId(const std::string& stdout_text) {
  constexpr std::string_view kPrefix = "created account ";
  std::istringstream in(stdout_text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(kPrefix, 0) == 0) {
      const std::string rest = line.substr(kPrefix.size());
      return rest.substr(0, rest.find(' '));
    }
  }
  return "";
}

}  // namespace

ClusterData PrepareCluster(const Options& o, const std::string& master_key,
                           const scale::ScalePki& pki, std::string conninfo, const fs::path& dir) {
  ClusterData data;
  data.conninfo = std::move(conninfo);
  data.master_key = master_key;
  data.dir = dir;
  fs::create_directories(dir);
  auto node = testing::CertgateServer::Start(NodeOptions(o, data, 0, 0));
  if (!node) {
    throw std::runtime_error("node 1 did not start on the fresh database; " + NewestServeLog(dir));
  }
  KillOnInterrupt guard(node->process().pid());
  data.api_key = node->api_key();
  data.account_id = AccountId(node->process().Stdout());
  if (data.api_key.empty() || data.account_id.empty()) {
    throw std::runtime_error("node 1 printed no first account: the database was not fresh");
  }
  scale::ApiConnection api(node->api_url(), data.api_key);
  data.wildcard_id = api.UploadCertificate(pki.wildcard.chain_pem, pki.wildcard.key_pem);
  for (const scale::Leaf& leaf : pki.changes) {
    data.change_ids.push_back(api.UploadCertificate(leaf.chain_pem, leaf.key_pem));
  }
  if (node->Stop() != 0) throw std::runtime_error("node 1 did not stop cleanly after the uploads");
  return data;
}

namespace {

// The domain the API would store for loaded name i.
store::Domain LoadedDomain(const ClusterData& data, int i, Time now) {
  store::Domain d;
  d.id = NewId("rd");
  d.account_id = data.account_id;
  d.created_at = now;
  d.domain = scale::LoadedName(i);
  d.certificate_id = data.wildcard_id;
  // What the API adds to a domain with an uploaded certificate: its
  // cname_target under the base domain.
  api::SetDomainDefaults(d, scale::kBaseDomain);
  return d;
}

void CopyLoad(const ClusterData& data, int names, const fs::path& csv,
              const std::function<void(const fs::path&)>& copy) {
  const Time now = SystemClock::Instance().Now();
  // timestamptz in UTC; CSV fields quoted, since an unquoted empty one is NULL.
  const std::time_t secs = static_cast<std::time_t>(ToUnixSeconds(now));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  const std::string created = fmt::format("{:%Y-%m-%d %H:%M:%S}+00", tm);
  {
    std::ofstream out(csv, std::ios::binary | std::ios::trunc);
    for (int i = 0; i < names; ++i) {
      const store::Domain d = LoadedDomain(data, i, now);
      out << fmt::format("\"{}\",\"{}\",\"{}\",\"\",\"\",\"{}\",\"{}\",\"{}\",\"{}\"\n", d.id,
                         d.account_id, created, d.domain, *d.certificate_id,
                         d.cname_target.value_or(""), store::NameKey(d.domain));
    }
    if (!out.flush()) throw std::runtime_error("writing " + csv.string() + " failed");
  }
  copy(csv);
  fs::remove(csv);
}

void StoreApiLoad(const Options& o, const ClusterData& data, int names) {
  const auto t0 = BenchClock::now();
  auto store = store::OpenStore(data.conninfo);
  if (!store) throw std::runtime_error("opening the store: " + store.error().message);
  const Time now = SystemClock::Instance().Now();
  std::vector<store::Domain> batch;
  int next_report = names / 4;
  for (int start = 0; start < names; start += o.batch) {
    const int end = std::min(names, start + o.batch);
    batch.clear();
    for (int i = start; i < end; ++i) batch.push_back(LoadedDomain(data, i, now));
    auto outcome = (*store)->InsertDomains(batch);
    if (!outcome) {
      throw std::runtime_error(
          fmt::format("inserting names {} to {}: {}", start, end - 1, outcome.error().message));
    }
    if (outcome->inserted != batch.size()) {
      throw std::runtime_error(fmt::format("names {} to {}: {} inserted, {} held already", start,
                                           end - 1, outcome->inserted, outcome->already_reserved));
    }
    if (end >= next_report && end < names) {
      Progress("  {} of {} names loaded, {:.1f} s", end, names, Seconds(BenchClock::now() - t0));
      next_report += names / 4;
    }
  }
}

}  // namespace

double DirectStoreLoad(const Options& o, ClusterData& data, int names, const fs::path& csv,
                       const std::function<void(const fs::path&)>& copy) {
  const auto t0 = BenchClock::now();
  if (o.copy_load) {
    CopyLoad(data, names, csv, copy);
  } else {
    StoreApiLoad(o, data, names);
  }
  data.names = names;
  data.last_name = scale::LoadedName(names - 1);
  return Seconds(BenchClock::now() - t0);
}

std::unique_ptr<Cluster> Cluster::Start(const Options& o, const ClusterData& data,
                                        const scale::ScalePki& pki, const scale::TlsProbe& probe,
                                        std::vector<NodeStart>& starts) {
  std::unique_ptr<Cluster> c(new Cluster());
  const auto n = static_cast<size_t>(o.nodes);
  std::vector<testing::ServerOptions> options;
  for (size_t i = 0; i < n; ++i) {
    c->ports_.push_back(testing::PickFreePort());
    options.push_back(NodeOptions(o, data, i, c->ports_[i]));
  }
  starts.assign(n, NodeStart{});
  std::vector<double> served(n, -1);
  std::atomic<bool> give_up{false};
  const auto t0 = BenchClock::now();
  std::vector<std::thread> probers;
  for (size_t i = 0; i < n; ++i) {
    probers.emplace_back([&, i] {
      const auto deadline = t0 + kStartTimeout;
      while (!give_up.load() && BenchClock::now() < deadline) {
        const scale::ProbeResult r =
            probe.Probe(c->ports_[i], data.last_name, std::chrono::milliseconds(2000));
        if (r.ok && r.serial == pki.wildcard.serial) {
          served[i] = Seconds(BenchClock::now() - t0);
          return;
        }
        std::this_thread::sleep_for(kStartProbeGap);
      }
    });
  }
  // From this thread: a child dies with the thread that started it.
  c->nodes_ = testing::CertgateServer::StartTogether(std::move(options));
  bool all_started = true;
  for (const auto& node : c->nodes_) {
    if (node) {
      c->guards_.push_back(std::make_unique<KillOnInterrupt>(node->process().pid()));
    } else {
      all_started = false;
    }
  }
  if (!all_started) give_up = true;
  for (std::thread& t : probers) t.join();
  for (size_t i = 0; i < n; ++i) {
    if (!c->nodes_[i]) {
      throw std::runtime_error(
          fmt::format("node {} did not become ready; {}", i + 1, NewestServeLog(data.dir)));
    }
    if (served[i] < 0) c->Failed(i, fmt::format("its edge never served {}", data.last_name));
    // When every node serves: one that was done first has idled since.
    starts[i] = NodeStart{served[i], PreciseCpuSeconds(c->pid(i))};
  }
  return c;
}

Cluster::~Cluster() {
  guards_.clear();
  for (auto& node : nodes_) {
    if (node) node->Kill();
  }
}

pid_t Cluster::pid(size_t i) const { return nodes_[i]->process().pid(); }

void Cluster::CheckAlive() const {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i]->process().running()) Failed(i, "exited during the run");
  }
}

void Cluster::Stop() {
  guards_.clear();
  for (auto& node : nodes_) node->process().Signal(SIGTERM);
  for (auto& node : nodes_) node->process().Stop(std::chrono::seconds(20));
  nodes_.clear();
}

void Cluster::Failed(size_t i, const std::string& what) const {
  const testing::CertgateServer& node = *nodes_[i];
  throw std::runtime_error(
      fmt::format("node {}: {} (data dir {}):\n{}{}", i + 1, what, node.data_dir().string(),
                  testing::TailLines(nodes_[i]->process().Stdout(), 10),
                  testing::TailLines(testing::ReadFile(node.stderr_path()), 30)));
}

}  // namespace certgate::bench::cluster
