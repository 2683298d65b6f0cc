// The handshake bench's PKI: a root, one intermediate CA that signs every
// leaf, one leaf per name; all ECDSA P-256. Every server sends leaf +
// intermediate, as a real deployment would (a leaf alone would also make
// libssl try to build the chain on every handshake in some servers and not
// others).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace certgate::bench::handshake {

struct Pki {
  std::vector<std::string> names;
  std::vector<std::string> cert_pem;            // leaf + intermediate (what every server sends)
  std::vector<std::string> key_pem;             // PKCS#8
  std::vector<std::filesystem::path> combined;  // chain + key, for HAProxy and nginx
  std::string root_pem;
};

// "h00042.bench.example.com" for 42.
std::string NameOf(int i);

// count leaves under a fresh root and CA, made in process (pki_testing) on
// two threads; root.pem and one "<i>.pem" (chain + key) per name in dir.
Pki MakePki(int count, const std::filesystem::path& dir);

}  // namespace certgate::bench::handshake
