// The store conformance suite: reserved domains and the certificates they refer to.
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

TEST_P(StoreConformanceTest, DomainInsertGetFindUpdateDelete) {
  Certificate cert = Insert(alice_);
  Domain d = MakeDomain(alice_, "*.example.com");
  d.certificate_id = cert.id;
  d.cname_target = "abc.cname.certgate.test";
  d.acme_challenge_cname_target = "abc.acme.certgate.test";
  ASSERT_TRUE(store_->InsertDomain(d).ok());

  auto got = store_->GetDomain(alice_, d.id);
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_TRUE(got->has_value());
  ExpectSameDomain(**got, d);
  EXPECT_FALSE(store_->GetDomain(bob_, d.id)->has_value());
  EXPECT_FALSE(store_->GetDomain(alice_, NewId("rd"))->has_value());

  // Found by name from any account's point of view.
  auto found = store_->FindDomainByName("*.example.com");
  ASSERT_TRUE(found.ok() && found->has_value());
  ExpectSameDomain(**found, d);
  EXPECT_FALSE(store_->FindDomainByName("example.com")->has_value());

  // A bare domain: empty strings stay empty, absent stays absent.
  Domain bare = MakeDomain(alice_, "bare.example.org");
  bare.description.clear();
  bare.metadata.clear();
  ASSERT_TRUE(store_->InsertDomain(bare).ok());
  ExpectSameDomain(**store_->GetDomain(alice_, bare.id), bare);

  // Update replaces every field but id, account_id, created_at and domain.
  Domain changed = d;
  changed.created_at = FromUnixSeconds(1);
  changed.domain = "renamed.example.com";
  changed.description = "";
  changed.metadata = "{\"v\":2}";
  changed.certificate_id.reset();
  changed.policy = ManagementPolicy{Authority::kLetsEncrypt, KeyType::kRsa};
  changed.cname_target = "xyz.cname.certgate.test";
  changed.acme_challenge_cname_target.reset();
  auto updated = store_->UpdateDomain(changed);
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_TRUE(*updated);
  Domain want = changed;
  want.created_at = d.created_at;
  want.domain = d.domain;
  // A policy set where there was none lets go of the uploaded certificate;
  // from then on automatic management owns certificate_id.
  want.certificate_id.reset();
  ExpectSameDomain(**store_->GetDomain(alice_, d.id), want);
  Domain attach = want;
  attach.certificate_id = cert.id;
  ASSERT_TRUE(*store_->UpdateDomain(attach));
  ExpectSameDomain(**store_->GetDomain(alice_, d.id), want);

  // Without a policy, certificate_id is the caller's again.
  want.policy.reset();
  want.certificate_id.reset();
  ASSERT_TRUE(*store_->UpdateDomain(want));
  ExpectSameDomain(**store_->GetDomain(alice_, d.id), want);

  // Another account's update finds nothing and changes nothing.
  Domain stolen = want;
  stolen.account_id = bob_;
  stolen.description = "stolen";
  auto not_found = store_->UpdateDomain(stolen);
  ASSERT_TRUE(not_found.ok());
  EXPECT_FALSE(*not_found);
  ExpectSameDomain(**store_->GetDomain(alice_, d.id), want);

  auto bob_delete = store_->DeleteDomain(bob_, d.id);
  ASSERT_TRUE(bob_delete.ok());
  EXPECT_EQ(bob_delete->status, Status::kNotFound);
  auto deleted = store_->DeleteDomain(alice_, d.id);
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_EQ(deleted->status, Status::kDeleted);
  EXPECT_FALSE(store_->GetDomain(alice_, d.id)->has_value());
  EXPECT_FALSE(store_->FindDomainByName("*.example.com")->has_value());
  EXPECT_EQ(store_->DeleteDomain(alice_, d.id)->status, Status::kNotFound);
  // The name is free again.
  ASSERT_TRUE(store_->InsertDomain(MakeDomain(bob_, "*.example.com")).ok());
}

