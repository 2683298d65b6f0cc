// HAProxy (Debian's) as handshake_bench's peer: `nbthread 1`, a crt-list with
// one line per name, `http-request return status 200`.
#pragma once

#include <memory>

#include "common/tls_peer_spec.h"
#include "support/process.h"

namespace certgate::bench {

// Writes haproxy.cfg and crt-list.txt into spec.dir and starts HAProxy in
// the foreground (stderr to spec.dir/stderr.log); does not wait for it.
// no_tickets: `no-tls-tickets` and `tune.ssl.cachesize 0`.
std::unique_ptr<testing::Process> StartHaproxy(const TlsPeerSpec& spec);

}  // namespace certgate::bench
