#include "support/webhook_receiver.h"

#include <algorithm>
#include <cctype>

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

namespace certgate::testing {
namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

WebhookReceiver::WebhookReceiver() { Listen(); }

WebhookReceiver::~WebhookReceiver() { Stop(); }

void WebhookReceiver::Listen() {
  auto acceptor = std::make_shared<tcp::acceptor>(io_);
  const tcp::endpoint at(net::ip::make_address("127.0.0.1"), port_);
  boost::system::error_code ec;
  acceptor->open(at.protocol(), ec);
  if (!ec) acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(at, ec);
  if (!ec) acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    ADD_FAILURE() << "the webhook receiver cannot listen on 127.0.0.1:" << port_ << ": "
                  << ec.message();
    return;
  }
  port_ = acceptor->local_endpoint().port();
  acceptor_ = acceptor;
  thread_ = std::thread([this, acceptor] { AcceptLoop(acceptor); });
}

void WebhookReceiver::Start() {
  if (!thread_.joinable()) Listen();
}

void WebhookReceiver::Stop() {
  if (!thread_.joinable()) return;
  boost::system::error_code ec;
  // shutdown wakes the blocking accept; close then frees the port.
  ::shutdown(acceptor_->native_handle(), SHUT_RDWR);
  thread_.join();
  acceptor_->close(ec);
  acceptor_.reset();
}

void WebhookReceiver::AcceptLoop(std::shared_ptr<tcp::acceptor> acceptor) {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket(io_);
    acceptor->accept(socket, ec);
    if (ec) return;  // shut down
    // A client that stops sending costs 5 s, not the receiver's Stop.
    timeval timeout{5, 0};
    setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    // One request per connection (certgate's client closes after each).
    boost::beast::flat_buffer buffer;
    http::request_parser<http::string_body> parser;
    parser.body_limit(1024 * 1024);
    http::read(socket, buffer, parser, ec);
    if (ec) continue;
    auto req = parser.release();
    Post post;
    for (const auto& field : req) {
      post.headers[Lower(std::string(field.name_string()))] = std::string(field.value());
    }
    post.target = std::string(req.target());
    post.body = req.body();
    {
      std::lock_guard lock(mu_);
      posts_.push_back(std::move(post));
    }
    http::response<http::empty_body> res{http::status::no_content, req.version()};
    res.keep_alive(false);
    http::write(socket, res, ec);
    socket.shutdown(tcp::socket::shutdown_both, ec);
  }
}

std::vector<WebhookReceiver::Post> WebhookReceiver::posts() const {
  std::lock_guard lock(mu_);
  return posts_;
}

bool WebhookReceiver::WaitForPosts(size_t n, std::chrono::seconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(mu_);
      if (posts_.size() >= n) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::lock_guard lock(mu_);
  return posts_.size() >= n;
}

}  // namespace certgate::testing
