#include "handshake/bench_pki.h"

#include <atomic>
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "pki/testing/cert_factory.h"
#include "support/process.h"

namespace certgate::bench::handshake {

namespace fs = std::filesystem;
namespace cgt = certgate::pki::testing;
using certgate::pki::EvpPkeyPtr;
using certgate::pki::X509Ptr;
using certgate::testing::WriteFile;

std::string NameOf(int i) { return fmt::format("h{:05}.bench.example.com", i); }

Pki MakePki(int count, const fs::path& dir) {
  Pki pki;
  cgt::CertSpec ca_spec;
  ca_spec.common_name = "certgate handshake bench root";
  ca_spec.is_ca = true;
  ca_spec.key_usage = "keyCertSign,cRLSign";
  ca_spec.extended_key_usage = std::nullopt;
  ca_spec.not_after_offset = std::chrono::hours(24 * 365);
  EvpPkeyPtr root_key = cgt::MakeKey(cgt::TestKeyType::kEcP256);
  X509Ptr root = cgt::IssueCertificate(ca_spec, root_key.get(), nullptr, root_key.get());
  ca_spec.common_name = "certgate handshake bench CA";
  EvpPkeyPtr ca_key = cgt::MakeKey(cgt::TestKeyType::kEcP256);
  X509Ptr ca = cgt::IssueCertificate(ca_spec, ca_key.get(), root.get(), root_key.get());
  const std::string ca_pem = cgt::CertPem(ca.get());
  pki.root_pem = cgt::CertPem(root.get());
  fs::create_directories(dir);
  WriteFile(dir / "root.pem", pki.root_pem);
  pki.names.resize(static_cast<size_t>(count));
  pki.cert_pem.resize(pki.names.size());
  pki.key_pem.resize(pki.names.size());
  pki.combined.resize(pki.names.size());
  // Two threads: key generation and signing dominate.
  std::atomic<int> next{0};
  auto work = [&] {
    for (int i = next++; i < count; i = next++) {
      const auto idx = static_cast<size_t>(i);
      cgt::CertSpec spec;
      spec.common_name = NameOf(i);
      spec.dns_names = {spec.common_name};
      EvpPkeyPtr key = cgt::MakeKey(cgt::TestKeyType::kEcP256);
      X509Ptr leaf = cgt::IssueCertificate(spec, key.get(), ca.get(), ca_key.get());
      pki.names[idx] = spec.common_name;
      pki.cert_pem[idx] = cgt::CertPem(leaf.get()) + ca_pem;
      pki.key_pem[idx] = cgt::KeyPemPkcs8(key.get());
      pki.combined[idx] = dir / fmt::format("{}.pem", i);
      WriteFile(pki.combined[idx], pki.cert_pem[idx] + pki.key_pem[idx]);
    }
  };
  std::thread helper(work);
  work();
  helper.join();
  return pki;
}

}  // namespace certgate::bench::handshake
