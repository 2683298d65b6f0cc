#include "edge/source_limits.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace certgate::edge {
namespace {

using boost::asio::ip::make_address;

SourceLimits::Key KeyOf(const char* address) { return SourceLimits::KeyOf(make_address(address)); }

TEST(SourceLimitsTest, EachSourceGetsItsShare) {
  SourceLimits limits(2);
  EXPECT_TRUE(limits.TryAcquire(KeyOf("127.0.0.2")));
  EXPECT_TRUE(limits.TryAcquire(KeyOf("127.0.0.2")));
  EXPECT_FALSE(limits.TryAcquire(KeyOf("127.0.0.2")));
  EXPECT_TRUE(limits.TryAcquire(KeyOf("127.0.0.1"))) << "another source is not held back";
  limits.Release(KeyOf("127.0.0.2"));
  EXPECT_TRUE(limits.TryAcquire(KeyOf("127.0.0.2"))) << "a released place is free again";
  EXPECT_EQ(limits.Count(KeyOf("127.0.0.2")), 2u);
}

TEST(SourceLimitsTest, ZeroMeansNoLimit) {
  SourceLimits limits(0);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(limits.TryAcquire(KeyOf("10.0.0.1")));
  EXPECT_EQ(limits.Count(KeyOf("10.0.0.1")), 1000u);
}

TEST(SourceLimitsTest, AnIpv6SourceIsItsSlash64) {
  EXPECT_EQ(KeyOf("2001:db8:1:2::1"), KeyOf("2001:db8:1:2:ffff::9"));
  EXPECT_NE(KeyOf("2001:db8:1:2::1"), KeyOf("2001:db8:1:3::1"));
  EXPECT_EQ(KeyOf("::ffff:192.0.2.7"), KeyOf("192.0.2.7")) << "v4-mapped is the IPv4 source";
  EXPECT_NE(KeyOf("::1"), KeyOf("0.0.0.1"));
  EXPECT_NE(KeyOf("::"), KeyOf("0.0.0.0"));
}

TEST(SourceLimitsTest, ReleasingEverythingForgetsTheSource) {
  SourceLimits limits(1);
  ASSERT_TRUE(limits.TryAcquire(KeyOf("192.0.2.1")));
  limits.Release(KeyOf("192.0.2.1"));
  limits.Release(KeyOf("192.0.2.1"));  // an extra release does not go below zero
  EXPECT_EQ(limits.Count(KeyOf("192.0.2.1")), 0u);
  EXPECT_TRUE(limits.TryAcquire(KeyOf("192.0.2.1")));
  EXPECT_FALSE(limits.TryAcquire(KeyOf("192.0.2.1")));
}

TEST(SourceLimitsTest, ConcurrentAcquiresNeverExceedTheShare) {
  SourceLimits limits(100);
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (limits.TryAcquire(KeyOf("198.51.100.1"))) ++granted;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(granted.load(), 100);
}

}  // namespace
}  // namespace certgate::edge
