// handshake_bench's load generator: non-blocking OpenSSL clients on one
// epoll loop, each a new SSL (a full handshake, no session reuse) that sends
// one "GET /" and reads the answer; the SNI is fixed, random or in a given
// order, and the connections close or stay open (the idle scenario).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <openssl/ssl.h>

#include "pki/ossl_ptr.h"

namespace certgate::bench::handshake {

using Clock = std::chrono::steady_clock;

struct Conn {
  int fd = -1;
  SSL* ssl = nullptr;
  enum State { kConnecting, kHandshake, kWriting, kReading, kDone } state = kConnecting;
  uint32_t events = 0;
  size_t name = 0;
  std::string request;
  size_t sent = 0;
  std::string response;
  int tickets = 0;
  Clock::time_point started;
};

// TLS 1.3 only, the bench's group and cipher suite, no chain verification
// (the name is checked with X509_check_host), tickets counted and dropped.
certgate::pki::SslCtxPtr MakeClientContext();

struct LoadSpec {
  uint16_t port = 0;
  int total = 0;
  int concurrency = 50;
  const std::vector<std::string>* names = nullptr;
  // Which name each connection uses: fixed, uniformly random, or a given
  // order (the first pass over every name).
  enum class Sni { kFixed, kRandom, kOrder } sni = Sni::kFixed;
  size_t fixed = 0;
  size_t name_count = 1;  // the first name_count names, for kRandom
  const std::vector<size_t>* order = nullptr;
  std::mt19937_64* rng = nullptr;
  // Keep each connection open after its response (the idle scenario).
  bool keep_alive = false;
  std::chrono::seconds timeout{30};
};

struct LoadResult {
  int ok = 0;
  int failed = 0;
  int status_200 = 0;
  int status_404 = 0;
  int status_other = 0;
  int wrong_certificate = 0;
  long tickets = 0;
  double wall_s = 0;
  std::string first_error;
  std::vector<std::unique_ptr<Conn>> kept;  // keep_alive: the open connections
};

void CloseConn(Conn& c);
void CloseAll(std::vector<std::unique_ptr<Conn>>& conns);

class LoadGenerator {
 public:
  explicit LoadGenerator(SSL_CTX* ctx) : ctx_(ctx) {}

  // Makes spec.total connections, spec.concurrency at a time; a connection
  // that fails is counted, not thrown.
  LoadResult Run(const LoadSpec& spec);

 private:
  SSL_CTX* ctx_;
};

}  // namespace certgate::bench::handshake
