// A whole certificate upload: certificate_pem and private_key_pem, split at
// the first "\n====\n" of the input, through pki::ValidateUpload (every check
// POST /tls_certificates makes, key/leaf match included).
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "pki/upload.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certgate;
  auto [cert, key] = fuzz::SplitAt(fuzz::AsText(data, size), "\n====\n");
  const Time now = FromUnixSeconds(1798761600);  // 2027-01-01T00:00:00Z, inside the seeds' validity
  Result<pki::ValidatedUpload> r = pki::ValidateUpload(cert, key, now);
  fuzz::CheckOpensslQueueEmpty("ValidateUpload");
  if (!r.ok()) {
    fuzz::CheckError(r.error());
    return 0;
  }
  // What is sealed must read back as the key.
  Result<pki::EvpPkeyPtr> back = pki::DecodePrivateKeyDer(r->key_der.span());
  FUZZ_CHECK(back.ok(), back.ok() ? "" : back.error().message);
  FUZZ_CHECK(pki::CheckKeyMatchesCertificate(back->get(), r->chain.leaf()).ok(), "");
  fuzz::CheckOpensslQueueEmpty("DecodePrivateKeyDer");
  return 0;
}
