#include "edge/upstream_stream.h"

#include <openssl/x509v3.h>

namespace certgate::edge {
namespace {

constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);

}  // namespace

void UpstreamStream::ShutdownSend() {
  if (tls_) {
    tls_->ShutdownSend(/*close_notify=*/true);
    return;
  }
  boost::system::error_code ec;
  plain_->shutdown(tcp::socket::shutdown_send, ec);
}

void UpstreamStream::Close() {
  if (tls_) {
    tls_->Close();
    return;
  }
  boost::system::error_code ec;
  plain_->shutdown(tcp::socket::shutdown_both, ec);
  plain_->close(ec);
}

net::awaitable<std::pair<boost::system::error_code, std::optional<UpstreamStream>>> ConnectUpstream(
    const Upstream& upstream, SSL_CTX* tls_client_ctx,
    std::chrono::steady_clock::duration timeout) {
  using Out = std::pair<boost::system::error_code, std::optional<UpstreamStream>>;
  auto ex = co_await net::this_coro::executor;
  tcp::socket socket(ex);
  tcp::socket* current = &socket;  // the socket the deadline applies to
  net::steady_timer timer(ex);
  timer.expires_after(timeout);
  timer.async_wait([&current](const boost::system::error_code& ec) {
    if (ec) return;
    boost::system::error_code ignored;
    current->shutdown(tcp::socket::shutdown_both, ignored);
    current->cancel(ignored);
  });
  boost::system::error_code ec;
  tcp::resolver::results_type endpoints;
  const auto address = net::ip::make_address(upstream.host, ec);
  const bool host_is_ip = !ec;
  if (host_is_ip) {
    endpoints = tcp::resolver::results_type::create(tcp::endpoint(address, upstream.port),
                                                    upstream.host, std::to_string(upstream.port));
  } else {
    tcp::resolver resolver(ex);
    auto [rec, results] =
        co_await resolver.async_resolve(upstream.host, std::to_string(upstream.port), kUseTuple);
    if (rec) {
      timer.cancel();
      co_return Out{rec, std::nullopt};
    }
    endpoints = std::move(results);
  }
  auto [cec, ep] = co_await net::async_connect(socket, endpoints, kUseTuple);
  if (cec) {
    timer.cancel();
    co_return Out{cec, std::nullopt};
  }
  socket.set_option(tcp::no_delay(true), ec);
  if (upstream.scheme != "https") {
    timer.cancel();
    co_return Out{boost::system::error_code{},
                  std::make_optional<UpstreamStream>(std::move(socket))};
  }
  pki::SslPtr ssl(SSL_new(tls_client_ctx));
  if (host_is_ip) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), upstream.host.c_str());
  } else {
    // SNI (SSL_set_tlsext_host_name without its C cast) and the name the
    // upstream's certificate must carry.
    SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(upstream.host.c_str()));
    SSL_set1_host(ssl.get(), upstream.host.c_str());
  }
  TlsStream tls(std::move(socket), std::move(ssl), /*server=*/false);
  current = &tls.socket();
  auto [hec, n] = co_await tls.async_handshake(kUseTuple);
  timer.cancel();
  if (hec) {
    tls.Close();
    co_return Out{hec, std::nullopt};
  }
  co_return Out{boost::system::error_code{}, std::make_optional<UpstreamStream>(std::move(tls))};
}

}  // namespace certgate::edge
