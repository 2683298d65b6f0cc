#include "api/list_filter_parser.h"

#include <map>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace certgate::api {
namespace {

using store::FieldValue;
using store::FilterField;
using store::FilterFieldType;
using ::testing::HasSubstr;

constexpr FilterField kFields[] = {
    {"id", FilterFieldType::kString, false},
    {"domain", FilterFieldType::kString, false},
    {"created_at", FilterFieldType::kTime, false},
    {"certificate.id", FilterFieldType::kString, true},
    {"port", FilterFieldType::kInteger, false},
    {"bindings", FilterFieldType::kStringList, false},
    {"pooling_enabled", FilterFieldType::kBool, false},
};

// time.now in these tests: 2026-01-01T00:10:00Z.
const Time kNow = FromUnixSeconds(1767225600 + 600);

Result<store::Filter> Parse(std::string_view text) { return ParseListFilter(text, kFields, kNow); }

// A record as a map of field values; absent keys are null.
using Record = std::map<std::string, FieldValue::value_type>;

Record Make(std::string id, std::string domain, int64_t created, std::optional<std::string> cert,
            int64_t port) {
  Record r{{"id", id}, {"domain", domain}, {"created_at", FromUnixSeconds(created)},
           {"port", port}, {"pooling_enabled", int64_t{port == 443 ? 1 : 0}}};
  r["bindings"] = port == 443 ? std::vector<std::string>{"public", "internal"}
                              : std::vector<std::string>{};
  if (cert) r["certificate.id"] = *cert;
  return r;
}

bool Eval(std::string_view filter, const Record& r) {
  auto f = Parse(filter);
  EXPECT_TRUE(f.ok()) << filter << ": " << f.error().message;
  if (!f.ok()) return false;
  return store::Matches(*f, [&](const std::string& field) -> FieldValue {
    auto it = r.find(field);
    if (it == r.end()) return std::nullopt;
    return it->second;
  });
}

TEST(ListFilterParserTest, EachOperatorAndFunction) {
  // 2026-01-01T00:00:00Z = 1767225600
  const Record a = Make("rd_a", "app.example.com", 1767225600, "cert_1", 443);
  const Record b = Make("rd_b", "api.example.org", 1767225700, std::nullopt, 8443);
  struct Case {
    std::string filter;
    bool a;
    bool b;
  };
  const Case cases[] = {
      {R"(obj.domain == "app.example.com")", true, false},
      {R"("app.example.com" == obj.domain)", true, false},
      {R"(obj.domain != "app.example.com")", false, true},
      {R"(obj.domain < "api.example.z")", false, true},
      {R"(obj.domain <= "api.example.org")", false, true},
      {R"(obj.domain > "api.example.org")", true, false},
      {R"(obj.domain >= "api.example.org")", true, true},
      {R"("b" > obj.domain)", true, true},
      {R"(obj.created_at > timestamp("2026-01-01T00:00:00Z"))", false, true},
      {R"(obj.created_at >= timestamp("2026-01-01T00:00:00Z"))", true, true},
      {R"(obj.created_at < timestamp("2026-01-01T01:00:00+01:00"))", false, false},
      {R"(obj.port == 8443)", false, true},
      {R"(obj.port < -1)", false, false},
      {R"(obj.id in ["rd_b", "rd_c"])", false, true},
      {R"(obj.certificate.id in ["cert_1", null])", true, true},
      {R"(obj.certificate.id == null)", false, true},
      {R"(obj.certificate.id != null)", true, false},
      {R"(obj.certificate.id != "cert_1")", false, true},
      {R"(obj.certificate.id < "z")", true, false},
      {R"(obj.domain.startsWith("app."))", true, false},
      {R"(obj.domain.endsWith(".org"))", false, true},
      {R"(obj.domain.contains("example"))", true, true},
      {R"(obj.domain.endsWith(""))", true, true},
      {R"(!obj.domain.contains("api"))", true, false},
      {R"(!(obj.port == 443))", false, true},
      {R"(obj.port == 443 || obj.domain.endsWith("org") && obj.port == 1)", true, false},
      {R"((obj.port == 443 || obj.domain.endsWith("org")) && obj.port == 8443)", false, true},
      {R"(true)", true, true},
      {R"(false || obj.id == 'rd_a')", true, false},
      {"obj.domain == \"app.example.com\" &&\n\tobj.port == 443", true, false},
      {R"(obj.domain == "\x61pp.example.com")", true, false},
      {R"(obj.domain == "\u0061pp.example.com")", true, false},
      // time.now, its arithmetic, dates alone (now is 00:10:00; a at 00:00:00,
      // b at 00:01:40).
      {R"(obj.created_at < timestamp(time.now))", true, true},
      {R"(obj.created_at >= timestamp(time.now).subtract("9m"))", false, true},
      {R"(obj.created_at >= timestamp(time.now).subtract("10m"))", true, true},
      {R"(obj.created_at > timestamp(time.now).subtract("1d").add("23h50m"))", false, true},
      {R"(obj.created_at >= timestamp("2026-01-01Z"))", true, true},
      {R"(obj.created_at < timestamp("2026-01-01"))", false, false},
      // size(), lists and booleans.
      {R"(size(obj.domain) == 15)", true, true},
      {R"(obj.domain.size() > 15)", false, false},
      {R"(size(obj.bindings) == 0)", false, true},
      {R"("internal" in obj.bindings)", true, false},
      {R"(!("public" in obj.bindings))", false, true},
      {R"(obj.pooling_enabled)", true, false},
      {R"(!obj.pooling_enabled)", false, true},
      {R"(obj.pooling_enabled == false)", false, true},
      {R"(true != obj.pooling_enabled)", false, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.filter);
    EXPECT_EQ(Eval(c.filter, a), c.a);
    EXPECT_EQ(Eval(c.filter, b), c.b);
  }
}

TEST(ListFilterParserTest, RefusesWithTheColumnAtFault) {
  struct Case {
    std::string filter;
    std::string says;
  };
  const Case cases[] = {
      {"", "column 1: the filter is empty"},
      {"obj.nope == \"x\"", "column 1: obj.nope is not a field you can filter on; the fields "
                            "are: id, domain, created_at, certificate.id, port, bindings, "
                            "pooling_enabled"},
      {"obj.domain = \"x\"", "column 12: '=' is not an operator: compare with '=='"},
      {"obj.domain == \"x", "column 15: the string has no closing \""},
      {"obj.domain == \"x\\", "column 15: the string has no closing \""},
      {"obj.domain == \"x\" &", "column 19: '&' is not an operator"},
      {"obj.domain == \"x\" obj", "column 19: expected && or || or the end of the filter"},
      {"(obj.domain == \"x\"", "column 19: expected ')' to close the '(' at column 1"},
      {"obj.domain", "column 1: obj.domain is a string, not a condition"},
      {"obj.domain == 1", "column 15: obj.domain is a string, but the value is an integer"},
      {"obj.created_at > \"2026\"", "column 18: obj.created_at is a timestamp, but the value is a "
                                    "string: write timestamp("},
      {"obj.created_at > timestamp(\"yesterday\")", "column 28: \"yesterday\" is not an RFC 3339"},
      {"obj.domain == null", "column 15: obj.domain is never null"},
      {"obj.certificate.id < null", "column 22: null can only be compared with == or !="},
      {"obj.domain == obj.id", "column 12: compare a field with a value"},
      {"\"a\" == \"b\"", "column 5: one side of a comparison must be a field"},
      {"obj.domain == \"a\" == \"b\"", "column 19: comparisons do not chain"},
      {"!obj.domain == \"a\"", "column 1: '!' negates a condition"},
      {"obj.id in \"a\"", "column 8: 'in' needs a field on its left and a list"},
      {"obj.id == [\"a\"]", "column 8: a list can only follow 'in'"},
      {"obj.id in [\"a\" \"b\"]", "column 16: expected ',' or ']' in the list"},
      {"obj.id in [obj.domain]", "column 12: a list holds values only"},
      {"obj.domain.matches(\"a.*\")", "column 12: unknown function 'matches'"},
      {"obj.port.startsWith(\"4\")", "column 10: startsWith applies to strings"},
      {"obj.domain.contains(1)", "column 21: contains takes one string"},
      {"size(obj.created_at) > 1", "column 1: size applies to strings and lists"},
      {"size(\"abc\") == 3", "column 6: size takes a field"},
      {"size(obj.domain) == \"3\"", "column 21: size(obj.domain) is an integer, but the value "
                                    "is a string"},
      {"size(obj.domain) == null", "column 21: size(obj.domain) is never null"},
      {"obj.bindings == \"public\"", "column 1: obj.bindings is a list: test a member with"},
      {"obj.bindings in [\"public\"]", "column 1: obj.bindings is a list"},
      {"obj.domain.contains(\"x\") in obj.bindings", "column 26: 'in obj.bindings' needs a string"},
      {"\"x\" in obj.domain", "column 5: 'in' needs a list on its right; obj.domain is a string"},
      {"obj.pooling_enabled == 1", "column 24: obj.pooling_enabled is a boolean, but the value is "
                                   "an integer: write true or false"},
      {"obj.pooling_enabled < true", "column 23: a boolean can only be compared with == or !="},
      {"obj.port == true", "column 10: '==' compares a field with a value, not conditions"},
      {"obj.created_at > timestamp(time)", "column 28: the current time is written time.now"},
      {"obj.created_at > timestamp(time.later)", "column 28: the current time is written"},
      {"obj.created_at > timestamp(time.now).minus(\"1d\")", "column 38: a timestamp has the "
                                                            "methods add and subtract"},
      {"obj.created_at > timestamp(time.now).add(\"1w\")", "column 42: a duration is a string"},
      {"obj.created_at > timestamp(time.now).add(\"d\")", "column 42: a duration is a string"},
      {"obj.created_at > timestamp(time.now).add(\"40000d\")", "column 42: a duration is"},
      {"obj.created_at > timestamp(time.now).add(\"36000d\").add(\"36000d\")",
       "column 56: the timestamp falls outside the years 1900 to 2200"},
      {"obj.created_at > timestamp(\"2026-13-01Z\")", "column 28: \"2026-13-01Z\" is not an RFC"},
      {"obj.domain == r\"x\"", "column 15: raw and byte strings are not supported"},
      {"obj.domain == \"\\q\"", "column 16: unknown escape '\\q'"},
      {"obj.domain == \"\\ud800\"", "column 16: the escape is not a Unicode scalar value"},
      {"obj.port == 99999999999999999999", "column 13: the number is out of range"},
      {"obj.port == 1.5", "column 13: only whole decimal numbers are supported"},
      {"obj.domain == \"x\" + \"y\"", "column 19: unexpected '+'"},
      {"obj.domain == \"x\" ||", "column 21: the filter ends where a field or value was expected"},
      {"obj", "column 1: obj needs a field"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.filter);
    auto f = Parse(c.filter);
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.error().code, ErrorCode::kFilterInvalid);
    EXPECT_THAT(f.error().message, HasSubstr(c.says));
  }
}

