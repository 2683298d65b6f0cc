// The store conformance suite: the edge's reads (one consistent load, the change sequence, OnChange) and sealed keys.
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

TEST_P(StoreConformanceTest, LoadEdgeStateHoldsEveryAccount) {
  Certificate cert = Insert(alice_);
  Domain a = MakeDomain(alice_, "*.example.com");
  a.certificate_id = cert.id;
  Domain b = MakeDomain(bob_, "bob.example.net");
  b.policy = ManagementPolicy{};
  ASSERT_TRUE(store_->InsertDomain(a).ok());
  ASSERT_TRUE(store_->InsertDomain(b).ok());
  Endpoint ea = MakeEndpoint(a, "app.example.com");
  Certificate owned = MakeCert(alice_);
  ea.policy_certificate_id = owned.id;
  Endpoint eb = MakeEndpoint(b, "bob.example.net", 8443);
  ASSERT_TRUE(store_->InsertEndpoint(ea, owned).ok());
  ASSERT_TRUE(store_->InsertEndpoint(eb, std::nullopt).ok());

  auto state = store_->LoadEdgeState();
  ASSERT_TRUE(state.ok()) << state.error().message;
  ASSERT_EQ(state->domains.size(), 2u);
  std::map<std::string, std::optional<std::string>> domains;
  for (const auto& d : state->domains) domains[d.domain] = d.certificate_id;
  EXPECT_EQ(domains["*.example.com"], cert.id);
  EXPECT_EQ(domains["bob.example.net"], std::nullopt);
  ASSERT_EQ(state->endpoints.size(), 2u);
  for (const auto& e : state->endpoints) ExpectSameEndpoint(e, e.id == ea.id ? ea : eb);
  EXPECT_EQ(state->change_sequence, *store_->ChangeSequence());

  // The empty state of a fresh store.
  std::unique_ptr<StoreBackend> fresh = GetParam()();
  auto empty = fresh->Open();
  ASSERT_TRUE(empty.ok());
  auto none = (*empty)->LoadEdgeState();
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_TRUE(none->domains.empty());
  EXPECT_TRUE(none->endpoints.empty());
  EXPECT_EQ(none->change_sequence, 0);
}

TEST_P(StoreConformanceTest, LoadEdgeStateIsOneSnapshotUnderConcurrentWrites) {
  // A writer adds a domain and an endpoint per transaction; every load must
  // see them in pairs, and a sequence that matches what it saw.
  Domain base = MakeDomain(alice_, "*.example.com");
  ASSERT_TRUE(store_->InsertDomain(base).ok());
  auto first = store_->LoadEdgeState();
  ASSERT_TRUE(first.ok());
  const int64_t start = first->change_sequence;
  std::atomic<bool> done{false};
  auto writer_store = backend_->OpenAnother();
  ASSERT_TRUE(writer_store.ok());
  std::thread writer([&] {
    for (int i = 0; i < 30; ++i) {
      Domain d = MakeDomain(alice_, "w" + std::to_string(i) + ".example.org");
      Certificate c = MakeCert(alice_);
      Endpoint e = MakeEndpoint(d, d.domain);
      e.policy_certificate_id = c.id;
      // Two transactions: a domain (+1), then an endpoint and its
      // certificate (+2).
      if (!(*writer_store)->InsertDomain(d).ok()) break;
      if (!(*writer_store)->InsertEndpoint(e, c).ok()) break;
    }
    done = true;
  });
  int loads = 0;
  while (!done || loads == 0) {
    auto state = store_->LoadEdgeState();
    EXPECT_TRUE(state.ok()) << state.error().message;
    if (!state.ok()) break;  // not ASSERT: the writer must be joined
    const int64_t domains = static_cast<int64_t>(state->domains.size()) - 1;
    const int64_t endpoints = static_cast<int64_t>(state->endpoints.size());
    EXPECT_TRUE(endpoints == domains || endpoints + 1 == domains)
        << domains << " domains, " << endpoints << " endpoints";
    EXPECT_EQ(state->change_sequence, start + domains + 2 * endpoints);
    ++loads;
  }
  writer.join();
  std::cout << "[          ] " << loads << " loads beside the writer\n";
  auto last = store_->LoadEdgeState();
  EXPECT_EQ(last->endpoints.size(), 30u);
  EXPECT_EQ(last->change_sequence, start + 90);
}

