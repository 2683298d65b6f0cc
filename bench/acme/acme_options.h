// acme_bench's command line: the tools to compare, how many names and
// rounds, and the binaries.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#ifndef CERTGATE_DEFAULT_BINARY
#define CERTGATE_DEFAULT_BINARY "certgate"
#endif

namespace certgate::bench::acme {

enum class Tool { kCertgate, kCertgateReady, kLegoEach, kLegoOne };
constexpr std::array<Tool, 4> kAllTools = {Tool::kCertgate, Tool::kCertgateReady, Tool::kLegoEach,
                                           Tool::kLegoOne};

// The tool's name on the command line ("certgate-ready").
std::string_view ToolKey(Tool t);

struct Options {
  int rounds = 3;
  int names = 20;
  int acme_concurrency = 8;
  int acme_retry_min = 1;
  int timeout_seconds = 900;  // per tool and round
  std::vector<Tool> tools = {kAllTools.begin(), kAllTools.end()};
  std::string certgate = CERTGATE_DEFAULT_BINARY;
  std::string lego = "/usr/bin/lego";
  bool keep_temp = false;
};

// Its row label in the tables ("lego, 20 runs in a row").
std::string ToolLabel(Tool t, const Options& o);

// Parses the command line; --help prints the help text and exits 0. Throws
// std::invalid_argument with a message for a bad flag.
Options ParseOptions(int argc, char** argv);

}  // namespace certgate::bench::acme
