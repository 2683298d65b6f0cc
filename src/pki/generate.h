// Key, CSR and self-signed certificate generation: for the service's default
// certificate and, later, ACME orders. Callable from any thread.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/time.h"
#include "pki/ossl_ptr.h"

namespace certgate::pki {

enum class GeneratedKeyType { kEcdsaP256, kRsa4096 };

Result<EvpPkeyPtr> GenerateKey(GeneratedKeyType type);

// A PKCS#10 request signed by key for the DNS names (the first is also the
// subject CN, as Let's Encrypt expects nothing more). Returns DER.
Result<std::vector<uint8_t>> MakeCsr(EVP_PKEY* key, const std::vector<std::string>& dns_names);

// A self-signed server certificate for dns_names (the first is the CN), valid
// from now - 1 h for `lifetime`, with a random 16-byte serial, keyUsage
// digitalSignature, extendedKeyUsage serverAuth, basicConstraints CA:FALSE.
Result<X509Ptr> MakeSelfSignedCertificate(EVP_PKEY* key, const std::vector<std::string>& dns_names,
                                          Time now, std::chrono::hours lifetime);

}  // namespace certgate::pki