TEST_P(StoreConformanceTest, ChangeSequenceGrowsWithEveryWriteAndOnlyThen) {
  auto seq = [&] {
    auto s = store_->ChangeSequence();
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? *s : -1;
  };
  int64_t last = seq();
  auto grew = [&](const char* what) {
    int64_t now = seq();
    EXPECT_GT(now, last) << what;
    last = now;
  };
  auto same = [&](const char* what) { EXPECT_EQ(seq(), last) << what; };

  Certificate cert = Insert(alice_);
  grew("InsertCertificate");
  CertificatePatch patch;
  patch.description = "x";
  ASSERT_TRUE(store_->UpdateCertificate(alice_, cert.id, patch).ok());
  grew("UpdateCertificate");
  Domain d = MakeDomain(alice_, "*.example.com");
  ASSERT_TRUE(store_->InsertDomain(d).ok());
  grew("InsertDomain");
  d.certificate_id = cert.id;
  ASSERT_TRUE(*store_->UpdateDomain(d));
  grew("UpdateDomain");
  Endpoint e = MakeEndpoint(d, "app.example.com");
  ASSERT_TRUE(store_->InsertEndpoint(e, std::nullopt).ok());
  grew("InsertEndpoint");
  Certificate owned = MakeCert(alice_);
  e.policy_certificate_id = owned.id;
  ASSERT_TRUE(*store_->UpdateEndpoint(e, owned));
  grew("UpdateEndpoint");
  ASSERT_TRUE(*store_->ReplaceSealedKey(owned.id, owned.private_key, SealedKey{5, {5}}));
  grew("ReplaceSealedKey");

  // Reads, refusals and writes to other tables leave it alone.
  ASSERT_TRUE(store_->GetCertificate(alice_, cert.id).ok());
  ASSERT_TRUE(store_->GetCertificateById(cert.id).ok());
  ASSERT_TRUE(store_->ListCertificates(alice_, {.limit = 10}).ok());
  ASSERT_TRUE(store_->GetDomain(alice_, d.id).ok());
  ASSERT_TRUE(store_->FindDomainByName(d.domain).ok());
  ASSERT_TRUE(store_->ListDomains(alice_, {.limit = 10}).ok());
  ASSERT_TRUE(store_->GetEndpoint(alice_, e.id).ok());
  ASSERT_TRUE(store_->ListEndpoints(alice_, {.limit = 10}).ok());
  ASSERT_TRUE(store_->LoadEdgeState().ok());
  ASSERT_TRUE(store_->ListSealedKeys(std::nullopt, 10).ok());
  ASSERT_TRUE(store_->CountSealedKeysNotAtVersion(1).ok());
  EXPECT_EQ(store_->DeleteCertificate(alice_, cert.id)->status, Status::kInUse);
  EXPECT_FALSE(store_->InsertDomain(MakeDomain(bob_, "*.example.com")).ok());
  ASSERT_TRUE(store_->SetSetting("k", "v").ok());
  ASSERT_TRUE(store_->CreateAccount(MakeAccount()).ok());
  same("reads, refusals and other tables");

  // A second store object on the same data, as another process would be.
  {
    auto other = backend_->OpenAnother();
    ASSERT_TRUE(other.ok()) << other.error().message;
    ASSERT_TRUE((*other)->InsertCertificate(MakeCert(bob_)).ok());
    grew("InsertCertificate through another store object");
    EXPECT_EQ(*(*other)->ChangeSequence(), last);
  }
  // A tool that writes around the store is counted too.
  Domain raw = **store_->GetDomain(alice_, d.id);
  raw.description = "raw";
  backend_->WriteDomainAroundTheStore(raw, "com.example.*.");
  grew("a write around the store");

  ASSERT_TRUE(*store_->DeleteEndpoint(alice_, e.id));
  grew("DeleteEndpoint");
  ASSERT_EQ(store_->DeleteDomain(alice_, d.id)->status, Status::kDeleted);
  grew("DeleteDomain");
  ASSERT_EQ(store_->DeleteCertificate(alice_, cert.id)->status, Status::kDeleted);
  grew("DeleteCertificate");
}

