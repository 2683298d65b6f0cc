// The ceiling: libssl alone, in memory. Client and server SSL objects over a
// BIO pair in this process, timing only the server side's calls
// (CLOCK_THREAD_CPUTIME_ID): the most handshakes per CPU-second any
// OpenSSL-based server could make; and the heap one idle server SSL holds.
#pragma once

#include <string>

#include <openssl/ssl.h>

#include "handshake/bench_pki.h"
#include "pki/ossl_ptr.h"

namespace certgate::bench::handshake {

// A server context for the first name of pki, sending `tickets` TLS 1.3
// session tickets.
certgate::pki::SslCtxPtr MakeCeilingServerContext(const Pki& pki, int tickets);

struct CeilingSample {
  double server_cpu_s = 0;
  int handshakes = 0;
  long tickets = 0;
};

// `handshakes` connections: handshake, request, response, close_notify.
CeilingSample RunCeiling(SSL_CTX* server_ctx, SSL_CTX* client_ctx, const std::string& sni,
                         int handshakes);

// Heap bytes an idle server SSL holds after a handshake and one request
// (SSL_MODE_RELEASE_BUFFERS, as every server here sets), measured with
// mallinfo2 over `count` of them kept at once.
double LibsslIdleBytes(SSL_CTX* server_ctx, SSL_CTX* client_ctx, const std::string& sni, int count);

}  // namespace certgate::bench::handshake
