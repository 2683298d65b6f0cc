// Unbound: a real recursive resolver for tests (Debian's /usr/sbin/unbound),
// on 127.0.0.1, that knows only the stub zones it is given: queries for
// names in a stub zone go to that zone's server; everything else is REFUSED.
// It never sends traffic off the machine (outgoing-interface 127.0.0.1, no
// root priming for client queries), validates no DNSSEC, and caches briefly
// (positive answers 2 s, negative ones 1 s) so that tests may add records
// after a negative answer and see them soon.
//
// The constructor throws std::runtime_error when unbound does not come up
// (after retrying with other ports). Not thread-safe; one owner.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/process.h"

namespace certgate::testing {

struct StubZone {
  std::string zone;  // e.g. "certgate.test", no trailing dot
  std::string host = "127.0.0.1";
  uint16_t port = 53;
};

class Unbound {
 public:
  explicit Unbound(std::vector<StubZone> stubs);
  ~Unbound();  // kills the process (by pid)
  Unbound(const Unbound&) = delete;
  Unbound& operator=(const Unbound&) = delete;

  // DNS on 127.0.0.1:port(), UDP and TCP.
  uint16_t port() const { return port_; }
  // "127.0.0.1:<port>"
  std::string address() const;
  // unbound's log so far (for failure messages).
  std::string Log() const;

 private:
  TempDir dir_;
  uint16_t port_ = 0;
  std::unique_ptr<Process> process_;
};

}  // namespace certgate::testing
