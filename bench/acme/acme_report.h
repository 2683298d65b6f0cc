// acme_bench's report: each round's seconds per tool, the medians (seconds
// for all names, per name, names per second, client CPU, retries, steal) and
// the ratios certgate/lego of the times.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "acme/acme_options.h"
#include "acme/stage.h"

namespace certgate::bench::acme {

// The peers' Debian package versions, for the header lines.
struct Versions {
  std::string pebble;
  std::string lego;
  std::string unbound;
};

// Prints the tables to stdout; results holds every tool of o.tools.
void PrintReport(const Options& o, const Versions& versions,
                 const std::map<Tool, std::vector<StageResult>>& results, bool all_issued);

}  // namespace certgate::bench::acme
