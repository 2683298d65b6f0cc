// A webhook receiver for tests of alerts: an HTTP/1.1 server on 127.0.0.1
// that records every POST (its headers and body) and answers 204. It can be
// stopped (connections are then refused) and started again on the same
// port, as a receiver that is down for a while.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace certgate::testing {

class WebhookReceiver {
 public:
  struct Post {
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string target;
    std::string body;
  };

  WebhookReceiver();  // listening on a free port
  ~WebhookReceiver();

  uint16_t port() const { return port_; }
  std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  // Stops listening: connections are refused until Start.
  void Stop();
  // Listens again on the same port (a test failure if it was taken meanwhile).
  void Start();

  std::vector<Post> posts() const;
  // Waits until at least n posts arrived; false at the deadline.
  bool WaitForPosts(size_t n, std::chrono::seconds timeout) const;

 private:
  void Listen();
  void AcceptLoop(std::shared_ptr<boost::asio::ip::tcp::acceptor> acceptor);

  boost::asio::io_context io_;
  uint16_t port_ = 0;
  std::shared_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<Post> posts_;
};

}  // namespace certgate::testing
