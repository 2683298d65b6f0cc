#include "api/problem.h"

#include "core/result.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace certgate::api {
namespace {

TEST(ValidUtf8Test, KeepsWellFormedText) {
  EXPECT_EQ(ValidUtf8(""), "");
  EXPECT_EQ(ValidUtf8("plain ascii"), "plain ascii");
  EXPECT_EQ(ValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92"), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x92");
  EXPECT_EQ(ValidUtf8(std::string("a\0b", 3)), std::string("a\0b", 3));
  EXPECT_EQ(ValidUtf8("\xef\xbf\xbf\xf4\x8f\xbf\xbf"), "\xef\xbf\xbf\xf4\x8f\xbf\xbf");  // U+FFFF, U+10FFFF
}

TEST(ValidUtf8Test, EscapesEveryByteThatIsNotPartOfWellFormedUtf8) {
  EXPECT_EQ(ValidUtf8("\xff"), "\\xff");
  EXPECT_EQ(ValidUtf8("\xc0\xaf"), "\\xc0\\xaf");          // overlong '/'
  EXPECT_EQ(ValidUtf8("\xe0\x80\xaf"), "\\xe0\\x80\\xaf");  // overlong, 3 bytes
  EXPECT_EQ(ValidUtf8("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // a surrogate
  EXPECT_EQ(ValidUtf8("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
  EXPECT_EQ(ValidUtf8("\xf5\x80\x80\x80"), "\\xf5\\x80\\x80\\x80");
  EXPECT_EQ(ValidUtf8("a\xe2\x82"), "a\\xe2\\x82");  // truncated at the end
  EXPECT_EQ(ValidUtf8("\xe2\x82z"), "\\xe2\\x82z");  // truncated in the middle
  EXPECT_EQ(ValidUtf8("\x80x"), "\\x80x");           // a lone continuation byte
  EXPECT_EQ(ValidUtf8("\xc3\xa9\xff\xc3\xa9"), "\xc3\xa9\\xff\xc3\xa9");
}

TEST(ErrorResponseTest, TheBodyParsesWhateverTheMessageHolds) {
  Error error = MakeError(ErrorCode::kNotFound, "no certificate 'cert_\xff\xc0\xaf' here");
  Response res = ErrorResponse(error, "op_1", 11);
  boost::system::error_code ec;
  auto body = boost::json::parse(res.body(), ec);
  ASSERT_FALSE(ec) << res.body();
  EXPECT_EQ(body.at("msg"), "no certificate 'cert_\\xff\\xc0\\xaf' here");
  EXPECT_EQ(body.at("status_code"), 404);
}

TEST(ErrorResponseTest, AStatusCanBeGivenForTheErrorsCode) {
  Response res = ErrorResponse(MakeError(ErrorCode::kBadRequest, "slow"), "op_1", 11,
                               http::status::request_timeout);
  EXPECT_EQ(res.result_int(), 408u);
  EXPECT_EQ(boost::json::parse(res.body()).at("status_code"), 408);
  EXPECT_EQ(boost::json::parse(res.body()).at("error_code"), "ERR_CERTGATE_118");
}

TEST(ErrorResponseTest, DetailsNameTheFieldAtFaultAsAString) {
  Response res =
      ErrorResponse(MakeFieldError(ErrorCode::kDomainPolicyAuthority,
                                   "certificate_management_policy.authority", "use letsencrypt"),
                    "op_1", 11);
  auto body = boost::json::parse(res.body());
  EXPECT_EQ(body.at("error_code"), "ERR_NGROK_435");
  EXPECT_EQ(body.at("details"),
            (boost::json::object{{"operation_id", "op_1"},
                                 {"field", "certificate_management_policy.authority"}}));
  // Without a field, details holds the operation id only.
  Response plain = ErrorResponse(MakeError(ErrorCode::kNotFound, "gone"), "op_2", 11);
  EXPECT_EQ(boost::json::parse(plain.body()).at("details"),
            (boost::json::object{{"operation_id", "op_2"}}));
  // A field quoted from the request (an unknown query parameter) stays valid UTF-8.
  Response odd = ErrorResponse(MakeFieldError(ErrorCode::kQueryUnknown, "x\xff", "no"), "op_3", 11);
  boost::system::error_code ec;
  auto odd_body = boost::json::parse(odd.body(), ec);
  ASSERT_FALSE(ec) << odd.body();
  EXPECT_EQ(odd_body.at("details").at("field"), "x\\xff");
}

TEST(HttpStatusOfTest, KindsMapToHttpStatuses) {
  EXPECT_EQ(HttpStatusOf(KindOf(ErrorCode::kChainGap)), 400);
  // ngrok answers authentication failures with 403.
  EXPECT_EQ(HttpStatusOf(KindOf(ErrorCode::kAuthMissing)), 403);
  EXPECT_EQ(HttpStatusOf(KindOf(ErrorCode::kAuthInvalid)), 403);
  EXPECT_EQ(HttpStatusOf(KindOf(ErrorCode::kPlanRequired)), 403);
  EXPECT_EQ(HttpStatusOf(KindOf(ErrorCode::kNotFound)), 404);
  EXPECT_EQ(HttpStatusOf(KindOf(ErrorCode::kBodyTooLarge)), 413);
  EXPECT_EQ(HttpStatusOf(KindOf(ErrorCode::kInternal)), 500);
  EXPECT_EQ(HttpStatusOf(KindOf(ErrorCode::kDomainReservedElsewhere)), 400);
}

}  // namespace
}  // namespace certgate::api
