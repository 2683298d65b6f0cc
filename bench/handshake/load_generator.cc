#include "handshake/load_generator.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/progress.h"
#include "handshake/bench_tls.h"

namespace certgate::bench::handshake {
namespace {

using certgate::pki::SslCtxPtr;

int OnNewSession(SSL* ssl, SSL_SESSION*) {
  if (auto* c = static_cast<Conn*>(SSL_get_app_data(ssl))) ++c->tickets;
  return 0;  // not kept
}

// True once the response (status line, headers, Content-Length body or a
// chunked body's last chunk) is complete.
bool ResponseComplete(const std::string& r) {
  size_t end = r.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  std::string head = r.substr(0, end);
  std::transform(head.begin(), head.end(), head.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  const size_t body = r.size() - end - 4;
  if (auto p = head.find("\r\ncontent-length:"); p != std::string::npos) {
    return body >= std::strtoull(head.c_str() + p + 17, nullptr, 10);
  }
  if (head.find("\r\ntransfer-encoding: chunked") != std::string::npos) {
    return r.size() >= 5 && r.compare(r.size() - 5, 5, "0\r\n\r\n") == 0;
  }
  return true;  // no body
}

}  // namespace

SslCtxPtr MakeClientContext() {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) throw std::runtime_error("SSL_CTX_new: " + OpensslErrors());
  SSL_CTX* c = ctx.get();
  SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
  if (SSL_CTX_set_ciphersuites(c, kCipherSuite) != 1 || SSL_CTX_set1_groups_list(c, kGroup) != 1) {
    throw std::runtime_error("client context: " + OpensslErrors());
  }
  SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
  // No chain building either (the load generator's cpu is the bottleneck):
  // the certificate is checked by name only (X509_check_host), which is what
  // tells a server's SNI selection apart. TLS 1.3's CertificateVerify
  // signature is still checked by libssl.
  SSL_CTX_set_cert_verify_callback(
      c, [](X509_STORE_CTX*, void*) { return 1; }, nullptr);
  SSL_CTX_set_options(c, SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
  // Tickets are counted (OnNewSession) and dropped: no session is ever reused.
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(c, &OnNewSession);
  return ctx;
}

void CloseConn(Conn& c) {
  if (c.ssl != nullptr) SSL_free(c.ssl);
  c.ssl = nullptr;
  if (c.fd >= 0) ::close(c.fd);
  c.fd = -1;
}

void CloseAll(std::vector<std::unique_ptr<Conn>>& conns) {
  for (auto& c : conns) CloseConn(*c);
  conns.clear();
}

LoadResult LoadGenerator::Run(const LoadSpec& spec) {
  LoadResult result;
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) throw std::runtime_error(fmt::format("epoll_create1: {}", std::strerror(errno)));
  std::vector<std::unique_ptr<Conn>> live;
  int started = 0;
  int finished = 0;
  const auto t0 = Clock::now();
  auto last_sweep = t0;
  std::vector<epoll_event> events(256);

