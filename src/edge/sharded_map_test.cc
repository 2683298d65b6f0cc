#include "edge/sharded_map.h"

#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "edge/name_table.h"

namespace certgate::edge {
namespace {

std::string Name(int i) { return "host" + std::to_string(i) + ".example.com"; }
std::string Cert(int i) { return "cert_" + std::to_string(i % 50); }

// Every key of want is found with its value, and the size agrees.
void ExpectSame(const NameIndex& index, const std::map<std::string, std::string>& want) {
  ASSERT_EQ(index.size(), want.size());
  for (const auto& [name, cert] : want) {
    std::optional<std::string_view> got = index.Find(name);
    ASSERT_TRUE(got.has_value()) << name;
    ASSERT_EQ(*got, cert) << name;
  }
  size_t seen = 0;
  index.ForEach([&](std::string_view name, std::string_view cert) {
    ++seen;
    auto it = want.find(std::string(name));
    ASSERT_NE(it, want.end()) << name;
    EXPECT_EQ(it->second, cert);
  });
  EXPECT_EQ(seen, want.size());
}

TEST(ShardedMapTest, BuildsAndFindsEveryName) {
  std::vector<std::string> names;
  std::vector<std::string> certs;
  std::map<std::string, std::string> want;
  for (int i = 0; i < 10'000; ++i) {
    names.push_back(Name(i));
    certs.push_back(i % 7 == 0 ? "" : Cert(i));
    want[names.back()] = certs.back();
  }
  NameIndex::Entries entries;
  for (size_t i = 0; i < names.size(); ++i) entries.emplace_back(names[i], certs[i]);
  const NameIndex index(entries);
  ExpectSame(index, want);
  EXPECT_FALSE(index.Find("absent.example.com").has_value());
  EXPECT_FALSE(index.Find("").has_value());
  // About 256 names per shard.
  EXPECT_EQ(index.shard_count(), 64u);
}

TEST(ShardedMapTest, AnEmptyMapFindsNothingAndGrowsByChanges) {
  const NameIndex empty;
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_FALSE(empty.Find("a.example").has_value());
  const std::vector<NameIndex::Change> add = {{"a.example", "cert_a"}};
  const NameIndex one = empty.With(add);
  EXPECT_EQ(one.size(), 1u);
  EXPECT_EQ(one.Find("a.example"), "cert_a");
  EXPECT_EQ(empty.size(), 0u) << "the original is untouched";
  EXPECT_FALSE(empty.Find("a.example").has_value());
}

TEST(ShardedMapTest, AChangeCopiesOnlyItsShardAndLeavesTheOriginalAsItWas) {
  NameIndex::Entries entries;
  std::vector<std::string> names;
  for (int i = 0; i < 5000; ++i) names.push_back(Name(i));
  for (const std::string& n : names) entries.emplace_back(n, "cert_old");
  const NameIndex before(entries);
  const std::string name17 = Name(17);  // a change holds views: the name must outlive it
  const std::vector<NameIndex::Change> change = {{name17, "cert_new"}};
  const NameIndex after = before.With(change);
  EXPECT_EQ(after.SharedShards(before), before.shard_count() - 1);
  EXPECT_EQ(after.Find(Name(17)), "cert_new");
  EXPECT_EQ(before.Find(Name(17)), "cert_old");
  EXPECT_EQ(after.Find(Name(18)), "cert_old");

  const std::vector<NameIndex::Change> removal = {{name17, std::nullopt}};
  const NameIndex removed = after.With(removal);
  EXPECT_FALSE(removed.Find(Name(17)).has_value());
  EXPECT_EQ(removed.size(), 4999u);
  EXPECT_EQ(after.size(), 5000u);
  // Removing what is absent changes nothing that is found.
  const std::vector<NameIndex::Change> absent = {{"absent.example", std::nullopt}};
  EXPECT_EQ(removed.With(absent).size(), 4999u);
}

TEST(ShardedMapTest, ALaterChangeToTheSameNameInOneBatchWins) {
  const NameIndex empty;
  const std::vector<NameIndex::Change> changes = {
      {"a.example", "cert_1"}, {"b.example", "cert_b"}, {"a.example", "cert_2"},
      {"b.example", std::nullopt}};
  const NameIndex next = empty.With(changes);
  EXPECT_EQ(next.Find("a.example"), "cert_2");
  EXPECT_FALSE(next.Find("b.example").has_value());
  EXPECT_EQ(next.size(), 1u);
}

TEST(ShardedMapTest, RandomChangesAgreeWithAPlainMapThroughGrowthAndShrinking) {
  std::mt19937 rng(17);
  std::map<std::string, std::string> want;
  NameIndex index;
  std::vector<std::string> keep;  // the views in a batch live until With returns
  const unsigned shards_at_start = static_cast<unsigned>(index.shard_count());
  size_t most_shards = 0;
  // Grow to ~20k names in batches, then shrink back to a few thousand.
  for (int round = 0; round < 160; ++round) {
    const bool growing = round < 80;
    std::vector<std::pair<std::string, std::optional<std::string>>> batch;
    const int n = 1 + static_cast<int>(rng() % 1000);
    for (int i = 0; i < n; ++i) {
      const int k = static_cast<int>(rng() % 60'000);
      if (growing ? rng() % 10 != 0 : rng() % 10 == 0) {
        batch.emplace_back(Name(k), Cert(static_cast<int>(rng())));
      } else if (!want.empty()) {
        // Remove an existing name (found by a random key's neighbour).
        auto it = want.lower_bound(Name(k));
        if (it == want.end()) it = want.begin();
        batch.emplace_back(it->first, std::nullopt);
      }
    }
    std::vector<NameIndex::Change> changes;
    for (const auto& [name, cert] : batch) {
      changes.emplace_back(name, cert ? std::optional<std::string_view>(*cert) : std::nullopt);
      if (cert) {
        want[name] = *cert;
      } else {
        want.erase(name);
      }
    }
    index = index.With(changes);
    most_shards = std::max(most_shards, index.shard_count());
    ASSERT_NO_FATAL_FAILURE(ExpectSame(index, want)) << "round " << round;
  }
  EXPECT_GE(most_shards, shards_at_start * 8) << "it re-sharded as it grew";
  EXPECT_LT(index.shard_count(), most_shards) << "and again as it shrank";
}

}  // namespace
}  // namespace certgate::edge
