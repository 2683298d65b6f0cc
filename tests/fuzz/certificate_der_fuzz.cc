// X.509 DER: the input is the DER of one certificate, put in a CERTIFICATE
// PEM block so that every byte reaches OpenSSL's decoder and certgate's reading
// of the decoded certificate (names, SANs, key usages, dates, serial).
#include <openssl/pem.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "pki/ossl_ptr.h"
#include "pki_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certgate;
  if (size > pki::kMaxBundleBytes / 2) return -1;  // base64 would pass the bundle limit
  pki::BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio(bio.get(), "CERTIFICATE", "", data, static_cast<long>(size));
  char* pem = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &pem);
  ERR_clear_error();
  fuzz::ExerciseCertificateBundle(std::string_view(pem, static_cast<size_t>(len)));
  return 0;
}
