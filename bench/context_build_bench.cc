// What the edge does for a cold name's first handshake, step by step, for
// an ECDSA P-256 certificate under one intermediate (what --distinct-certs
// in scale_bench serves): parse the stored chain, unseal the key, decode
// its DER, build the certificate's SSL_CTX; and beside it the floor of each
// step, OpenSSL alone. Prints Google Benchmark's table.
//
//   build/bench/context_build_bench [--benchmark_repetitions=5]
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <openssl/ssl.h>

#include "edge/tls_contexts.h"
#include "pki/certificate.h"
#include "pki/private_key.h"
#include "pki/testing/cert_factory.h"
#include "pki/tls_posture.h"
#include "seal/key_vault.h"

namespace {

namespace pki = certgate::pki;
using certgate::SecretBytes;

template <typename T>
T Must(certgate::Result<T> r, const char* what) {
  if (!r) {
    std::fprintf(stderr, "%s: %s\n", what, r.error().message.c_str());
    std::abort();
  }
  return std::move(*r);
}

struct Fixture {
  std::string chain_pem;
  SecretBytes key_der;
  std::vector<uint8_t> sealed;
  std::unique_ptr<certgate::seal::KeyVault> vault;
  pki::ParsedCertificateCache intermediates;
};

Fixture& TheFixture() {
  static Fixture* f = [] {
    auto* out = new Fixture;
    pki::testing::CertSpec spec;
    spec.common_name = "cold.bench.example";
    spec.dns_names = {"cold.bench.example"};
    auto chain = pki::testing::MakeChain(pki::testing::TestKeyType::kEcP256, spec, false);
    out->chain_pem = chain.BundlePem();
    out->key_der = Must(pki::EncodePrivateKeyDer(chain.leaf_key.get()), "encoding the key");
    certgate::seal::MasterKeySource source;
    source.env_value = "v1:" + std::string(44 - 1, 'A') + "=";
    out->vault = Must(certgate::seal::KeyVault::Open(source), "opening the vault");
    out->sealed = Must(out->vault->Seal(out->key_der.span(), "cert_1"), "sealing the key");
    return out;
  }();
  return *f;
}

void BM_ParseStoredChain(benchmark::State& state) {
  Fixture& f = TheFixture();
  for (auto _ : state) {
    auto chain = pki::ParseStoredChain(f.chain_pem, &f.intermediates);
    benchmark::DoNotOptimize(chain);
  }
}
BENCHMARK(BM_ParseStoredChain);

void BM_Unseal(benchmark::State& state) {
  Fixture& f = TheFixture();
  for (auto _ : state) {
    auto der = f.vault->Unseal(f.sealed, "cert_1");
    benchmark::DoNotOptimize(der);
  }
}
BENCHMARK(BM_Unseal);

void BM_DecodePrivateKeyDer(benchmark::State& state) {
  Fixture& f = TheFixture();
  for (auto _ : state) {
    auto key = pki::DecodePrivateKeyDer(f.key_der.span());
    benchmark::DoNotOptimize(key);
  }
}
BENCHMARK(BM_DecodePrivateKeyDer);

// OpenSSL's own PKCS#8 path, for comparison.
void BM_Floor_d2i_AutoPrivateKey(benchmark::State& state) {
  Fixture& f = TheFixture();
  for (auto _ : state) {
    const unsigned char* p = f.key_der.span().data();
    EVP_PKEY* key = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(f.key_der.size()));
    benchmark::DoNotOptimize(key);
    EVP_PKEY_free(key);
  }
}
BENCHMARK(BM_Floor_d2i_AutoPrivateKey);

void BM_Floor_SslCtxNew(benchmark::State& state) {
  for (auto _ : state) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    benchmark::DoNotOptimize(ctx);
    SSL_CTX_free(ctx);
  }
}
BENCHMARK(BM_Floor_SslCtxNew);

void BM_SslCtxNewWithPosture(benchmark::State& state) {
  for (auto _ : state) {
    pki::SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
    if (!pki::ApplyServerTlsPosture(ctx.get())) std::abort();
    benchmark::DoNotOptimize(ctx);
  }
}
BENCHMARK(BM_SslCtxNewWithPosture);

void BM_MakeCertificateContext(benchmark::State& state) {
  Fixture& f = TheFixture();
  auto chain = Must(pki::ParseStoredChain(f.chain_pem, &f.intermediates), "parsing the chain");
  auto key = Must(pki::DecodePrivateKeyDer(f.key_der.span()), "decoding the key");
  for (auto _ : state) {
    auto ctx = certgate::edge::MakeCertificateContext(chain, key.get(), nullptr, nullptr);
    benchmark::DoNotOptimize(ctx);
  }
}
BENCHMARK(BM_MakeCertificateContext);

// Everything LoadContext does after the store read.
void BM_WholeColdBuild(benchmark::State& state) {
  Fixture& f = TheFixture();
  for (auto _ : state) {
    auto chain = Must(pki::ParseStoredChain(f.chain_pem, &f.intermediates), "parsing the chain");
    auto der = Must(f.vault->Unseal(f.sealed, "cert_1"), "unsealing");
    auto key = Must(pki::DecodePrivateKeyDer(der.span()), "decoding the key");
    auto ctx = certgate::edge::MakeCertificateContext(chain, key.get(), nullptr, nullptr);
    benchmark::DoNotOptimize(ctx);
  }
}
BENCHMARK(BM_WholeColdBuild);

}  // namespace

BENCHMARK_MAIN();
