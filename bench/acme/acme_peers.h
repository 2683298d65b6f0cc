// acme_bench's peers: the same topology as tests/integration/acme_test.cc.
// Pebble (its HTTP-01 checks to one port), pebble-challtestsrv as the
// customer's DNS for customer.test, unbound as the resolver Pebble and
// certgate ask, with stub zones customer.test -> challtestsrv and
// certgate.test -> certgate's authoritative DNS. All on 127.0.0.1.
#pragma once

#include <cstdint>
#include <memory>

#include "support/challtestsrv.h"
#include "support/pebble.h"
#include "support/unbound.h"

namespace certgate::bench::acme {

inline constexpr char kBase[] = "certgate.test";
inline constexpr char kCustomer[] = "customer.test";
inline constexpr char kEmail[] = "bench@customer.test";

class Peers {
 public:
  // Starts them all; throws std::runtime_error when one does not start.
  Peers();

  // certgate's authoritative DNS (the certgate.test stub zone's server).
  uint16_t dns_port() const { return dns_port_; }
  // Where Pebble sends HTTP-01 checks.
  uint16_t http_port() const { return http_port_; }
  testing::ChallTestSrv& customer() { return *customer_; }
  testing::Unbound& unbound() { return *unbound_; }
  testing::Pebble& pebble() { return *pebble_; }

 private:
  uint16_t dns_port_ = 0;
  uint16_t http_port_ = 0;
  std::unique_ptr<testing::ChallTestSrv> customer_;
  std::unique_ptr<testing::Unbound> unbound_;
  std::unique_ptr<testing::Pebble> pebble_;
};

}  // namespace certgate::bench::acme
