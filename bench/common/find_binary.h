// Finds a peer's executable the way a shell would, plus the sbin
// directories Debian installs servers in.
#pragma once

#include <optional>
#include <string>

namespace certgate::bench {

// A name with a '/' is taken as it is; else PATH, then /usr/sbin, /sbin and
// /usr/local/sbin are searched. nullopt when nothing executable is found.
std::optional<std::string> FindBinary(const std::string& name);

}  // namespace certgate::bench
