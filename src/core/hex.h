// Lower-case hexadecimal text of bytes, and back.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace certgate {

std::string HexEncode(std::span<const uint8_t> bytes);
inline std::string HexEncode(std::string_view bytes) {
  return HexEncode(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}
// nullopt unless text is an even number of hex digits (either case).
std::optional<std::vector<uint8_t>> HexDecode(std::string_view text);

}  // namespace certgate
