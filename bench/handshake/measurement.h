// One batch of connections against a server, measured: the server's CPU
// seconds around it (/proc), what succeeded, the wall-clock time; and a
// series of those over the interleaved rounds, with its medians.
#pragma once

#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/report.h"
#include "handshake/load_generator.h"
#include "handshake/servers.h"

namespace certgate::bench::handshake {

struct Sample {
  double cpu_s = 0;
  int ok = 0;
  int failed = 0;
  double wall_s = 0;
  long tickets = 0;
  int wrong = 0;
  int status_other = 0;
  double rate() const { return cpu_s > 0 ? ok / cpu_s : 0; }
  double wall_rate() const { return wall_s > 0 ? ok / wall_s : 0; }
};

struct Series {
  std::vector<Sample> samples;
  std::vector<double> Rates() const {
    std::vector<double> v;
    for (const auto& s : samples) v.push_back(s.rate());
    return v;
  }
  double MedianRate() const { return Median(Rates()); }
  double MedianWall() const {
    std::vector<double> v;
    for (const auto& s : samples) v.push_back(s.wall_rate());
    return Median(v);
  }
  // How busy the server's cpu was: its CPU-seconds per wall-clock second.
  double MedianBusy() const {
    std::vector<double> v;
    for (const auto& s : samples) v.push_back(s.wall_s > 0 ? s.cpu_s / s.wall_s : 0);
    return Median(v);
  }
  double TicketsPerConn() const {
    long t = 0;
    long n = 0;
    for (const auto& s : samples) {
      t += s.tickets;
      n += s.ok;
    }
    return n > 0 ? static_cast<double>(t) / static_cast<double>(n) : 0;
  }
  int Failed() const {
    int f = 0;
    for (const auto& s : samples) f += s.failed + s.wrong + s.status_other;
    return f;
  }
  std::string Rounds() const {
    std::vector<std::string> v;
    for (const auto& s : samples) v.push_back(fmt::format("{:.0f}", s.rate()));
    return fmt::format("{}", fmt::join(v, " "));
  }
};

// Runs spec against s and reads s's CPU seconds before and after; warns on
// failures, throws when nothing succeeded or the server died.
Sample Measure(Server& s, LoadGenerator& load, const LoadSpec& spec);

}  // namespace certgate::bench::handshake
