// cluster_bench's results per name count, and the table printed from them.
#pragma once

#include <string>
#include <vector>

#include "cluster/cluster_nodes.h"
#include "cluster/cluster_options.h"
#include "cluster/propagation.h"
#include "common/proc_stats.h"

namespace certgate::bench::cluster {

// A phase's context: its wall time, what the nodes and PostgreSQL spent,
// and how busy each cpu was and what it lost to steal (the machine is
// shared: other work shows there).
struct PhaseContext {
  std::string name;
  double wall_s = 0;
  std::vector<double> node_cpu_s;  // empty where the nodes come and go
  double pg_cpu_s = -1;            // < 0 where PostgreSQL's sessions come and go
  CpuTimes before, after;
  IdleTimes idle_before, idle_after;
};

struct CountResult {
  int names = 0;
  double load_s = 0;                           // the direct store load
  double analyze_s = 0;                        // VACUUM ANALYZE after it
  std::vector<std::vector<NodeStart>> starts;  // [round][node]
  std::vector<ChangeSample> alone;
  std::vector<ChangeSample> loaded;  // under the background writes
  bool under_load = false;
  BackgroundWrites::Summary load;
  std::vector<PhaseContext> phases;
};

void PrintReport(const Options& o, const std::string& postgres,
                 const std::vector<CountResult>& counts);

}  // namespace certgate::bench::cluster
