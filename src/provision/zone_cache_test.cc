// ZoneCache over a MemoryStore: the first load answers what the store holds;
// each change is applied by reading only the names it touched; a reader
// behind the feed's retention loads again; names outside the zone cost
// nothing. NameHashes: counts through growth and removal.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/ids.h"
#include "core/time.h"
#include "provision/dns01_solver.h"
#include "provision/name_hashes.h"
#include "provision/zone_cache.h"
#include "store/records.h"
#include "store/testing/memory_store.h"

namespace certgate::provision {
namespace {

constexpr char kZone[] = "certgate.test";

TEST(NameHashesTest, CountsMatchAMapThroughGrowthAndRemoval) {
  NameHashes hashes(NameHashes::RandomKey());
  std::map<std::string, int64_t> want;
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    const std::string name = "n" + std::to_string(rng() % 3000) + ".example";
    const int delta = static_cast<int>(rng() % 5) - 2;  // -2 .. 2
    hashes.Add(name, delta);
    want[name] = std::max<int64_t>(0, want[name] + delta);
    if (i % 997 == 0) {
      size_t present = 0;
      for (const auto& [n, count] : want) {
        ASSERT_EQ(hashes.Count(n), count) << n << " after " << i;
        present += count > 0 ? 1 : 0;
      }
      ASSERT_EQ(hashes.size(), present);
    }
  }
  EXPECT_FALSE(hashes.Contains("never.example"));
}

class ZoneCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::Account account{NewId("acct"), "Alice", store::Plan::kFree, FromUnixSeconds(1)};
    ASSERT_TRUE(store_.CreateAccount(account).ok());
    account_ = account.id;
  }

  store::Domain Domain(const std::string& name, const std::string& target = "") {
    store::Domain d;
    d.id = NewId("rd");
    d.account_id = account_;
    d.created_at = FromUnixSeconds(1'700'000'000);
    d.domain = name;
    if (!target.empty()) {
      d.policy = store::ManagementPolicy{};
      d.cname_target = target;
      d.acme_challenge_cname_target = "acme-" + target;
    }
    return d;
  }

  std::string AddJob(const store::Domain& d) {
    store::ProvisioningJob job;
    job.id = NewId("job");
    job.domain_id = d.id;
    job.account_id = d.account_id;
    job.domain = d.domain;
    job.started_at = d.created_at;
    job.next_run_at = d.created_at;
    EXPECT_TRUE(*store_.InsertProvisioningJob(job));
    return job.id;
  }

  bool Edge(const std::string& name) { return *zone_.IsEdgeName(name); }
  bool Below(const std::string& name) { return *zone_.HasNamesBelow(name); }

  store::testing::MemoryStore store_;
  std::string account_;
  ZoneCache zone_{store_, store_, store_, kZone};
};

TEST_F(ZoneCacheTest, TheFirstLoadAnswersWhatTheStoreHolds) {
  store::Domain shop = Domain("shop.example.com", "k1.cname.certgate.test");
  ASSERT_TRUE(store_.InsertDomain(shop).ok());
  ASSERT_TRUE(store_.InsertDomain(Domain("app.certgate.test")).ok());
  ASSERT_TRUE(store_.InsertDomain(Domain("*.bob.certgate.test")).ok());
  ASSERT_TRUE(store_.InsertDomain(Domain("a.b.c.certgate.test")).ok());
  const std::string job = AddJob(shop);
  ASSERT_TRUE(store_.PutDnsTxtRecord("k1.acme.certgate.test", "v2", job).ok());
  ASSERT_TRUE(store_.PutDnsTxtRecord("k1.acme.certgate.test", "v1", job).ok());
  ASSERT_TRUE(store_.PutDnsTxtRecord("_acme-challenge.x.certgate.test", "w", job).ok());

  // Before the first load, the store answers.
  EXPECT_TRUE(Edge("app.certgate.test"));
  EXPECT_TRUE(Below("bob.certgate.test"));
  EXPECT_EQ(zone_.TxtRecords("_acme-challenge.x.certgate.test")->size(), 1u);
  EXPECT_EQ(zone_.stats().store_answers, 3);
  ASSERT_TRUE(zone_.Load().ok());
  EXPECT_TRUE(Edge("k1.cname.certgate.test"));
  EXPECT_TRUE(Edge("app.certgate.test"));
  EXPECT_TRUE(Edge("x.bob.certgate.test")) << "one label under a wildcard";
  EXPECT_FALSE(Edge("y.x.bob.certgate.test"));
  EXPECT_FALSE(Edge("k1.acme.certgate.test")) << "TXT only";
  EXPECT_FALSE(Edge("shop.example.com")) << "outside the zone";
  EXPECT_FALSE(Edge("nothing.certgate.test"));
  EXPECT_EQ(*zone_.TxtRecords("k1.acme.certgate.test"), (std::vector<std::string>{"v1", "v2"}));
  EXPECT_TRUE(zone_.TxtRecords("k2.acme.certgate.test")->empty());
  EXPECT_TRUE(Below("bob.certgate.test"));
  EXPECT_TRUE(Below("b.c.certgate.test"));
  EXPECT_TRUE(Below("c.certgate.test"));
  EXPECT_TRUE(Below("x.certgate.test")) << "a TXT name makes its parents exist";
  EXPECT_TRUE(Below("cname.certgate.test"));
  EXPECT_TRUE(Below("acme.certgate.test"));
  EXPECT_FALSE(Below("app.certgate.test"));
  EXPECT_FALSE(Below("ob.certgate.test")) << "labels, not characters";
  EXPECT_EQ(zone_.stats().full_loads, 1);
  EXPECT_EQ(zone_.stats().store_answers, 3) << "none once loaded";
}

