#include "edge/tls_stream.h"

#include <cerrno>
#include <new>

namespace certgate::edge {
namespace {

// boost::system::error_category's destructor is protected, not virtual, by
// design; GCC's -Wnon-virtual-dtor does not know that.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class TlsCategoryImpl final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "certgate.tls"; }
  std::string message(int ev) const override {
    switch (static_cast<TlsErrc>(ev)) {
      case TlsErrc::kNeedCertificate:
        return "a certificate context must be built first";
      case TlsErrc::kProtocol:
        return "TLS protocol error";
    }
    return "unknown TLS error";
  }
};
#pragma GCC diagnostic pop

}  // namespace

const boost::system::error_category& TlsCategory() {
  static const TlsCategoryImpl category;
  return category;
}

TlsStream::TlsStream(tcp::socket socket, pki::SslPtr ssl, bool server)
    : socket_(std::move(socket)), ssl_(std::move(ssl)) {
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);
  BIO* bio = SocketBio::New(socket_.native_handle());
  if (bio == nullptr) throw std::bad_alloc();
  SSL_set_bio(ssl_.get(), bio, bio);
  bio_ = SocketBio::Of(bio);
  SSL_set_mode(ssl_.get(), SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                               SSL_MODE_ENABLE_PARTIAL_WRITE);
  // Read whatever the socket holds in one read() rather than each record's
  // header and body separately: about half the reads of a handshake.
  SSL_set_read_ahead(ssl_.get(), 1);
  if (server) {
    SSL_set_accept_state(ssl_.get());
  } else {
    SSL_set_connect_state(ssl_.get());
  }
}

boost::system::error_code TlsStream::ErrorOf(int ret) {
  switch (SSL_get_error(ssl_.get(), ret)) {
    case SSL_ERROR_WANT_CLIENT_HELLO_CB:
      return TlsErrc::kNeedCertificate;
    case SSL_ERROR_ZERO_RETURN:
      return net::error::eof;
    case SSL_ERROR_SYSCALL:
      if (errno != 0 && ERR_peek_error() == 0) {
        return {errno, boost::system::system_category()};
      }
      // A peer that vanished without close_notify (SSL_OP_IGNORE_UNEXPECTED_EOF
      // turns most of these into ZERO_RETURN).
      return net::error::eof;
    default:
      last_protocol_reason_ = ERR_GET_REASON(ERR_peek_error());
      return TlsErrc::kProtocol;
  }
}

void TlsStream::Close() {
  if (!socket_.is_open()) return;
  if (SSL_is_init_finished(ssl_.get())) {
    ERR_clear_error();
    SSL_shutdown(ssl_.get());
    ERR_clear_error();
  }
  // Best effort, without waiting: what is held (a last response, an alert
  // after a failed handshake) and close_notify, in one write. close() sends
  // the FIN after them.
  bio_->Flush();
  boost::system::error_code ec;
  socket_.close(ec);
}

void TlsStream::ShutdownSend(bool close_notify) {
  if (close_notify) {
    ERR_clear_error();
    SSL_shutdown(ssl_.get());
    ERR_clear_error();
  }
  bio_->Flush();
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
}

}  // namespace certgate::edge
