// ParseOneCertificatePem (certificate.h): one certificate alone in PEM, as a
// trust list's entry gives it.
#include <fmt/format.h>
#include <openssl/x509.h>

#include "pki/certificate.h"
#include "pki/openssl_error.h"
#include "pki/pem_frame.h"

namespace certgate::pki {

Result<X509Ptr> ParseOneCertificatePem(std::string_view pem, std::string_view what) {
  ScopedOpensslErrorDrain drain;
  const internal::PemFraming framing = internal::FramePem(pem, internal::OutsideText::kSkip);
  if (framing.blocks.empty()) {
    if (framing.fault != internal::PemFault::kNone) {
      return internal::MalformedFramingError(framing, what, "CERTIFICATE");
    }
    return MakeError(ErrorCode::kBundleNotPem,
                     fmt::format("{} is not a PEM certificate: it has no "
                                 "-----BEGIN CERTIFICATE----- line",
                                 what));
  }
  if (framing.blocks.size() > 1) {
    return MakeError(ErrorCode::kBundleWrongBlock,
                     fmt::format("{} holds more than one PEM block; give each certificate "
                                 "on its own",
                                 what));
  }
  if (framing.fault != internal::PemFault::kNone) {
    return MakeError(
        ErrorCode::kPemMalformed,
        fmt::format("{} has malformed PEM after its certificate: {}", what,
                    internal::MalformedFramingError(framing, what, "CERTIFICATE").message));
  }
  const internal::PemBlock& b = framing.blocks.front();
  if (b.label != "CERTIFICATE") {
    return MakeError(ErrorCode::kBundleWrongBlock,
                     fmt::format("{} is a PEM '{}' block, not a CERTIFICATE", what, b.label));
  }
  if (!b.headers.empty()) {
    return MakeError(ErrorCode::kPemHeaders,
                     fmt::format("{} has PEM headers ({}), which are not allowed: remove the "
                                 "header lines so that the block holds only base64",
                                 what, b.HeaderNames()));
  }
  auto der = internal::DecodePemBlock(b);
  if (!der) {
    return MakeError(ErrorCode::kPemMalformed,
                     fmt::format("{} is not a valid PEM certificate: its base64 is empty or "
                                 "corrupt ({})",
                                 what, fmt::format("lines {}-{}", b.begin_line, b.end_line)));
  }
  const unsigned char* p = der->begin();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der->size)));
  if (!cert || p != der->begin() + der->size) {
    ClearOpensslErrors();
    return MakeError(ErrorCode::kCertNotX509,
                     fmt::format("{} is a CERTIFICATE block that does not parse as X.509", what));
  }
  return cert;
}

}  // namespace certgate::pki
