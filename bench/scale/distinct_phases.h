// What scale_bench measures on a server whose names each have their own
// certificate (issue 17, section 5), beyond the phases every server goes
// through: the first handshake on a cold name (one whose certificate
// context the edge has not built yet: read, unseal, parse, build) against
// the same names warm, whether handshakes to a warm name wait while cold
// contexts are being built, and the server's memory after handshakes to
// many distinct names (the edge's context cache is bounded). Each returns
// raw samples; distinct_report.cc takes the percentiles.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "scale/distinct_pki.h"
#include "scale/scale_server.h"
#include "scale/tls_probe.h"

namespace certgate::bench::scale {

// The loaded names of a distinct server not handshaked yet, in a random
// order: the names from first_live on (the change bursts deleted those
// before), but the last, which the starts handshaked.
class NamePool {
 public:
  NamePool(int first_live, int names, uint64_t seed);
  // The next cold name's index, or nullopt when none is left.
  std::optional<size_t> Take();
  // Every name of the pool in its order, taken or not.
  const std::vector<size_t>& order() const { return order_; }

 private:
  std::vector<size_t> order_;
  size_t next_ = 0;
};

// Handshakes one at a time, each with "GET /" and read until the server
// closed (TlsProbe::ProbeAndRequest), so that the server's CPU read after
// each holds all its work on that connection.
struct HandshakeSamples {
  std::vector<double> cpu_ms;   // the server's CPU from before connect() until it closed
  std::vector<double> wall_ms;  // connect() to the handshake's end
  int failed = 0;               // no handshake, or not the name's own certificate
  std::string first_error;
};

struct ColdResult {
  HandshakeSamples cold;  // the first handshake on each name
  HandshakeSamples warm;  // the same names again, their contexts cached
  std::vector<size_t> names;
};
// `count` cold names from the pool, one at a time, then the same again.
ColdResult ColdHandshakes(const ScaleServer& s, const DistinctPki& pki, NamePool& pool, int count,
                          const TlsProbe& probe);

// Handshakes to one warm name, one at a time, timed (connect to the
// handshake's end) while a second client thread keeps the server busy
// with background handshakes of one kind.
struct StallMode {
  std::string background;         // "none", "warm", "cold"
  std::vector<double> wall_ms;    // the warm name's handshakes
  int background_handshakes = 0;  // done meanwhile
  int failed = 0;                 // either thread's
  double wall_s = 0;
};
// Per round, `samples / rounds` timed handshakes under each background in
// turn: none; warm (handshakes cycling over the other warm names); cold
// (handshakes to fresh names from the pool, each building a context).
// Returns one StallMode per background, the rounds pooled.
std::vector<StallMode> StallCheck(const ScaleServer& s, const DistinctPki& pki,
                                  const std::vector<size_t>& warm, NamePool& pool, int samples,
                                  int rounds, const TlsProbe& probe);

struct RssPoint {
  int names = 0;  // distinct names handshaked so far
  double rss_kb = 0;
};
struct ManyNamesResult {
  int handshaked = 0;
  int failed = 0;
  std::vector<RssPoint> points;  // VmRSS every `step` names and at the end
  double hwm_kb = 0;             // VmHWM at the end
  double wall_s = 0;
  double cpu_s = 0;  // the server's
};
// One handshake (no request) with each of names, from `threads` client
// threads at once, checking each serves its own certificate; reads the
// server's VmRSS every `step` names.
ManyNamesResult HandshakeManyNames(const ScaleServer& s, const DistinctPki& pki,
                                   const std::vector<size_t>& names, int threads, int step,
                                   const TlsProbe& probe);

}  // namespace certgate::bench::scale
