// Writes that arrive together share one SQLite transaction
// (SqliteStore::RunWriteJob), each in its own savepoint: every write still
// succeeds or fails alone, and one that fails takes nothing of the others
// with it.
#include <atomic>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/testing/temp_dir.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"
#include "store/testing/store_conformance.h"

namespace certgate::store {
namespace {

using certgate::testing::TempDir;
using testing::MakeAccount;
using testing::MakeDomain;

class SqliteWriteBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = OpenSqliteStore(dir_.path() / "certgate.db");
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(SqliteWriteBatchTest, ConcurrentWritesShareTransactionsAndFailAlone) {
  Store& store = *store_;
  Account account = MakeAccount("Batch");
  ASSERT_TRUE(store.CreateAccount(account).ok());

  // Each thread reserves names of its own, and between them tries a name
  // every thread tries: exactly one thread may get each shared name, and
  // the refused attempts roll back inside transactions other writes share.
  constexpr int kThreads = 16;
  constexpr int kOwn = 30;
  constexpr int kShared = 10;
  const uint64_t transactions_before = SqliteWriteTransactions(store);
  std::atomic<int> own_ok{0};
  std::atomic<int> shared_ok{0};
  std::atomic<int> shared_refused{0};
  std::atomic<int> unexpected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kOwn; ++i) {
        auto r = store.InsertDomain(MakeDomain(account.id, fmt::format("t{}-{}.example.com", t, i)));
        if (r.ok()) {
          ++own_ok;
        } else {
          ++unexpected;
          ADD_FAILURE() << r.error().message;
        }
        if (i < kShared) {
          auto s = store.InsertDomain(MakeDomain(account.id, fmt::format("shared-{}.example.com", i)));
          if (s.ok()) {
            ++shared_ok;
          } else if (s.error().code == ErrorCode::kDomainReservedHere) {
            ++shared_refused;
          } else {
            ++unexpected;
            ADD_FAILURE() << s.error().message;
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();

  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_EQ(own_ok.load(), kThreads * kOwn);
  EXPECT_EQ(shared_ok.load(), kShared) << "each shared name goes to exactly one writer";
  EXPECT_EQ(shared_refused.load(), (kThreads - 1) * kShared);
  // What the store holds is exactly what was reported as written.
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kOwn; ++i) {
      auto found = store.FindDomainByName(fmt::format("t{}-{}.example.com", t, i));
      ASSERT_TRUE(found.ok() && found->has_value()) << "t" << t << "-" << i;
    }
  }
  for (int i = 0; i < kShared; ++i) {
    auto found = store.FindDomainByName(fmt::format("shared-{}.example.com", i));
    ASSERT_TRUE(found.ok() && found->has_value()) << "shared-" << i;
  }
  // One change-feed entry per domain written, none for the refused ones.
  auto changes = store.ChangesSince(0, 100000);
  ASSERT_TRUE(changes.ok()) << changes.error().message;
  size_t domain_changes = 0;
  for (const EdgeChange& c : changes->changes) {
    if (c.kind == EdgeChangeKind::kDomain) ++domain_changes;
  }
  EXPECT_EQ(domain_changes, static_cast<size_t>(kThreads * kOwn + kShared));

  const uint64_t writes = kThreads * (kOwn + kShared);
  const uint64_t transactions = SqliteWriteTransactions(store) - transactions_before;
  EXPECT_GE(transactions, 1u);
  EXPECT_LT(transactions, writes) << "concurrent writes never shared a transaction";
  std::cout << "[          ] " << writes << " writes in " << transactions << " transactions\n";
}

TEST_F(SqliteWriteBatchTest, ALoneWriteIsOneTransaction) {
  Store& store = *store_;
  Account account = MakeAccount("Alone");
  const uint64_t before = SqliteWriteTransactions(store);
  ASSERT_TRUE(store.CreateAccount(account).ok());
  ASSERT_TRUE(store.InsertDomain(MakeDomain(account.id, "alone.example.com")).ok());
  auto again = store.InsertDomain(MakeDomain(account.id, "alone.example.com"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kDomainReservedHere);
  EXPECT_EQ(SqliteWriteTransactions(store) - before, 3u);
  auto found = store.FindDomainByName("alone.example.com");
  ASSERT_TRUE(found.ok() && found->has_value());
}

}  // namespace
}  // namespace certgate::store
