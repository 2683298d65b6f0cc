// UpstreamStream: the connection to an endpoint's upstream, plain TCP or TLS
// (https:// upstreams, verified against the system's CAs). One AsyncStream
// either way, so the proxy code is written once.
#pragma once

#include <boost/asio.hpp>
#include <optional>

#include "edge/snapshot.h"
#include "edge/tls_stream.h"

namespace certgate::edge {

class UpstreamStream {
 public:
  using executor_type = tcp::socket::executor_type;

  explicit UpstreamStream(tcp::socket socket) : plain_(std::move(socket)) {}
  explicit UpstreamStream(TlsStream tls) : tls_(std::move(tls)) {}

  executor_type get_executor() { return socket().get_executor(); }
  tcp::socket& socket() { return tls_ ? tls_->socket() : *plain_; }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    if (tls_) return tls_->async_read_some(buffers, std::forward<Token>(token));
    return plain_->async_read_some(buffers, std::forward<Token>(token));
  }
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    if (tls_) return tls_->async_write_some(buffers, std::forward<Token>(token));
    return plain_->async_write_some(buffers, std::forward<Token>(token));
  }

  // Shuts down the sending side (so a peer reading to EOF finishes).
  void ShutdownSend();
  void Close();

 private:
  std::optional<tcp::socket> plain_;
  std::optional<TlsStream> tls_;
};

// Resolves and connects to upstream (TLS when its scheme is https, with the
// host as SNI and verified name). Errors as error codes; the caller answers
// 502.
net::awaitable<std::pair<boost::system::error_code, std::optional<UpstreamStream>>>
ConnectUpstream(const Upstream& upstream, SSL_CTX* tls_client_ctx,
                std::chrono::steady_clock::duration timeout);

}  // namespace certgate::edge
