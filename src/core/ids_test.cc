#include "core/ids.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

namespace certgate {
namespace {

TEST(IdsTest, HasPrefixAnd27Base62Characters) {
  std::string id = NewId("cert");
  EXPECT_EQ(id.size(), 5 + 27u);
  EXPECT_EQ(id.substr(0, 5), "cert_");
  EXPECT_TRUE(IsValidId("cert", id));
  EXPECT_FALSE(IsValidId("rd", id));
  EXPECT_FALSE(IsValidId("cert", id.substr(0, id.size() - 1)));
  EXPECT_FALSE(IsValidId("cert", id.substr(0, id.size() - 1) + "-"));
  EXPECT_FALSE(IsValidId("cert", "cert-" + id.substr(5)));
}

TEST(IdsTest, StrictlyIncreasingAcrossThreads) {
  constexpr int kPerThread = 2000;
  std::vector<std::vector<std::string>> per(4);
  std::vector<std::thread> threads;
  for (auto& v : per) {
    threads.emplace_back([&v] {
      for (int i = 0; i < kPerThread; ++i) v.push_back(NewId("op"));
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& v : per) {
    for (size_t i = 1; i < v.size(); ++i) EXPECT_LT(v[i - 1], v[i]);
    all.insert(v.begin(), v.end());
  }
  EXPECT_EQ(all.size(), 4u * kPerThread);
}

TEST(IdsTest, RandomBase62IsOfTheAskedLengthAndVaries) {
  std::string a = RandomBase62(43), b = RandomBase62(43);
  EXPECT_EQ(a.size(), 43u);
  EXPECT_NE(a, b);
  for (char c : a) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)));
}

}  // namespace
}  // namespace certgate
