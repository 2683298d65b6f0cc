// handshake_bench's report: the tables of medians and ratios for each
// scenario that ran, and the targets as far as the run measured them.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/proc_stats.h"
#include "handshake/handshake_options.h"
#include "handshake/measurement.h"
#include "handshake/memory_scenarios.h"
#include "handshake/servers.h"

namespace certgate::bench::handshake {

// The servers of a run: with one name, with --names names, and the peers
// with session tickets off (one name).
struct ServerGroups {
  std::vector<Server> one;
  std::vector<Server> many;
  std::vector<Server> ticket_variants;
};

// What a run measured, by label ("certgate", "haproxy 10000",
// "libssl ceiling, 2 tickets", ...).
struct HandshakeResults {
  std::map<std::string, Series> series;
  std::vector<int> ceiling_tickets;  // the ceiling rows that ran
  std::map<std::string, Sample> first_pass;
  std::map<std::string, Memory> after_first_pass;
  std::vector<IdleResult> idle;
  std::vector<SilentResult> silent;
  double libssl_idle = 0;  // bytes
  CpuTimes rounds_start;
  CpuTimes rounds_end;
};

// "libssl ceiling, 1 ticket"
std::string CeilingLabel(int tickets);

// "cpu0 (servers) 3%, cpu1 (load) 5%, all 4%" between two readings.
std::string StealSummary(const CpuTimes& a, const CpuTimes& b, const Options& o);

// a/b as the median of the per-round ratios of their rates (0 when either
// is missing).
double PairedRatio(const std::map<std::string, Series>& series, const std::string& a,
                   const std::string& b);

// Prints the tables to stdout.
void PrintReport(const Options& o, const ServerGroups& servers, const HandshakeResults& res);

}  // namespace certgate::bench::handshake
