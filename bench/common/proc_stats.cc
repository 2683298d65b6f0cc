#include "common/proc_stats.h"

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "support/process.h"

namespace certgate::bench {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;

double KbField(const std::string& text, std::string_view field) {
  size_t pos = text.find(field);
  if (pos == std::string::npos) return 0;
  return std::strtod(text.c_str() + pos + field.size(), nullptr);
}

}  // namespace

std::vector<pid_t> ProcessTree(pid_t root) {
  std::vector<pid_t> out{root};
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::string stat = ReadFile(entry.path() / "stat");
    size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream in(stat.substr(close + 2));
    std::string state;
    long ppid = 0;
    in >> state >> ppid;
    if (ppid == root) out.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return out;
}

double CpuSeconds(pid_t pid) {
  std::string stat = ReadFile(fmt::format("/proc/{}/stat", pid));
  size_t close = stat.rfind(')');
  if (close == std::string::npos) {
    throw std::runtime_error(fmt::format("cannot read /proc/{}/stat", pid));
  }
  std::istringstream in(stat.substr(close + 2));
  std::string field;
  // Fields after the command: 3 state ... 14 utime, 15 stime.
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15; ++i) {
    in >> field;
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double CpuSeconds(const std::vector<pid_t>& pids) {
  double sum = 0;
  for (pid_t p : pids) sum += CpuSeconds(p);
  return sum;
}

double PreciseCpuSeconds(pid_t pid) {
  clockid_t clock{};
  timespec ts{};
  if (::clock_getcpuclockid(pid, &clock) != 0 || ::clock_gettime(clock, &ts) != 0) {
    return CpuSeconds(pid);
  }
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double ChildrenCpuSeconds() {
  rusage ru{};
  ::getrusage(RUSAGE_CHILDREN, &ru);
  auto sec = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

Memory MemoryOf(const std::vector<pid_t>& pids) {
  Memory m;
  for (pid_t p : pids) {
    m.rss_kb += KbField(ReadFile(fmt::format("/proc/{}/status", p)), "VmRSS:");
    m.pss_kb += KbField(ReadFile(fmt::format("/proc/{}/smaps_rollup", p)), "\nPss:");
  }
  return m;
}

CpuTimes ReadCpuTimes() {
  CpuTimes t;
  std::istringstream in(ReadFile("/proc/stat"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("cpu", 0) != 0) continue;
    std::istringstream ls(line);
    std::string name;
    ls >> name;
    unsigned long long v[8] = {};
    for (auto& x : v) ls >> x;
    unsigned long long total = 0;
    for (auto x : v) total += x;
    t.by_cpu[name] = {total, v[7]};
  }
  return t;
}

IdleTimes ReadIdleTimes() {
  IdleTimes t;
  std::istringstream in(ReadFile("/proc/stat"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("cpu", 0) != 0) continue;
    std::istringstream fields(line);
    std::string name;
    fields >> name;
    unsigned long long v[8] = {};
    for (auto& x : v) fields >> x;
    unsigned long long total = 0;
    for (auto x : v) total += x;
    t[name] = {total, v[3] + v[4]};
  }
  return t;
}

std::optional<double> StealPercent(const CpuTimes& before, const CpuTimes& after,
                                   const std::string& cpu) {
  auto ia = before.by_cpu.find(cpu);
  auto ib = after.by_cpu.find(cpu);
  if (ia == before.by_cpu.end() || ib == after.by_cpu.end()) return std::nullopt;
  const auto total = static_cast<double>(ib->second.first - ia->second.first);
  const auto steal = static_cast<double>(ib->second.second - ia->second.second);
  if (total <= 0) return std::nullopt;
  return 100 * steal / total;
}

}  // namespace certgate::bench
