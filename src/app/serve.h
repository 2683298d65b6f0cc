// `certgate serve`: the composition root. Opens the local state, prepares a
// first start, runs the API and the edge until SIGTERM or SIGINT, then shuts
// down gracefully (requests in progress finish, for at most 10 s).
#pragma once

#include <string>

#include "app/local_state.h"

namespace certgate::app {

struct ServeOptions {
  LocalOptions local;
  std::string api_listen = "127.0.0.1:4280";
  std::string https_listen = ":443";
  std::string http_listen = ":80";
  int edge_workers = 0;  // 0: one per core
  int handshake_timeout_seconds = 10;
  int idle_timeout_seconds = 60;
  int max_connections = 100000;
  int context_cache = 20000;
  int session_tickets = 1;
  std::string api_url;  // public base URL for "uri" fields; empty: from Host
  std::string base_domain = "certgate.localhost";
  int api_workers = 4;
};

// Returns the process exit code. Prints to stdout: the first account's API
// key on a first start, the listening addresses, then "certgate ready".
int RunServe(const ServeOptions& options);

}  // namespace certgate::app
