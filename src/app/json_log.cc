#include "app/json_log.h"

#include <chrono>
#include <ctime>

#include <fmt/format.h>
#include <spdlog/details/log_msg.h>

namespace certgate::app {
namespace {

// The length of the valid UTF-8 sequence at s[i], or 0 if it is not one
// (overlong forms, surrogates and code points past U+10FFFF included).
size_t Utf8Length(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

bool ComponentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

std::string FormatTime(std::chrono::system_clock::time_point t) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(micros / 1'000'000);
  int64_t frac = micros % 1'000'000;
  if (frac < 0) {
    frac += 1'000'000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

}  // namespace

void AppendJsonEscaped(std::string& out, std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      ++i;
    } else if (c == '\n') {
      out += "\\n";
      ++i;
    } else if (c == '\r') {
      out += "\\r";
      ++i;
    } else if (c == '\t') {
      out += "\\t";
      ++i;
    } else if (c < 0x20 || c == 0x7F) {
      out += fmt::format("\\u{:04x}", c);
      ++i;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
    } else if (const size_t n = Utf8Length(s, i); n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\\ufffd";
      ++i;
    }
  }
}

std::string JsonLogLine(std::string_view level, std::string_view payload,
                        std::chrono::system_clock::time_point time) {
  // "edge: message" -> component "edge"; anything else is certgate's own.
  std::string_view component = "certgate";
  std::string_view message = payload;
  const size_t colon = payload.find(": ");
  if (colon != std::string_view::npos && colon > 0 && colon <= 24) {
    bool word = true;
    for (char c : payload.substr(0, colon)) word = word && ComponentChar(c);
    if (word) {
      component = payload.substr(0, colon);
      message = payload.substr(colon + 2);
    }
  }
  std::string out = "{\"time\":\"" + FormatTime(time) + "\",\"level\":\"";
  AppendJsonEscaped(out, level);
  out += "\",\"component\":\"";
  AppendJsonEscaped(out, component);
  out += "\",\"message\":\"";
  AppendJsonEscaped(out, message);
  out += '"';
  // An API request's operation id: "op=op_..." up to a space or ')'.
  if (const size_t at = payload.find("op=op_"); at != std::string_view::npos) {
    const std::string_view rest = payload.substr(at + 3);
    const std::string_view id = rest.substr(0, rest.find_first_of(" )"));
    out += ",\"operation_id\":\"";
    AppendJsonEscaped(out, id);
    out += '"';
  }
  out += '}';
  return out;
}

void JsonLogFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  const spdlog::string_view_t level = spdlog::level::to_string_view(msg.level);
  const std::string line =
      JsonLogLine(std::string_view(level.data(), level.size()),
                  std::string_view(msg.payload.data(), msg.payload.size()), msg.time);
  dest.append(line.data(), line.data() + line.size());
  dest.push_back('\n');
}

std::unique_ptr<spdlog::formatter> JsonLogFormatter::clone() const {
  return std::make_unique<JsonLogFormatter>();
}

}  // namespace certgate::app
