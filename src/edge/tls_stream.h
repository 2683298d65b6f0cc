// TlsStream: TLS over a non-blocking TCP socket, with OpenSSL reading and
// writing the socket directly (edge/socket_bio.h) and Asio only waiting for
// readiness. An idle connection costs the SSL object and the socket: with
// SSL_MODE_RELEASE_BUFFERS OpenSSL frees its record buffers between reads,
// and the BIO holds nothing once it has sent what it held. A model of Asio's
// AsyncReadStream and AsyncWriteStream, so Beast's HTTP reads and writes run
// over it.
//
// Small writes are held and leave together: what the handshake's last step
// writes (the server's session ticket, the client's Finished) waits for the
// first write after it, and every write operation sends what is held when
// it completes, unless HoldWrites is on (a last response before Close).
// Before any wait on the peer, held bytes are sent, so nothing is ever held
// while the other side waits for it.
//
// Every operation completes through the executor, never inside the
// initiating call. One read and one write may be outstanding at a time, as
// with any Asio stream; the stream itself is not thread-safe.
#pragma once

#include <array>
#include <cstring>

#include <boost/asio.hpp>
#include <boost/system/error_code.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "edge/socket_bio.h"
#include "pki/ossl_ptr.h"

namespace certgate::edge {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// Outcomes of the TLS layer that are not socket errors.
enum class TlsErrc {
  // The ClientHello callback needs a certificate context that is not built
  // yet: build it, then call async_handshake again.
  kNeedCertificate = 1,
  // OpenSSL refused the peer (protocol error, alert, failed verification).
  kProtocol,
};
const boost::system::error_category& TlsCategory();
inline boost::system::error_code make_error_code(TlsErrc e) {
  return {static_cast<int>(e), TlsCategory()};
}

class TlsStream {
 public:
  using executor_type = tcp::socket::executor_type;

  // Takes the connected socket and an SSL object made from the right
  // SSL_CTX; binds them with a socket BIO. Server side when server is true.
  TlsStream(tcp::socket socket, pki::SslPtr ssl, bool server);
  TlsStream(TlsStream&&) = default;
  TlsStream& operator=(TlsStream&&) = default;

  executor_type get_executor() { return socket_.get_executor(); }
  tcp::socket& socket() { return socket_; }
  SSL* native_handle() { return ssl_.get(); }

