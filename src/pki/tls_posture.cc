#include "pki/tls_posture.h"

#include "pki/openssl_error.h"

namespace certgate::pki {

Result<void> ApplyServerTlsPosture(SSL_CTX* ctx) {
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
    return OpensslError(ErrorCode::kInternal, "setting the TLS versions");
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                               SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1 ||
      SSL_CTX_set_ciphersuites(ctx, kTls13Ciphersuites) != 1 ||
      SSL_CTX_set1_groups_list(ctx, kTlsGroups) != 1) {
    return OpensslError(ErrorCode::kInternal, "configuring the TLS ciphers");
  }
  return {};
}

}  // namespace certgate::pki
