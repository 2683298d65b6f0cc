// The store conformance suite against MemoryStore, and what is MemoryStore's
// own: store objects sharing data.
#include "store/testing/memory_store.h"

#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "store/testing/store_conformance.h"

namespace certgate::store::testing {
namespace {

class MemoryBackend final : public StoreBackend {
 public:
  Result<std::unique_ptr<Store>> Open() override {
    auto store = std::make_unique<MemoryStore>();
    first_ = store.get();
    return std::unique_ptr<Store>(std::move(store));
  }
  // REQUIRES: the store Open returned is alive.
  Result<std::unique_ptr<Store>> OpenAnother() override {
    return std::unique_ptr<Store>(MemoryStore::SharingDataWith(*first_));
  }
  void WriteDomainAroundTheStore(const Domain& domain, std::string_view name_key) override {
    first_->WriteDomainAroundTheStore(domain, name_key);
  }
  void WriteEndpointAroundTheStore(const Endpoint& endpoint) override {
    first_->WriteEndpointAroundTheStore(endpoint);
  }
  std::string IntegrityProblems() override { return first_->IntegrityProblems(); }
  void SetChangeRetention(int64_t entries) override {
    first_->SetChangeRetention(static_cast<size_t>(entries));
  }

 private:
  MemoryStore* first_ = nullptr;  // owned by the test
};

std::unique_ptr<StoreBackend> MakeMemoryBackend() { return std::make_unique<MemoryBackend>(); }

INSTANTIATE_TEST_SUITE_P(Memory, StoreConformanceTest, ::testing::Values(&MakeMemoryBackend));

TEST(MemoryStoreTest, StoresSharingDataOutliveEachOther) {
  auto first = std::make_unique<MemoryStore>();
  std::unique_ptr<MemoryStore> second = MemoryStore::SharingDataWith(*first);
  Account account = MakeAccount("Ada");
  ASSERT_TRUE(first->CreateAccount(account).ok());
  first.reset();
  auto got = second->GetAccount(account.id);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->name, "Ada");
}

TEST(MemoryStoreTest, OffersTheNameOwnershipAuditLikeTheSqliteBackend) {
  MemoryStore store;
  Store& as_store = store;
  EXPECT_EQ(AsNameOwnershipAudit(as_store), static_cast<NameOwnershipAudit*>(&store));
}

TEST(MemoryStoreTest, IntegrityProblemsNameDanglingReferences) {
  MemoryStore store;
  EXPECT_EQ(store.IntegrityProblems(), "");
  Domain d = MakeDomain("acct_1", "x.example.com");
  d.certificate_id = "cert_missing";
  store.WriteDomainAroundTheStore(d, "com.example.x.");
  EXPECT_NE(store.IntegrityProblems().find("cert_missing"), std::string::npos)
      << store.IntegrityProblems();
}

TEST(MemoryStoreTest, TimesAreKeptInWholeSecondsLikeTheSqliteBackend) {
  MemoryStore store;
  Account account = MakeAccount("Ada");
  account.created_at += std::chrono::milliseconds(1500);
  ASSERT_TRUE(store.CreateAccount(account).ok());
  EXPECT_EQ((*store.GetAccount(account.id))->created_at,
            FromUnixSeconds(ToUnixSeconds(account.created_at)));
}

}  // namespace
}  // namespace certgate::store::testing
