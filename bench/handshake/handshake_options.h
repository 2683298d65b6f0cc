// handshake_bench's command line: what to run, how long, and where.
#pragma once

#include <cstdint>
#include <set>
#include <string>

#ifndef CERTGATE_DEFAULT_BINARY
#define CERTGATE_DEFAULT_BINARY "certgate"
#endif

namespace certgate::bench::handshake {

struct Options {
  int rounds = 7;
  int connections = 2000;  // per server and round
  int concurrency = 50;
  int names = 10000;
  int idle = 5000;
  int ceiling_handshakes = 1000;  // per ticket setting and round
  int upload_threads = 8;
  int server_cpu = 0;
  int client_cpu = 1;
  bool nginx_names = true;
  bool ticket_variants = true;
  bool keep_temp = false;
  uint64_t seed = 1;
  std::set<std::string> only = {"certgate", "haproxy", "nginx", "ceiling"};
  std::set<std::string> scenarios = {"handshake", "names", "idle", "silent"};
  std::string certgate = CERTGATE_DEFAULT_BINARY;
  std::string haproxy = "haproxy";
  std::string nginx = "nginx";
};

// Parses the command line; --help prints the help text and exits 0. Throws
// std::invalid_argument with a message for a bad flag.
Options ParseOptions(int argc, char** argv);

}  // namespace certgate::bench::handshake
