#include "scale/tls_probe.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "scale/scale_pki.h"

namespace certgate::bench::scale {
namespace {

std::string OpensslErrors() {
  std::string out;
  for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no OpenSSL error" : out;
}

// Closes the socket and frees the SSL whatever way Probe returns.
struct Connection {
  int fd = -1;
  SSL* ssl = nullptr;
  ~Connection() {
    if (ssl != nullptr) SSL_free(ssl);
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

TlsProbe::TlsProbe() : ctx_(SSL_CTX_new(TLS_client_method())) {
  if (!ctx_) throw std::runtime_error("SSL_CTX_new: " + OpensslErrors());
  SSL_CTX_set_min_proto_version(ctx_.get(), TLS1_3_VERSION);
  SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_NONE, nullptr);
  // Tickets are not kept: every probe is a full handshake.
  SSL_CTX_set_session_cache_mode(ctx_.get(), SSL_SESS_CACHE_OFF);
}

ProbeResult TlsProbe::Probe(uint16_t port, const std::string& sni,
                            std::chrono::milliseconds timeout) const {
  return Run(port, sni, timeout, false);
}

ProbeResult TlsProbe::ProbeAndRequest(uint16_t port, const std::string& sni,
                                      std::chrono::milliseconds timeout) const {
  return Run(port, sni, timeout, true);
}

ProbeResult TlsProbe::Run(uint16_t port, const std::string& sni, std::chrono::milliseconds timeout,
                          bool request) const {
  ProbeResult r;
  const auto t0 = std::chrono::steady_clock::now();
  Connection c;
  c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c.fd < 0) {
    r.error = fmt::format("socket: {}", std::strerror(errno));
    return r;
  }
  const int one = 1;
  ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const auto ms = timeout.count();
  timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
  ::setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    r.error = fmt::format("connect: {}", std::strerror(errno));
    return r;
  }
  c.ssl = SSL_new(ctx_.get());
  // SSL_set_tlsext_host_name without its C cast.
  if (c.ssl == nullptr || SSL_set_fd(c.ssl, c.fd) != 1 ||
      SSL_ctrl(c.ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(sni.c_str())) != 1) {
    r.error = "SSL setup: " + OpensslErrors();
    return r;
  }
  if (SSL_connect(c.ssl) != 1) {
    r.error = "handshake: " + OpensslErrors();
    return r;
  }
  X509* leaf = SSL_get0_peer_certificate(c.ssl);
  if (leaf == nullptr) {
    r.error = "no certificate served";
    return r;
  }
  r.serial = SerialHex(leaf);
  r.handshake_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (request) {
    const std::string get =
        fmt::format("GET / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", sni);
    if (SSL_write(c.ssl, get.data(), static_cast<int>(get.size())) <= 0) {
      r.error = "sending the request: " + OpensslErrors();
      return r;
    }
    char buf[4096];
    int n = 0;
    while ((n = SSL_read(c.ssl, buf, sizeof buf)) > 0) {
    }
    // A close_notify or a bare close both end the answer; a timeout does not.
    const int why = SSL_get_error(c.ssl, n);
    const bool timed_out = why == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK);
    if ((why != SSL_ERROR_ZERO_RETURN && why != SSL_ERROR_SYSCALL) || timed_out) {
      r.error = timed_out ? std::string("no close within the timeout")
                          : "reading the answer: " + OpensslErrors();
      return r;
    }
    ERR_clear_error();
  }
  r.ok = true;
  return r;
}

}  // namespace certgate::bench::scale
