#include "pki/upload.h"

#include <utility>

#include <fmt/format.h>

#include "pki/cert_text.h"
#include "pki/openssl_error.h"

namespace certgate::pki {

namespace {

// r, its error naming field (Error::field) as the input at fault.
template <class T>
Result<T> AtField(Result<T> r, std::string_view field) {
  if (r.ok()) return r;
  return WithField(std::move(r).error(), field);
}

}  // namespace

Result<ValidatedUpload> ValidateUpload(std::string_view certificate_pem,
                                       std::string_view private_key_pem, Time now) {
  ScopedOpensslErrorDrain drain;
  CG_ASSIGN_OR_RETURN(Chain chain,
                      AtField(ParseCertificateBundle(certificate_pem), kCertificatePemField));
  CG_RETURN_IF_ERROR(AtField(CheckChainOrder(chain), kCertificatePemField));
  CG_RETURN_IF_ERROR(AtField(
      CheckCertificateKeyLimits(chain.leaf(), fmt::format("the key of the leaf certificate ({})",
                                                          internal::CertLabel(chain.leaf()))),
      kCertificatePemField));
  CG_ASSIGN_OR_RETURN(EvpPkeyPtr key,
                      AtField(ParsePrivateKey(private_key_pem), kPrivateKeyPemField));
  CG_RETURN_IF_ERROR(
      AtField(CheckKeyMatchesCertificate(key.get(), chain.leaf()), kPrivateKeyPemField));
  CG_RETURN_IF_ERROR(AtField(CheckLeafUsableForServer(chain, now), kCertificatePemField));
  CG_ASSIGN_OR_RETURN(SecretBytes key_der, EncodePrivateKeyDer(key.get()));

  ValidatedUpload out;
  out.chain_pem = EncodeChainPem(chain);
  if (out.chain_pem.empty()) {
    return MakeError(ErrorCode::kInternal, "cannot re-encode the certificate chain as PEM");
  }
  out.info = DescribeCertificate(chain.leaf());
  out.chain = std::move(chain);
  out.key_der = std::move(key_der);
  return out;
}

}  // namespace certgate::pki
