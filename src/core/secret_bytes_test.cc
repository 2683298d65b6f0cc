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

TEST(SecretBytesTest, AKeptBlockComesBackWipedWhole) {
  // A secret of 100 bytes lives in a kept block of 128; the next secret of
  // that class on this thread gets the same block, every byte of it zero,
  // the bytes past the first secret's size included.
  const uint8_t* first = nullptr;
  {
    SecretBytes s(100);
    first = s.data();
    std::memset(s.data(), 0xAA, s.size());
  }
  SecretBytes again(128);
  ASSERT_EQ(again.data(), first) << "the block was not kept";
  for (size_t i = 0; i < again.size(); ++i) ASSERT_EQ(again.data()[i], 0) << "byte " << i;
}

TEST(SecretBytesTest, ASecretOverTheKeptSizeStartsZeroed) {
  // 64 KiB is past the largest kept block: a fresh mapping each time.
  SecretBytes big(64 * 1024);
  std::memset(big.data(), 0x55, big.size());
  big = SecretBytes(64 * 1024);
  for (size_t i = 0; i < big.size(); ++i) ASSERT_EQ(big.data()[i], 0) << "byte " << i;
}

TEST(SecretBytesTest, WipeZeroes) {
  std::string s = "secret";
  Wipe(s.data(), s.size());
  EXPECT_EQ(s, std::string(6, '\0'));
}

}  // namespace
}  // namespace certgate
