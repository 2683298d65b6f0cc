#include "include_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace certgate::include_check {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

const std::filesystem::path kFixture = CERTGATE_INCLUDE_FIXTURE;

TEST(IncludeCheckTest, AnIncludeOfAModuleNotLinkedFailsAndNamesFileModuleAndTarget) {
  const Report report = Check(kFixture / "unlinked.manifest");
  EXPECT_TRUE(report.errors.empty());
  ASSERT_EQ(report.violations.size(), 1u);
  EXPECT_THAT(report.violations[0].text,
              AllOf(HasSubstr("src/upper/upper.cc:4:"), HasSubstr("module 'lower'"),
                    HasSubstr("target upper")));
}

TEST(IncludeCheckTest, AHeaderIsCheckedAgainstItsLibrary) {
  const Report report = Check(kFixture / "header_unlinked.manifest");
  EXPECT_TRUE(report.errors.empty());
  ASSERT_EQ(report.violations.size(), 1u);
  EXPECT_THAT(report.violations[0].text,
              AllOf(HasSubstr("src/side/side.h:3:"), HasSubstr("module 'lower'"),
                    HasSubstr("target side")));
}

TEST(IncludeCheckTest, AModuleLinkingATestHelperOutsideSrcFails) {
  const Report report = Check(kFixture / "links_tests.manifest");
  EXPECT_TRUE(report.errors.empty());
  ASSERT_EQ(report.violations.size(), 1u);
  EXPECT_THAT(report.violations[0].text, AllOf(HasSubstr("target lower_test"), HasSubstr("links peers")));
}

TEST(IncludeCheckTest, TheSameSourcesWithHonestLinksPass) {
  const Report report = Check(kFixture / "linked.manifest");
  EXPECT_TRUE(report.errors.empty());
  EXPECT_TRUE(report.violations.empty()) << report.violations[0].text;
  EXPECT_EQ(report.files_checked, 6u);
}

TEST(IncludeCheckTest, AMissingSourceIsAnError) {
  const Report report = Check(kFixture / "missing_source.manifest");
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_THAT(report.errors[0], HasSubstr("nowhere.cc"));
}

}  // namespace
}  // namespace certgate::include_check