TEST(ListFilterParserTest, IsBoundedInSizeDepthAndCount) {
  std::string deep(70, '(');
  deep += "obj.port == 1" + std::string(70, ')');
  auto f = Parse(deep);
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(f.error().message, HasSubstr("nests deeper than 64 levels"));

  std::string nots(70, '!');
  nots += "true";
  f = Parse(nots);
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(f.error().message, HasSubstr("nests deeper than 64 levels"));

  std::string many = "obj.port==0";
  for (int i = 1; i < 270; ++i) many += "||obj.port==" + std::to_string(i);
  f = Parse(many);
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(f.error().message, HasSubstr("more than 256 comparisons"));

  std::string list = "obj.port in [0";
  for (int i = 1; i < 101; ++i) list += ", " + std::to_string(i);
  f = Parse(list + "]");
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(f.error().message, HasSubstr("at most 100 values"));

  // Nested lists are refused at the first one, never read recursively.
  f = Parse("obj.id in [" + std::string(4000, '['));
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(f.error().message, HasSubstr("column 12: a list holds values only"));

  f = Parse(std::string(kMaxFilterBytes + 1, ' '));
  ASSERT_FALSE(f.ok());
  EXPECT_THAT(f.error().message, HasSubstr("over the limit of 4096"));
}

TEST(ListFilterParserTest, NeverCrashesOnArbitraryBytes) {
  // Every prefix of a valid filter, and some bytes outside ASCII.
  const std::string valid =
      R"((obj.domain.startsWith("a") || obj.id in ["x", 'y']) && !(obj.created_at < )"
      R"(timestamp("2026-01-01T00:00:00Z")) && obj.certificate.id != null)";
  ASSERT_TRUE(Parse(valid).ok());
  for (size_t n = 0; n < valid.size(); ++n) {
    auto f = Parse(valid.substr(0, n));
    if (!f.ok()) {
      EXPECT_EQ(f.error().code, ErrorCode::kFilterInvalid);
    }
  }
  for (std::string s : {"\xff", "obj.domain == \xc3", "obj.\xe2\x82\xac"}) {
    auto f = Parse(s);
    EXPECT_FALSE(f.ok());
  }
}

}  // namespace
}  // namespace certgate::api
