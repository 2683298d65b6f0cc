#include "core/ids.h"

#include <sys/random.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

namespace certgate {
namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr int64_t kKsuidEpoch = 1400000000;

// Encodes 20 bytes as exactly 27 base62 digits, most significant first.
std::string Base62Of20(const std::array<uint8_t, 20>& in) {
  // Repeated division of the big-endian number by 62, on 32-bit limbs.
  std::array<uint32_t, 5> limbs{};
  for (int i = 0; i < 5; ++i) {
    limbs[i] = (uint32_t{in[4 * i]} << 24) | (uint32_t{in[4 * i + 1]} << 16) |
               (uint32_t{in[4 * i + 2]} << 8) | uint32_t{in[4 * i + 3]};
  }
  std::string out(kIdBodyLength, '0');
  for (size_t pos = kIdBodyLength; pos-- > 0;) {
    uint64_t rem = 0;
    for (auto& limb : limbs) {
      uint64_t cur = (rem << 32) | limb;
      limb = static_cast<uint32_t>(cur / 62);
      rem = cur % 62;
    }
    out[pos] = kAlphabet[rem];
  }
  return out;
}

struct Stamp {
  uint32_t secs;
  uint32_t nanos;
};

std::atomic<uint64_t> g_last{0};

Stamp NextStamp() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count();
  int64_t unix_secs = ns / 1'000'000'000;
  uint64_t candidate = (static_cast<uint64_t>(unix_secs - kKsuidEpoch) << 32) |
                       static_cast<uint64_t>(ns % 1'000'000'000);
  uint64_t last = g_last.load(std::memory_order_relaxed);
  uint64_t next;
  do {
    next = candidate > last ? candidate : last + 1;
  } while (!g_last.compare_exchange_weak(last, next, std::memory_order_relaxed));
  return Stamp{static_cast<uint32_t>(next >> 32), static_cast<uint32_t>(next)};
}

}  // namespace

void RandomBytes(void* buf, size_t len) {
  auto* p = static_cast<uint8_t*>(buf);
  while (len > 0) {
    ssize_t n = getrandom(p, len, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::abort();
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
}

std::string NewId(std::string_view prefix) {
  std::array<uint8_t, 20> raw{};
  Stamp s = NextStamp();
  for (int i = 0; i < 4; ++i) {
    raw[i] = static_cast<uint8_t>(s.secs >> (24 - 8 * i));
    raw[4 + i] = static_cast<uint8_t>(s.nanos >> (24 - 8 * i));
  }
  RandomBytes(raw.data() + 8, 12);
  std::string id(prefix);
  id += '_';
  id += Base62Of20(raw);
  return id;
}

bool IsValidId(std::string_view prefix, std::string_view id) {
  if (id.size() != prefix.size() + 1 + kIdBodyLength) return false;
  if (id.substr(0, prefix.size()) != prefix || id[prefix.size()] != '_') return false;
  for (char c : id.substr(prefix.size() + 1)) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    if (!ok) return false;
  }
  return true;
}

std::string RandomBase62(size_t chars) {
  std::string out;
  out.reserve(chars);
  uint8_t buf[64];
  while (out.size() < chars) {
    RandomBytes(buf, sizeof buf);
    for (uint8_t b : buf) {
      if (b >= 248) continue;  // 248 = 4 * 62: reject to keep the draw uniform
      out += kAlphabet[b % 62];
      if (out.size() == chars) break;
    }
  }
  return out;
}

}  // namespace certgate