TEST_F(ZoneCacheTest, StartLoadsOnItsThreadAndFollowsWrites) {
  ASSERT_TRUE(store_.InsertDomain(Domain("before.certgate.test")).ok());
  zone_.Start();
  ASSERT_TRUE(zone_.CatchUp().ok()) << "waits for the load under way, if any";
  EXPECT_EQ(zone_.stats().full_loads, 1);
  const int64_t answered = zone_.stats().store_answers;
  EXPECT_TRUE(Edge("before.certgate.test"));
  ASSERT_TRUE(store_.InsertDomain(Domain("after.certgate.test")).ok());
  // The write wakes the follower: wait for it, bounded.
  for (int i = 0; i < 2000 && !Edge("after.certgate.test"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(Edge("after.certgate.test"));
  EXPECT_EQ(zone_.stats().store_answers, answered) << "from memory";
  zone_.Stop();
}

TEST_F(ZoneCacheTest, EachChangeReadsOnlyTheNamesItTouched) {
  ASSERT_TRUE(zone_.Load().ok());
  ASSERT_TRUE(store_.InsertDomain(Domain("outside.example.com")).ok());
  ASSERT_TRUE(zone_.CatchUp().ok());
  EXPECT_EQ(zone_.stats().key_reads, 0) << "a name outside the zone is not read";

  store::Domain shop = Domain("shop.example.com", "k1.cname.certgate.test");
  ASSERT_TRUE(store_.InsertDomain(shop).ok());
  store::Domain sub = Domain("a.b.certgate.test");
  ASSERT_TRUE(store_.InsertDomain(sub).ok());
  EXPECT_FALSE(Edge("k1.cname.certgate.test")) << "not before the change is applied";
  ASSERT_TRUE(zone_.CatchUp().ok());
  EXPECT_EQ(zone_.stats().key_reads, 2) << "the target and the reserved name";
  EXPECT_TRUE(Edge("k1.cname.certgate.test"));
  EXPECT_TRUE(Edge("a.b.certgate.test"));
  EXPECT_TRUE(Below("b.certgate.test"));

  // A new target replaces the old one; a TXT record comes and goes.
  store::Domain moved = shop;
  moved.cname_target = "k2.cname.certgate.test";
  ASSERT_TRUE(*store_.UpdateDomain(moved));
  const std::string job = AddJob(moved);
  ASSERT_TRUE(store_.PutDnsTxtRecord("k9.acme.certgate.test", "v", job).ok());
  ASSERT_TRUE(zone_.CatchUp().ok());
  EXPECT_EQ(zone_.stats().key_reads, 5) << "two targets and one TXT name";
  EXPECT_FALSE(Edge("k1.cname.certgate.test"));
  EXPECT_TRUE(Edge("k2.cname.certgate.test"));
  EXPECT_EQ(*zone_.TxtRecords("k9.acme.certgate.test"), std::vector<std::string>{"v"});

  ASSERT_TRUE(*store_.DeleteDnsTxtRecord("k9.acme.certgate.test", "v"));
  ASSERT_EQ(store_.DeleteDomain(account_, sub.id)->status, store::DeleteOutcome::Status::kDeleted);
  ASSERT_TRUE(zone_.CatchUp().ok());
  EXPECT_TRUE(zone_.TxtRecords("k9.acme.certgate.test")->empty());
  EXPECT_FALSE(Edge("a.b.certgate.test"));
  EXPECT_FALSE(Below("b.certgate.test")) << "the empty non-terminal went with it";
  EXPECT_EQ(zone_.stats().full_loads, 1);
}

TEST_F(ZoneCacheTest, AReaderBehindTheRetentionLoadsAgain) {
  ASSERT_TRUE(zone_.Load().ok());
  store_.SetChangeRetention(3);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(store_.InsertDomain(Domain("n" + std::to_string(i) + ".certgate.test")).ok());
  }
  ASSERT_TRUE(zone_.CatchUp().ok());
  EXPECT_EQ(zone_.stats().full_loads, 2);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(Edge("n" + std::to_string(i) + ".certgate.test"));
}

TEST_F(ZoneCacheTest, TheDns01SolverReturnsOnceTheZoneServesItsRecord) {
  ASSERT_TRUE(zone_.Load().ok());
  store::Domain shop = Domain("shop.example.com", "k1.cname.certgate.test");
  ASSERT_TRUE(store_.InsertDomain(shop).ok());
  const std::string job = AddJob(shop);
  Dns01Solver solver(store_, [this] { return zone_.CatchUp(); });
  ASSERT_TRUE(solver
                  .Present(Challenge{ChallengeType::kDns01, job, "shop.example.com", "token",
                                     "token.thumbprint", "digest", "k1.acme.certgate.test"})
                  .ok());
  EXPECT_EQ(*zone_.TxtRecords("k1.acme.certgate.test"), std::vector<std::string>{"digest"});
}

}  // namespace
}  // namespace certgate::provision
