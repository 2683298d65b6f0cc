// One blocking TLS 1.3 handshake against the edge with a given SNI, to see
// which certificate it serves for that name: how scale_bench tells that a
// server is ready and that a change is served, and how it times handshakes.
// The chain is not verified; the leaf's serial number is what is compared.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "pki/ossl_ptr.h"

namespace certgate::bench::scale {

struct ProbeResult {
  bool ok = false;     // a handshake completed and a leaf came
  std::string serial;  // the leaf's serial (SerialHex), when ok
  std::string error;   // why not, when !ok
  double handshake_ms = 0;  // from before connect() to the handshake's end, when ok
};

class TlsProbe {
 public:
  TlsProbe();
  // Connects to 127.0.0.1:port and handshakes with SNI sni; the connection
  // is closed before returning. Never throws for the server's answer.
  ProbeResult Probe(uint16_t port, const std::string& sni,
                    std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) const;
  // Probe, then "GET /" with "Connection: close", read until the server
  // closes: when it returns, the server is done with the connection
  // (handshake, session ticket, answer, close), so its CPU time read then
  // holds all of it. ok needs the close too.
  ProbeResult ProbeAndRequest(
      uint16_t port, const std::string& sni,
      std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) const;

 private:
  ProbeResult Run(uint16_t port, const std::string& sni, std::chrono::milliseconds timeout,
                  bool request) const;

  certgate::pki::SslCtxPtr ctx_;
};

}  // namespace certgate::bench::scale
