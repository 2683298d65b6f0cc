#include "acme/chain_check.h"

#include <memory>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "pki/ossl_ptr.h"

namespace certgate::bench::acme {
namespace {

using X509StorePtr = std::unique_ptr<X509_STORE, pki::OsslFree<&X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, pki::OsslFree<&X509_STORE_CTX_free>>;
void FreeX509Stack(STACK_OF(X509) * s) { sk_X509_pop_free(s, X509_free); }
using X509StackPtr = std::unique_ptr<STACK_OF(X509), pki::OsslFree<&FreeX509Stack>>;
// A stack that borrows its elements.
void FreeX509StackOnly(STACK_OF(X509) * s) { sk_X509_free(s); }
using X509BorrowingStackPtr = std::unique_ptr<STACK_OF(X509), pki::OsslFree<&FreeX509StackOnly>>;

X509StackPtr ReadCertificates(const std::string& pem) {
  X509StackPtr out(sk_X509_new_null());
  pki::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    sk_X509_push(out.get(), x);
  }
  ERR_clear_error();  // the end of the PEM text reads as an error
  return out;
}

}  // namespace

std::string VerifyChain(const std::string& chain_pem, const std::string& roots_pem,
                        const std::string& name) {
  X509StackPtr chain = ReadCertificates(chain_pem);
  X509StackPtr roots = ReadCertificates(roots_pem);
  if (sk_X509_num(chain.get()) == 0) return "no certificate in the PEM";
  if (sk_X509_num(roots.get()) == 0) return "no Pebble root";
  X509StorePtr store(X509_STORE_new());
  for (int i = 0; i < sk_X509_num(roots.get()); ++i) {
    X509_STORE_add_cert(store.get(), sk_X509_value(roots.get(), i));
  }
  // The intermediates: everything after the leaf (borrowed from chain).
  X509BorrowingStackPtr untrusted(sk_X509_new_null());
  for (int i = 1; i < sk_X509_num(chain.get()); ++i) {
    sk_X509_push(untrusted.get(), sk_X509_value(chain.get(), i));
  }
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), sk_X509_value(chain.get(), 0), untrusted.get());
  X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx.get()), name.c_str(), name.size());
  if (X509_verify_cert(ctx.get()) == 1) return "";
  return X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
}

}  // namespace certgate::bench::acme
