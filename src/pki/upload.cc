#include "pki/upload.h"

#include <utility>

#include <fmt/format.h>

#include "pki/cert_text.h"
#include "pki/openssl_error.h"

namespace certgate::pki {

Result<ValidatedUpload> ValidateUpload(std::string_view certificate_pem,
                                       std::string_view private_key_pem, Time now) {
  ScopedOpensslErrorDrain drain;
  CG_ASSIGN_OR_RETURN(Chain chain, ParseCertificateBundle(certificate_pem));
  CG_RETURN_IF_ERROR(CheckChainOrder(chain));
  CG_RETURN_IF_ERROR(CheckCertificateKeyLimits(
      chain.leaf(), fmt::format("the key of the leaf certificate ({})",
                                internal::CertLabel(chain.leaf()))));
  CG_ASSIGN_OR_RETURN(EvpPkeyPtr key, ParsePrivateKey(private_key_pem));
  CG_RETURN_IF_ERROR(CheckKeyMatchesCertificate(key.get(), chain.leaf()));
  CG_RETURN_IF_ERROR(CheckLeafUsableForServer(chain, now));
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
