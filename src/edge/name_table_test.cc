#include "edge/name_table.h"

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace certgate::edge {
namespace {

TEST(NameTableTest, FindsEveryNameAndNothingElse) {
  std::vector<std::string> names;
  for (int i = 0; i < 5000; ++i) names.push_back("n" + std::to_string(i) + ".example.com");
  std::vector<std::pair<std::string_view, uint32_t>> entries;
  for (size_t i = 0; i < names.size(); ++i) entries.emplace_back(names[i], static_cast<uint32_t>(i));
  const NameTable table(entries);
  names.clear();  // the table keeps its own copy
  ASSERT_EQ(table.size(), 5000u);
  for (uint32_t i = 0; i < 5000; ++i) {
    EXPECT_EQ(table.Find("n" + std::to_string(i) + ".example.com"), i);
  }
  EXPECT_EQ(table.Find("n5000.example.com"), std::nullopt);
  EXPECT_EQ(table.Find(""), std::nullopt);
  EXPECT_EQ(table.Find("N1.example.com"), std::nullopt) << "names are normalized by the caller";
  // Compact: the names, plus 8-byte slots at a load of at most one half.
  EXPECT_LT(table.bytes(), 5000u * (18 + 1 + 2 * 8 * 2));
}

TEST(NameTableTest, EmptyDuplicatesAndOverlongNames) {
  const NameTable empty;
  EXPECT_EQ(empty.Find("a"), std::nullopt);
  EXPECT_EQ(NameTable(std::vector<std::pair<std::string_view, uint32_t>>{}).Find("a"), std::nullopt);
  const std::string long_name(256, 'a');
  const NameTable table({{"a.test", 1}, {"a.test", 2}, {long_name, 3}, {std::string(255, 'b'), 4},
                         {"", 5}});
  EXPECT_EQ(table.size(), 3u);
  EXPECT_EQ(table.Find("a.test"), 1u) << "the first of duplicates";
  EXPECT_EQ(table.Find(long_name), std::nullopt) << "over 255 bytes: left out";
  EXPECT_EQ(table.Find(std::string(255, 'b')), 4u);
  EXPECT_EQ(table.Find(""), 5u);
  std::map<std::string, uint32_t> seen;
  table.ForEach([&](std::string_view name, uint32_t value) { seen[std::string(name)] = value; });
  EXPECT_EQ(seen, (std::map<std::string, uint32_t>{{"", 5}, {"a.test", 1}, {std::string(255, 'b'), 4}}));
}

}  // namespace
}  // namespace certgate::edge
