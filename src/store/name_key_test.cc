#include "store/name_key.h"

#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace certgate::store {
namespace {

TEST(NameKeyTest, KeysSpellTheLabelsLastToFirst) {
  EXPECT_EQ(NameKey("*.wa.example.com"), "com.example.wa.*.");
  EXPECT_EQ(NameKey("com"), "com.");
  EXPECT_EQ(NameFromKey("com.example.wa.*."), "*.wa.example.com");
  EXPECT_EQ(NameFromKey(NameKey("a.b.c")), "a.b.c");
}

TEST(NameKeyTest, NamesBelowAreOneRangeOfKeys) {
  auto [low, high] = NameKeyRange("wa.example.com");
  for (std::string_view below : {"x.wa.example.com", "*.wa.example.com", "a.b.wa.example.com"}) {
    const std::string key = NameKey(below);
    EXPECT_TRUE(low < key && key < high) << below;
    EXPECT_TRUE(KeyIsBelow(key, NameKey("wa.example.com"))) << below;
  }
  // Labels, not characters: neighbours and the name itself are outside.
  for (std::string_view other : {"wa.example.com", "wa-b.example.com", "xwa.example.com"}) {
    const std::string key = NameKey(other);
    EXPECT_FALSE(low < key && key < high) << other;
    EXPECT_FALSE(KeyIsBelow(key, NameKey("wa.example.com"))) << other;
  }
}

TEST(NameKeyTest, NamesAboveAndWildcards) {
  EXPECT_EQ(Ancestors("a.b.example.com"),
            (std::vector<std::string_view>{"b.example.com", "example.com", "com"}));
  EXPECT_TRUE(Ancestors("com").empty());
  EXPECT_EQ(BaseOf("*.x.com"), "x.com");
  EXPECT_EQ(BaseOf("x.com"), "x.com");
  EXPECT_EQ(WildcardOver("a.b.c"), "*.b.c");
  EXPECT_EQ(WildcardOver("c"), "");
}

}  // namespace
}  // namespace certgate::store
