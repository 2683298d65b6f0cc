#include "core/error.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "core/result.h"

namespace certgate {
namespace {

TEST(ErrorTest, EveryCodeIsDocumentedInTheCatalogue) {
  std::ifstream in(CERTGATE_ERRORS_DOC);
  ASSERT_TRUE(in) << "cannot read " << CERTGATE_ERRORS_DOC;
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  for (const ErrorInfo& e : AllErrors()) {
    std::string name = ErrorCodeName(e.code);
    EXPECT_NE(doc.find("`" + name + "`"), std::string::npos) << name << " missing from docs/errors.md";
  }
}

TEST(ErrorTest, CodesAreUnique) {
  std::set<int> seen;
  for (const ErrorInfo& e : AllErrors()) {
    EXPECT_TRUE(seen.insert(static_cast<int>(e.code)).second) << static_cast<int>(e.code);
    EXPECT_FALSE(e.summary.empty());
  }
}

TEST(ErrorTest, CodesHaveTheirCatalogueNames) {
  EXPECT_EQ(ErrorCodeName(ErrorCode::kChainMisordered), "ERR_CERTGATE_205");
}

TEST(ErrorTest, CodesNgrokHasAreShownAsNgroks) {
  EXPECT_EQ(ErrorCodeName(ErrorCode::kDomainReservedHere), "ERR_NGROK_413");
  EXPECT_EQ(ErrorCodeName(ErrorCode::kDomainReservedElsewhere), "ERR_NGROK_414");
  EXPECT_EQ(ErrorCodeName(ErrorCode::kDomainWildcardOverOthers), "ERR_NGROK_417");
  EXPECT_EQ(ErrorCodeName(ErrorCode::kEndpointHostReservedElsewhere), "ERR_NGROK_320");
  EXPECT_EQ(ErrorCodeName(ErrorCode::kDomainOverOthers), "ERR_CERTGATE_514");
}

Result<int> Half(int x) {
  if (x % 2 != 0) return MakeError(ErrorCode::kBadRequest, "odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  CG_ASSIGN_OR_RETURN(int h, Half(x));
  CG_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(ResultTest, PropagatesTheFirstError) {
  EXPECT_EQ(*Quarter(8), 2);
  Result<int> r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kBadRequest);
  EXPECT_EQ(r.error().message, "odd");
}

TEST(ResultTest, VoidResult) {
  auto check = [](bool good) -> Result<void> {
    if (!good) return MakeError(ErrorCode::kIo, "bad");
    return {};
  };
  EXPECT_TRUE(check(true).ok());
  EXPECT_EQ(check(false).error().code, ErrorCode::kIo);
}

}  // namespace
}  // namespace certgate
