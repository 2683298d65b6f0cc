// Group commit in the SQLite backend (store/sqlite/wal_sync.h): a sync
// covers every commit written before it, concurrent writers share syncs,
// and a WAL that SQLite removed or never made is handled.
#include "store/sqlite/wal_sync.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/ids.h"
#include "core/testing/temp_dir.h"
#include "store/sqlite/sqlite_store.h"
#include "store/testing/store_conformance.h"

namespace certgate::store::sqlite {
namespace {

namespace fs = std::filesystem;
using certgate::testing::TempDir;

TEST(WalSyncTest, ACommitAlreadyCoveredReturnsWithoutAnotherSync) {
  TempDir dir("walsync");
  const fs::path db = dir.path() / "certgate.db";
  std::ofstream(db.string() + "-wal") << "frames";
  WalSync sync(db.string());
  const uint64_t first = sync.Committed();
  const uint64_t second = sync.Committed();
  EXPECT_EQ(second, first + 1);
  ASSERT_TRUE(sync.WaitDurable(second).ok());
  EXPECT_EQ(sync.syncs(), 1u);
  // The one sync began after both commits: it covered the first too.
  ASSERT_TRUE(sync.WaitDurable(first).ok());
  EXPECT_EQ(sync.syncs(), 1u);
  const uint64_t third = sync.Committed();
  ASSERT_TRUE(sync.WaitDurable(third).ok());
  EXPECT_EQ(sync.syncs(), 2u);
}

TEST(WalSyncTest, ConcurrentWritersShareSyncs) {
  TempDir dir("walsync");
  const fs::path db = dir.path() / "certgate.db";
  std::ofstream(db.string() + "-wal") << "frames";
  WalSync sync(db.string());
  constexpr int kThreads = 16;
  constexpr int kCommits = 200;
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&] {
      for (int i = 0; i < kCommits; ++i) {
        if (!sync.WaitDurable(sync.Committed()).ok()) ++failures;
      }
    });
  }
  for (std::thread& w : writers) w.join();
  EXPECT_EQ(failures, 0);
  EXPECT_GE(sync.syncs(), 1u);
  EXPECT_LT(sync.syncs(), static_cast<uint64_t>(kThreads * kCommits))
      << "no commit waited for a sync of its own while others ran";
  std::cout << "[          ] " << kThreads * kCommits << " commits, " << sync.syncs()
            << " syncs\n";
}

TEST(WalSyncTest, AMissingWalMeansNothingWaitsInOneAndARemovedOneIsReopened) {
  TempDir dir("walsync");
  const fs::path db = dir.path() / "certgate.db";
  const fs::path wal = db.string() + "-wal";
  WalSync sync(db.string());
  ASSERT_TRUE(sync.WaitDurable(sync.Committed()).ok());
  EXPECT_EQ(sync.syncs(), 0u) << "no WAL, nothing to sync";
  std::ofstream(wal) << "frames";
  ASSERT_TRUE(sync.WaitDurable(sync.Committed()).ok());
  EXPECT_EQ(sync.syncs(), 1u);
  // SQLite removes the WAL when the last connection closes, and makes a new
  // one with the next: the descriptor of the removed one is dropped.
  fs::remove(wal);
  std::ofstream(wal) << "new frames";
  ASSERT_TRUE(sync.WaitDurable(sync.Committed()).ok());
  EXPECT_EQ(sync.syncs(), 2u);
}

TEST(WalSyncTest, TheStoreWritesThroughItAndEveryWriteIsReadBack) {
  TempDir dir("walsync");
  auto store = OpenSqliteStore(dir.path() / "certgate.db");
  ASSERT_TRUE(store.ok()) << store.error().message;
  Account account = testing::MakeAccount();
  ASSERT_TRUE((*store)->CreateAccount(account).ok());
  constexpr int kThreads = 8;
  constexpr int kWrites = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        Domain d = testing::MakeDomain(account.id, "w" + std::to_string(t) + "-" +
                                                       std::to_string(i) + ".example.com");
        if (!(*store)->InsertDomain(d).ok()) ++failures;
      }
    });
  }
  for (std::thread& w : writers) w.join();
  EXPECT_EQ(failures, 0);
  auto page = (*store)->ListDomains(account.id, ListQuery{.limit = 1000});
  ASSERT_TRUE(page.ok()) << page.error().message;
  EXPECT_EQ(page->items.size(), static_cast<size_t>(kThreads * kWrites));
}

}  // namespace
}  // namespace certgate::store::sqlite
