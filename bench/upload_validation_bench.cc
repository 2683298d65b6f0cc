// Upload validation (parse + verify + seal) for an ECDSA P-256 and an
// RSA-2048 chain, against the floor of what any implementation must do with
// OpenSSL: decode the PEM, verify the chain's signature, decode the key and
// compare it with the leaf. Prints Google Benchmark's table, then the
// certgate/floor ratios from the same run.
//
//   build/bench/upload_validation_bench [--benchmark_repetitions=5]
#include <benchmark/benchmark.h>
#include <openssl/pem.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>

#include "pki/testing/cert_factory.h"
#include "pki/upload.h"
#include "seal/key_vault.h"

namespace {

using certgate::pki::testing::CertSpec;
using certgate::pki::testing::KeyPemPkcs8;
using certgate::pki::testing::MakeChain;
using certgate::pki::testing::TestKeyType;

struct Fixture {
  std::string chain_pem;
  std::string key_pem;
};

const Fixture& FixtureFor(TestKeyType type) {
  static std::map<TestKeyType, Fixture> cache;
  auto it = cache.find(type);
  if (it != cache.end()) return it->second;
  CertSpec spec;
  spec.common_name = "bench.example.com";
  spec.dns_names = {"bench.example.com", "www.bench.example.com"};
  auto chain = MakeChain(type, spec);
  return cache[type] = Fixture{chain.BundlePem(), KeyPemPkcs8(chain.leaf_key.get())};
}

certgate::seal::KeyVault& Vault() {
  static std::unique_ptr<certgate::seal::KeyVault> vault = [] {
    certgate::seal::MasterKeySource source;
    source.env_value = "v1:" + std::string(44 - 1, 'A') + "=";
    auto v = certgate::seal::KeyVault::Open(source);
    if (!v) {
      std::fprintf(stderr, "vault: %s\n", v.error().message.c_str());
      std::abort();
    }
    return std::move(*v);
  }();
  return *vault;
}

void BM_CertgateValidateAndSeal(benchmark::State& state, TestKeyType type) {
  const Fixture& f = FixtureFor(type);
  const auto now = std::chrono::system_clock::now();
  for (auto _ : state) {
    auto upload = certgate::pki::ValidateUpload(f.chain_pem, f.key_pem, now);
    if (!upload) state.SkipWithError(upload.error().message.c_str());
    auto sealed = Vault().Seal(upload->key_der.span(), "cert_2OEmZ6CE8wZrZW8lRQVjNoFTafd");
    benchmark::DoNotOptimize(sealed);
  }
}

// The floor: PEM decode of two certificates and a key, one signature
// verification, and the key/leaf comparison, with no checks or messages.
void BM_OpensslFloor(benchmark::State& state, TestKeyType type) {
  const Fixture& f = FixtureFor(type);
  for (auto _ : state) {
    BIO* bio = BIO_new_mem_buf(f.chain_pem.data(), static_cast<int>(f.chain_pem.size()));
    X509* leaf = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    X509* issuer = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    BIO* kbio = BIO_new_mem_buf(f.key_pem.data(), static_cast<int>(f.key_pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(kbio, nullptr, nullptr, nullptr);
    BIO_free(kbio);
    int ok = X509_verify(leaf, X509_get0_pubkey(issuer)) == 1 &&
             EVP_PKEY_eq(X509_get0_pubkey(leaf), key) == 1;
    if (!ok) state.SkipWithError("floor verification failed");
    EVP_PKEY_free(key);
    X509_free(issuer);
    X509_free(leaf);
  }
}

BENCHMARK_CAPTURE(BM_CertgateValidateAndSeal, ecdsa_p256, TestKeyType::kEcP256)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_OpensslFloor, ecdsa_p256, TestKeyType::kEcP256)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_CertgateValidateAndSeal, rsa_2048, TestKeyType::kRsa2048)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_OpensslFloor, rsa_2048, TestKeyType::kRsa2048)->Unit(benchmark::kMicrosecond);

// Collects CPU time per benchmark while the console reporter prints.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
      // With repetitions the median aggregate comes last and wins.
      cpu_us_[r.run_name.str()] = r.GetAdjustedCPUTime();  // in the benchmark's unit (us)
    }
  }
  void PrintRatios() const {
    std::printf("\n%-12s %16s %16s %10s\n", "chain", "certgate (us)", "openssl floor", "ratio");
    for (const char* name : {"ecdsa_p256", "rsa_2048"}) {
      auto c = cpu_us_.find(std::string("BM_CertgateValidateAndSeal/") + name);
      auto f = cpu_us_.find(std::string("BM_OpensslFloor/") + name);
      if (c == cpu_us_.end() || f == cpu_us_.end()) continue;
      std::printf("%-12s %16.1f %16.1f %9.2fx\n", name, c->second, f->second,
                  c->second / f->second);
    }
    std::printf("(CPU time per upload; ratio = certgate / floor, lower is better)\n");
  }

 private:
  std::map<std::string, double> cpu_us_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintRatios();
  benchmark::Shutdown();
  return 0;
}