TEST_P(StoreConformanceTest, ListDomainsPagesNewestFirst) {
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i) {
    Domain d = MakeDomain(alice_, "d" + std::to_string(i) + ".example.com");
    ASSERT_TRUE(store_->InsertDomain(d).ok());
    ids.push_back(d.id);
  }
  ASSERT_TRUE(store_->InsertDomain(MakeDomain(bob_, "bob.example.com")).ok());
  std::sort(ids.rbegin(), ids.rend());

  std::vector<std::string> seen;
  std::vector<bool> has_more;
  std::optional<std::string> before;
  for (int page_no = 0; page_no < 5; ++page_no) {
    auto page = store_->ListDomains(alice_, {.before_id = before, .limit = 5});
    ASSERT_TRUE(page.ok()) << page.error().message;
    for (const auto& d : page->items) {
      EXPECT_EQ(d.account_id, alice_);
      seen.push_back(d.id);
    }
    has_more.push_back(page->has_more);
    if (!page->has_more) break;
    before = page->items.back().id;
  }
  EXPECT_EQ(seen, ids);
  EXPECT_EQ(has_more, (std::vector<bool>{true, true, false}));
  auto exact = store_->ListDomains(alice_, {.before_id = ids[9], .limit = 10});
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->items.size(), 2u);
  EXPECT_FALSE(exact->has_more);
  auto first = store_->ListDomains(alice_, {.limit = 1});
  ASSERT_EQ(first->items.size(), 1u);
  ExpectSameDomain(first->items[0], **store_->GetDomain(alice_, ids[0]));
  EXPECT_EQ(store_->ListDomains(bob_, {.limit = 100})->items.size(), 1u);
  EXPECT_EQ(store_->ListDomains(alice_, {.limit = 0}).error().code, ErrorCode::kInvalidPaging);
  EXPECT_EQ(store_->ListDomains(alice_, {.limit = 1001}).error().code,
            ErrorCode::kInvalidPaging);
}

TEST_P(StoreConformanceTest, DomainNamesAndCnameTargetsAreUniqueAcrossAccounts) {
  Domain a = MakeDomain(alice_, "shop.example.com");
  a.cname_target = "t1.cname.certgate.test";
  a.acme_challenge_cname_target = "t1.acme.certgate.test";
  ASSERT_TRUE(store_->InsertDomain(a).ok());

  auto again = store_->InsertDomain(MakeDomain(alice_, "shop.example.com"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kDomainReservedHere);
  EXPECT_EQ(again.error().message, "shop.example.com is already reserved by this account");
  auto taken = store_->InsertDomain(MakeDomain(bob_, "shop.example.com"));
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().code, ErrorCode::kDomainReservedElsewhere);
  EXPECT_EQ(taken.error().message, "shop.example.com is already reserved by another account");
  EXPECT_EQ(taken.error().message.find(alice_), std::string::npos);
  Domain same_cname = MakeDomain(bob_, "other.example.com");
  same_cname.cname_target = a.cname_target;
  EXPECT_EQ(store_->InsertDomain(same_cname).error().code, ErrorCode::kStoreConflict);
  Domain same_acme = MakeDomain(bob_, "other.example.com");
  same_acme.acme_challenge_cname_target = a.acme_challenge_cname_target;
  EXPECT_EQ(store_->InsertDomain(same_acme).error().code, ErrorCode::kStoreConflict);
  Domain same_id = MakeDomain(bob_, "other.example.com");
  same_id.id = a.id;
  EXPECT_EQ(store_->InsertDomain(same_id).error().code, ErrorCode::kStoreConflict);

  // NULL targets never collide; an update onto a taken target is refused.
  Domain b = MakeDomain(bob_, "b.example.com");
  Domain c = MakeDomain(bob_, "c.example.com");
  ASSERT_TRUE(store_->InsertDomain(b).ok());
  ASSERT_TRUE(store_->InsertDomain(c).ok());
  b.cname_target = a.cname_target;
  auto update = store_->UpdateDomain(b);
  ASSERT_FALSE(update.ok());
  EXPECT_EQ(update.error().code, ErrorCode::kStoreConflict);
  EXPECT_FALSE((*store_->GetDomain(bob_, b.id))->cname_target.has_value());
  if (audit_ != nullptr) {
    EXPECT_EQ(audit_->CheckNameOwnership()->domains, 3);
  }
}

