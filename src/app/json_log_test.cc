// JSON log lines: fields, the component prefix, the operation id, escapes,
// and bytes that are not UTF-8; each line parses as one JSON object.
#include "app/json_log.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace certgate::app {
namespace {

const auto kTime = std::chrono::system_clock::time_point(std::chrono::microseconds(
    1'796'680'800'123'456));  // 2026-12-07T22:00:00.123456Z

boost::json::object Parsed(const std::string& line) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(line, ec);
  EXPECT_FALSE(ec) << line;
  EXPECT_TRUE(v.is_object()) << line;
  return v.is_object() ? v.as_object() : boost::json::object{};
}

TEST(JsonLogTest, TheComponentPrefixAndTheOperationBecomeFields) {
  const std::string line =
      JsonLogLine("info", "127.0.0.1 GET /tls_certificates 200 3ms op=op_2Jc9", kTime);
  EXPECT_EQ(line,
            "{\"time\":\"2026-12-07T22:00:00.123456Z\",\"level\":\"info\","
            "\"component\":\"certgate\",\"message\":\"127.0.0.1 GET /tls_certificates 200 3ms "
            "op=op_2Jc9\",\"operation_id\":\"op_2Jc9\"}");
  auto edge = Parsed(JsonLogLine("warning", "edge: fell behind: retention", kTime));
  EXPECT_EQ(edge.at("component").as_string(), "edge");
  EXPECT_EQ(edge.at("message").as_string(), "fell behind: retention");
  EXPECT_EQ(edge.at("level").as_string(), "warning");
  EXPECT_FALSE(edge.contains("operation_id"));
  auto refused = Parsed(JsonLogLine("info", "127.0.0.1 - 429 op=op_x (too many)", kTime));
  EXPECT_EQ(refused.at("operation_id").as_string(), "op_x");
  // Not a component: capitals, spaces, or too long.
  EXPECT_EQ(Parsed(JsonLogLine("info", "Listening on: x", kTime)).at("component").as_string(),
            "certgate");
}

TEST(JsonLogTest, EveryLineParsesWhateverTheMessageHolds) {
  const std::string nasty = std::string("dns: a \"quoted\" \\ name\n\ttab \x01 ") +
                            "caf\xc3\xa9 \xff\xfe bad \xe2\x82 cut \xed\xa0\x80 surrogate";
  auto o = Parsed(JsonLogLine("error", nasty, kTime));
  const std::string message(o.at("message").as_string());
  EXPECT_EQ(message,
            "a \"quoted\" \\ name\n\ttab \x01 caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd bad "
            "\xef\xbf\xbd\xef\xbf\xbd cut \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd surrogate");
  EXPECT_EQ(o.at("component").as_string(), "dns");
}

}  // namespace
}  // namespace certgate::app
