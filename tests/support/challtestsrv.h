// pebble-challtestsrv as a real peer for tests: the customer's DNS (UDP and
// TCP) and an HTTP-01 responder, on 127.0.0.1 with free ports, everything else
// (HTTPS-01, TLS-ALPN-01) disabled. A queries default to 127.0.0.1, AAAA
// queries get no answer. Records and tokens change through its management
// HTTP API (curl). Killed by process id when the object dies. One owner; not
// thread-safe.
//
// Names are given without the trailing dot; the class adds it. Every method
// throws std::runtime_error (with the server's log tail) when the server
// refuses or does not answer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "support/process.h"

namespace certgate::testing {

class ChallTestSrv {
 public:
  // Starts the server and waits until its DNS, HTTP-01 and management ports
  // accept connections; retries with other ports on a collision.
  ChallTestSrv();
  ~ChallTestSrv();
  ChallTestSrv(const ChallTestSrv&) = delete;
  ChallTestSrv& operator=(const ChallTestSrv&) = delete;

  uint16_t dns_port() const { return dns_port_; }
  std::string dns_address() const;  // "127.0.0.1:port", for pebble -dnsserver
  uint16_t http01_port() const { return http01_port_; }
  uint16_t management_port() const { return management_port_; }

  // host CNAME target.
  void SetCname(std::string_view host, std::string_view target);
  void ClearCname(std::string_view host);
  // Adds an A record (in place of the 127.0.0.1 default for that host).
  void AddA(std::string_view host, std::string_view ip);
  void ClearA(std::string_view host);
  // Adds a TXT value for host; several values may coexist (a wildcard and
  // its base name share one _acme-challenge name). ClearTxt removes them all.
  void SetTxt(std::string_view host, std::string_view value);
  void ClearTxt(std::string_view host);
  // Serves content at /.well-known/acme-challenge/<token> on http01_port().
  void AddHttp01(std::string_view token, std::string_view content);
  void DelHttp01(std::string_view token);

  std::string Log() const;

 private:
  bool TryStart(std::string* why, bool* port_collision);
  void Call(std::string_view path, const boost::json::object& body);

  TempDir dir_;
  uint16_t dns_port_ = 0;
  uint16_t http01_port_ = 0;
  uint16_t management_port_ = 0;
  std::unique_ptr<Process> process_;
};

}  // namespace certgate::testing
