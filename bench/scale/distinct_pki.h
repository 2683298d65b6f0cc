// scale_bench's distinct certificates (issue 17, section 5): one ECDSA P-256
// leaf per name, each with its own key, all signed by one local CA (under a
// root), made in process on every cpu. Each leaf's chain and key also go to
// a PEM file for HAProxy and nginx.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/time.h"
#include "pki/ossl_ptr.h"

namespace certgate::bench::scale {

// "d0000042.certs.example" for 42: a name no other part of the bench uses.
std::string DistinctName(int i);

struct DistinctCert {
  std::string name;       // DistinctName(i), its only DNS name and its CN
  std::string chain_pem;  // leaf + CA, as POST /tls_certificates stores it
  std::string serial;     // SerialHex, which the probes compare
  // The leaf's summary as the store keeps it (pki::DescribeCertificate).
  std::string serial_number;  // lower-case hex
  Time not_before;
  Time not_after;
  pki::EvpPkeyPtr key;
  std::filesystem::path pem_file;  // chain, then the key (PKCS#8)
};

struct DistinctPki {
  std::vector<DistinctCert> certs;
  double seconds = 0;  // generation, files included
};

// count leaves under a fresh root and CA, on hardware_concurrency threads;
// one "<i>.pem" per leaf in dir (created). Prints progress lines.
DistinctPki MakeDistinctPki(int count, const std::filesystem::path& dir);

}  // namespace certgate::bench::scale
