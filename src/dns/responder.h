// Responder: certgate's authoritative DNS server for one zone (the service's
// base domain, e.g. "certgate.test"), on UDP and TCP at one address and port.
// It answers DNS-01 TXT records and the edge's A/AAAA records from a
// ZoneSource, asked per query, and fixed apex records:
//
//   <zone>        SOA  ns1.<zone> hostmaster.<zone> <serial: unix time at
//                      Create> 3600 600 604800 <ttl>
//   <zone>        NS   ns1.<zone>
//   <zone>        A/AAAA  the edge addresses (also ns1.<zone>, and every name
//                         for which ZoneSource::IsEdgeName is true)
//   <name>        TXT  ZoneSource::TxtRecords(name)
//
// Behaviour (RFC 1034/1035, 2308, 6891, 7766, 8020):
// - AA on every in-zone answer; NODATA (NOERROR, no answer, SOA in authority)
//   for a name that exists without the asked type; NXDOMAIN (SOA in
//   authority) for a name that does not exist; REFUSED for names outside the
//   zone, for classes other than IN/ANY, and for AXFR/IXFR.
// - Type ANY answers every record the name has (no RFC 8482 minimal answer:
//   the zone is small and ANY over UDP is bounded by TC like anything else).
// - Opcodes other than QUERY: NOTIMP. More than one question, a message that
//   does not parse, or a UDP query over 512 bytes without EDNS: FORMERR when
//   the 12-byte header is readable, otherwise the message is dropped.
//   Messages with QR set (responses) are dropped, never answered.
// - EDNS: a query with an OPT record gets one (UDP payload size 1232, no DO);
//   EDNS versions above 0 get BADVERS. UDP answers bigger than
//   min(max(512, client's size), 1232) are sent truncated (TC, no records).
// - Names match case-insensitively; the question is echoed as asked (0x20).
// - A ZoneSource error answers SERVFAIL and logs (debug) the error message.
//
// Limits: UDP datagrams over 4096 bytes are dropped; each source address
// gets udp_queries_per_source answers a second over UDP, and the rest of its
// datagrams are dropped before any lookup; TCP messages carry a
// 2-byte length, several per connection, at most 4096 bytes each (a longer
// one closes the connection); idle TCP connections close after
// tcp_idle_timeout; at most max_tcp_connections are open (more are closed at
// once). Logs only at debug level.
//
// Threading: Create/Listen/Start/Stop from one owning thread. Serving happens
// on one internal thread, which is the only one calling the ZoneSource.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/host_port.h"
#include "core/result.h"
#include "dns/zone_source.h"

namespace certgate::dns {

struct ResponderOptions {
  // Port 0: pick a port that is free for both UDP and TCP.
  HostPort listen{"127.0.0.1", 53};
  // The zone apex: a normalized domain name (lower case, no trailing dot).
  std::string zone;
  // The A and AAAA answers for the apex, ns1.<zone> and edge names.
  std::vector<boost::asio::ip::address> edge_addresses;
  // The answers' TTL, also the SOA minimum (the negative-caching TTL).
  uint32_t ttl = 30;
  size_t max_tcp_connections = 256;
  // UDP queries answered per second from one source address (a token bucket
  // holding one second's worth); more are dropped unread by the zone, so a
  // flood from one source costs that source, not the resolvers asking for
  // real names. 0: no limit.
  uint32_t udp_queries_per_source = 1000;
  std::chrono::milliseconds tcp_idle_timeout{10000};
};

class Responder {
 public:
  // Checks the options (kConfigInvalid). `source` must outlive the responder.
  static Result<std::unique_ptr<Responder>> Create(ResponderOptions options, ZoneSource& source);
  ~Responder();  // Stop()s
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;

  // Binds UDP and TCP on options.listen; returns the bound address (the same
  // port for both). Error kIo when the address cannot be bound. Listen and
  // Start are one-shot: a stopped responder cannot be restarted.
  Result<HostPort> Listen();
  // Serves on an internal thread. REQUIRES: Listen() succeeded.
  void Start();
  // Closes the sockets and joins the thread. Idempotent.
  void Stop();

  struct Stats {
    std::array<uint64_t, 16> answers_by_rcode{};  // by the header's RCODE
    uint64_t dropped = 0;  // UDP queries over a source's budget, not answered
  };
  Stats stats() const;

 private:
  struct Impl;
  explicit Responder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace certgate::dns
