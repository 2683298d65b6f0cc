// scale_bench's command line: which name counts, how many changes and
// creates, how long the DNS load runs, and where certgate is.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#ifndef CERTGATE_DEFAULT_BINARY
#define CERTGATE_DEFAULT_BINARY "certgate"
#endif

namespace certgate::bench::scale {

struct Options {
  // The name counts measured; a server with 0 names always runs beside them
  // as the baseline the per-name figures subtract.
  std::vector<int> names = {10000, 100000};
  // The distinct-certificates scenario (issue 17, section 5): N names, each
  // with its own certificate, for each N; none by default.
  std::vector<int> distinct_certs;
  int cold_handshakes = 1000;   // cold names handshaked one at a time, per server
  int stall_samples = 400;      // warm handshakes timed per background load
  int handshake_names = 25000;  // distinct names handshaked before "RSS after handshakes"
  bool peers = true;            // HAProxy and nginx with the same certificates
  int peer_rounds = 1;          // starts of each peer (and of certgate beside it) per N
  std::string haproxy = "haproxy";
  std::string nginx = "nginx";
  int rounds = 3;             // start rounds, and bursts per server, interleaved
  int latency_changes = 200;  // one change -> served samples per server
  int changes = 1000;         // API changes per server for CPU/change and RSS after
  int clients = 16;           // concurrent keep-alive API clients
  int creates = 5000;         // domain creates per server across the rounds
  int dns_seconds = 3;        // DNS load per server and round
  int dns_concurrency = 32;   // queries in flight
  int server_cpu = 0;
  int client_cpu = 1;
  bool keep_temp = false;
  uint64_t seed = 1;
  std::string certgate = CERTGATE_DEFAULT_BINARY;
  // Added to every `certgate serve` (--serve-arg, repeatable), after the
  // bench's own; plus what scale_bench adds for the binary it found (see
  // LoadOnlyArgs in scale_bench.cc).
  std::vector<std::string> serve_args;
};

// Parses the command line; --help prints the help text and exits 0. Throws
// std::invalid_argument with a message for a bad flag.
Options ParseOptions(int argc, char** argv);

}  // namespace certgate::bench::scale
