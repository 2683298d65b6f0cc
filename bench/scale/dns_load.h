// A small DNS load generator for scale_bench: A queries over UDP for random
// one-label names under a zone ("k3x9q0m2zt.<zone>", none of which exist),
// a fixed number in flight, each answer (matched by id) replaced by a new
// query at once. Packets are written and read by hand (RFC 1035 header and
// question; no EDNS). Single-threaded; runs on the calling thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <string>

namespace certgate::bench::scale {

struct DnsLoadSpec {
  uint16_t port = 0;  // on 127.0.0.1
  std::string zone;
  std::chrono::milliseconds duration{3000};
  int concurrency = 32;
  // A query unanswered this long counts as lost and is replaced.
  std::chrono::milliseconds timeout{1000};
};

struct DnsLoadResult {
  long sent = 0;
  long nxdomain = 0;      // within the duration
  long other = 0;         // answers with another rcode (NOERROR, SERVFAIL, ...)
  long lost = 0;          // unanswered within the timeout
  long late = 0;          // answered after the duration, while draining
  double wall_s = 0;      // the duration as it ran
  double load_cpu_s = 0;  // this thread's CPU over the duration: is the generator the limit?
};

DnsLoadResult RunDnsLoad(const DnsLoadSpec& spec, std::mt19937_64& rng);

}  // namespace certgate::bench::scale
