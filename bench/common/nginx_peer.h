// nginx (Debian's) as handshake_bench's peer: `worker_processes 1`, one
// server block per name, `return 200`, no access log.
#pragma once

#include <memory>

#include "common/tls_peer_spec.h"
#include "support/process.h"

namespace certgate::bench {

// Writes nginx.conf into spec.dir and starts nginx in the foreground with
// spec.dir as its prefix (its pid file, error log and temp paths there);
// does not wait for it. The master's pid is the Process's; the worker is its
// child. no_tickets: `ssl_session_tickets off` and `ssl_session_cache off`.
std::unique_ptr<testing::Process> StartNginx(const TlsPeerSpec& spec);

}  // namespace certgate::bench
