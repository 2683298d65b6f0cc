// Checking an issued certificate: the chain (leaf first) verifies against
// Pebble's issuing roots, for the name.
#pragma once

#include <string>

namespace certgate::bench::acme {

// "" when chain_pem verifies for name against roots_pem, else why not.
std::string VerifyChain(const std::string& chain_pem, const std::string& roots_pem,
                        const std::string& name);

}  // namespace certgate::bench::acme
