#include "acme/problem.h"

#include <algorithm>
#include <array>
#include <charconv>

#include <boost/json.hpp>
#include <fmt/format.h>

namespace certgate::acme {
namespace {

namespace json = boost::json;

std::string StringMember(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(key);
  if (v == nullptr || !v->is_string()) return "";
  return std::string(v->get_string());
}

// Bounded nesting: a CA's subproblems never nest, a hostile one might.
Problem ProblemFromObject(const json::object& obj, int depth) {
  Problem p;
  p.type = StringMember(obj, "type");
  if (p.type.empty()) p.type = "about:blank";
  p.detail = StringMember(obj, "detail");
  if (const json::value* s = obj.if_contains("status"); s != nullptr && s->is_int64()) {
    p.status = static_cast<int>(s->get_int64());
  }
  if (const json::value* id = obj.if_contains("identifier"); id != nullptr && id->is_object()) {
    p.identifier = StringMember(id->get_object(), "value");
  }
  if (const json::value* subs = obj.if_contains("subproblems");
      depth < 2 && subs != nullptr && subs->is_array()) {
    for (const json::value& sub : subs->get_array()) {
      if (sub.is_object()) p.subproblems.push_back(ProblemFromObject(sub.get_object(), depth + 1));
      if (p.subproblems.size() >= 100) break;
    }
  }
  return p;
}

bool ParseInt(std::string_view s, int& out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// Only printable ASCII from the CA reaches our messages and logs.
std::string Sanitize(std::string_view s, size_t max_len) {
  std::string out;
  for (char c : s) {
    if (out.size() >= max_len) {
      out += "...";
      break;
    }
    out += (c >= 0x20 && c < 0x7f) ? c : ' ';
  }
  return out;
}

}  // namespace

std::string Problem::TypeSuffix() const {
  auto colon = type.rfind(':');
  return colon == std::string::npos ? type : type.substr(colon + 1);
}

std::optional<Problem> ParseProblem(std::string_view json_text) {
  boost::system::error_code ec;
  json::value v = json::parse(json_text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return ProblemFromObject(v.get_object(), 0);
}

std::string DescribeProblem(const Problem& problem) {
  std::string out = Sanitize(problem.TypeSuffix(), 100);
  if (!problem.detail.empty()) out += ": " + Sanitize(problem.detail, 1000);
  if (!problem.subproblems.empty()) {
    out += " (";
    for (size_t i = 0; i < problem.subproblems.size(); ++i) {
      if (i > 0) out += "; ";
      const Problem& sub = problem.subproblems[i];
      if (!sub.identifier.empty()) out += Sanitize(sub.identifier, 255) + ": ";
      out += Sanitize(sub.TypeSuffix(), 100);
      if (!sub.detail.empty()) out += ": " + Sanitize(sub.detail, 300);
    }
    out += ")";
  }
  return out;
}

Error ProblemError(std::string_view context, const Problem& problem,
                   std::optional<std::chrono::seconds> retry_after) {
  Error e;
  e.code = problem.type == std::string(kAcmeErrorPrefix) + "rateLimited"
               ? ErrorCode::kAcmeRateLimited
               : ErrorCode::kAcmeProblem;
  e.message = fmt::format("{}: {}", context, DescribeProblem(problem));
  e.retry_after = retry_after;
  return e;
}

std::string ProblemTypeOf(const Error& error) {
  if (error.code != ErrorCode::kAcmeProblem && error.code != ErrorCode::kAcmeRateLimited) {
    return "";
  }
  auto first = error.message.find(": ");
  if (first == std::string::npos) return "";
  auto start = first + 2;
  // The suffix ends at the ':' before the detail, or at the " (" of the
  // subproblems when there is no detail.
  auto end = error.message.find_first_of(": ", start);
  return error.message.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value, Time now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (value.find_first_not_of("0123456789") == std::string_view::npos) {
    // (Leading zeros do not make a number long.)
    while (value.size() > 1 && value.front() == '0') value.remove_prefix(1);
    if (value.size() > 9) return kMaxRetryAfterDelay;
    int secs = 0;
    if (!ParseInt(value, secs)) return std::nullopt;
    return std::chrono::seconds(secs);
  }
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
  if (value.size() != 29 || value.substr(3, 2) != ", " || value[7] != ' ' || value[11] != ' ' ||
      value[16] != ' ' || value[19] != ':' || value[22] != ':' || value.substr(25) != " GMT") {
    return std::nullopt;
  }
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  unsigned month = 0;
  for (unsigned i = 0; i < kMonths.size(); ++i) {
    if (value.substr(8, 3) == kMonths[i]) month = i + 1;
  }
  int day = 0, year = 0, hour = 0, minute = 0, second = 0;
  if (month == 0 || !ParseInt(value.substr(5, 2), day) || !ParseInt(value.substr(12, 4), year) ||
      !ParseInt(value.substr(17, 2), hour) || !ParseInt(value.substr(20, 2), minute) ||
      !ParseInt(value.substr(23, 2), second) || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::chrono::year_month_day ymd{std::chrono::year(year), std::chrono::month(month),
                                  std::chrono::day(static_cast<unsigned>(day))};
  if (!ymd.ok()) return std::nullopt;
  // In whole seconds: years up to 9999 fit, while Time (nanoseconds) ends
  // in 2262 and `at - now` in it would overflow. at is whole seconds, so
  // at - floor(now) is the ceiling of the exact delay.
  const std::chrono::sys_seconds at = std::chrono::sys_days(ymd) + std::chrono::hours(hour) +
                                      std::chrono::minutes(minute) + std::chrono::seconds(second);
  const std::chrono::seconds delay = at - std::chrono::floor<std::chrono::seconds>(now);
  if (delay <= std::chrono::seconds(0)) return std::chrono::seconds(0);
  return std::min(delay, kMaxRetryAfterDelay);
}

}  // namespace certgate::acme
