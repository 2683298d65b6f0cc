// Private key DER: the first byte picks the PEM label (PKCS#8 "PRIVATE KEY",
// PKCS#1 "RSA PRIVATE KEY", SEC 1 "EC PRIVATE KEY"), the rest is the DER put
// in that block, so that every byte reaches the key decoders.
#include <openssl/pem.h>

#include <cstddef>
#include <cstdint>

#include "pki/ossl_ptr.h"
#include "private_key_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certgate;
  if (size < 1 || size > pki::kMaxPrivateKeyBytes / 2) return -1;
  static constexpr const char* kLabels[] = {"PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"};
  const char* label = kLabels[data[0] % 3];
  pki::BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio(bio.get(), label, "", data + 1, static_cast<long>(size - 1));
  char* pem = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &pem);
  ERR_clear_error();
  fuzz::ExercisePrivateKey(std::string_view(pem, static_cast<size_t>(len)));
  return 0;
}
