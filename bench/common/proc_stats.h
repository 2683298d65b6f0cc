// Figures the benchmarks read from /proc: a process's CPU seconds and
// memory, its direct children, and the machine's steal time.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <sys/types.h>

namespace certgate::bench {

// The process and its direct children (nginx: master and worker).
std::vector<pid_t> ProcessTree(pid_t root);

// utime + stime, in seconds, of a process (all its threads, living and
// exited); throws std::runtime_error when /proc/<pid>/stat is unreadable.
double CpuSeconds(pid_t pid);
double CpuSeconds(const std::vector<pid_t>& pids);

// utime + stime of every child this program has waited for.
double ChildrenCpuSeconds();

struct Memory {
  double rss_kb = 0;
  double pss_kb = 0;  // 0 when smaps_rollup is unreadable
};
// VmRSS and Pss summed over the processes.
Memory MemoryOf(const std::vector<pid_t>& pids);

// Jiffies per line of /proc/stat ("cpu" is the sum, "cpu0", "cpu1", ...):
// total and steal.
struct CpuTimes {
  std::map<std::string, std::pair<unsigned long long, unsigned long long>> by_cpu;
};
CpuTimes ReadCpuTimes();

// Steal as a percentage of the cpu's time between two readings; nullopt
// when the cpu is missing or no time passed. cpu is "cpu" for all of them.
std::optional<double> StealPercent(const CpuTimes& before, const CpuTimes& after,
                                   const std::string& cpu = "cpu");

}  // namespace certgate::bench