  // The handshake. Completes with TlsErrc::kNeedCertificate when the
  // ClientHello callback asked to be called again (SSL_CLIENT_HELLO_RETRY).
  template <class Token>
  auto async_handshake(Token&& token) {
    return Start(
        FlushAtEnd::kNo, [](SSL* ssl, size_t&) { return SSL_do_handshake(ssl); },
        std::forward<Token>(token));
  }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    net::mutable_buffer first;
    for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers);
         ++it) {
      if (it->size() > 0) {
        first = *it;
        break;
      }
    }
    return Start(
        FlushAtEnd::kNo,
        [first](SSL* ssl, size_t& n) {
          if (first.size() == 0) return 1;
          return SSL_read_ex(ssl, first.data(), first.size(), &n);
        },
        std::forward<Token>(token));
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    // Gathers up to one TLS record's worth from the sequence, so that a
    // header and a body chunk go out in one record rather than two. The
    // copy is redone on each attempt (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER).
    return Start(
        hold_writes_ ? FlushAtEnd::kNo : FlushAtEnd::kYes,
        [buffers](SSL* ssl, size_t& n) {
          thread_local std::array<char, 16384> scratch;
          size_t len = 0;
          const void* data = nullptr;
          size_t pieces = 0;
          for (auto it = net::buffer_sequence_begin(buffers);
               it != net::buffer_sequence_end(buffers) && len < scratch.size(); ++it) {
            net::const_buffer b = *it;
            if (b.size() == 0) continue;
            if (pieces++ == 0) data = b.data();
            size_t take = std::min(b.size(), scratch.size() - len);
            std::memcpy(scratch.data() + len, b.data(), take);
            len += take;
          }
          if (len == 0) return 1;
          // A single piece is written in place, without the copy.
          return SSL_write_ex(ssl, pieces == 1 ? data : scratch.data(), len, &n);
        },
        std::forward<Token>(token));
  }

  // Sends what is held, waiting for the socket if it must.
  template <class Token>
  auto async_flush(Token&& token) {
    return Start(
        FlushAtEnd::kYes, [](SSL*, size_t&) { return 1; }, std::forward<Token>(token));
  }

  // While on, write operations leave what they wrote held (up to
  // SocketBio::kHoldLimit), for Close to send along with close_notify.
  void HoldWrites(bool on) { hold_writes_ = on; }
  // True if written bytes are held, not sent yet.
  bool HoldsOutput() const { return bio_->held() > 0; }

  // Sends what is held, close_notify after it (without waiting for the
  // peer's), and closes.
  void Close();
  // Sends what is held (then close_notify, if asked), then ends the
  // sending side of the socket.
  void ShutdownSend(bool close_notify);

  // True if OpenSSL holds decrypted bytes not read yet.
  bool HasPending() { return SSL_has_pending(ssl_.get()) == 1; }
  // OpenSSL's reason code (ERR_GET_REASON) of the last kProtocol failure;
  // 0 if none.
  int last_protocol_reason() const { return last_protocol_reason_; }

 private:
  enum class FlushAtEnd { kNo, kYes };

  // The one composed operation behind every call: run fn; on WANT_READ send
  // what is held and wait for the socket, on WANT_WRITE wait for it; run fn
  // again. Once fn is done, send what is held if flush says so.
  template <class Fn>
  struct Op {
    Op(TlsStream& s, FlushAtEnd f, Fn fn_) : stream(s), flush(f), fn(std::move(fn_)) {}
    TlsStream& stream;
    FlushAtEnd flush;
    Fn fn;
    size_t bytes = 0;
    bool suspended = false;  // waited or posted at least once
    bool finished = false;   // fn is done; result and bytes are final
    boost::system::error_code result;

    template <class Self>
    void operator()(Self& self, boost::system::error_code wait_ec = {}) {
      if (wait_ec) return self.complete(wait_ec, 0);
      if (!finished) {
        ERR_clear_error();
        int r = fn(stream.ssl_.get(), bytes);
        if (r <= 0) {
          switch (SSL_get_error(stream.ssl_.get(), r)) {
            case SSL_ERROR_WANT_READ:
              switch (stream.bio_->Flush()) {
                case SocketBio::FlushResult::kDone:
                  return Wait(self, tcp::socket::wait_read);
                case SocketBio::FlushResult::kWouldBlock:
                  return Wait(self, tcp::socket::wait_write);
                case SocketBio::FlushResult::kError:
                  result = {errno, boost::system::system_category()};
              }
              break;
            case SSL_ERROR_WANT_WRITE:
              return Wait(self, tcp::socket::wait_write);
            default:
              result = stream.ErrorOf(r);
          }
        }
        ERR_clear_error();
        finished = true;
      }
      if (!result && flush == FlushAtEnd::kYes) {
        switch (stream.bio_->Flush()) {
          case SocketBio::FlushResult::kDone:
            break;
          case SocketBio::FlushResult::kWouldBlock:
            return Wait(self, tcp::socket::wait_write);
          case SocketBio::FlushResult::kError:
            result = {errno, boost::system::system_category()};
        }
      }
      if (!suspended) {
        // Never complete inside the initiating call.
        suspended = true;
        return net::post(stream.socket_.get_executor(), std::move(self));
      }
      self.complete(result, bytes);
    }

    template <class Self>
    void Wait(Self& self, tcp::socket::wait_type what) {
      suspended = true;
      stream.socket_.async_wait(what, std::move(self));
    }
  };

  template <class Fn, class Token>
  auto Start(FlushAtEnd flush, Fn fn, Token&& token) {
    return net::async_compose<Token, void(boost::system::error_code, size_t)>(
        Op<Fn>(*this, flush, std::move(fn)), token, socket_);
  }

  boost::system::error_code ErrorOf(int ret);
  int last_protocol_reason_ = 0;

  tcp::socket socket_;
  pki::SslPtr ssl_;
  SocketBio* bio_ = nullptr;  // owned by ssl_
  bool hold_writes_ = false;
};

}  // namespace certgate::edge

template <>
struct boost::system::is_error_code_enum<certgate::edge::TlsErrc> : std::true_type {};
