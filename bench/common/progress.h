// Progress lines on stderr, each stamped with the seconds since the program
// started; the benchmarks' tables go to stdout.
#pragma once

#include <chrono>
#include <cstdio>
#include <utility>

#include <fmt/format.h>

namespace certgate::bench {

using BenchClock = std::chrono::steady_clock;

// When the program started (the first use of this header's variable).
inline const BenchClock::time_point kProgramStart = BenchClock::now();

inline double Seconds(BenchClock::duration d) { return std::chrono::duration<double>(d).count(); }

template <class... Args>
void Progress(fmt::format_string<Args...> f, Args&&... args) {
  fmt::print(stderr, "[{:7.1f}s] {}\n", Seconds(BenchClock::now() - kProgramStart),
             fmt::format(f, std::forward<Args>(args)...));
  std::fflush(stderr);
}

}  // namespace certgate::bench
