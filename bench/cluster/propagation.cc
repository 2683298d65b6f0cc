#include "cluster/propagation.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include <fmt/format.h>

#include "common/progress.h"

namespace certgate::bench::cluster {
namespace {

constexpr auto kServeTimeout = std::chrono::seconds(30);
constexpr auto kProbeGap = std::chrono::milliseconds(5);

double Ms(BenchClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace

double ChangeSample::Slowest() const {
  double worst = 0;
  for (double ms : node_ms) {
    if (ms < 0) return -1;
    worst = std::max(worst, ms);
  }
  return worst;
}

ChangeSample ChangeToServedEverywhere(const Cluster& cluster,
                                      std::vector<std::unique_ptr<scale::ApiConnection>>& apis,
                                      const ClusterData& data, const scale::ScalePki& pki,
                                      const scale::TlsProbe& probe, int k, size_t via) {
  const size_t n = cluster.size();
  const size_t leaf = static_cast<size_t>(k) % pki.changes.size();
  const std::string name = fmt::format("c{:07}.{}", k, scale::kChangeParent);
  ChangeSample s;
  s.via = via;
  s.node_ms.assign(n, -1);
  const auto sent = BenchClock::now();
  apis[via]->CreateDomain(name, data.change_ids[leaf]);
  const auto created = BenchClock::now();
  s.api_ms = Ms(created - sent);
  // A thread per node: probed one after another, a node would be seen
  // late whenever the others' handshakes came first.
  std::vector<std::thread> probers;
  for (size_t i = 0; i < n; ++i) {
    probers.emplace_back([&, i] {
      while (BenchClock::now() - created < kServeTimeout) {
        const scale::ProbeResult r = probe.Probe(cluster.https_port(i), name);
        if (r.ok && r.serial == pki.changes[leaf].serial) {
          s.node_ms[i] = Ms(BenchClock::now() - created);
          return;
        }
        std::this_thread::sleep_for(kProbeGap);
      }
    });
  }
  for (std::thread& t : probers) t.join();
  return s;
}

BackgroundWrites::BackgroundWrites(const Cluster& cluster, const ClusterData& data, int per_second)
    : data_(data), per_second_(per_second), nodes_(cluster.size()) {
  t0_ = std::chrono::steady_clock::now();
  for (size_t i = 0; i < nodes_; ++i) {
    threads_.emplace_back(&BackgroundWrites::Writer, this, i, cluster.api_url(i));
  }
}

BackgroundWrites::~BackgroundWrites() {
  stop_ = true;
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

BackgroundWrites::Summary BackgroundWrites::Stop() {
  stop_ = true;
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  std::lock_guard lock(mu_);
  result_.wall_s = Seconds(std::chrono::steady_clock::now() - t0_);
  return result_;
}

void BackgroundWrites::Writer(size_t node, std::string api_url) {
  const auto period = std::chrono::duration<double>(1.0 / per_second_);
  std::unique_ptr<scale::ApiConnection> api;
  std::string created_id;  // the name to delete next, if the create worked
  Summary mine;
  auto fail = [&](const std::string& why) {
    ++mine.failed;
    if (mine.first_error.empty()) mine.first_error = fmt::format("node {}: {}", node + 1, why);
  };
  // This node's writes are w = node, node + n, node + 2n, ... of the whole.
  for (long m = 0;; ++m) {
    const bool create = m % 2 == 0;
    // Stops only after a delete, so the name count is as before.
    if (stop_.load() && create) break;
    const auto due =
        t0_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                  period * static_cast<double>(node + static_cast<size_t>(m) * nodes_));
    std::this_thread::sleep_until(due);
    const auto start = std::chrono::steady_clock::now();
    mine.max_lag_ms = std::max(mine.max_lag_ms, Ms(start - due));
    try {
      if (!api) api = std::make_unique<scale::ApiConnection>(api_url, data_.api_key);
      if (create) {
        created_id = api->CreateDomain(fmt::format("w{}-{:07}.bench.example", node + 1, m / 2),
                                       data_.wildcard_id);
      } else if (!created_id.empty()) {
        api->DeleteDomain(created_id);
        created_id.clear();
      } else {
        continue;  // its create failed: nothing to delete
      }
      ++mine.writes;
      mine.api_ms.push_back(Ms(std::chrono::steady_clock::now() - start));
    } catch (const std::exception& e) {
      fail(e.what());
      if (create) created_id.clear();
      api.reset();  // a new connection for the next write
    }
  }
  std::lock_guard lock(mu_);
  result_.writes += mine.writes;
  result_.failed += mine.failed;
  if (result_.first_error.empty()) result_.first_error = mine.first_error;
  result_.max_lag_ms = std::max(result_.max_lag_ms, mine.max_lag_ms);
  result_.api_ms.insert(result_.api_ms.end(), mine.api_ms.begin(), mine.api_ms.end());
}

}  // namespace certgate::bench::cluster
