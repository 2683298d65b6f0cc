#include "core/host_port.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <charconv>

namespace certgate {

Result<HostPort> ParseHostPort(std::string_view text, std::string_view flag) {
  auto bad = [&](std::string_view why) {
    return MakeError(ErrorCode::kConfigInvalid,
                     fmt::format("{} '{}' is not a valid address: {} (use host:port, e.g. "
                                 "127.0.0.1:4280 or [::1]:4280)",
                                 flag, text, why));
  };
  HostPort out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return bad("an IPv6 address must be in brackets followed by :port");
    }
    out.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("the port is missing");
    out.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
    if (out.host.find(':') != std::string::npos) return bad("put an IPv6 address in brackets");
    if (out.host.empty()) out.host = "0.0.0.0";
  }
  if (out.host == "localhost") out.host = "127.0.0.1";
  unsigned char buf[16];
  if (inet_pton(AF_INET, out.host.c_str(), buf) != 1 &&
      inet_pton(AF_INET6, out.host.c_str(), buf) != 1) {
    return bad("the host must be an IP address");
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535) {
    return bad("the port must be a number from 0 to 65535");
  }
  out.port = static_cast<uint16_t>(port);
  return out;
}

std::string FormatHostPort(std::string_view host, uint16_t port) {
  if (host.find(':') != std::string_view::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

}  // namespace certgate
