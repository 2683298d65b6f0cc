// Figures the benchmarks read from /proc: a process's CPU seconds and
// memory, its direct children, and the machine's cpus: how busy, and their
// steal time.
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

// The process's CPU seconds (all its threads, living and exited) to the
// nanosecond, from its CPU-time clock (clock_getcpuclockid): a burst of a
// few hundred changes costs a few dozen of /proc/<pid>/stat's 10 ms ticks,
// too coarse to compare servers by. Falls back to CpuSeconds (ticks).
double PreciseCpuSeconds(pid_t pid);

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

// Jiffies per cpu line of /proc/stat ("cpu0", ...): total and idle
// (idle + iowait), to tell how busy each cpu was, whoever kept it busy (the
// machine is shared: other work on the server's cpu shows here).
using IdleTimes = std::map<std::string, std::pair<unsigned long long, unsigned long long>>;
IdleTimes ReadIdleTimes();

// Steal as a percentage of the cpu's time between two readings; nullopt
// when the cpu is missing or no time passed. cpu is "cpu" for all of them.
std::optional<double> StealPercent(const CpuTimes& before, const CpuTimes& after,
                                   const std::string& cpu = "cpu");

}  // namespace certgate::bench
