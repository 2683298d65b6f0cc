// --log-format json: each log line one JSON object, for log shippers.
//
//   {"time":"2026-12-07T22:00:00.123456Z","level":"info","component":"edge",
//    "message":"loaded 3 names at change 7 in 1 ms","operation_id":"op_..."}
//
// certgate's messages start with their component ("edge: ...", "acme:
// ...", "dns: ..."); that prefix becomes "component" ("certgate" when there
// is none). An API request's line names its operation ("op=op_..."), which
// becomes "operation_id" too. Times are UTC, ISO-8601 with microseconds.
// The text is escaped as JSON wants, and bytes that are not UTF-8 (a
// hostile client's name quoted in a message) become U+FFFD, so every line
// parses. Nothing is added that the text format would not show: no secret
// is ever logged in either.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include <spdlog/formatter.h>

namespace certgate::app {

class JsonLogFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

// One line as the formatter writes it (without the newline): for tests.
std::string JsonLogLine(std::string_view level, std::string_view payload,
                        std::chrono::system_clock::time_point time);

// s as a JSON string's contents (no quotes), invalid UTF-8 as U+FFFD.
void AppendJsonEscaped(std::string& out, std::string_view s);

}  // namespace certgate::app
