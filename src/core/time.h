// Wall-clock time as certgate stores and prints it, and an injectable Clock so
// that expiry and renewal can be tested without sleeping. Thread-safe.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace certgate {

using Time = std::chrono::system_clock::time_point;

// RFC 3339 in UTC with second precision: "2026-11-28T11:25:39Z".
std::string FormatRfc3339(Time t);
// Accepts the form FormatRfc3339 writes, fractional seconds (dropped) and
// numeric offsets ("+01:00"); years 1900 to 2200 only (Time ends in 2262).
std::optional<Time> ParseRfc3339(std::string_view s);
// Seconds since the Unix epoch, as stored.
int64_t ToUnixSeconds(Time t);
Time FromUnixSeconds(int64_t s);

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Time Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  Time Now() const override { return std::chrono::system_clock::now(); }
  static const SystemClock& Instance();
};

}  // namespace certgate
