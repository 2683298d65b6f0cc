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
  // Issue 16: every condition ngrok documents a code for.
  const std::pair<ErrorCode, const char*> ngrok[] = {
      {ErrorCode::kAuthMissing, "ERR_NGROK_200"},
      {ErrorCode::kAuthUnparseable, "ERR_NGROK_201"},
      {ErrorCode::kAuthNotAKey, "ERR_NGROK_202"},
      {ErrorCode::kAuthInvalid, "ERR_NGROK_203"},
      {ErrorCode::kAuthKeyId, "ERR_NGROK_208"},
      {ErrorCode::kVersionUnsupported, "ERR_NGROK_217"},
      {ErrorCode::kQueryUnknown, "ERR_NGROK_231"},
      {ErrorCode::kPageLimitInvalid, "ERR_NGROK_233"},
      {ErrorCode::kUpdateEmpty, "ERR_NGROK_422"},
      {ErrorCode::kDomainCertificateAndPolicy, "ERR_NGROK_434"},
      {ErrorCode::kDomainPolicyAuthority, "ERR_NGROK_435"},
      {ErrorCode::kDomainManaged, "ERR_NGROK_436"},
      {ErrorCode::kDomainUnderBaseDomain, "ERR_NGROK_439"},
      {ErrorCode::kDomainCertificateUnderBaseDomain, "ERR_NGROK_440"},
      {ErrorCode::kDomainInUse, "ERR_NGROK_446"},
      {ErrorCode::kDomainCertificateUnknown, "ERR_NGROK_1965"},
      {ErrorCode::kCertificateManaged, "ERR_NGROK_1966"},
      {ErrorCode::kFilterInvalid, "invalid_cel_expression"},  // ngrok's, a word
  };
  for (const auto& [code, name] : ngrok) EXPECT_EQ(ErrorCodeName(code), name);
  // Where ngrok has no code, certgate's stays.
  EXPECT_EQ(ErrorCodeName(ErrorCode::kInvalidPaging), "ERR_CERTGATE_113");
  EXPECT_EQ(ErrorCodeName(ErrorCode::kDomainPolicyInvalid), "ERR_CERTGATE_508");
}

TEST(ErrorTest, NoTwoCodesShareAnNgrokCode) {
  std::set<int> seen;
  for (const ErrorInfo& e : AllErrors()) {
    if (e.ngrok_code != 0) {
      EXPECT_TRUE(seen.insert(e.ngrok_code).second) << e.ngrok_code;
    }
  }
}

TEST(ErrorTest, AnErrorCanNameTheFieldAtFault) {
  Error plain = MakeError(ErrorCode::kBadRequest, "x");
  EXPECT_EQ(plain.field, "");
  Error named = MakeFieldError(ErrorCode::kPageLimitInvalid, "limit", "x");
  EXPECT_EQ(named.field, "limit");
  EXPECT_EQ(WithField(plain, "domain").field, "domain");
  EXPECT_EQ(WithField(named, "domain").field, "limit");  // the more precise one stays
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
