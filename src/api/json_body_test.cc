#include "api/json_body.h"

#include <gtest/gtest.h>

namespace certgate::api {
namespace {

TEST(JsonBodyTest, ParsesAnObjectAndReadsFields) {
  auto body = JsonBody::Parse(R"({"a": "x", "n": null, "o": {"k": 1}})");
  ASSERT_TRUE(body.ok()) << body.error().message;
  EXPECT_EQ(**body->OptionalString("a", 10), "x");
  EXPECT_FALSE(*body->OptionalString("n", 10));
  EXPECT_FALSE(*body->OptionalString("missing", 10));
  EXPECT_NE(*body->OptionalObject("o"), nullptr);
  EXPECT_EQ(*body->OptionalObject("missing"), nullptr);
}

TEST(JsonBodyTest, RefusesWhatIsNotAJsonObject) {
  for (const char* text : {"", "  ", "{", "[1,2]", "\"s\"", "{\"a\":1} x", "{'a':1}"}) {
    auto body = JsonBody::Parse(text);
    ASSERT_FALSE(body.ok()) << text;
    EXPECT_EQ(body.error().code, ErrorCode::kJsonMalformed) << text;
  }
  EXPECT_NE(JsonBody::Parse("[1]").error().message.find("must be a JSON object, not an array"),
            std::string::npos);
}

TEST(JsonBodyTest, RefusesDeepNesting) {
  std::string deep(100, '[');
  deep = "{\"a\":" + deep + std::string(100, ']') + "}";
  EXPECT_EQ(JsonBody::Parse(deep).error().code, ErrorCode::kJsonMalformed);
}

TEST(JsonBodyTest, NamesTheFieldOfTheWrongType) {
  auto body = JsonBody::Parse(R"({"description": 5, "o": "s"})");
  ASSERT_TRUE(body.ok());
  auto s = body->OptionalString("description", 10);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kJsonWrongType);
  EXPECT_EQ(s.error().message, "description must be a string, not a number");
  EXPECT_EQ(s.error().field, "description");
  EXPECT_EQ(body->OptionalObject("o").error().code, ErrorCode::kJsonWrongType);
  EXPECT_EQ(body->OptionalObject("o").error().field, "o");
}

TEST(JsonBodyTest, EnforcesByteLimitsNamingTheField) {
  auto body = JsonBody::Parse(R"({"metadata": "12345"})");
  ASSERT_TRUE(body.ok());
  auto s = body->OptionalString("metadata", 4);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kFieldTooLong);
  EXPECT_EQ(s.error().message, "metadata is 5 bytes long; the limit is 4 bytes");
  EXPECT_EQ(s.error().field, "metadata");
  EXPECT_TRUE(body->OptionalString("metadata", 5).ok());
}

TEST(JsonBodyTest, RequiredFieldsMustBePresent) {
  auto body = JsonBody::Parse(R"({"a": null, "b": ""})");
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(body->RequiredString("a", 10).error().code, ErrorCode::kFieldRequired);
  EXPECT_EQ(body->RequiredString("zzz", 10).error().message, "zzz is required");
  EXPECT_EQ(body->RequiredString("zzz", 10).error().field, "zzz");
  EXPECT_EQ(*body->RequiredString("b", 10), "");
}

TEST(JsonBodyTest, UnknownFieldsAreRefusedUnlessIgnored) {
  auto body = JsonBody::Parse(R"({"a": 1, "region": "us"})");
  ASSERT_TRUE(body.ok());
  auto r = body->CheckFields({"a"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kJsonUnknownField);
  EXPECT_EQ(r.error().message, "unknown field 'region'; this request accepts: a");
  EXPECT_EQ(r.error().field, "region");
  EXPECT_TRUE(body->CheckFields({"a"}, {"region"}).ok());
}

TEST(JsonBodyTest, AnUpdateMustGiveSomethingToChange) {
  auto given = JsonBody::Parse(R"({"id": "x", "description": ""})");
  ASSERT_TRUE(given.ok());
  EXPECT_TRUE(given->RequireAnyOf({"description", "metadata"}).ok());
  // id is no value, and null counts as absent.
  for (const char* text : {"{}", R"({"id": "x"})", R"({"id": "x", "metadata": null})"}) {
    auto body = JsonBody::Parse(text);
    ASSERT_TRUE(body.ok());
    auto r = body->RequireAnyOf({"description", "metadata"});
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().code, ErrorCode::kUpdateEmpty);
    EXPECT_EQ(r.error().message,
              "the update gives nothing to change; give at least one of: description, metadata");
  }
}

}  // namespace
}  // namespace certgate::api
