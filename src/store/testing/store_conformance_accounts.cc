// The store conformance suite: accounts, API keys, certificates and settings.
#include <algorithm>
#include <atomic>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/ids.h"
#include "store/store.h"
#include "store/testing/store_conformance.h"

namespace certgate::store::testing {
namespace {

using Status = DeleteOutcome::Status;

TEST_P(StoreConformanceTest, AccountsCreateGetCount) {
  auto count = store_->CountAccounts();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 2);
  Account carol = MakeAccount("Carol", Plan::kPayg);
  ASSERT_TRUE(store_->CreateAccount(carol).ok());
  auto got = store_->GetAccount(carol.id);
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->id, carol.id);
  EXPECT_EQ((*got)->name, "Carol");
  EXPECT_EQ((*got)->plan, Plan::kPayg);
  EXPECT_EQ((*got)->created_at, carol.created_at);
  EXPECT_EQ(*store_->CountAccounts(), 3);

  auto missing = store_->GetAccount(NewId("acct"));
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());

  auto duplicate = store_->CreateAccount(carol);
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.error().code, ErrorCode::kStoreConflict);
  EXPECT_EQ(*store_->CountAccounts(), 3);
}

TEST_P(StoreConformanceTest, ApiKeyLookupByHash) {
  ApiKey key{NewId("ak"), bob_, "laptop", FromUnixSeconds(1'700'000'100)};
  const std::string hash(64, 'a');
  ASSERT_TRUE(store_->CreateApiKey(key, hash).ok());
  auto found = store_->FindApiKeyByHash(hash);
  ASSERT_TRUE(found.ok()) << found.error().message;
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->first.id, key.id);
  EXPECT_EQ((*found)->first.account_id, bob_);
  EXPECT_EQ((*found)->first.description, "laptop");
  EXPECT_EQ((*found)->first.created_at, key.created_at);
  EXPECT_EQ((*found)->second.id, bob_);
  EXPECT_EQ((*found)->second.name, "Bob");
  EXPECT_EQ((*found)->second.plan, Plan::kPayg);

  auto unknown = store_->FindApiKeyByHash(std::string(64, 'b'));
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(unknown->has_value());

  // The same hash twice is a conflict, as is the same id.
  ApiKey other{NewId("ak"), alice_, "", FromUnixSeconds(0)};
  EXPECT_EQ(store_->CreateApiKey(other, hash).error().code, ErrorCode::kStoreConflict);
  EXPECT_EQ(store_->CreateApiKey(key, std::string(64, 'c')).error().code,
            ErrorCode::kStoreConflict);
  // A key for an account that does not exist is refused.
  ApiKey orphan{NewId("ak"), NewId("acct"), "", FromUnixSeconds(0)};
  EXPECT_FALSE(store_->CreateApiKey(orphan, std::string(64, 'd')).ok());
}

TEST_P(StoreConformanceTest, CertificateInsertAndGet) {
  Certificate c = Insert(alice_);
  auto got = store_->GetCertificate(alice_, c.id);
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_TRUE(got->has_value());
  ExpectSameCert(**got, c);

  // Empty strings and an empty blob stay empty, not NULL.
  Certificate bare = MakeCert(alice_);
  bare.description.clear();
  bare.metadata.clear();
  bare.private_key.blob.clear();
  bare.issued_at.reset();
  ASSERT_TRUE(store_->InsertCertificate(bare).ok());
  auto got_bare = store_->GetCertificate(alice_, bare.id);
  ASSERT_TRUE(got_bare.ok() && got_bare->has_value());
  ExpectSameCert(**got_bare, bare);

  auto missing = store_->GetCertificate(alice_, NewId("cert"));
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST_P(StoreConformanceTest, DuplicateIdIsAConflict) {
  Certificate c = Insert(alice_);
  Certificate again = MakeCert(bob_, c.id);
  auto inserted = store_->InsertCertificate(again);
  ASSERT_FALSE(inserted.ok());
  EXPECT_EQ(inserted.error().code, ErrorCode::kStoreConflict);
  EXPECT_NE(inserted.error().message.find("inserting a certificate"), std::string::npos);
  // The original is untouched.
  ExpectSameCert(**store_->GetCertificate(alice_, c.id), c);
}

TEST_P(StoreConformanceTest, ListPagesNewestFirst) {
  std::vector<std::string> ids;
  for (int i = 0; i < 25; ++i) ids.push_back(Insert(alice_).id);
  Insert(bob_);
  std::sort(ids.rbegin(), ids.rend());  // newest first

  std::vector<std::string> seen;
  std::optional<std::string> before;
  std::vector<bool> has_more;
  for (int page_no = 0; page_no < 5; ++page_no) {
    auto page = store_->ListCertificates(alice_, {.before_id = before, .limit = 10});
    ASSERT_TRUE(page.ok()) << page.error().message;
    for (const auto& c : page->items) {
      EXPECT_EQ(c.account_id, alice_);
      seen.push_back(c.id);
    }
    has_more.push_back(page->has_more);
    if (!page->has_more) break;
    before = page->items.back().id;
  }
  EXPECT_EQ(seen, ids);
  EXPECT_EQ(has_more, (std::vector<bool>{true, true, false}));

  // Exactly a page's worth left: no further page.
  auto exact = store_->ListCertificates(alice_, {.before_id = ids[14], .limit = 10});
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->items.size(), 10u);
  EXPECT_FALSE(exact->has_more);
  // Every field comes back from a list too.
  auto one = store_->ListCertificates(alice_, {.limit = 1});
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->items.size(), 1u);
  ExpectSameCert(one->items[0], **store_->GetCertificate(alice_, ids[0]));
  EXPECT_TRUE(one->has_more);

  EXPECT_EQ(store_->ListCertificates(alice_, {.limit = 0}).error().code,
            ErrorCode::kInvalidPaging);
  EXPECT_EQ(store_->ListCertificates(alice_, {.limit = 1001}).error().code,
            ErrorCode::kInvalidPaging);
  EXPECT_TRUE(store_->ListCertificates(alice_, {.limit = 1000}).ok());
}