TEST_P(StoreConformanceTest, OnChangeFiresOncePerWriteAfterCommit) {
  std::atomic<int> calls{0};
  std::atomic<int> second_calls{0};
  std::mutex mu;
  std::vector<std::string> seen_domains;  // GUARDED_BY(mu)
  std::optional<std::string> watched;     // GUARDED_BY(mu)
  std::thread::id writer = std::this_thread::get_id();
  std::atomic<bool> wrong_thread{false};
  store_->OnChange([&] {
    ++calls;
    if (std::this_thread::get_id() != writer) wrong_thread = true;
    std::string name;
    {
      std::lock_guard lock(mu);
      if (!watched.has_value()) return;
      name = *watched;
    }
    // After the commit, with no lock held: the same store reads the new row
    // (another connection sees only committed rows) and writes to a table
    // that announces nothing, without deadlocking (the write lock is free).
    auto found = store_->FindDomainByName(name);
    ASSERT_TRUE(found.ok()) << found.error().message;
    ASSERT_TRUE(found->has_value()) << "called before the commit";
    {
      std::lock_guard lock(mu);
      seen_domains.push_back((*found)->id);
    }
    ASSERT_TRUE(store_->SetSetting("last_change", name).ok());
  });
  store_->OnChange([&] { ++second_calls; });

  int expected = 0;
  auto fired = [&](const char* what) {
    ++expected;
    EXPECT_EQ(calls.load(), expected) << what;
    EXPECT_EQ(second_calls.load(), expected) << what;
  };
  auto quiet = [&](const char* what) {
    EXPECT_EQ(calls.load(), expected) << what;
    EXPECT_EQ(second_calls.load(), expected) << what;
  };

  Certificate cert = Insert(alice_);
  fired("InsertCertificate");
  Domain d = MakeDomain(alice_, "*.example.com");
  d.certificate_id = cert.id;
  {
    std::lock_guard lock(mu);
    watched = d.domain;
  }
  ASSERT_TRUE(store_->InsertDomain(d).ok());
  fired("InsertDomain");
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(seen_domains, std::vector<std::string>{d.id}) << "the callback saw the new row";
    watched.reset();
  }
  EXPECT_EQ(**store_->GetSetting("last_change"), d.domain);

  Endpoint e = MakeEndpoint(d, "app.example.com");
  Certificate owned = MakeCert(alice_);
  e.policy_certificate_id = owned.id;
  ASSERT_TRUE(store_->InsertEndpoint(e, owned).ok());
  fired("InsertEndpoint with its certificate: one transaction, one call");
  e.description = "changed";
  ASSERT_TRUE(*store_->UpdateEndpoint(e, std::nullopt));
  fired("UpdateEndpoint");
  d.description = "changed";
  ASSERT_TRUE(*store_->UpdateDomain(d));
  fired("UpdateDomain");
  CertificatePatch patch;
  patch.metadata = "{}";
  ASSERT_TRUE(store_->UpdateCertificate(alice_, cert.id, patch)->has_value());
  fired("UpdateCertificate");

  // Reads, refusals and no-ops announce nothing.
  ASSERT_TRUE(store_->GetDomain(alice_, d.id).ok());
  ASSERT_TRUE(store_->ListEndpoints(alice_, {.limit = 10}).ok());
  ASSERT_TRUE(store_->LoadEdgeState().ok());
  ASSERT_TRUE(store_->ChangeSequence().ok());
  EXPECT_EQ(store_->DeleteCertificate(alice_, cert.id)->status, Status::kInUse);
  EXPECT_EQ(store_->DeleteCertificate(bob_, cert.id)->status, Status::kNotFound);
  EXPECT_FALSE(store_->InsertDomain(MakeDomain(bob_, d.domain)).ok());
  EXPECT_FALSE(store_->UpdateCertificate(bob_, cert.id, patch)->has_value());
  Domain bobs = d;
  bobs.account_id = bob_;
  EXPECT_FALSE(*store_->UpdateDomain(bobs));
  EXPECT_FALSE(*store_->DeleteEndpoint(bob_, e.id));
  EXPECT_FALSE(*store_->ReplaceSealedKey(owned.id, SealedKey{99, {}}, SealedKey{1, {}}));
  ASSERT_TRUE(store_->SetSetting("k", "v").ok());
  quiet("reads, refusals and other tables");

  // Writes through another store object are this object's business only
  // through ChangeSequence.
  {
    auto other = backend_->OpenAnother();
    ASSERT_TRUE(other.ok());
    ASSERT_TRUE((*other)->InsertCertificate(MakeCert(alice_)).ok());
  }
  quiet("another store object's write");

  ASSERT_TRUE(*store_->ReplaceSealedKey(owned.id, owned.private_key, SealedKey{3, {3}}));
  fired("ReplaceSealedKey");
  ASSERT_TRUE(*store_->DeleteEndpoint(alice_, e.id));
  fired("DeleteEndpoint");
  ASSERT_EQ(store_->DeleteDomain(alice_, d.id)->status, Status::kDeleted);
  fired("DeleteDomain");
  ASSERT_EQ(store_->DeleteCertificate(alice_, cert.id)->status, Status::kDeleted);
  fired("DeleteCertificate");
  EXPECT_FALSE(wrong_thread.load());
}

