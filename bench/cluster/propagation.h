// How fast a change made through one node's API is served by every node's
// edge, and the background API writes that load the cluster meanwhile.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster/cluster_nodes.h"
#include "scale/api_connection.h"
#include "scale/scale_pki.h"
#include "scale/tls_probe.h"

namespace certgate::bench::cluster {

// One change, timed on every node.
struct ChangeSample {
  size_t via = 0;               // the node whose API took the write
  double api_ms = 0;            // the POST, until its 201
  std::vector<double> node_ms;  // per node, from the 201 until served; < 0: not within 30 s
  // The slowest node's time; < 0 when a node never served it.
  double Slowest() const;
};

// Makes change k: POST /reserved_domains for c<k>.chg.bench.example with
// change certificate k % 4 through node via's API (apis[via]), then probes
// every node at once (a thread each) with handshakes 5 ms apart, until each
// presents that certificate for that name (its serial compared). The
// handshakes cost the server cpu, which the nodes applying the change
// share: the gap keeps the probes to about a third of it, for a resolution
// of about 5 to 7 ms.
ChangeSample ChangeToServedEverywhere(const Cluster& cluster,
                                      std::vector<std::unique_ptr<scale::ApiConnection>>& apis,
                                      const ClusterData& data, const scale::ScalePki& pki,
                                      const scale::TlsProbe& probe, int k, size_t via);

// Background API writes at a fixed total rate, spread over the nodes: one
// thread and keep-alive connection per node, each on its own schedule
// (write w of the whole at w / rate seconds), alternating a create of a
// fresh name under bench.example on the wildcard and its delete, so the
// name count stays as it was. A write that falls behind its time goes at
// once (the lag is recorded); failures are counted, not fatal.
class BackgroundWrites {
 public:
  struct Summary {
    int writes = 0;  // answered as expected
    int failed = 0;
    std::string first_error;
    double wall_s = 0;
    double max_lag_ms = 0;       // how late against the schedule a write went at worst
    std::vector<double> api_ms;  // each answered write's request, until its response
  };

  BackgroundWrites(const Cluster& cluster, const ClusterData& data, int per_second);
  ~BackgroundWrites();
  BackgroundWrites(const BackgroundWrites&) = delete;
  BackgroundWrites& operator=(const BackgroundWrites&) = delete;

  // Stops the writers (a create in flight gets its delete) and returns
  // what they did.
  Summary Stop();

 private:
  void Writer(size_t node, std::string api_url);

  const ClusterData& data_;
  const int per_second_;
  const size_t nodes_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  Summary result_;  // GUARDED_BY(mu_)
  std::chrono::steady_clock::time_point t0_;
  std::vector<std::thread> threads_;
};

}  // namespace certgate::bench::cluster