TEST_P(StoreConformanceTest, AccountScoping) {
  Certificate mine = Insert(alice_);
  Certificate service = Insert("");
  // Bob sees none of Alice's, for any operation.
  EXPECT_FALSE(store_->GetCertificate(bob_, mine.id)->has_value());
  CertificatePatch patch;
  patch.description = "stolen";
  EXPECT_FALSE(store_->UpdateCertificate(bob_, mine.id, patch)->has_value());
  EXPECT_EQ(store_->DeleteCertificate(bob_, mine.id)->status, Status::kNotFound);
  EXPECT_TRUE(store_->ListCertificates(bob_, {.limit = 100})->items.empty());
  ExpectSameCert(**store_->GetCertificate(alice_, mine.id), mine);

  // The service's own certificates are invisible to accounts...
  EXPECT_FALSE(store_->GetCertificate(alice_, service.id)->has_value());
  EXPECT_FALSE(store_->UpdateCertificate(alice_, service.id, patch)->has_value());
  EXPECT_EQ(store_->DeleteCertificate(alice_, service.id)->status, Status::kNotFound);
  auto alice_list = store_->ListCertificates(alice_, {.limit = 100});
  ASSERT_EQ(alice_list->items.size(), 1u);
  EXPECT_EQ(alice_list->items[0].id, mine.id);
  // ...and addressed with account "".
  auto got = store_->GetCertificate("", service.id);
  ASSERT_TRUE(got.ok() && got->has_value());
  ExpectSameCert(**got, service);
  EXPECT_FALSE(store_->GetCertificate("", mine.id)->has_value());
  auto service_list = store_->ListCertificates("", {.limit = 100});
  ASSERT_EQ(service_list->items.size(), 1u);
  EXPECT_EQ(service_list->items[0].id, service.id);
}

TEST_P(StoreConformanceTest, GetCertificateByIdSeesEveryAccount) {
  Certificate mine = Insert(alice_);
  Certificate service = Insert("");
  ExpectSameCert(**store_->GetCertificateById(mine.id), mine);
  ExpectSameCert(**store_->GetCertificateById(service.id), service);
  EXPECT_FALSE(store_->GetCertificateById(NewId("cert"))->has_value());
}

