// A TCP relay on 127.0.0.1 in front of a port (a certgate node's HTTP
// listener, where Pebble sends HTTP-01 checks) that can hold connections:
// while held, a check stays connected and unanswered, so an order is
// certainly in flight for as long as a test needs (no timing luck).
// Released, it relays held and new connections.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace certgate::testing {

class HoldingRelay {
 public:
  // Throws std::runtime_error when it cannot listen.
  explicit HoldingRelay(uint16_t target_port);
  ~HoldingRelay();
  HoldingRelay(const HoldingRelay&) = delete;
  HoldingRelay& operator=(const HoldingRelay&) = delete;

  uint16_t port() const { return port_; }
  void Hold();
  void Release();
  // Connections that arrived while held and are waiting.
  int waiting();

 private:
  void AcceptLoop();
  void Serve(int client);

  const uint16_t target_port_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread accept_thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;                 // GUARDED_BY(mu_)
  bool stopping_ = false;             // GUARDED_BY(mu_)
  int waiting_ = 0;                   // GUARDED_BY(mu_)
  std::vector<std::thread> workers_;  // GUARDED_BY(mu_) for emplace
};

}  // namespace certgate::testing
