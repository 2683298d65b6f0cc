// acme_bench's certgate rows. certgate (dns_ready false): `certgate serve`
// gets the names through POST /reserved_domains with a managed ECDSA policy,
// each name's CNAME set at the customer's DNS right after its creation;
// certgate-ready (true): the domains and CNAMEs exist before the clock starts
// and PATCHes turn the policy on. Timed until GET /reserved_domains shows a
// certificate on every name; each is then verified (see acme_bench.cc's
// header).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "acme/acme_options.h"
#include "acme/stage.h"

namespace certgate::bench::acme {

// Starts fresh peers and certgate in dir for this round.
StageResult RunCertgateStage(const Options& o, const std::vector<std::string>& names,
                             bool dns_ready, const std::filesystem::path& dir);

}  // namespace certgate::bench::acme