TEST_P(StoreConformanceTest, ReplaceSealedKeyIsACompareAndSwap) {
  Certificate c = Insert(alice_);
  SealedKey replacement{7, {1, 2, 3}};
  SealedKey wrong_blob = c.private_key;
  wrong_blob.blob.back() ^= 1;
  SealedKey wrong_version = c.private_key;
  wrong_version.key_version += 1;
  for (const SealedKey& expected : {wrong_blob, wrong_version}) {
    auto swapped = store_->ReplaceSealedKey(c.id, expected, replacement);
    ASSERT_TRUE(swapped.ok()) << swapped.error().message;
    EXPECT_FALSE(*swapped);
    EXPECT_EQ((*store_->GetCertificate(alice_, c.id))->private_key, c.private_key);
  }
  auto swapped = store_->ReplaceSealedKey(c.id, c.private_key, replacement);
  ASSERT_TRUE(swapped.ok());
  EXPECT_TRUE(*swapped);
  EXPECT_EQ((*store_->GetCertificate(alice_, c.id))->private_key, replacement);
  // The old value no longer matches.
  EXPECT_FALSE(*store_->ReplaceSealedKey(c.id, c.private_key, c.private_key));
  EXPECT_FALSE(*store_->ReplaceSealedKey(NewId("cert"), replacement, c.private_key));
}

TEST_P(StoreConformanceTest, ListSealedKeysPagesAcrossAllAccounts) {
  std::vector<Certificate> all;
  for (int i = 0; i < 4; ++i) all.push_back(Insert(alice_));
  for (int i = 0; i < 3; ++i) all.push_back(Insert(bob_));
  for (int i = 0; i < 2; ++i) all.push_back(Insert(""));
  std::sort(all.begin(), all.end(),
            [](const Certificate& a, const Certificate& b) { return a.id < b.id; });

  std::vector<SealedKeyRef> seen;
  std::optional<std::string> after;
  while (true) {
    auto page = store_->ListSealedKeys(after, 4);
    ASSERT_TRUE(page.ok()) << page.error().message;
    ASSERT_LE(page->size(), 4u);
    if (page->empty()) break;
    seen.insert(seen.end(), page->begin(), page->end());
    after = page->back().record_id;
  }
  ASSERT_EQ(seen.size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(seen[i].record_id, all[i].id);
    EXPECT_EQ(seen[i].key, all[i].private_key);
  }
  EXPECT_EQ(store_->ListSealedKeys(std::nullopt, 0).error().code, ErrorCode::kInvalidPaging);
}

TEST_P(StoreConformanceTest, CountSealedKeysNotAtVersion) {
  std::vector<Certificate> certs;
  for (int i = 0; i < 6; ++i) certs.push_back(Insert(i % 2 == 0 ? alice_ : ""));
  auto count_not = [&](uint32_t v) {
    int64_t n = 0;
    for (const auto& c : certs) n += c.private_key.key_version != v ? 1 : 0;
    return n;
  };
  for (uint32_t v : {1u, 2u, 3u, 9u}) {
    auto n = store_->CountSealedKeysNotAtVersion(v);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, count_not(v)) << v;
  }
  // Rotating everything to v9 leaves nothing behind.
  for (auto& c : certs) {
    SealedKey v9{9, {9}};
    ASSERT_TRUE(*store_->ReplaceSealedKey(c.id, c.private_key, v9));
    c.private_key = v9;
  }
  EXPECT_EQ(*store_->CountSealedKeysNotAtVersion(9), 0);
  EXPECT_EQ(*store_->CountSealedKeysNotAtVersion(1), 6);
}

}  // namespace
}  // namespace certgate::store::testing
