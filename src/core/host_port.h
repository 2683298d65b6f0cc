// Listen addresses as flags give them: "127.0.0.1:4280", "[::1]:443",
// ":8080" (every IPv4 address). Port 0 asks the kernel for a free port.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace certgate {

struct HostPort {
  std::string host;  // an IP address literal, without brackets
  uint16_t port = 0;
};

// Error kConfigInvalid naming `flag` and what is wrong.
Result<HostPort> ParseHostPort(std::string_view text, std::string_view flag);

// "127.0.0.1:4280" or "[::1]:4280".
std::string FormatHostPort(std::string_view host, uint16_t port);

}  // namespace certgate
