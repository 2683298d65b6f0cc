// How handshake_bench runs a peer TLS server (HAProxy, nginx): configured
// as shipped but for what the comparison needs — one worker pinned to one
// cpu, TLS 1.2-1.3, one key-exchange group, a fixed 200 answer — with
// everything it writes inside its own directory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace certgate::bench {

struct TlsPeerSpec {
  std::string binary;         // a path
  std::filesystem::path dir;  // exists; its config, logs and state go here
  uint16_t port = 0;          // on 127.0.0.1
  int cpu = 0;
  std::string group = "X25519";
  long maxconn = 1000;
  // The names served, and for each its chain followed by its key (PEM).
  // The first is the default for a ClientHello without a known name.
  std::vector<std::string> names;
  std::vector<std::filesystem::path> pem_files;
  // Session tickets off, as far as the server's configuration allows.
  bool no_tickets = false;
};

}  // namespace certgate::bench
