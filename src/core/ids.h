// Resource ids: a prefix, an underscore and 27 base62 characters in the KSUID
// layout (4 bytes of seconds since 2014-05-13, then 16 bytes of payload).
// Ids sort by creation time as plain strings. Within one process they are
// strictly increasing: the payload starts with the nanosecond within the
// second, bumped when two ids would collide; the remaining 12 bytes are random.
// Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace certgate {

inline constexpr size_t kIdBodyLength = 27;

// prefix without the underscore: NewId("cert") -> "cert_2Jc...".
std::string NewId(std::string_view prefix);

// True if id is prefix + "_" + 27 base62 characters.
bool IsValidId(std::string_view prefix, std::string_view id);

// Fills buf with bytes from the kernel's CSPRNG. Aborts if the kernel refuses:
// there is no safe way to continue without randomness.
void RandomBytes(void* buf, size_t len);

// Base62 (0-9A-Za-z) of n random bytes' worth of entropy, for API keys and
// names: `chars` characters, each uniformly distributed.
std::string RandomBase62(size_t chars);

}  // namespace certgate
