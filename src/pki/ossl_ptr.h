// Owning smart pointers for OpenSSL objects: the only place *_free calls live.
#pragma once

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace certgate::pki {

template <auto Free>
struct OsslFree {
  void operator()(auto* p) const noexcept { Free(p); }
};

using X509Ptr = std::unique_ptr<X509, OsslFree<&X509_free>>;
using X509ReqPtr = std::unique_ptr<X509_REQ, OsslFree<&X509_REQ_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, OsslFree<&X509_NAME_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, OsslFree<&X509_EXTENSION_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OsslFree<&EVP_PKEY_free>>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OsslFree<&EVP_PKEY_CTX_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, OsslFree<&EVP_MD_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, OsslFree<&BIO_free_all>>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, OsslFree<&SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, OsslFree<&SSL_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, OsslFree<&ASN1_INTEGER_free>>;
using Asn1TimePtr = std::unique_ptr<ASN1_TIME, OsslFree<&ASN1_TIME_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, OsslFree<&BN_free>>;
// A BIGNUM holding a secret (a private exponent, a prime): wiped when freed.
using SecretBignumPtr = std::unique_ptr<BIGNUM, OsslFree<&BN_clear_free>>;
using BnCtxPtr = std::unique_ptr<BN_CTX, OsslFree<&BN_CTX_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, OsslFree<&GENERAL_NAMES_free>>;
using ExtKeyUsagePtr = std::unique_ptr<EXTENDED_KEY_USAGE, OsslFree<&EXTENDED_KEY_USAGE_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, OsslFree<&GENERAL_NAME_free>>;
using Asn1BitStringPtr = std::unique_ptr<ASN1_BIT_STRING, OsslFree<&ASN1_BIT_STRING_free>>;
using Pkcs8PrivKeyInfoPtr =
    std::unique_ptr<PKCS8_PRIV_KEY_INFO, OsslFree<&PKCS8_PRIV_KEY_INFO_free>>;
using OsslDecoderCtxPtr = std::unique_ptr<OSSL_DECODER_CTX, OsslFree<&OSSL_DECODER_CTX_free>>;
using OsslEncoderCtxPtr = std::unique_ptr<OSSL_ENCODER_CTX, OsslFree<&OSSL_ENCODER_CTX_free>>;

// STACK_OF(X509_EXTENSION), freeing its elements too.
inline void FreeX509Extensions(STACK_OF(X509_EXTENSION)* exts) {
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
}
using X509ExtensionStackPtr =
    std::unique_ptr<STACK_OF(X509_EXTENSION), OsslFree<&FreeX509Extensions>>;

// Memory that OpenSSL allocated for us (OPENSSL_malloc): names, UTF-8 strings.
inline void FreeOsslMemory(void* p) { OPENSSL_free(p); }
using OsslCharsPtr = std::unique_ptr<char, OsslFree<&FreeOsslMemory>>;
using OsslBytesPtr = std::unique_ptr<unsigned char, OsslFree<&FreeOsslMemory>>;

// OpenSSL-allocated memory that held secret bytes (decoded private keys): wiped
// when freed. Construct as OsslSecretBytesPtr(p, OsslClearFree{len}).
struct OsslClearFree {
  size_t len = 0;
  void operator()(unsigned char* p) const noexcept { OPENSSL_clear_free(p, len); }
};
using OsslSecretBytesPtr = std::unique_ptr<unsigned char, OsslClearFree>;

// X509_up_ref + wrap, for sharing one certificate between owners.
inline X509Ptr ShareX509(X509* x) {
  X509_up_ref(x);
  return X509Ptr(x);
}
inline EvpPkeyPtr ShareEvpPkey(EVP_PKEY* k) {
  EVP_PKEY_up_ref(k);
  return EvpPkeyPtr(k);
}

}  // namespace certgate::pki
