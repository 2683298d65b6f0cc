#include "scale/scale_pki.h"

#include <chrono>
#include <stdexcept>

#include <fmt/format.h>
#include <openssl/bn.h>

#include "pki/testing/cert_factory.h"

namespace certgate::bench::scale {
namespace {

namespace cgt = certgate::pki::testing;
using certgate::pki::EvpPkeyPtr;
using certgate::pki::X509Ptr;

Leaf IssueLeaf(const std::string& name, X509* ca, EVP_PKEY* ca_key) {
  cgt::CertSpec spec;
  spec.common_name = name;
  spec.dns_names = {name};
  EvpPkeyPtr key = cgt::MakeKey(cgt::TestKeyType::kEcP256);
  X509Ptr leaf = cgt::IssueCertificate(spec, key.get(), ca, ca_key);
  return Leaf{cgt::CertPem(leaf.get()) + cgt::CertPem(ca), cgt::KeyPemPkcs8(key.get()),
              SerialHex(leaf.get())};
}

}  // namespace

std::string LoadedName(int i) { return fmt::format("n{:07}.bench.example", i); }

std::string SerialHex(X509* cert) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  if (bn == nullptr) throw std::runtime_error("cannot read a certificate's serial number");
  char* hex = BN_bn2hex(bn);
  std::string out = hex != nullptr ? hex : "";
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

ScalePki MakeScalePki(int change_leaves) {
  cgt::CertSpec ca_spec;
  ca_spec.common_name = "certgate scale bench root";
  ca_spec.is_ca = true;
  ca_spec.key_usage = "keyCertSign,cRLSign";
  ca_spec.extended_key_usage = std::nullopt;
  ca_spec.not_after_offset = std::chrono::hours(24 * 365);
  EvpPkeyPtr root_key = cgt::MakeKey(cgt::TestKeyType::kEcP256);
  X509Ptr root = cgt::IssueCertificate(ca_spec, root_key.get(), nullptr, root_key.get());
  // Leaves are sent with this intermediate, as a real deployment would.
  ca_spec.common_name = "certgate scale bench CA";
  EvpPkeyPtr ca_key = cgt::MakeKey(cgt::TestKeyType::kEcP256);
  X509Ptr ca = cgt::IssueCertificate(ca_spec, ca_key.get(), root.get(), root_key.get());
  ScalePki pki;
  pki.wildcard = IssueLeaf(kWildcardName, ca.get(), ca_key.get());
  for (int i = 0; i < change_leaves; ++i) {
    pki.changes.push_back(IssueLeaf(fmt::format("*.{}", kChangeParent), ca.get(), ca_key.get()));
  }
  return pki;
}

}  // namespace certgate::bench::scale
