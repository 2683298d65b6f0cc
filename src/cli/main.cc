#include <csignal>

#include "cli/cli.h"

int main(int argc, char** argv) {
  // Peers close connections whenever they like; a write to one must fail
  // with EPIPE, not kill the process (OpenSSL's socket BIO uses plain write).
  std::signal(SIGPIPE, SIG_IGN);
  return certgate::cli::Main(argc, argv);
}