  auto fail = [&](Conn& c, const std::string& why) {
    ++result.failed;
    if (result.first_error.empty()) result.first_error = why;
    ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
    CloseConn(c);
    c.state = Conn::kDone;
  };
  auto want = [&](Conn& c, uint32_t ev) {
    if (c.events == ev) return;
    epoll_event e{};
    e.events = ev;
    e.data.ptr = &c;
    ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &e);
    c.events = ev;
  };
  auto finish = [&](Conn& c) {
    ++result.ok;
    result.tickets += c.tickets;
    if (c.response.compare(0, 12, "HTTP/1.1 200") == 0) {
      ++result.status_200;
    } else if (c.response.compare(0, 12, "HTTP/1.1 404") == 0) {
      ++result.status_404;
    } else {
      ++result.status_other;
      if (result.first_error.empty()) {
        result.first_error = "unexpected response: " + c.response.substr(0, 60);
      }
    }
    ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
    if (!spec.keep_alive) CloseConn(c);
    c.state = Conn::kDone;
  };
  auto ssl_wait = [&](Conn& c, int r, const char* what) {
    int err = SSL_get_error(c.ssl, r);
    if (err == SSL_ERROR_WANT_READ) {
      want(c, EPOLLIN);
      return true;
    }
    if (err == SSL_ERROR_WANT_WRITE) {
      want(c, EPOLLOUT);
      return true;
    }
    fail(c, fmt::format("{}: SSL error {} ({}; errno {})", what, err, OpensslErrors(),
                        std::strerror(errno)));
    return false;
  };
  auto advance = [&](Conn& c) {
    if (c.state == Conn::kConnecting) {
      int soerr = 0;
      socklen_t len = sizeof soerr;
      ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
      if (soerr != 0) return fail(c, fmt::format("connect: {}", std::strerror(soerr)));
      c.state = Conn::kHandshake;
    }
    if (c.state == Conn::kHandshake) {
      ERR_clear_error();
      int r = SSL_do_handshake(c.ssl);
      if (r != 1) {
        ssl_wait(c, r, "handshake");
        return;
      }
      X509* peer = SSL_get0_peer_certificate(c.ssl);
      const std::string& name = (*spec.names)[c.name];
      if (peer == nullptr || X509_check_host(peer, name.data(), name.size(), 0, nullptr) != 1) {
        ++result.wrong_certificate;
      }
      c.state = Conn::kWriting;
    }
    if (c.state == Conn::kWriting) {
      while (c.sent < c.request.size()) {
        size_t n = 0;
        ERR_clear_error();
        int r = SSL_write_ex(c.ssl, c.request.data() + c.sent, c.request.size() - c.sent, &n);
        if (r != 1) {
          ssl_wait(c, r, "write");
          return;
        }
        c.sent += n;
      }
      c.state = Conn::kReading;
    }
    if (c.state == Conn::kReading) {
      char buf[4096];
      for (;;) {
        size_t n = 0;
        ERR_clear_error();
        int r = SSL_read_ex(c.ssl, buf, sizeof buf, &n);
        if (r == 1) {
          if (c.response.size() < 65536) c.response.append(buf, n);
          if (spec.keep_alive && ResponseComplete(c.response)) return finish(c);
          continue;
        }
        int err = SSL_get_error(c.ssl, r);
        if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
          // The server closed: the end of a Connection: close response.
          if (spec.keep_alive) return fail(c, "the server closed a kept-alive connection");
          if (c.response.empty()) return fail(c, "the server closed without a response");
          return finish(c);
        }
        ssl_wait(c, r, "read");
        return;
      }
    }
  };
  auto start_one = [&] {
    auto c = std::make_unique<Conn>();
    c->started = Clock::now();
    switch (spec.sni) {
      case LoadSpec::Sni::kFixed:
        c->name = spec.fixed;
        break;
      case LoadSpec::Sni::kRandom:
        c->name = std::uniform_int_distribution<size_t>(0, spec.name_count - 1)(*spec.rng);
        break;
      case LoadSpec::Sni::kOrder:
        c->name = (*spec.order)[static_cast<size_t>(started) % spec.order->size()];
        break;
    }
    const std::string& name = (*spec.names)[c->name];
    c->request = spec.keep_alive
                     ? fmt::format("GET / HTTP/1.1\r\nHost: {}\r\n\r\n", name)
                     : fmt::format("GET / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", name);
    c->fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
      throw std::runtime_error(
          fmt::format("socket: {} (raise the open-file limit)", std::strerror(errno)));
    int one = 1;
    ::setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(spec.port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int r = ::connect(c->fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    Conn& ref = *c;
    live.push_back(std::move(c));
    ++started;
    if (r != 0 && errno != EINPROGRESS) {
      ++result.failed;
      if (result.first_error.empty()) {
        result.first_error = fmt::format("connect: {}", std::strerror(errno));
      }
      CloseConn(ref);
      ref.state = Conn::kDone;
      return;
    }
    ref.ssl = SSL_new(ctx_);
    SSL_set_app_data(ref.ssl, &ref);
    SSL_set_fd(ref.ssl, ref.fd);
    // SSL_set_tlsext_host_name without its C cast.
    SSL_ctrl(ref.ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(name.c_str()));
    SSL_set_connect_state(ref.ssl);
    epoll_event e{};
    e.events = EPOLLOUT;
    e.data.ptr = &ref;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, ref.fd, &e);
    ref.events = EPOLLOUT;
  };
  auto reap = [&] {
    // Drop finished connections (kept ones move to the result).
    auto it = std::stable_partition(live.begin(), live.end(),
                                    [](const auto& c) { return c->state != Conn::kDone; });
    for (auto k = it; k != live.end(); ++k) {
      ++finished;
      if ((*k)->fd >= 0) {
        (*k)->response.clear();
        (*k)->response.shrink_to_fit();
        (*k)->request.clear();
        (*k)->request.shrink_to_fit();
        result.kept.push_back(std::move(*k));
      }
    }
    live.erase(it, live.end());
  };

  while (finished < spec.total) {
    while (static_cast<int>(live.size()) < spec.concurrency && started < spec.total) start_one();
    reap();
    if (live.empty()) continue;
    int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    if (n < 0 && errno != EINTR)
      throw std::runtime_error(fmt::format("epoll_wait: {}", std::strerror(errno)));
    for (int i = 0; i < n; ++i) {
      Conn& c = *static_cast<Conn*>(events[static_cast<size_t>(i)].data.ptr);
      if (c.state != Conn::kDone) advance(c);
    }
    const auto now = Clock::now();
    if (now - last_sweep > std::chrono::seconds(1)) {
      last_sweep = now;
      for (auto& c : live) {
        if (c->state != Conn::kDone && now - c->started > spec.timeout) {
          fail(*c, fmt::format("no progress in {} s (state {})", spec.timeout.count(),
                               static_cast<int>(c->state)));
        }
      }
    }
    reap();
  }
  result.wall_s = Seconds(Clock::now() - t0);
  ::close(ep);
  return result;
}

}  // namespace certgate::bench::handshake
