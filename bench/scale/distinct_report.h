// scale_bench's tables for the distinct-certificates scenario: the first
// handshake on a cold name, handshakes to a warm name beside cold ones, the
// memory after handshakes to many names, and HAProxy and nginx started with
// the same certificates, with ratios against certgate.
#pragma once

#include <string>
#include <vector>

#include "scale/distinct_phases.h"
#include "scale/peer_servers.h"
#include "scale/scale_options.h"
#include "scale/scale_report.h"

namespace certgate::bench::scale {

// A distinct server's figures beyond its Row.
struct DistinctRow {
  int certs = 0;
  ColdResult cold;
  std::vector<StallMode> stall;
  ManyNamesResult many;
};

// context_cache: the edge's bound on built contexts (serve --context-cache);
// rows: the main table's, for the certgate rows' memory.
void PrintDistinctReport(const Options& o, const std::vector<Row>& rows,
                         const std::vector<DistinctRow>& distinct,
                         const std::vector<PeerRow>& peers, int context_cache);

}  // namespace certgate::bench::scale
