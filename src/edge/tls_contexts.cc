#include "edge/tls_contexts.h"

#include <openssl/sha.h>

#include <algorithm>
#include <array>

#include "pki/openssl_error.h"
#include "pki/tls_posture.h"

namespace certgate::edge {
namespace {

// Session ids and tickets are bound to this: a session made under one
// certificate (or mTLS policy) never resumes under another.
void SetSessionContext(SSL_CTX* ctx, std::string_view scope) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(scope.data()), scope.size(), digest.data());
  SSL_CTX_set_session_id_context(ctx, digest.data(), SSL_MAX_SID_CTX_LENGTH);
}

Result<void> InstallCertificate(SSL_CTX* ctx, const pki::Chain& chain, EVP_PKEY* key) {
  if (SSL_CTX_use_certificate(ctx, chain.leaf()) != 1) {
    return pki::OpensslError(ErrorCode::kInternal, "loading the certificate");
  }
  SSL_CTX_clear_chain_certs(ctx);
  for (size_t i = 1; i < chain.certs.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, chain.certs[i].get()) != 1) {
      return pki::OpensslError(ErrorCode::kInternal, "loading the certificate chain");
    }
  }
  if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return pki::OpensslError(ErrorCode::kInternal, "loading the private key");
  }
  return {};
}

std::string LeafFingerprint(const pki::Chain& chain) {
  std::array<unsigned char, 32> md{};
  unsigned int len = 0;
  X509_digest(chain.leaf(), EVP_sha256(), md.data(), &len);
  return std::string(reinterpret_cast<const char*>(md.data()), len);
}

}  // namespace

Result<pki::SslCtxPtr> MakeFrontContext(const FrontOptions& options, const pki::Chain& chain,
                                        EVP_PKEY* key) {
  pki::SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return pki::OpensslError(ErrorCode::kInternal, "creating the TLS context");
  SSL_CTX* c = ctx.get();
  CG_RETURN_IF_ERROR(pki::ApplyServerTlsPosture(c));
  SSL_CTX_set_num_tickets(c, static_cast<size_t>(options.session_tickets));
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER);
  if (options.on_client_hello != nullptr) {
    SSL_CTX_set_client_hello_cb(c, options.on_client_hello, nullptr);
  }
  if (options.on_alpn != nullptr) SSL_CTX_set_alpn_select_cb(c, options.on_alpn, nullptr);
  CG_RETURN_IF_ERROR(InstallCertificate(c, chain, key));
  SetSessionContext(c, "default:" + LeafFingerprint(chain));
  return ctx;
}

Result<pki::SslCtxPtr> MakeCertificateContext(const pki::Chain& chain, EVP_PKEY* key,
                                              const TerminatePolicy* policy,
                                              AlpnCallback on_alpn) {
  pki::SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return pki::OpensslError(ErrorCode::kInternal, "creating a TLS context");
  SSL_CTX* c = ctx.get();
  // The handshake switches to this context after the ClientHello, and
  // OpenSSL then negotiates with this context's cipher list: the same
  // posture as the front context, or each certificate would bring
  // OpenSSL's defaults (CBC and static-RSA suites) back.
  CG_RETURN_IF_ERROR(pki::ApplyServerTlsPosture(c));
  CG_RETURN_IF_ERROR(InstallCertificate(c, chain, key));
  if (on_alpn != nullptr) SSL_CTX_set_alpn_select_cb(c, on_alpn, nullptr);
  std::string scope = "cert:" + LeafFingerprint(chain);
  if (policy != nullptr) {
    scope += "|policy:" + policy->key;
    if (policy->mutual_tls) {
      X509_STORE_up_ref(policy->client_cas.get());
      SSL_CTX_set_cert_store(c, policy->client_cas.get());
      SSL_CTX_set_client_CA_list(c, SSL_dup_CA_list(policy->client_ca_names.get()));
    }
  }
  SetSessionContext(c, scope);
  return ctx;
}

void ApplyPolicyToConnection(SSL* ssl, const TerminatePolicy& policy) {
  // A policy only narrows the edge's TLS 1.2-1.3.
  SSL_set_min_proto_version(ssl, std::max(policy.min_version, TLS1_2_VERSION));
  SSL_set_max_proto_version(ssl, std::min(policy.max_version, TLS1_3_VERSION));
  if (!policy.mutual_tls) return;
  switch (policy.verify) {
    case policy::VerifyStrategy::kRequireAndVerify:
      SSL_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      break;
    case policy::VerifyStrategy::kRequireAny:
      SSL_set_verify(ssl, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                     [](int, X509_STORE_CTX*) { return 1; });
      break;
    case policy::VerifyStrategy::kRequest:
      SSL_set_verify(ssl, SSL_VERIFY_PEER, nullptr);
      break;
  }
}

Result<pki::SslCtxPtr> MakeUpstreamClientContext() {
  pki::SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return pki::OpensslError(ErrorCode::kInternal, "creating the upstream TLS context");
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
    return pki::OpensslError(ErrorCode::kInternal, "loading the system's CA certificates");
  }
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  return ctx;
}

}  // namespace certgate::edge
