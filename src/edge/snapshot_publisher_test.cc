// SnapshotPublisher against the in-memory store: one full load, then each
// change applied by re-reading only the keys it names (issue 17), and a full
// reload only for a reader that fell behind the feed's retention.
#include "edge/snapshot_publisher.h"

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "core/ids.h"
#include "store/testing/memory_store.h"

namespace certgate::edge {
namespace {

using store::testing::MemoryStore;

class RecordingSink final : public SnapshotSink {
 public:
  void SetSnapshot(std::shared_ptr<const Snapshot> snapshot) override {
    std::lock_guard lock(mu_);
    last_ = std::move(snapshot);
    cv_.notify_all();
  }
  std::shared_ptr<const Snapshot> last() {
    std::lock_guard lock(mu_);
    return last_;
  }
  // Waits until pred(last snapshot) holds, at most timeout.
  template <class Pred>
  bool WaitFor(Pred pred, std::chrono::seconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return last_ && pred(*last_); });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<const Snapshot> last_;
};

store::Domain MakeDomain(const std::string& account, const std::string& name,
                         std::optional<std::string> cert) {
  store::Domain d;
  d.id = NewId("rd");
  d.account_id = account;
  d.created_at = FromUnixSeconds(1'700'000'000);
  d.domain = name;
  d.certificate_id = std::move(cert);
  return d;
}

class SnapshotPublisherTest : public ::testing::Test {
 protected:
  static constexpr int kNames = 20'000;

  void SetUp() override {
    store::Account account;
    account.id = NewId("acct");
    account.name = "Ada";
    ASSERT_TRUE(store_.CreateAccount(account).ok());
    account_ = account.id;
    // Written around the store's checks: 20,000 names in O(n log n).
    for (int i = 0; i < kNames; ++i) {
      store_.WriteDomainAroundTheStore(
          MakeDomain(account_, "n" + std::to_string(i) + ".example.com", "cert_" + std::to_string(i)),
          "");
    }
  }

  // A certificate record of the account (the store checks that a domain's
  // certificate exists; the edge never opens these).
  void AddCertificate(const std::string& id) {
    store::Certificate c;
    c.id = id;
    c.account_id = account_;
    c.created_at = FromUnixSeconds(1'700'000'000);
    c.not_after = FromUnixSeconds(1'900'000'000);
    c.private_key = store::SealedKey{1, {1}};
    ASSERT_TRUE(store_.InsertCertificate(c).ok());
  }

  std::string CertFor(const std::string& name) {
    return std::string(sink_.last()->Select(name).certificate_id);
  }

  MemoryStore store_;
  RecordingSink sink_;
  std::string account_;
};

TEST_F(SnapshotPublisherTest, AChangeIsAppliedByReadingOnlyTheKeysItNames) {
  AddCertificate("cert_new");
  SnapshotPublisher publisher(store_, sink_, "cert_default");
  ASSERT_TRUE(publisher.PublishNow().ok());
  ASSERT_EQ(sink_.last()->name_count(), static_cast<size_t>(kNames));
  EXPECT_EQ(CertFor("n7.example.com"), "cert_7");

  // 100 changes: 97 new names, a certificate swapped, a name deleted, an endpoint.
  for (int i = 0; i < 97; ++i) {
    ASSERT_TRUE(store_.InsertDomain(MakeDomain(account_, "new" + std::to_string(i) + ".example.org",
                                               "cert_new")).ok());
  }
  auto n5 = store_.FindDomainByName("n5.example.com");
  ASSERT_TRUE(n5.ok() && n5->has_value());
  store::Domain swapped = **n5;
  swapped.certificate_id = "cert_swapped";
  store_.WriteDomainAroundTheStore(swapped, "");
  auto n6 = store_.FindDomainByName("n6.example.com");
  ASSERT_TRUE(n6.ok() && n6->has_value());
  ASSERT_EQ(store_.DeleteDomain(account_, (*n6)->id)->status, store::DeleteOutcome::Status::kDeleted);
  store::Endpoint e;
  e.id = NewId("ep");
  e.account_id = account_;
  e.scheme = "https";
  e.host = "n9.example.com";
  e.url = "https://n9.example.com";
  e.upstream = "http://127.0.0.1:9";
  e.domain_id = (*store_.FindDomainByName("n9.example.com"))->id;
  ASSERT_TRUE(store_.InsertEndpoint(e, std::nullopt).ok());

  const SnapshotPublisher::Stats before = publisher.stats();
  ASSERT_TRUE(publisher.CatchUp().ok());
  const SnapshotPublisher::Stats after = publisher.stats();
  EXPECT_EQ(after.full_loads, 1) << "no full reload";
  EXPECT_EQ(after.changes - before.changes, 100);
  EXPECT_EQ(after.key_reads - before.key_reads, 100) << "one read per name or host touched";
  EXPECT_EQ(sink_.last()->name_count(), static_cast<size_t>(kNames + 97 - 1));
  EXPECT_EQ(CertFor("new42.example.org"), "cert_new");
  EXPECT_EQ(CertFor("n5.example.com"), "cert_swapped");
  EXPECT_EQ(CertFor("n6.example.com"), "") << "deleted: the default";
  EXPECT_EQ(CertFor("n8.example.com"), "cert_8") << "untouched";
  const Route* route = sink_.last()->FindRoute("n9.example.com");
  ASSERT_NE(route, nullptr);
  EXPECT_EQ(route->endpoint_id, e.id);

  // Nothing new: nothing read, nothing published.
  ASSERT_TRUE(publisher.CatchUp().ok());
  EXPECT_EQ(publisher.stats().key_reads, after.key_reads);
  EXPECT_EQ(publisher.stats().published, after.published);

  // The endpoint goes: its host's route goes with it.
  ASSERT_TRUE(*store_.DeleteEndpoint(account_, e.id));
  ASSERT_TRUE(publisher.CatchUp().ok());
  EXPECT_EQ(sink_.last()->FindRoute("n9.example.com"), nullptr);
  EXPECT_EQ(publisher.stats().full_loads, 1);
}

TEST_F(SnapshotPublisherTest, EachChangeCopiesOneShardAndKeepsEveryAnswer) {
  SnapshotPublisher publisher(store_, sink_, "cert_default");
  ASSERT_TRUE(publisher.PublishNow().ok());
  // One batch per change: each new snapshot shares every name shard but the
  // changed name's with the one before it, however many changes came first.
  for (int i = 0; i < 600; ++i) {
    const auto before = sink_.last();
    AddCertificate("cert_f" + std::to_string(i));
    ASSERT_TRUE(store_.InsertDomain(MakeDomain(account_, "f" + std::to_string(i) + ".example.net",
                                               "cert_f" + std::to_string(i))).ok());
    ASSERT_TRUE(publisher.CatchUp().ok());
    const auto after = sink_.last();
    ASSERT_NE(after, before);
    ASSERT_EQ(after->name_shards_shared_with(*before), after->name_shards() - 1) << "change " << i;
  }
  EXPECT_EQ(publisher.stats().full_loads, 1);
  EXPECT_EQ(sink_.last()->name_count(), static_cast<size_t>(kNames + 600));
  for (int i = 0; i < 600; i += 37) {
    EXPECT_EQ(CertFor("f" + std::to_string(i) + ".example.net"), "cert_f" + std::to_string(i));
  }
  EXPECT_EQ(CertFor("n19999.example.com"), "cert_19999");
}

TEST_F(SnapshotPublisherTest, AReaderBehindTheRetentionReloadsEverythingOnce) {
  AddCertificate("cert_late");
  AddCertificate("cert_after");
  store_.SetChangeRetention(10);
  SnapshotPublisher publisher(store_, sink_, "cert_default");
  ASSERT_TRUE(publisher.PublishNow().ok());
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(store_.InsertDomain(MakeDomain(account_, "late" + std::to_string(i) + ".example.net",
                                               "cert_late")).ok());
  }
  ASSERT_TRUE(publisher.CatchUp().ok());
  EXPECT_EQ(publisher.stats().full_loads, 2);
  EXPECT_EQ(sink_.last()->name_count(), static_cast<size_t>(kNames + 50));
  EXPECT_EQ(CertFor("late49.example.net"), "cert_late");
  // Caught up again: the next change is applied as a change.
  ASSERT_TRUE(store_.InsertDomain(MakeDomain(account_, "after.example.net", "cert_after")).ok());
  ASSERT_TRUE(publisher.CatchUp().ok());
  EXPECT_EQ(publisher.stats().full_loads, 2);
  EXPECT_EQ(CertFor("after.example.net"), "cert_after");
}

TEST_F(SnapshotPublisherTest, ItsThreadPublishesAWriteAtOnce) {
  AddCertificate("cert_live");
  SnapshotPublisher publisher(store_, sink_, "cert_default", std::chrono::seconds(60));
  ASSERT_TRUE(publisher.PublishNow().ok());
  publisher.Start();
  ASSERT_TRUE(store_.InsertDomain(MakeDomain(account_, "live.example.net", "cert_live")).ok());
  // OnChange wakes it, long before the 60-second poll.
  EXPECT_TRUE(sink_.WaitFor(
      [](const Snapshot& s) { return s.Select("live.example.net").certificate_id == "cert_live"; },
      std::chrono::seconds(10)));
  publisher.Stop();
  EXPECT_EQ(publisher.stats().full_loads, 1);
}

}  // namespace
}  // namespace certgate::edge
