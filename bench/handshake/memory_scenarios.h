// What connections cost a server in memory: the idle scenario (TLS
// connections kept open after one request) and the silent one (TCP
// connections that never send a ClientHello). Both read the server's VmRSS
// (and Pss) before, with, and (silent) after the connections.
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "common/proc_stats.h"
#include "handshake/bench_pki.h"
#include "handshake/handshake_options.h"
#include "handshake/load_generator.h"
#include "handshake/servers.h"

namespace certgate::bench::handshake {

struct IdleResult {
  std::string label;
  int opened = 0;       // connections kept open, in all
  int first_batch = 0;  // of which opened before the `middle` reading
  int still_open = 0;
  Memory before;  // the idle baseline
  Memory middle;  // after the first fifth
  Memory with;    // with all of them
  double open_s = 0;
  double PerConnKb() const { return (with.rss_kb - before.rss_kb) / std::max(1, opened); }
  double PerConnPssKb() const { return (with.pss_kb - before.pss_kb) / std::max(1, opened); }
  // The last four fifths only: heap the server freed after the handshake
  // rounds is reused by the first connections and hides their cost.
  double MarginalKb() const {
    return (with.rss_kb - middle.rss_kb) / std::max(1, opened - first_batch);
  }
};

// Opens --idle TLS connections (handshake, one keep-alive request
// answered), a fifth first, then the rest.
IdleResult MeasureIdle(Server& s, LoadGenerator& load, const Pki& pki, const Options& o);

struct SilentResult {
  std::string label;
  int opened = 0;
  int still_open = 0;
  Memory before;  // the baseline
  Memory with;    // with all of them open
  Memory after;   // once they were closed again
  double PerConnBytes() const { return (with.rss_kb - before.rss_kb) * 1024 / std::max(1, opened); }
};

// Connections that connect and send nothing: what each costs the server
// before a ClientHello arrives, and whether the memory goes back after.
SilentResult MeasureSilent(Server& s, const Options& o);

}  // namespace certgate::bench::handshake
