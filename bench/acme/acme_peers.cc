#include "acme/acme_peers.h"

#include <vector>

namespace certgate::bench::acme {

Peers::Peers() {
  dns_port_ = testing::PickFreePort(true);
  http_port_ = testing::PickFreePort();
  customer_ = std::make_unique<testing::ChallTestSrv>();
  unbound_ = std::make_unique<testing::Unbound>(std::vector<testing::StubZone>{
      {kCustomer, "127.0.0.1", customer_->dns_port()}, {kBase, "127.0.0.1", dns_port_}});
  testing::PebbleOptions po;
  po.http_port = http_port_;
  po.dns_server = unbound_->address();
  pebble_ = std::make_unique<testing::Pebble>(po);
}

}  // namespace certgate::bench::acme