TEST_P(StoreConformanceTest, DomainCertificateMustBeAnAccountCertificateOfItsAccount) {
  Certificate bobs = Insert(bob_);
  Certificate service = Insert("");
  // An endpoint-owned certificate of Alice's.
  Domain host = MakeDomain(alice_, "api.example.com");
  ASSERT_TRUE(store_->InsertDomain(host).ok());
  Endpoint ep = MakeEndpoint(host, "api.example.com");
  Certificate owned = MakeCert(alice_);
  ep.policy_certificate_id = owned.id;
  ASSERT_TRUE(store_->InsertEndpoint(ep, owned).ok());

  for (const std::string& cert_id : {bobs.id, service.id, owned.id, NewId("cert")}) {
    Domain d = MakeDomain(alice_, "x.example.com");
    d.certificate_id = cert_id;
    auto inserted = store_->InsertDomain(d);
    ASSERT_FALSE(inserted.ok()) << cert_id;
    EXPECT_EQ(inserted.error().code, ErrorCode::kStoreConflict);
    EXPECT_NE(inserted.error().message.find("names no certificate of account"), std::string::npos)
        << inserted.error().message;
    EXPECT_FALSE(store_->FindDomainByName("x.example.com")->has_value());

    Domain update = host;
    update.certificate_id = cert_id;
    update.description = "changed";
    auto updated = store_->UpdateDomain(update);
    ASSERT_FALSE(updated.ok()) << cert_id;
    EXPECT_EQ(updated.error().code, ErrorCode::kStoreConflict);
    ExpectSameDomain(**store_->GetDomain(alice_, host.id), host);
  }
  // Bob may use his own.
  Domain mine = MakeDomain(bob_, "bob.example.com");
  mine.certificate_id = bobs.id;
  EXPECT_TRUE(store_->InsertDomain(mine).ok());
}

TEST_P(StoreConformanceTest, DeleteCertificateInUseNamesTheDomainsSorted) {
  Certificate cert = MakeCert(alice_);
  cert.issued_at.reset();  // uploaded: outlives its domains
  ASSERT_TRUE(store_->InsertCertificate(cert).ok());
  for (const char* name : {"www.example.com", "a.example.com", "*.example.com"}) {
    Domain d = MakeDomain(alice_, name);
    d.certificate_id = cert.id;
    ASSERT_TRUE(store_->InsertDomain(d).ok()) << name;
  }
  auto in_use = store_->DeleteCertificate(alice_, cert.id);
  ASSERT_TRUE(in_use.ok()) << in_use.error().message;
  EXPECT_EQ(in_use->status, Status::kInUse);
  EXPECT_EQ(in_use->used_by,
            (std::vector<std::string>{"*.example.com", "a.example.com", "www.example.com"}));
  ASSERT_TRUE(store_->GetCertificate(alice_, cert.id)->has_value());
  // Another account learns nothing.
  auto bob = store_->DeleteCertificate(bob_, cert.id);
  EXPECT_EQ(bob->status, Status::kNotFound);
  EXPECT_TRUE(bob->used_by.empty());

  // Detach from all but one: still in use, by that one.
  auto page = store_->ListDomains(alice_, {.limit = 10});
  ASSERT_EQ(page->items.size(), 3u);
  for (Domain d : page->items) {
    if (d.domain == "a.example.com") continue;
    d.certificate_id.reset();
    ASSERT_TRUE(*store_->UpdateDomain(d));
  }
  in_use = store_->DeleteCertificate(alice_, cert.id);
  EXPECT_EQ(in_use->status, Status::kInUse);
  EXPECT_EQ(in_use->used_by, std::vector<std::string>{"a.example.com"});
  // Deleting the domain detaches it too.
  auto a = store_->FindDomainByName("a.example.com");
  ASSERT_EQ(store_->DeleteDomain(alice_, (*a)->id)->status, Status::kDeleted);
  auto deleted = store_->DeleteCertificate(alice_, cert.id);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->status, Status::kDeleted);
  EXPECT_FALSE(store_->GetCertificateById(cert.id)->has_value());
}

