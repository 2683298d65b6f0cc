// private_key_pem as a user uploads it: PEM framing, headers, labels, base64,
// then the key decoders (PKCS#1, SEC 1, PKCS#8) and the type, curve, size and
// consistency checks.
#include <cstddef>
#include <cstdint>

#include "private_key_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  certgate::fuzz::ExercisePrivateKey(certgate::fuzz::AsText(data, size));
  return 0;
}