TEST_P(StoreConformanceTest, UpdateAppliesOnlyPresentFields) {
  Certificate c = Insert(alice_);
  CertificatePatch description_only;
  description_only.description = "new description";
  auto updated = store_->UpdateCertificate(alice_, c.id, description_only);
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  ASSERT_TRUE(updated->has_value());
  c.description = "new description";
  ExpectSameCert(**updated, c);
  ExpectSameCert(**store_->GetCertificate(alice_, c.id), c);

  CertificatePatch metadata_only;
  metadata_only.metadata = "";  // present but empty: set to empty
  updated = store_->UpdateCertificate(alice_, c.id, metadata_only);
  ASSERT_TRUE(updated.ok() && updated->has_value());
  c.metadata = "";
  ExpectSameCert(**updated, c);

  updated = store_->UpdateCertificate(alice_, c.id, CertificatePatch{});
  ASSERT_TRUE(updated.ok() && updated->has_value());
  ExpectSameCert(**updated, c);

  auto missing = store_->UpdateCertificate(alice_, NewId("cert"), description_only);
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST_P(StoreConformanceTest, DeleteReportsWhetherItDeleted) {
  Certificate c = Insert(alice_);
  auto deleted = store_->DeleteCertificate(alice_, c.id);
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_EQ(deleted->status, Status::kDeleted);
  EXPECT_TRUE(deleted->used_by.empty());
  EXPECT_FALSE(store_->GetCertificate(alice_, c.id)->has_value());
  deleted = store_->DeleteCertificate(alice_, c.id);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->status, Status::kNotFound);
}

// A certificate as stored before the summary existed (serial_number "").
Certificate WithoutSummary(Certificate c) {
  c.subject_common_name.clear();
  c.serial_number.clear();
  c.not_before = Time{};
  c.issued_at.reset();
  return c;
}

// Every certificate's expiry, whatever its account or owner, a page at a
// time in id order, for metrics and expiry alerts.
TEST_P(StoreConformanceTest, EveryCertificatesExpiryIsListedInPages) {
  Certificate uploaded = MakeCert(alice_);
  uploaded.issued_at.reset();
  uploaded.not_after = FromUnixSeconds(1'750'000'000);
  const Certificate issued = MakeIssued(bob_);
  Certificate service = MakeCert("");
  service.issued_at.reset();
  for (const Certificate& c : {uploaded, issued, service}) {
    ASSERT_TRUE(store_->InsertCertificate(c).ok());
  }
  Domain d = MakeDomain(bob_, "expiry.example.com");
  ASSERT_TRUE(store_->InsertDomain(d).ok());
  Endpoint e = MakeEndpoint(d, "expiry.example.com");
  Certificate brought = MakeCert(bob_);
  e.policy_certificate_id = brought.id;
  ASSERT_TRUE(store_->InsertEndpoint(e, brought).ok());

  std::vector<CertificateExpiry> all;
  std::optional<std::string> after;
  for (;;) {
    auto page = store_->ListCertificateExpiries(after, 2);
    ASSERT_TRUE(page.ok()) << page.error().message;
    all.insert(all.end(), page->begin(), page->end());
    if (page->size() < 2) break;
    after = page->back().id;
  }
  ASSERT_EQ(all.size(), 4u);
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end(),
                             [](const auto& a, const auto& b) { return a.id < b.id; }));
  for (const CertificateExpiry& x : all) {
    if (x.id == uploaded.id) {
      EXPECT_EQ(x.account_id, alice_);
      EXPECT_FALSE(x.issued);
      EXPECT_EQ(x.not_after, uploaded.not_after);
      EXPECT_EQ(x.subject_common_name, uploaded.subject_common_name);
      EXPECT_EQ(x.owner_endpoint_id, "");
    } else if (x.id == issued.id) {
      EXPECT_EQ(x.account_id, bob_);
      EXPECT_TRUE(x.issued);
    } else if (x.id == service.id) {
      EXPECT_EQ(x.account_id, "");
      EXPECT_FALSE(x.issued);
    } else {
      EXPECT_EQ(x.owner_endpoint_id, e.id) << x.id;
    }
  }
  EXPECT_EQ(store_->ListCertificateExpiries(std::nullopt, 0).error().code,
            ErrorCode::kInvalidPaging);
  EXPECT_EQ(store_->ListCertificateExpiries(std::nullopt, 1001).error().code,
            ErrorCode::kInvalidPaging);
}

