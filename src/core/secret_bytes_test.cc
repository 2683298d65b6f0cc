#include "core/secret_bytes.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace certgate {
namespace {

TEST(SecretBytesTest, CopiesAndCompares) {
  SecretBytes s = SecretBytes::CopyOf(std::string_view("hunter2"));
  EXPECT_EQ(s.size(), 7u);
  EXPECT_EQ(s.view(), "hunter2");
  const uint8_t same[] = {'h', 'u', 'n', 't', 'e', 'r', '2'};
  const uint8_t other[] = {'h', 'u', 'n', 't', 'e', 'r', '3'};
  EXPECT_TRUE(s.Equals(same));
  EXPECT_FALSE(s.Equals(other));
}

TEST(SecretBytesTest, MoveLeavesTheSourceEmpty) {
  SecretBytes a = SecretBytes::CopyOf(std::string_view("abc"));
  SecretBytes b = std::move(a);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the point of the test
  EXPECT_EQ(b.view(), "abc");
  a = std::move(b);
  EXPECT_EQ(a.view(), "abc");
}

TEST(SecretBytesTest, WipeZeroes) {
  std::string s = "secret";
  Wipe(s.data(), s.size());
  EXPECT_EQ(s, std::string(6, '\0'));
}

}  // namespace
}  // namespace certgate
