#include "core/time.h"

#include <gtest/gtest.h>

namespace certgate {
namespace {

TEST(TimeTest, FormatsRfc3339InUtc) {
  EXPECT_EQ(FormatRfc3339(FromUnixSeconds(0)), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(FromUnixSeconds(1795865139)), "2026-11-28T11:25:39Z");
}

TEST(TimeTest, ParsesWhatItFormats) {
  Time t = FromUnixSeconds(1795865139);
  auto back = ParseRfc3339(FormatRfc3339(t));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, t);
  EXPECT_EQ(ParseRfc3339("2026-11-28T11:25:39.123Z"), t);
  EXPECT_FALSE(ParseRfc3339("2026-11-28 11:25:39"));
  EXPECT_FALSE(ParseRfc3339("2026-13-28T11:25:39Z"));
  EXPECT_FALSE(ParseRfc3339(""));
  // Numeric offsets (RFC 3339 section 5.6).
  EXPECT_EQ(ParseRfc3339("2026-11-28T12:25:39+01:00"), t);
  EXPECT_EQ(ParseRfc3339("2026-11-28T06:55:39.5-04:30"), t);
  EXPECT_EQ(ParseRfc3339("2026-11-28t11:25:39z"), t);
  EXPECT_FALSE(ParseRfc3339("2026-11-28T11:25:39+0100"));
  EXPECT_FALSE(ParseRfc3339("2026-11-28T11:25:39+24:00"));
  EXPECT_FALSE(ParseRfc3339("2026-11-28T11:25:39."));
  EXPECT_FALSE(ParseRfc3339("2026-11-28T11:25:39"));
  // Out of Time's range (64-bit nanoseconds end in 2262): refused, not wrapped.
  EXPECT_FALSE(ParseRfc3339("2626-01-01T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("9999-12-31T23:59:59Z"));
  EXPECT_TRUE(ParseRfc3339("2200-12-31T23:59:59Z"));
}

}  // namespace
}  // namespace certgate
