// The BIO under every TlsStream: OpenSSL reads the socket directly, and
// small writes are held back in a buffer until TlsStream sends them, so that
// what a connection says in one breath leaves in one write() and one TCP
// segment. A short HTTPS exchange otherwise costs a write each for the
// session ticket, the response and close_notify; held, they go out together.
//
// The BIO never sends held bytes by itself except to make room: a write
// that would take the buffer past kHoldLimit sends what is held, then goes
// straight to the socket. Whoever owns the BIO must call Flush before
// waiting on the peer and before closing (TlsStream does). BIO_flush is a
// no-op, so OpenSSL's flushes at the end of a handshake flight only mark
// the point where TlsStream will send. An empty buffer holds no memory.
#pragma once

#include <cstddef>
#include <memory>

#include <openssl/bio.h>

namespace certgate::edge {

class SocketBio {
 public:
  // Writes up to this size are held; larger ones are sent at once.
  static constexpr size_t kHoldLimit = 4096;

  enum class FlushResult { kDone, kWouldBlock, kError };

  // A BIO over fd (not owned: the caller closes it), for SSL_set_bio.
  static BIO* New(int fd);
  // The state of a BIO made by New; null for any other BIO.
  static SocketBio* Of(BIO* bio);

  // Sends what is held. kWouldBlock: part of it is still held (wait until
  // the socket is writable, then call again); kError: errno says why.
  FlushResult Flush();
  size_t held() const { return size_; }

 private:
  explicit SocketBio(int fd) : fd_(fd) {}
  static int Read(BIO* b, char* out, size_t len, size_t* read);
  static int Write(BIO* b, const char* data, size_t len, size_t* written);
  static long Ctrl(BIO* b, int cmd, long num, void* ptr);
  static int Destroy(BIO* b);
  struct MethodInfo {
    int type = 0;
    BIO_METHOD* method = nullptr;
  };
  static const MethodInfo& Method();

  int fd_;
  bool eof_ = false;
  std::unique_ptr<char[]> buf_;  // kHoldLimit bytes while anything is held
  size_t size_ = 0;
};

}  // namespace certgate::edge