TEST_P(StoreConformanceTest, AttachAndDeleteRacesNeverLeaveADanglingReference) {
  // Writers in two store objects (as in two processes) race to attach a
  // certificate and to delete it. Each outcome must be whole: either the
  // domain got it and the delete reported kInUse, or the delete won and the
  // attach failed with kStoreConflict.
  auto second = backend_->OpenAnother();
  ASSERT_TRUE(second.ok()) << second.error().message;
  constexpr int kRounds = 40;
  int attached = 0;
  int deleted = 0;
  for (int i = 0; i < kRounds; ++i) {
    Certificate cert = Insert(alice_);
    Domain d = MakeDomain(alice_, "race" + std::to_string(i) + ".example.com");
    d.certificate_id = cert.id;
    Result<void> attach = Error{};
    Result<DeleteOutcome> removal = Error{};
    // Both threads start together, so that either may win.
    std::atomic<int> ready{0};
    auto start_together = [&ready] {
      ++ready;
      while (ready.load() < 2) std::this_thread::yield();
    };
    std::thread attacher([&] {
      start_together();
      attach = store_->InsertDomain(d);
    });
    std::thread deleter([&] {
      start_together();
      removal = (*second)->DeleteCertificate(alice_, cert.id);
    });
    attacher.join();
    deleter.join();
    ASSERT_TRUE(removal.ok()) << removal.error().message;
    if (attach.ok()) {
      ++attached;
      EXPECT_EQ(removal->status, Status::kInUse);
      EXPECT_TRUE(store_->GetCertificate(alice_, cert.id)->has_value());
    } else {
      ++deleted;
      EXPECT_EQ(attach.error().code, ErrorCode::kStoreConflict) << attach.error().message;
      EXPECT_EQ(removal->status, Status::kDeleted);
      EXPECT_FALSE(store_->FindDomainByName(d.domain)->has_value());
    }
  }
  EXPECT_EQ(attached + deleted, kRounds);
  EXPECT_EQ(backend_->IntegrityProblems(), "");
  std::cout << "[          ] attach won " << attached << " times, delete " << deleted << "\n";
}

TEST_P(StoreConformanceTest, InsertDomainsIsOneTransactionThatSkipsNamesAlreadyHeld) {
  ASSERT_TRUE(store_->InsertDomain(MakeDomain(alice_, "held.bulk.example")).ok());
  ASSERT_TRUE(store_->InsertDomain(MakeDomain(bob_, "bob.other.example")).ok());
  const int64_t before = *store_->ChangeSequence();

  std::vector<Domain> batch;
  for (int i = 0; i < 50; ++i) {
    batch.push_back(MakeDomain(alice_, "n" + std::to_string(i) + ".bulk.example"));
  }
  batch.push_back(MakeDomain(alice_, "held.bulk.example"));
  batch.push_back(MakeDomain(alice_, "n7.bulk.example"));  // twice in one batch
  auto outcome = store_->InsertDomains(batch);
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(outcome->inserted, 50u);
  EXPECT_EQ(outcome->already_reserved, 2u);
  auto n42 = store_->FindDomainByName("n42.bulk.example");
  ASSERT_TRUE(n42.ok() && n42->has_value());
  EXPECT_EQ((*n42)->account_id, alice_);
  const int64_t after = *store_->ChangeSequence();
  EXPECT_GE(after, before + 50) << "each name in the change feed";

  // A refusal rolls the whole batch back, and names the domain.
  std::vector<Domain> bad = {MakeDomain(alice_, "fresh1.bulk.example"),
                             MakeDomain(alice_, "x.bob.other.example"),
                             MakeDomain(alice_, "fresh2.bulk.example")};
  auto refused = store_->InsertDomains(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kDomainReservedElsewhere) << refused.error().message;
  EXPECT_NE(refused.error().message.find("x.bob.other.example"), std::string::npos)
      << refused.error().message;
  EXPECT_FALSE(store_->FindDomainByName("fresh1.bulk.example")->has_value());
  EXPECT_FALSE(store_->FindDomainByName("fresh2.bulk.example")->has_value());
  EXPECT_EQ(*store_->ChangeSequence(), after) << "nothing logged";

  auto none = store_->InsertDomains({});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->inserted, 0u);
}

}  // namespace
}  // namespace certgate::store::testing
