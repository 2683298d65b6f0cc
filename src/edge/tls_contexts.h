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

// Every context below has pki's server TLS posture (pki/tls_posture.h).

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
