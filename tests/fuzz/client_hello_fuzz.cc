// The first TLS record a client sends, read as the edge reads it before any
// certificate is chosen: OpenSSL's ClientHello parsing in a server SSL over a
// memory BIO, then, in the client_hello callback, edge::ReadSni's walk of the
// server_name extension and the name's normalization. The input is the bytes
// from the socket; like the edge's peek, only a handshake record whose whole
// length has arrived is handed to OpenSSL.
#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "edge/client_hello.h"
#include "fuzz_util.h"
#include "names/domain_name.h"
#include "pki/ossl_ptr.h"

namespace {

using namespace certgate;

int OnClientHello(SSL* ssl, int* alert, void*) {
  auto* out = static_cast<std::optional<std::string>*>(SSL_get_app_data(ssl));
  *out = edge::ReadSni(ssl);
  if (*out) {
    // What ReadSni returns is already normalized: the selection looks it up as is.
    FUZZ_CHECK(!(*out)->empty(), "");
    const std::optional<std::string> again = names::NormalizeSni(**out);
    FUZZ_CHECK(again && *again == **out, **out);
  }
  *alert = SSL_AD_INTERNAL_ERROR;
  return SSL_CLIENT_HELLO_ERROR;  // as the edge's peek: stop once the hello is read
}

SSL_CTX* PeekContext() {
  static SSL_CTX* ctx = [] {
    SSL_CTX* c = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_client_hello_cb(c, &OnClientHello, nullptr);
    return c;
  }();
  return ctx;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kMaxRecord = 5 + 16384;
  if (size < 5 || data[0] != 0x16) return -1;  // the edge hands nothing else to OpenSSL
  const size_t need = 5 + ((size_t{data[3]} << 8) | data[4]);
  if (need > kMaxRecord || need > size) return -1;

  std::optional<std::string> sni;
  pki::SslPtr ssl(SSL_new(PeekContext()));
  BIO* rbio = BIO_new_mem_buf(data, static_cast<int>(need));
  BIO* wbio = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl.get(), rbio, wbio);
  SSL_set_app_data(ssl.get(), &sni);
  SSL_set_accept_state(ssl.get());
  SSL_do_handshake(ssl.get());
  ERR_clear_error();
  return 0;
}
