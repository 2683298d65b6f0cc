// The TLS posture of every server context certgate runs: the edge's (front,
// per-certificate, terminate-tls, mutual TLS) and the API's listener.
// TLS 1.2 and 1.3 only; in TLS 1.2 only ECDHE key exchange with AEAD
// ciphers (no CBC: LUCKY13 and its kin; no static RSA: no forward secrecy);
// no renegotiation, no compression, the server's cipher order. A traffic
// policy's versions only narrow this.
#pragma once

#include <openssl/ssl.h>

#include "core/result.h"

namespace certgate::pki {

inline constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
inline constexpr char kTls13Ciphersuites[] =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
inline constexpr char kTlsGroups[] = "X25519:P-256:P-384";

// Applies that posture (versions, options, suites, groups) to a server
// context. kInternal if OpenSSL refuses a setting.
Result<void> ApplyServerTlsPosture(SSL_CTX* ctx);

}  // namespace certgate::pki
