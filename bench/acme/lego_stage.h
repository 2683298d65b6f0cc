// acme_bench's lego rows: the customer's DNS gets an A record per name,
// then lego-each runs `lego run` once per name, one after another (one
// account), and lego-one runs it once for one certificate with every name.
// Timed until the last lego exits; each certificate is then verified.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "acme/acme_options.h"
#include "acme/stage.h"

namespace certgate::bench::acme {

// Starts fresh peers for this round; lego's --path and logs go in dir.
StageResult RunLegoStage(const Options& o, const std::vector<std::string>& names,
                         bool one_certificate, const std::filesystem::path& dir);

}  // namespace certgate::bench::acme
