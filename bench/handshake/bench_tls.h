// The TLS every side of the handshake bench speaks (TLS 1.3 with X25519 and
// TLS_AES_128_GCM_SHA256), and OpenSSL's error queue as text for failures.
#pragma once

#include <string>

namespace certgate::bench::handshake {

inline constexpr char kCipherSuite[] = "TLS_AES_128_GCM_SHA256";
inline constexpr char kGroup[] = "X25519";

// Drains OpenSSL's error queue into "reason; reason" ("no OpenSSL error"
// when empty).
std::string OpensslErrors();

}  // namespace certgate::bench::handshake
