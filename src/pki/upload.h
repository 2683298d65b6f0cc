// Validation of an uploaded certificate: everything POST /tls_certificates
// checks, in the order a user should fix things. Callable from any thread.
#pragma once

#include <string_view>

#include "core/result.h"
#include "core/secret_bytes.h"
#include "core/time.h"
#include "pki/certificate.h"
#include "pki/private_key.h"

namespace certgate::pki {

struct ValidatedUpload {
  Chain chain;
  std::string chain_pem;  // EncodeChainPem(chain)
  CertificateInfo info;   // of the leaf
  SecretBytes key_der;    // EncodePrivateKeyDer(key): what gets sealed
};

// The API's names for the two inputs; a validation error names the one at
// fault in Error::field (a key that does not match the leaf: the key).
inline constexpr std::string_view kCertificatePemField = "certificate_pem";
inline constexpr std::string_view kPrivateKeyPemField = "private_key_pem";

// ParseCertificateBundle, CheckChainOrder, CheckCertificateKeyLimits (of the
// leaf: its RSA key must be one the private key may be), ParsePrivateKey,
// CheckKeyMatchesCertificate, CheckLeafUsableForServer; the first failure wins.
Result<ValidatedUpload> ValidateUpload(std::string_view certificate_pem,
                                       std::string_view private_key_pem, Time now);

}  // namespace certgate::pki
