// The certgate nodes cluster_bench measures: one database per name count,
// prepared once (node 1 alone makes the store and takes the certificates
// through its API; the names go in by a direct store load), and every node
// started at once on it, as often as the rounds need, each timed until its
// edge serves the last name.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <sys/types.h>

#include "cluster/cluster_options.h"
#include "common/interrupt_guard.h"
#include "scale/scale_pki.h"
#include "scale/tls_probe.h"
#include "support/certgate_server.h"

namespace certgate::bench::cluster {

// What every node of one count's cluster shares.
struct ClusterData {
  int names = 0;
  std::string conninfo;       // --store
  std::string master_key;     // CERTGATE_MASTER_KEY
  std::filesystem::path dir;  // node i's --data-dir is dir/node<i>, from 1
  std::string api_key;        // the first account's, printed by node 1's first start
  std::string account_id;
  std::string wildcard_id;              // *.bench.example, which every loaded name points at
  std::vector<std::string> change_ids;  // pki.changes, uploaded in order
  std::string last_name;                // the last loaded name
};

// Node 1 alone on the fresh database conninfo: starts it, uploads pki's
// certificates through its API, stops it. No names yet.
ClusterData PrepareCluster(const Options& o, const std::string& master_key,
                           const scale::ScalePki& pki, std::string conninfo,
                           const std::filesystem::path& dir);

// The direct store load, while no node runs: `names` reserved domains
// scale::LoadedName(0..) on the wildcard, each what POST /reserved_domains
// {"domain", "certificate_id"} stores (a fresh "rd" id, created now, the
// API's defaults from api::SetDomainDefaults: a cname_target under the base
// domain; name_key from store::NameKey). Sets data.names and
// data.last_name; returns the seconds it took.
//
// With o.copy_load, the rows are written to csv and COPYed into
// reserved_domains in one transaction by copy(csv) (psql's \copy): the
// table's triggers record every row in the change feed as for any insert,
// but the store's ownership checks are skipped (the names are distinct and
// all of one account), as scale_bench's SQLite load skips them. Otherwise
// through the store API (store::OpenStore, DomainStore::InsertDomains, the
// path `certgate admin domains import` takes: every check, o.batch names a
// transaction), which PostgreSQL takes at a few hundred to a thousand names
// a second here, too slow for 100,000 names in a bounded run.
double DirectStoreLoad(const Options& o, ClusterData& data, int names,
                       const std::filesystem::path& csv,
                       const std::function<void(const std::filesystem::path&)>& copy);

// One node's start: seconds from the launch of every node until its edge
// served the last name, and its CPU seconds by then.
struct NodeStart {
  double serving_s = 0;
  double cpu_s = 0;
};

class Cluster {
 public:
  // Launches every node at once (CertgateServer::StartTogether, from this
  // thread) while a probe thread per node handshakes with SNI
  // data.last_name on its edge, 2 ms apart, until the wildcard's serial
  // comes; returns once every node serves it. Throws std::runtime_error,
  // with the node's log, when one does not within 5 minutes.
  static std::unique_ptr<Cluster> Start(const Options& o, const ClusterData& data,
                                        const scale::ScalePki& pki, const scale::TlsProbe& probe,
                                        std::vector<NodeStart>& starts);
  ~Cluster();

  size_t size() const { return nodes_.size(); }
  uint16_t https_port(size_t i) const { return ports_[i]; }
  const std::string& api_url(size_t i) const { return nodes_[i]->api_url(); }
  pid_t pid(size_t i) const;
  // Throws unless every node still runs.
  void CheckAlive() const;
  // SIGTERM to every node, then SIGKILL after 20 s.
  void Stop();
  // Throws std::runtime_error with what and the tail of node i's log.
  [[noreturn]] void Failed(size_t i, const std::string& what) const;

 private:
  Cluster() = default;
  std::vector<std::unique_ptr<testing::CertgateServer>> nodes_;
  std::vector<uint16_t> ports_;
  // Declared last: unregistered before the processes go.
  std::vector<std::unique_ptr<KillOnInterrupt>> guards_;
};

}  // namespace certgate::bench::cluster
