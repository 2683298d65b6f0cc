// scale_bench's results per name count, and the tables printed from them.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/proc_stats.h"
#include "common/report.h"
#include "scale/scale_options.h"

namespace certgate::bench::scale {

// A batch of API writes: how many, the server's CPU, the wall-clock time.
struct Batch {
  int count = 0;
  double cpu_s = 0;
  double wall_s = 0;
};

// Per unit over all batches together: a cost that comes once in a while
// (the edge re-sharding its names as they grow eightfold, O(n))
// lands in one batch, and a median of batches would hide it.
double CpuMsPerUnit(const std::vector<Batch>& batches);
double UnitsPerSecond(const std::vector<Batch>& batches);

// One server's figures; every vector holds one value per round or sample.
struct Row {
  int names = 0;
  bool distinct = false;  // each name has its own certificate
  double load_s = 0;  // direct store load
  std::vector<double> start_s;
  std::vector<double> ready_s;      // launch to "certgate ready" (context)
  std::vector<double> start_cpu_s;  // the server's CPU until serving (context)
  std::vector<double> rss_cold_kb;
  std::vector<double> latency_ms;  // change -> served
  int latency_failed = 0;          // not served within 30 s
  std::vector<Batch> bursts;       // the CPU/change bursts
  int changes_before_rss = 0;      // API changes made when rss_after_kb was read
  double rss_after_kb = 0;
  double hwm_after_kb = 0;
  std::vector<Batch> create_rounds;
  std::vector<double> nx_per_s;      // wall
  std::vector<double> nx_per_cpu_s;  // per server CPU-second
  long dns_other = 0;
  long dns_lost = 0;
};

struct Phase {
  std::string name;
  CpuTimes before;
  CpuTimes after;
  IdleTimes idle_before;
  IdleTimes idle_after;
  // The measured servers' CPU seconds over the phase, and its wall time;
  // server_cpu_s < 0 where the servers come and go (setup, starts).
  double server_cpu_s = -1;
  double wall_s = 0;
};

// "12.3 MB" for kilobytes.
std::string Mb(double kb);
// A row's first column: "0 (base)", "100,000", "100,000 certs".
std::string RowLabel(const Row& row);

// rows[0] is the baseline (0 names).
void PrintReport(const Options& o, const std::vector<Row>& rows, const std::vector<Phase>& phases);

}  // namespace certgate::bench::scale
