#include "support/holding_relay.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace certgate::testing {

HoldingRelay::HoldingRelay(uint16_t target_port) : target_port_(target_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("relay: cannot listen");
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

HoldingRelay::~HoldingRelay() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    held_ = false;
  }
  cv_.notify_all();
  ::shutdown(listen_fd_, SHUT_RDWR);
  ::close(listen_fd_);
  accept_thread_.join();
  for (auto& t : workers_) t.join();
}

void HoldingRelay::Hold() {
  std::lock_guard lock(mu_);
  held_ = true;
}

void HoldingRelay::Release() {
  {
    std::lock_guard lock(mu_);
    held_ = false;
  }
  cv_.notify_all();
}

int HoldingRelay::waiting() {
  std::lock_guard lock(mu_);
  return waiting_;
}

void HoldingRelay::AcceptLoop() {
  for (;;) {
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) return;
    std::lock_guard lock(mu_);
    if (stopping_) {
      ::close(fd);
      return;
    }
    workers_.emplace_back([this, fd] { Serve(fd); });
  }
}

void HoldingRelay::Serve(int client) {
  {
    std::unique_lock lock(mu_);
    ++waiting_;
    cv_.wait(lock, [this] { return !held_; });
    --waiting_;
    if (stopping_) {
      ::close(client);
      return;
    }
  }
  int upstream = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(target_port_);
  if (::connect(upstream, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
    char buf[16384];
    for (bool open = true; open;) {
      if (::poll(fds, 2, 30000) <= 0) break;
      for (int i = 0; i < 2 && open; ++i) {
        if (fds[i].revents == 0) continue;
        ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        // send, not write: a peer gone must not SIGPIPE the test.
        if (n <= 0 || ::send(fds[1 - i].fd, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) {
          open = false;
        }
      }
    }
  }
  ::close(upstream);
  ::close(client);
}

}  // namespace certgate::testing
