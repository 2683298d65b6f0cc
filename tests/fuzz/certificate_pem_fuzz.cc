// certificate_pem as a user uploads it (POST /tls_certificates, a policy's
// server_certificate): PEM framing, base64, X.509 DER, chain order, the
// derived fields and the canonical re-encoding.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "pki_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  certgate::fuzz::ExerciseCertificateBundle(certgate::fuzz::AsText(data, size));
  return 0;
}