// The backfill's two calls: certificates without a summary are listed by id,
// whatever their account or owner, until their summary is set, once.
TEST_P(StoreConformanceTest, CertificatesWithoutASummaryAreListedUntilItIsSet) {
  const Certificate known = Insert(alice_);
  const Certificate mine = WithoutSummary(MakeCert(alice_));
  const Certificate service = WithoutSummary(MakeCert(""));
  for (const Certificate* c : {&mine, &service}) ASSERT_TRUE(store_->InsertCertificate(*c).ok());
  Domain d = MakeDomain(bob_, "backfill.example.com");
  ASSERT_TRUE(store_->InsertDomain(d).ok());
  Endpoint e = MakeEndpoint(d, "backfill.example.com");
  const Certificate brought = WithoutSummary(MakeCert(bob_));  // stored as e's
  e.policy_certificate_id = brought.id;
  ASSERT_TRUE(store_->InsertEndpoint(e, brought).ok());
  ExpectSameCert(**store_->GetCertificate(alice_, mine.id), mine);

  auto listed = [&](std::optional<std::string> after, int limit) {
    std::vector<std::string> ids;
    auto page = store_->ListUnsummarizedCertificates(std::move(after), limit);
    EXPECT_TRUE(page.ok()) << page.error().message;
    if (!page.ok()) return ids;
    for (const UnsummarizedCertificate& c : *page) {
      auto stored = store_->GetCertificateById(c.id);
      EXPECT_TRUE(stored.ok() && stored->has_value()) << c.id;
      if (stored.ok() && stored->has_value()) {
        EXPECT_EQ(c.certificate_pem, (*stored)->certificate_pem);
      }
      ids.push_back(c.id);
    }
    return ids;
  };
  std::vector<std::string> want = {mine.id, service.id, brought.id};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(listed(std::nullopt, 10), want);
  std::vector<std::string> paged;
  for (std::vector<std::string> page = listed(std::nullopt, 2); !page.empty();
       page = listed(page.back(), 2)) {
    paged.insert(paged.end(), page.begin(), page.end());
  }
  EXPECT_EQ(paged, want);
  EXPECT_EQ(store_->ListUnsummarizedCertificates(std::nullopt, 0).error().code,
            ErrorCode::kInvalidPaging);

  const CertificateSummary summary{"mine.example.com", "01ab", FromUnixSeconds(1'650'000'000)};
  auto set = store_->SetCertificateSummary(mine.id, summary);
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_TRUE(*set);
  Certificate want_mine = mine;
  want_mine.subject_common_name = summary.subject_common_name;
  want_mine.serial_number = summary.serial_number;
  want_mine.not_before = summary.not_before;
  ExpectSameCert(**store_->GetCertificate(alice_, mine.id), want_mine);
  // Once only: a known summary stays, and a missing certificate is no error.
  const CertificateSummary other{"other.example.com", "02", FromUnixSeconds(1'660'000'000)};
  EXPECT_FALSE(*store_->SetCertificateSummary(mine.id, other));
  EXPECT_FALSE(*store_->SetCertificateSummary(known.id, other));
  EXPECT_FALSE(*store_->SetCertificateSummary(NewId("cert"), other));
  ExpectSameCert(**store_->GetCertificate(alice_, mine.id), want_mine);
  ExpectSameCert(**store_->GetCertificate(alice_, known.id), known);
  EXPECT_EQ(store_->SetCertificateSummary(service.id, {"x", "", Time{}}).error().code,
            ErrorCode::kInternal);
  // An endpoint's certificate is backfilled like any other.
  EXPECT_TRUE(*store_->SetCertificateSummary(brought.id, other));
  EXPECT_EQ((*store_->GetCertificateById(brought.id))->serial_number, "02");
  EXPECT_EQ(listed(std::nullopt, 10), std::vector<std::string>{service.id});
}

TEST_P(StoreConformanceTest, SettingsGetSetOverwrite) {
  auto missing = store_->GetSetting("default_certificate_id");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  ASSERT_TRUE(store_->SetSetting("default_certificate_id", "cert_1").ok());
  EXPECT_EQ(**store_->GetSetting("default_certificate_id"), "cert_1");
  ASSERT_TRUE(store_->SetSetting("default_certificate_id", "cert_2").ok());
  EXPECT_EQ(**store_->GetSetting("default_certificate_id"), "cert_2");
  ASSERT_TRUE(store_->SetSetting("empty", "").ok());
  EXPECT_EQ(**store_->GetSetting("empty"), "");
}

TEST_P(StoreConformanceTest, CompareAndSetSettingWritesOnlyOverWhatItExpects) {
  EXPECT_TRUE(*store_->CompareAndSetSetting("master_key_check", std::nullopt, "a"));
  EXPECT_EQ(**store_->GetSetting("master_key_check"), "a");
  // Present now: "only if absent" does not overwrite it.
  EXPECT_FALSE(*store_->CompareAndSetSetting("master_key_check", std::nullopt, "b"));
  EXPECT_FALSE(*store_->CompareAndSetSetting("master_key_check", std::string("x"), "b"));
  EXPECT_EQ(**store_->GetSetting("master_key_check"), "a");
  EXPECT_TRUE(*store_->CompareAndSetSetting("master_key_check", std::string("a"), "b"));
  EXPECT_EQ(**store_->GetSetting("master_key_check"), "b");
  // Absent: an expected value does not create it.
  EXPECT_FALSE(*store_->CompareAndSetSetting("other", std::string(""), "c"));
  EXPECT_FALSE(store_->GetSetting("other")->has_value());
}

// Processes starting at once each propose a value; exactly one wins.
TEST_P(StoreConformanceTest, ConcurrentCompareAndSetHasOneWinner) {
  constexpr int kThreads = 8;
  std::vector<std::unique_ptr<Store>> stores;
  for (int t = 0; t < kThreads; ++t) {
    auto another = backend_->OpenAnother();
    ASSERT_TRUE(another.ok()) << another.error().message;
    stores.push_back(std::move(another).value());
  }
  std::atomic<int> winners{0};
  std::atomic<int> failures{0};
  std::vector<std::string> won(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string mine = "cert_" + std::to_string(t);
      auto set = stores[t]->CompareAndSetSetting("default_certificate_id", std::nullopt, mine);
      if (!set.ok()) ++failures;
      if (set.ok() && *set) {
        ++winners;
        won[t] = mine;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_EQ(winners.load(), 1);
  const std::string stored = **store_->GetSetting("default_certificate_id");
  EXPECT_NE(std::find(won.begin(), won.end(), stored), won.end()) << stored;
}

TEST_P(StoreConformanceTest, FirstAccountIsCreatedOnlyOnAnEmptyStore) {
  // This store holds Alice and Bob: nothing is written.
  Account carol = MakeAccount("Carol", Plan::kPayg);
  ApiKey key{NewId("ak"), carol.id, "first", FromUnixSeconds(1'700'000'100)};
  EXPECT_FALSE(*store_->CreateFirstAccount(carol, key, std::string(64, 'c')));
  EXPECT_EQ(*store_->CountAccounts(), 2);
  EXPECT_FALSE(store_->FindApiKeyByHash(std::string(64, 'c'))->has_value());

  // An empty store, and nodes starting at once: one first account, with its key.
  std::unique_ptr<StoreBackend> empty_backend = GetParam()();
  auto empty = empty_backend->Open();
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  constexpr int kThreads = 6;
  std::vector<std::unique_ptr<Store>> stores;
  for (int t = 0; t < kThreads; ++t) {
    auto another = empty_backend->OpenAnother();
    ASSERT_TRUE(another.ok()) << another.error().message;
    stores.push_back(std::move(another).value());
  }
  std::atomic<int> created{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Account account = MakeAccount("default", Plan::kPayg);
      ApiKey first{NewId("ak"), account.id, "first", FromUnixSeconds(1'700'000'100)};
      const std::string hash(64, static_cast<char>('a' + t));
      auto r = stores[t]->CreateFirstAccount(account, first, hash);
      if (!r.ok()) ++failures;
      if (r.ok() && *r) ++created;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(*(*empty)->CountAccounts(), 1);
  int keys = 0;
  for (int t = 0; t < kThreads; ++t) {
    auto found = (*empty)->FindApiKeyByHash(std::string(64, static_cast<char>('a' + t)));
    ASSERT_TRUE(found.ok());
    keys += found->has_value() ? 1 : 0;
  }
  EXPECT_EQ(keys, 1);
}

TEST_P(StoreConformanceTest, ConcurrentInsertsFromEightThreads) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20;
  std::vector<std::vector<Certificate>> made(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Certificate c = MakeCert(t % 2 == 0 ? alice_ : bob_);
        if (!store_->InsertCertificate(c).ok()) ++failures;
        // Readers run beside the writers.
        auto got = store_->GetCertificate(c.account_id, c.id);
        if (!got.ok() || !got->has_value()) ++failures;
        if (!store_->ListCertificates(c.account_id, {.limit = 5}).ok()) ++failures;
        made[static_cast<size_t>(t)].push_back(std::move(c));
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  std::set<std::string> listed;
  for (const std::string& account : {alice_, bob_}) {
    auto page = store_->ListCertificates(account, {.limit = 1000});
    ASSERT_TRUE(page.ok());
    for (const auto& c : page->items) listed.insert(c.id);
  }
  EXPECT_EQ(listed.size(), static_cast<size_t>(kThreads * kPerThread));
  for (const auto& per_thread : made) {
    for (const auto& c : per_thread) {
      auto got = store_->GetCertificate(c.account_id, c.id);
      ASSERT_TRUE(got.ok() && got->has_value()) << c.id;
      ExpectSameCert(**got, c);
    }
  }
}

}  // namespace
}  // namespace certgate::store::testing
