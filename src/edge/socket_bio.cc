#include "edge/socket_bio.h"

#include <cerrno>
#include <cstring>
#include <new>

#include <sys/socket.h>

namespace certgate::edge {
namespace {

bool Retryable(int e) { return e == EAGAIN || e == EWOULDBLOCK || e == EINTR; }

}  // namespace

const SocketBio::MethodInfo& SocketBio::Method() {
  static const MethodInfo info = [] {
    MethodInfo i;
    i.type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR;
    i.method = BIO_meth_new(i.type, "certgate socket");
    if (i.method == nullptr) throw std::bad_alloc();
    BIO_meth_set_read_ex(i.method, &SocketBio::Read);
    BIO_meth_set_write_ex(i.method, &SocketBio::Write);
    BIO_meth_set_ctrl(i.method, &SocketBio::Ctrl);
    BIO_meth_set_destroy(i.method, &SocketBio::Destroy);
    return i;
  }();
  return info;
}

BIO* SocketBio::New(int fd) {
  BIO* b = BIO_new(Method().method);
  if (b == nullptr) return nullptr;
  BIO_set_data(b, new SocketBio(fd));
  BIO_set_init(b, 1);
  return b;
}

SocketBio* SocketBio::Of(BIO* bio) {
  if (bio == nullptr || BIO_method_type(bio) != Method().type) return nullptr;
  return static_cast<SocketBio*>(BIO_get_data(bio));
}

int SocketBio::Destroy(BIO* b) {
  delete static_cast<SocketBio*>(BIO_get_data(b));
  BIO_set_data(b, nullptr);
  return 1;
}

SocketBio::FlushResult SocketBio::Flush() {
  size_t sent = 0;
  while (sent < size_) {
    ssize_t n = ::send(fd_, buf_.get() + sent, size_ - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      std::memmove(buf_.get(), buf_.get() + sent, size_ - sent);
      size_ -= sent;
      errno = e;
      return Retryable(e) ? FlushResult::kWouldBlock : FlushResult::kError;
    }
    sent += static_cast<size_t>(n);
  }
  size_ = 0;
  buf_.reset();
  return FlushResult::kDone;
}

int SocketBio::Read(BIO* b, char* out, size_t len, size_t* read) {
  auto* s = static_cast<SocketBio*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  ssize_t n = ::recv(s->fd_, out, len, 0);
  if (n > 0) {
    *read = static_cast<size_t>(n);
    return 1;
  }
  if (n == 0) {
    s->eof_ = true;
  } else if (Retryable(errno)) {
    BIO_set_retry_read(b);
  }
  return 0;
}

int SocketBio::Write(BIO* b, const char* data, size_t len, size_t* written) {
  auto* s = static_cast<SocketBio*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  if (s->size_ + len > kHoldLimit && s->size_ > 0) {
    // Make room, keeping the order of the bytes.
    if (FlushResult r = s->Flush(); r != FlushResult::kDone) {
      if (r == FlushResult::kWouldBlock) BIO_set_retry_write(b);
      return 0;
    }
  }
  if (s->size_ + len <= kHoldLimit) {
    if (!s->buf_) s->buf_.reset(new char[kHoldLimit]);
    std::memcpy(s->buf_.get() + s->size_, data, len);
    s->size_ += len;
    *written = len;
    return 1;
  }
  ssize_t n = ::send(s->fd_, data, len, MSG_NOSIGNAL);
  if (n >= 0) {
    *written = static_cast<size_t>(n);
    return 1;
  }
  if (Retryable(errno)) BIO_set_retry_write(b);
  return 0;
}

long SocketBio::Ctrl(BIO* b, int cmd, long, void* ptr) {
  auto* s = static_cast<SocketBio*>(BIO_get_data(b));
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;  // held bytes leave when the owner calls Flush
    case BIO_CTRL_EOF:
      return s->eof_ ? 1 : 0;
    case BIO_CTRL_WPENDING:
      return static_cast<long>(s->size_);
    case BIO_C_GET_FD:
      if (ptr != nullptr) *static_cast<int*>(ptr) = s->fd_;
      return s->fd_;
    case BIO_CTRL_DUP:
      return 1;
    default:
      return 0;
  }
}

}  // namespace certgate::edge
