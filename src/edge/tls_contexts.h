// The SSL_CTX objects of the edge: the front context every handshake starts
// on (TLS 1.2/1.3, modern ciphers, the ClientHello callback), the
// per-certificate contexts the callback switches to, and the client context
// for TLS upstreams. Thread-safe once built (OpenSSL contexts are).
#pragma once

#include <cstdint>
#include <string>

#include "core/result.h"
#include "edge/snapshot.h"
#include "pki/certificate.h"
#include "pki/ossl_ptr.h"

namespace certgate::edge {

// The TLS posture of every context the edge serves from (front,
// per-certificate, terminate-tls, mutual TLS): TLS 1.2 and 1.3 only; in
// TLS 1.2 only ECDHE key exchange with AEAD ciphers (no CBC: LUCKY13 and
// its kin; no static RSA: no forward secrecy). A traffic policy's versions
// only narrow this.
inline constexpr char kTls12Ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
inline constexpr char kTls13Ciphersuites[] =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
inline constexpr char kGroups[] = "X25519:P-256:P-384";

// Applies that posture (versions, options, suites, groups) to ctx.
Result<void> ApplyTlsPosture(SSL_CTX* ctx);

// SSL_CTX_client_hello_cb_fn and the ALPN selection callback, installed by
// the edge (they read the per-connection state from the SSL's app data).
using ClientHelloCallback = int (*)(SSL*, int*, void*);
using AlpnCallback = int (*)(SSL*, const unsigned char**, unsigned char*, const unsigned char*,
                             unsigned int, void*);

struct FrontOptions {
  ClientHelloCallback on_client_hello = nullptr;
  AlpnCallback on_alpn = nullptr;
  // TLS 1.3 session tickets sent after a full handshake (OpenSSL's default
  // is 2; each costs an encryption on the handshake path).
  int session_tickets = 1;
};

// The context every connection starts on; holds the default certificate.
Result<pki::SslCtxPtr> MakeFrontContext(const FrontOptions& options, const pki::Chain& chain,
                                        EVP_PKEY* key);

// The context for one certificate, optionally under a terminate-tls policy
// (client certificate CAs). Versions and verify mode are per connection and
// are set in the ClientHello callback; see ApplyPolicyToConnection.
Result<pki::SslCtxPtr> MakeCertificateContext(const pki::Chain& chain, EVP_PKEY* key,
                                              const TerminatePolicy* policy,
                                              AlpnCallback on_alpn);

// What SSL_set_SSL_CTX does not carry over: protocol versions and the
// client certificate request.
void ApplyPolicyToConnection(SSL* ssl, const TerminatePolicy& policy);

// For https:// upstreams: verifies against the system's CAs.
Result<pki::SslCtxPtr> MakeUpstreamClientContext();

}  // namespace certgate::edge
