// What scale_bench does to a running server, one measurement at a time: a
// change timed until it is served, a burst of changes for their server CPU,
// concurrent domain creates, DNS NXDOMAIN load, and the server's memory.
// Each returns its raw figures; scale_bench.cc interleaves the servers and
// takes the medians.
#pragma once

#include <memory>
#include <random>
#include <vector>

#include "common/proc_stats.h"
#include "scale/api_connection.h"
#include "scale/dns_load.h"
#include "scale/scale_pki.h"
#include "scale/scale_server.h"
#include "scale/tls_probe.h"

namespace certgate::bench::scale {

// A server while it is measured: its API connection and the counters that
// keep the names it is given distinct.
struct Subject {
  std::unique_ptr<ScaleServer> server;
  std::unique_ptr<ApiConnection> api;
  int next_change = 0;            // c<k>.chg.bench.example, with its own certificate
  int next_create = 0;            // a<k>.bench.example, on the wildcard
  int changes_deleted = 0;        // deletes made by ChangeBurst
  size_t next_loaded_delete = 0;  // into server->data().loaded_ids
};

struct ServerMemory {
  double rss_kb = 0;  // VmRSS
  double hwm_kb = 0;  // VmHWM: the peak so far
};
ServerMemory ReadMemory(pid_t pid);

// Waits until the server is quiet (under 1% of a cpu over 150 ms; at most
// 20 s), so that work a request set off (the edge applying a change) is
// done; returns its CPU seconds then (PreciseCpuSeconds).
double WaitQuiet(pid_t pid);

// Creates a domain for a fresh name under chg.bench.example with one of the
// change certificates (in turn), then handshakes with that name until the
// edge serves that certificate. Returns the milliseconds from the 201 to the
// first handshake that served it, or a negative number when it was not
// served within 30 s. Probes are full handshakes, 0.5 ms apart.
double ChangeToServed(Subject& s, const ScalePki& pki, const TlsProbe& probe);

struct Burst {
  int changes = 0;
  double cpu_s = 0;   // the server's, from before the first request until quiet
  double wall_s = 0;  // until the last response
};
// `changes` API changes on the subject's one keep-alive connection, one after
// another: the first half creates fresh names under chg.bench.example with a
// change certificate, the rest deletes loaded names, oldest first, so that
// every change touches a name of its own, as changes by many users would
// (spread over the edge's shards as they would be in service).
// A server without loaded names (the baseline) deletes the names the burst
// created instead. The names stay balanced: as many created as deleted.
Burst ChangeBurst(Subject& s, int changes);

struct CreateRound {
  int creates = 0;
  double cpu_s = 0;   // the server's, until quiet after the last create
  double wall_s = 0;  // until the last 201
};
// `creates` domain creates (fresh names under bench.example on the
// wildcard certificate) from `clients` threads, each with its own
// keep-alive connection, opened before the clock starts.
CreateRound ConcurrentCreates(Subject& s, int clients, int creates);

struct DnsRound {
  DnsLoadResult load;
  double cpu_s = 0;  // the server's, over the load and its drain
};
DnsRound DnsNxdomain(Subject& s, const DnsLoadSpec& spec, std::mt19937_64& rng);

}  // namespace certgate::bench::scale
