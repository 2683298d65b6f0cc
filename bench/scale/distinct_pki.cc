#include "scale/distinct_pki.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "common/progress.h"
#include "pki/certificate.h"
#include "pki/testing/cert_factory.h"
#include "scale/scale_pki.h"
#include "support/process.h"

namespace certgate::bench::scale {
namespace {

namespace cgt = certgate::pki::testing;
using certgate::pki::EvpPkeyPtr;
using certgate::pki::X509Ptr;

cgt::CertSpec CaSpec(const char* name) {
  cgt::CertSpec spec;
  spec.common_name = name;
  spec.is_ca = true;
  spec.key_usage = "keyCertSign,cRLSign";
  spec.extended_key_usage = std::nullopt;
  spec.not_after_offset = std::chrono::hours(24 * 365);
  return spec;
}

}  // namespace

std::string DistinctName(int i) { return fmt::format("d{:07}.certs.example", i); }

DistinctPki MakeDistinctPki(int count, const std::filesystem::path& dir) {
  const auto t0 = BenchClock::now();
  EvpPkeyPtr root_key = cgt::MakeKey(cgt::TestKeyType::kEcP256);
  X509Ptr root = cgt::IssueCertificate(CaSpec("certgate scale bench distinct root"), root_key.get(),
                                       nullptr, root_key.get());
  EvpPkeyPtr ca_key = cgt::MakeKey(cgt::TestKeyType::kEcP256);
  X509Ptr ca = cgt::IssueCertificate(CaSpec("certgate scale bench distinct CA"), ca_key.get(),
                                     root.get(), root_key.get());
  const std::string ca_pem = cgt::CertPem(ca.get());
  std::filesystem::create_directories(dir);

  DistinctPki out;
  out.certs.resize(static_cast<size_t>(count));
  std::atomic<int> next{0};
  std::atomic<int> done{0};
  // Key generation and signing dominate; the CA's key is only read.
  auto work = [&] {
    for (int i = next++; i < count; i = next++) {
      DistinctCert& c = out.certs[static_cast<size_t>(i)];
      c.name = DistinctName(i);
      cgt::CertSpec spec;
      spec.common_name = c.name;
      spec.dns_names = {c.name};
      c.key = cgt::MakeKey(cgt::TestKeyType::kEcP256);
      X509Ptr leaf = cgt::IssueCertificate(spec, c.key.get(), ca.get(), ca_key.get());
      c.chain_pem = cgt::CertPem(leaf.get()) + ca_pem;
      c.serial = SerialHex(leaf.get());
      const pki::CertificateInfo info = pki::DescribeCertificate(leaf.get());
      c.serial_number = info.serial_number;
      c.not_before = info.not_before;
      c.not_after = info.not_after;
      c.pem_file = dir / fmt::format("{}.pem", i);
      testing::WriteFile(c.pem_file, c.chain_pem + cgt::KeyPemPkcs8(c.key.get()));
      const int d = ++done;
      if (d % 20000 == 0) Progress("  {} of {} certificates generated", d, count);
    }
  };
  std::vector<std::thread> threads;
  const unsigned helpers = std::max(1u, std::thread::hardware_concurrency()) - 1;
  for (unsigned t = 0; t < helpers; ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  out.seconds = Seconds(BenchClock::now() - t0);
  return out;
}

}  // namespace certgate::bench::scale
