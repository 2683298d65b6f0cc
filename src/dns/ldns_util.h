// Owning pointers for ldns objects and the one conversion every user of
// ldns here needs. Include it after every other header: ldns's C headers
// define true and false as macros, which breaks C++ headers such as fmt's. The individual ldns headers, not <ldns/ldns.h>: its DNSSEC
// key headers use OpenSSL types that OPENSSL_NO_DEPRECATED removes.
#pragma once

#include <ldns/rbtree.h>  // before host2wire.h, which uses it
#include <ldns/host2wire.h>
#include <ldns/packet.h>
#include <ldns/rr.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace certgate::dns {

struct PktFree {
  void operator()(ldns_pkt* p) const noexcept { ldns_pkt_free(p); }
};
using PktPtr = std::unique_ptr<ldns_pkt, PktFree>;
struct RrFree {
  void operator()(ldns_rr* p) const noexcept { ldns_rr_free(p); }
};
using RrPtr = std::unique_ptr<ldns_rr, RrFree>;
struct RdfFree {
  void operator()(ldns_rdf* p) const noexcept { ldns_rdf_deep_free(p); }
};
using RdfPtr = std::unique_ptr<ldns_rdf, RdfFree>;

// The packet in wire format; nullopt if ldns cannot encode it.
inline std::optional<std::vector<uint8_t>> ToWire(const ldns_pkt* pkt) {
  uint8_t* raw = nullptr;
  size_t size = 0;
  if (ldns_pkt2wire(&raw, pkt, &size) != LDNS_STATUS_OK || raw == nullptr) return std::nullopt;
  std::vector<uint8_t> out(raw, raw + size);
  LDNS_FREE(raw);
  return out;
}

}  // namespace certgate::dns
