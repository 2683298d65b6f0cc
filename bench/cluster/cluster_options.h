// cluster_bench's command line: the name counts, the nodes, how many starts
// and changes, the background write rate, the database's durability, and
// where certgate is.
#pragma once

#include <string>
#include <vector>

#ifndef CERTGATE_DEFAULT_BINARY
#define CERTGATE_DEFAULT_BINARY "certgate"
#endif

namespace certgate::bench::cluster {

struct Options {
  std::vector<int> names = {10000, 100000};  // a cluster (and a database) per count
  int nodes = 3;
  int rounds = 3;           // starts of the whole cluster per count
  int changes = 200;        // change -> served samples per count, alone and again under load
  int change_gap_ms = 100;  // mean pause after each change (uniform, half to 1.5 times)
  int load_writes = 50;     // background API writes a second, spread over the nodes
  bool copy_load = true;    // --load=copy (PostgreSQL COPY), else --load=store (store API)
  int batch = 5000;         // names per transaction in --load=store
  bool fsync = true;        // PostgreSQL's fsync and full_page_writes
  int server_cpu = 0;       // nodes and PostgreSQL; -1: nothing pinned
  int client_cpu = 1;       // this program (probes, API clients)
  bool keep_temp = false;
  std::string certgate = CERTGATE_DEFAULT_BINARY;
  std::vector<std::string> serve_args;  // --serve-arg, after the bench's own
};

// Parses the command line; --help prints the help text and exits 0. Throws
// std::invalid_argument with a message for a bad flag.
Options ParseOptions(int argc, char** argv);

}  // namespace certgate::bench::cluster
