// HAProxy and nginx (Debian's) with the distinct-certificates scenario's
// certificates, for scale_bench's comparison: each started on a free port of
// 127.0.0.1, pinned to the server cpu with one thread or worker, timed from
// launch until a handshake with the last name's SNI serves that name's own
// certificate, its memory read, and stopped; certgate started in turn
// with them on its data dir of the same certificates. HAProxy gets a crt-list (one
// line per PEM file), nginx a server block per name (server_name and
// ssl_certificate): how each is configured for many SNI certificates
// (bench/common/haproxy_peer.h, nginx_peer.h).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/proc_stats.h"
#include "scale/distinct_pki.h"
#include "scale/scale_options.h"
#include "scale/scale_report.h"
#include "scale/scale_server.h"
#include "scale/tls_probe.h"

namespace certgate::bench::scale {

enum class Peer { kHaproxy, kNginx };

// "haproxy" or "nginx", and how its certificates are configured.
const char* PeerName(Peer peer);
const char* PeerConfigStyle(Peer peer);

struct PeerStart {
  double start_s = 0;  // launch to a handshake serving the last name's certificate
  double cpu_s = 0;    // its processes' CPU seconds by then (ticks)
  Memory memory;       // VmRSS and Pss, summed over its processes (nginx: master and worker)
};

// Starts the peer with pki.certs[0..certs) in dir (created; its config and
// logs stay there), waits up to 20 minutes for it to serve, reads it and
// stops it (also on ^C: KillOnInterrupt). Throws std::runtime_error with
// its log's tail when it fails.
PeerStart StartPeerOnce(Peer peer, const Options& o, const DistinctPki& pki, int certs,
                        const std::filesystem::path& dir, const TlsProbe& probe);

// One server's starts with `certs` distinct certificates; one value per
// round.
struct PeerRow {
  std::string server;  // "certgate", "haproxy", "nginx"
  std::string style;   // how its certificates are configured
  int certs = 0;
  std::vector<double> start_s;
  std::vector<double> rss_kb;
  std::vector<double> pss_kb;
  std::vector<double> cpu_s;
  double base_rss_kb = 0;  // the same server with one certificate (certgate: no names)
  std::string skipped;     // why it did not run, if it did not
};

// For every distinct row (data[i] its data dir, stopped): --peer-rounds
// rounds of certgate, HAProxy and nginx started in turn (the order rotated
// by round), after one start of each peer with one certificate for its
// baseline. A peer whose memory at this count, extrapolated from a smaller
// count, would not fit in the machine's available memory is skipped.
std::vector<PeerRow> ComparePeers(const Options& o, const std::vector<Row>& rows,
                                  const std::vector<DataDir>& data, const DistinctPki& pki,
                                  const TlsProbe& probe, const std::filesystem::path& dir);

}  // namespace certgate::bench::scale
