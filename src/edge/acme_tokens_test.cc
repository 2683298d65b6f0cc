// AcmeTokens over a MemoryStore: answers load, follow the feed (puts and
// deletes, by this store object or another), and misses are read through a
// bounded number at a time.
#include "edge/acme_tokens.h"

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/ids.h"
#include "store/testing/memory_store.h"

namespace certgate::edge {
namespace {

class AcmeTokensTest : public ::testing::Test {
 protected:
  // A managed domain with a job, which answers belong to.
  void SetUp() override {
    const Time now = FromUnixSeconds(1'700'000'000);
    store::Account account{NewId("acct"), "Alice", store::Plan::kFree, now};
    ASSERT_TRUE(store_.CreateAccount(account).ok());
    store::Domain d;
    d.id = NewId("rd");
    d.account_id = account.id;
    d.created_at = now;
    d.domain = "www.example.com";
    d.policy = store::ManagementPolicy{};
    ASSERT_TRUE(store_.InsertDomain(d).ok());
    store::ProvisioningJob job;
    job.id = NewId("job");
    job.domain_id = d.id;
    job.account_id = d.account_id;
    job.domain = d.domain;
    job.started_at = now;
    job.next_run_at = now;
    ASSERT_TRUE(*store_.InsertProvisioningJob(job));
    job_id_ = job.id;
  }

  void Put(const std::string& token) {
    ASSERT_TRUE(store_.PutHttp01Challenge({token, token + ".print", job_id_}).ok());
  }

  store::testing::MemoryStore store_;
  std::string job_id_;
};

TEST_F(AcmeTokensTest, LoadsThenFollowsPutsAndDeletes) {
  Put("tokA");
  AcmeTokens tokens(store_, store_);
  ASSERT_TRUE(tokens.Load().ok());
  EXPECT_EQ(tokens.Find("tokA").value_or(""), "tokA.print");
  EXPECT_FALSE(tokens.Find("tokB").has_value());

  // Another process's writes (a second store object over the same data).
  auto other = store::testing::MemoryStore::SharingDataWith(store_);
  ASSERT_TRUE(other->PutHttp01Challenge({"tokB", "tokB.print", job_id_}).ok());
  ASSERT_TRUE(*other->DeleteHttp01Challenge("tokA"));
  EXPECT_FALSE(tokens.Find("tokB").has_value()) << "not applied before a catch-up";
  ASSERT_TRUE(tokens.CatchUp().ok());
  EXPECT_EQ(tokens.Find("tokB").value_or(""), "tokB.print");
  EXPECT_FALSE(tokens.Find("tokA").has_value());
  EXPECT_EQ(tokens.stats().full_loads, 1);
  EXPECT_EQ(tokens.stats().token_reads, 2) << "each changed token read once, nothing else";

  // A catch-up with nothing new reads no token.
  ASSERT_TRUE(tokens.CatchUp().ok());
  EXPECT_EQ(tokens.stats().token_reads, 2);
}

TEST_F(AcmeTokensTest, TheFollowerAppliesAWriteWithoutBeingAsked) {
  AcmeTokens tokens(store_, store_, std::chrono::milliseconds(20));
  tokens.Start();
  Put("tokC");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!tokens.Find("tokC") && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(tokens.Find("tokC").value_or(""), "tokC.print");
  tokens.Stop();
}

TEST_F(AcmeTokensTest, ReadThroughsAreBoundedAndReadTheStore) {
  AcmeTokens tokens(store_, store_);
  ASSERT_TRUE(tokens.Load().ok());
  Put("tokD");  // not applied: only a read-through finds it
  EXPECT_FALSE(tokens.Find("tokD").has_value());
  auto read = tokens.ReadThrough("tokD");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->value_or(""), "tokD.print");

  // Sources 1..4 take two each: all eight.
  auto source = [](uint64_t n) { return SourceLimits::Key{0, n}; };
  for (uint64_t s = 1; s <= 4; ++s) {
    EXPECT_TRUE(tokens.TryBeginReadThrough(source(s)));
    EXPECT_TRUE(tokens.TryBeginReadThrough(source(s)));
  }
  EXPECT_FALSE(tokens.TryBeginReadThrough(source(5))) << "all taken: a flood gets no more";
  tokens.EndReadThrough(source(1));
  EXPECT_TRUE(tokens.TryBeginReadThrough(source(5)));
  for (uint64_t s = 1; s <= 4; ++s) {
    tokens.EndReadThrough(source(s));
    if (s != 1) tokens.EndReadThrough(source(s));
  }
  tokens.EndReadThrough(source(5));
  EXPECT_EQ(tokens.stats().refused_reads, 1);
  EXPECT_EQ(tokens.stats().read_throughs, 1);
}

TEST_F(AcmeTokensTest, OneSourceGetsOnlyItsShareOfTheReadThroughs) {
  AcmeTokens tokens(store_, store_);
  const SourceLimits::Key flood{0, 0x0a000001};
  const SourceLimits::Key ca{0, 0x0a000002};
  for (int i = 0; i < AcmeTokens::kMaxReadThroughsPerSource; ++i) {
    EXPECT_TRUE(tokens.TryBeginReadThrough(flood));
  }
  EXPECT_FALSE(tokens.TryBeginReadThrough(flood)) << "the flooding source has its share";
  EXPECT_TRUE(tokens.TryBeginReadThrough(ca)) << "another source still reads through";
  tokens.EndReadThrough(ca);
  tokens.EndReadThrough(flood);
  EXPECT_TRUE(tokens.TryBeginReadThrough(flood)) << "a share given back is taken again";
  for (int i = 0; i < AcmeTokens::kMaxReadThroughsPerSource; ++i) tokens.EndReadThrough(flood);
  EXPECT_EQ(tokens.stats().refused_reads, 1);
}

}  // namespace
}  // namespace certgate::edge
