// What the certificate harnesses do with a parsed bundle: every function of
// pki/certificate.h that the API runs on an upload, each checked against its
// contract (fuzz build only).
#pragma once

#include <chrono>
#include <string>

#include "fuzz_util.h"
#include "pki/certificate.h"

namespace certgate::fuzz {

inline void ExerciseCertificateBundle(std::string_view pem) {
  // A fixed "now", so that the same input always takes the same path.
  const Time now = FromUnixSeconds(1798761600);  // 2027-01-01T00:00:00Z, inside the seeds' validity
  Result<pki::Chain> chain = pki::ParseCertificateBundle(pem);
  CheckOpensslQueueEmpty("ParseCertificateBundle");
  if (!chain.ok()) {
    CheckError(chain.error());
    return;
  }
  FUZZ_CHECK(!chain->certs.empty() && chain->certs.size() <= pki::kMaxChainCertificates, "");

  CheckIfError(pki::CheckChainOrder(*chain));
  CheckOpensslQueueEmpty("CheckChainOrder");
  CheckIfError(pki::CheckLeafUsableForServer(*chain, now));
  CheckOpensslQueueEmpty("CheckLeafUsableForServer");

  pki::CertificateInfo info = pki::DescribeCertificate(chain->leaf());
  CheckOpensslQueueEmpty("DescribeCertificate");
  for (const std::string& name : info.dns_names) {
    (void)pki::CertificateCoversDomain(chain->leaf(), name);
  }
  (void)pki::CertificateCoversDomain(chain->leaf(), "app.example.com");
  (void)pki::CertificateCoversDomain(chain->leaf(), "*.example.com");
  CheckOpensslQueueEmpty("CertificateCoversDomain");
  const auto entries = pki::DescribeChain(*chain);
  FUZZ_CHECK(entries.size() == chain->certs.size(), "");
  CheckOpensslQueueEmpty("DescribeChain");

  // The canonical PEM is what gets stored: it must read back as the same chain.
  const std::string canonical = pki::EncodeChainPem(*chain);
  Result<pki::Chain> again = pki::ParseStoredChain(canonical);
  FUZZ_CHECK(again.ok(), again.ok() ? "" : again.error().message);
  FUZZ_CHECK(again->certs.size() == chain->certs.size(), "");
  FUZZ_CHECK(pki::EncodeChainPem(*again) == canonical, "");
  CheckOpensslQueueEmpty("EncodeChainPem");
}

}  // namespace certgate::fuzz
