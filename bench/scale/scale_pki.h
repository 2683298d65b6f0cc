// scale_bench's certificates: a local root and CA (ECDSA P-256); the CA signs the
// wildcard every loaded name points at, and a few small leaves for the
// change measurements, each covering the names those changes create. Made
// in process (pki/testing); what the API uploads is leaf + CA.
#pragma once

#include <string>
#include <vector>

#include <openssl/x509.h>

namespace certgate::bench::scale {

// The names: "n0000042.bench.example" for loaded name 42 (the wildcard
// *.bench.example covers them); changes create names one label further
// down, under kChangeParent, which only the change leaves cover, so a
// handshake tells an applied change from one not applied yet.
inline constexpr char kWildcardName[] = "*.bench.example";
inline constexpr char kChangeParent[] = "chg.bench.example";
inline constexpr char kBaseDomain[] = "certgate.test";  // the service's own (--base-domain)

std::string LoadedName(int i);

struct Leaf {
  std::string chain_pem;  // leaf + CA
  std::string key_pem;    // PKCS#8
  std::string serial;     // hex, as SerialHex prints it
};

struct ScalePki {
  Leaf wildcard;              // *.bench.example
  std::vector<Leaf> changes;  // *.chg.bench.example, distinct keys and serials
};

ScalePki MakeScalePki(int change_leaves);

// The certificate's serial number in upper-case hex without leading zeros.
std::string SerialHex(X509* cert);

}  // namespace certgate::bench::scale
