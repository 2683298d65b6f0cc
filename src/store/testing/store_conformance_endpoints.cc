// The store conformance suite: endpoints and their policy certificates.
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

TEST_P(StoreConformanceTest, EndpointInsertGetWithAndWithoutPolicyCertificate) {
  Domain d = MakeDomain(alice_, "*.example.com");
  ASSERT_TRUE(store_->InsertDomain(d).ok());

  Endpoint plain = MakeEndpoint(d, "www.example.com");
  plain.traffic_policy = "";
  ASSERT_TRUE(store_->InsertEndpoint(plain, std::nullopt).ok());
  auto got = store_->GetEndpoint(alice_, plain.id);
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_TRUE(got->has_value());
  ExpectSameEndpoint(**got, plain);
  EXPECT_FALSE(store_->GetEndpoint(bob_, plain.id)->has_value());
  EXPECT_FALSE(store_->GetEndpoint(alice_, NewId("ep"))->has_value());

  Endpoint tls = MakeEndpoint(d, "db.example.com", 65535);
  tls.traffic_policy = R"({"on_tcp_connect":[{"actions":[{"type":"terminate-tls"}]}]})";
  Certificate brought = MakeCert(bob_);  // account and owner are the endpoint's
  tls.policy_certificate_id = brought.id;
  ASSERT_TRUE(store_->InsertEndpoint(tls, brought).ok());
  ExpectSameEndpoint(**store_->GetEndpoint(alice_, tls.id), tls);
  auto cert = store_->GetCertificateById(brought.id);
  ASSERT_TRUE(cert.ok() && cert->has_value());
  Certificate want = brought;
  want.account_id = alice_;
  want.owner_endpoint_id = tls.id;
  ExpectSameCert(**cert, want);

  // url is unique; the refused insert leaves no certificate.
  Endpoint dup = MakeEndpoint(d, "db.example.com", 65535);
  Certificate dup_cert = MakeCert(alice_);
  dup.policy_certificate_id = dup_cert.id;
  auto taken = store_->InsertEndpoint(dup, dup_cert);
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.error().code, ErrorCode::kStoreConflict);
  EXPECT_NE(taken.error().message.find("url"), std::string::npos)
      << taken.error().message;
  EXPECT_FALSE(store_->GetCertificateById(dup_cert.id)->has_value());
  // Across accounts the host is refused before the url: Alice's wildcard owns it.
  Domain bobs = MakeDomain(bob_, "bob.example.net");
  ASSERT_TRUE(store_->InsertDomain(bobs).ok());
  Endpoint bobs_dup = MakeEndpoint(bobs, "db.example.com", 65535);
  Certificate bobs_cert = MakeCert(bob_);
  bobs_dup.policy_certificate_id = bobs_cert.id;
  auto elsewhere = store_->InsertEndpoint(bobs_dup, bobs_cert);
  ASSERT_FALSE(elsewhere.ok());
  EXPECT_EQ(elsewhere.error().code, ErrorCode::kEndpointHostReservedElsewhere);
  EXPECT_FALSE(store_->GetCertificateById(bobs_cert.id)->has_value());

  // The domain must be one of the endpoint's account.
  Endpoint wrong_domain = MakeEndpoint(bobs, "elsewhere.example.com");
  wrong_domain.account_id = alice_;
  auto refused = store_->InsertEndpoint(wrong_domain, std::nullopt);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kStoreConflict);
  Endpoint no_domain = MakeEndpoint(d, "nowhere.example.com");
  no_domain.domain_id = NewId("rd");
  EXPECT_EQ(store_->InsertEndpoint(no_domain, std::nullopt).error().code,
            ErrorCode::kStoreConflict);

  // A policy certificate id without the certificate, or not matching it.
  Endpoint missing = MakeEndpoint(d, "m.example.com");
  missing.policy_certificate_id = brought.id;
  EXPECT_FALSE(store_->InsertEndpoint(missing, std::nullopt).ok());
  missing.policy_certificate_id = NewId("cert");
  EXPECT_FALSE(store_->InsertEndpoint(missing, MakeCert(alice_)).ok());
  EXPECT_FALSE(store_->GetEndpoint(alice_, missing.id)->has_value());

  // InsertCertificate refuses endpoint certificates: they come with one.
  Certificate stray = MakeCert(alice_);
  stray.owner_endpoint_id = plain.id;
  EXPECT_FALSE(store_->InsertCertificate(stray).ok());
  EXPECT_FALSE(store_->GetCertificateById(stray.id)->has_value());
}

// ngrok's fields: type, bindings, pooling_enabled, updated_at and the policy
// text the API shows are stored as given, replaced by updates, and bindings
// that are not words are refused with nothing written.
TEST_P(StoreConformanceTest, EndpointNgrokFieldsRoundTrip) {
  Domain d = MakeDomain(alice_, "*.example.com");
  ASSERT_TRUE(store_->InsertDomain(d).ok());

  // The defaults of a new record.
  Endpoint plain = MakeEndpoint(d, "plain.example.com");
  EXPECT_EQ(plain.type, "cloud");
  EXPECT_EQ(plain.bindings, std::vector<std::string>{"public"});
  EXPECT_FALSE(plain.pooling_enabled);
  ASSERT_TRUE(store_->InsertEndpoint(plain, std::nullopt).ok());
  ExpectSameEndpoint(**store_->GetEndpoint(alice_, plain.id), plain);

  Endpoint e = MakeEndpoint(d, "app.example.com");
  e.updated_at = FromUnixSeconds(1'700'000'950);
  e.type = "agent";
  e.bindings = {"internal", "public"};
  e.pooling_enabled = true;
  e.traffic_policy = R"({"on_tcp_connect":[{"actions":[{"type":"terminate-tls"}]}]})";
  e.traffic_policy_text =
      "# the user's own text\non_tcp_connect:\n  - name: \"caf\u00e9 \\ 'x'\"\n"
      "    actions: [{type: terminate-tls}]\n";
  ASSERT_TRUE(store_->InsertEndpoint(e, std::nullopt).ok());
  ExpectSameEndpoint(**store_->GetEndpoint(alice_, e.id), e);
  auto listed = store_->ListEndpoints(alice_, {.limit = 100});
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->items.size(), 2u);
  for (const Endpoint& got : listed->items) {
    ExpectSameEndpoint(got, got.id == e.id ? e : plain);
  }
  // The edge's read carries them too.
  auto state = store_->LoadEdgeState();
  ASSERT_TRUE(state.ok()) << state.error().message;
  ASSERT_EQ(state->endpoints.size(), 2u);
  for (const Endpoint& got : state->endpoints) {
    ExpectSameEndpoint(got, got.id == e.id ? e : plain);
  }

  // An update replaces each; created_at stays.
  Endpoint changed = e;
  changed.created_at = FromUnixSeconds(7);
  changed.updated_at = FromUnixSeconds(1'700'001'000);
  changed.type = "cloud";
  changed.bindings = {};
  changed.pooling_enabled = false;
  changed.traffic_policy = "";
  changed.traffic_policy_text = "";
  ASSERT_TRUE(*store_->UpdateEndpoint(changed, std::nullopt));
  Endpoint want = changed;
  want.created_at = e.created_at;
  ExpectSameEndpoint(**store_->GetEndpoint(alice_, e.id), want);
  changed.bindings = {"kubernetes"};
  want.bindings = changed.bindings;
  ASSERT_TRUE(*store_->UpdateEndpoint(changed, std::nullopt));
  ExpectSameEndpoint(**store_->GetEndpoint(alice_, e.id), want);

  // Bindings that are not words: refused on insert and update alike.
  for (const std::string& bad : {std::string(""), std::string("Public"), std::string("a b"),
                                 std::string("a\"b"), std::string("a,b"), std::string(33, 'x')}) {
    Endpoint refused = MakeEndpoint(d, "refused.example.com");
    refused.bindings = {"public", bad};
    auto inserted = store_->InsertEndpoint(refused, std::nullopt);
    ASSERT_FALSE(inserted.ok()) << bad;
    EXPECT_EQ(inserted.error().code, ErrorCode::kEndpointBindingUnsupported) << bad;
    EXPECT_FALSE(store_->GetEndpoint(alice_, refused.id)->has_value()) << bad;
    Endpoint bad_update = want;
    bad_update.bindings = {bad};
    bad_update.description = "not written";
    auto updated = store_->UpdateEndpoint(bad_update, std::nullopt);
    ASSERT_FALSE(updated.ok()) << bad;
    EXPECT_EQ(updated.error().code, ErrorCode::kEndpointBindingUnsupported) << bad;
    ExpectSameEndpoint(**store_->GetEndpoint(alice_, e.id), want);
  }
}

TEST_P(StoreConformanceTest, ListEndpointsPagesNewestFirst) {
  Domain d = MakeDomain(alice_, "*.example.com");
  ASSERT_TRUE(store_->InsertDomain(d).ok());
  Domain bobs = MakeDomain(bob_, "bob.example.net");
  ASSERT_TRUE(store_->InsertDomain(bobs).ok());
  ASSERT_TRUE(store_->InsertEndpoint(MakeEndpoint(bobs, "bob.example.net"), std::nullopt).ok());
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) {
    Endpoint e = MakeEndpoint(d, "h" + std::to_string(i) + ".example.com");
    ASSERT_TRUE(store_->InsertEndpoint(e, std::nullopt).ok());
    ids.push_back(e.id);
  }
  std::sort(ids.rbegin(), ids.rend());
  std::vector<std::string> seen;
  std::optional<std::string> before;
  std::vector<bool> has_more;
  while (true) {
    auto page = store_->ListEndpoints(alice_, {.before_id = before, .limit = 3});
    ASSERT_TRUE(page.ok()) << page.error().message;
    for (const auto& e : page->items) seen.push_back(e.id);
    has_more.push_back(page->has_more);
    if (!page->has_more) break;
    before = page->items.back().id;
  }
  EXPECT_EQ(seen, ids);
  EXPECT_EQ(has_more, (std::vector<bool>{true, true, false}));
  auto one = store_->ListEndpoints(alice_, {.limit = 1});
  ASSERT_EQ(one->items.size(), 1u);
  ExpectSameEndpoint(one->items[0], **store_->GetEndpoint(alice_, ids[0]));
  EXPECT_EQ(store_->ListEndpoints(bob_, {.limit = 100})->items.size(), 1u);
  EXPECT_EQ(store_->ListEndpoints(alice_, {.limit = 0}).error().code, ErrorCode::kInvalidPaging);
}

TEST_P(StoreConformanceTest, DeleteDomainInUseNamesTheEndpointUrls) {
  Domain d = MakeDomain(alice_, "*.example.com");
  ASSERT_TRUE(store_->InsertDomain(d).ok());
  Endpoint b = MakeEndpoint(d, "b.example.com");
  Endpoint a = MakeEndpoint(d, "a.example.com", 8443);
  ASSERT_TRUE(store_->InsertEndpoint(b, std::nullopt).ok());
  ASSERT_TRUE(store_->InsertEndpoint(a, std::nullopt).ok());
  auto in_use = store_->DeleteDomain(alice_, d.id);
  ASSERT_TRUE(in_use.ok()) << in_use.error().message;
  EXPECT_EQ(in_use->status, Status::kInUse);
  EXPECT_EQ(in_use->used_by,
            (std::vector<std::string>{"https://b.example.com", "tls://a.example.com:8443"}));
  EXPECT_EQ(store_->DeleteDomain(bob_, d.id)->status, Status::kNotFound);
  ASSERT_TRUE(*store_->DeleteEndpoint(alice_, b.id));
  in_use = store_->DeleteDomain(alice_, d.id);
  EXPECT_EQ(in_use->used_by, std::vector<std::string>{"tls://a.example.com:8443"});
  ASSERT_TRUE(*store_->DeleteEndpoint(alice_, a.id));
  EXPECT_EQ(store_->DeleteDomain(alice_, d.id)->status, Status::kDeleted);
}

TEST_P(StoreConformanceTest, UpdateEndpointPolicyCertificateCases) {
  Domain d = MakeDomain(alice_, "*.example.com");
  ASSERT_TRUE(store_->InsertDomain(d).ok());
  Domain other = MakeDomain(alice_, "other.example.org");
  ASSERT_TRUE(store_->InsertDomain(other).ok());
  Endpoint e = MakeEndpoint(d, "app.example.com");
  Certificate first = MakeCert(alice_);
  e.policy_certificate_id = first.id;
  ASSERT_TRUE(store_->InsertEndpoint(e, first).ok());
  // Certificates the endpoint owns: every certificate has a sealed key.
  auto owned_count = [&] {
    int owned = 0;
    auto keys = store_->ListSealedKeys(std::nullopt, 1000);
    EXPECT_TRUE(keys.ok());
    for (const SealedKeyRef& ref : *keys) {
      auto cert = store_->GetCertificateById(ref.record_id);
      if (cert.ok() && cert->has_value() && (*cert)->owner_endpoint_id == e.id) ++owned;
    }
    return std::to_string(owned);
  };

  // 1. nullopt with policy_certificate_id set: the old one stays, other
  //    fields (all but id, account_id, created_at) change.
  Endpoint keep = e;
  keep.created_at = FromUnixSeconds(5);
  keep.description = "kept";
  keep.metadata = "";
  keep.url = "tls://app.example.org:444";
  keep.scheme = "tls";
  keep.host = "app.example.org";
  keep.port = 444;
  keep.upstream = "tcp://10.0.0.1:5432";
  keep.traffic_policy = "{}";
  keep.domain_id = other.id;
  auto updated = store_->UpdateEndpoint(keep, std::nullopt);
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_TRUE(*updated);
  Endpoint want = keep;
  want.created_at = e.created_at;
  ExpectSameEndpoint(**store_->GetEndpoint(alice_, e.id), want);
  EXPECT_TRUE(store_->GetCertificateById(first.id)->has_value());
  EXPECT_EQ(owned_count(), "1");

  // A stale "keep": the caller names a certificate that is not the stored one.
  Endpoint stale = want;
  stale.policy_certificate_id = NewId("cert");
  auto conflict = store_->UpdateEndpoint(stale, std::nullopt);
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code, ErrorCode::kStoreConflict);
  ExpectSameEndpoint(**store_->GetEndpoint(alice_, e.id), want);

  // 2. A new certificate replaces the old one, which is deleted.
  Certificate second = MakeCert(alice_);
  want.policy_certificate_id = second.id;
  want.description = "replaced";
  ASSERT_TRUE(*store_->UpdateEndpoint(want, second));
  ExpectSameEndpoint(**store_->GetEndpoint(alice_, e.id), want);
  EXPECT_FALSE(store_->GetCertificateById(first.id)->has_value());
  auto got_second = store_->GetCertificateById(second.id);
  ASSERT_TRUE(got_second->has_value());
  EXPECT_EQ((*got_second)->owner_endpoint_id, e.id);
  EXPECT_EQ(owned_count(), "1");

  // 3. nullopt with policy_certificate_id unset: the old one is deleted.
  want.policy_certificate_id.reset();
  ASSERT_TRUE(*store_->UpdateEndpoint(want, std::nullopt));
  ExpectSameEndpoint(**store_->GetEndpoint(alice_, e.id), want);
  EXPECT_FALSE(store_->GetCertificateById(second.id)->has_value());
  EXPECT_EQ(owned_count(), "0");

  // And back: a certificate for an endpoint that had none.
  Certificate third = MakeCert(alice_);
  want.policy_certificate_id = third.id;
  ASSERT_TRUE(*store_->UpdateEndpoint(want, third));
  ExpectSameEndpoint(**store_->GetEndpoint(alice_, e.id), want);
  EXPECT_EQ(owned_count(), "1");

  // Not found: another account's, or unknown; nothing is written.
  Endpoint bobs = want;
  bobs.account_id = bob_;
  Certificate fourth = MakeCert(bob_);
  bobs.policy_certificate_id = fourth.id;
  auto not_found = store_->UpdateEndpoint(bobs, fourth);
  ASSERT_TRUE(not_found.ok());
  EXPECT_FALSE(*not_found);
  EXPECT_FALSE(store_->GetCertificateById(fourth.id)->has_value());
  ExpectSameEndpoint(**store_->GetEndpoint(alice_, e.id), want);

  // A url taken by another endpoint is a conflict, and the failed update
  // leaves the new certificate out and the old one in.
  Endpoint taken = MakeEndpoint(d, "taken.example.com");
  ASSERT_TRUE(store_->InsertEndpoint(taken, std::nullopt).ok());
  Endpoint onto = want;
  onto.url = taken.url;
  Certificate fifth = MakeCert(alice_);
  onto.policy_certificate_id = fifth.id;
  auto clash = store_->UpdateEndpoint(onto, fifth);
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(clash.error().code, ErrorCode::kStoreConflict);
  EXPECT_FALSE(store_->GetCertificateById(fifth.id)->has_value());
  EXPECT_TRUE(store_->GetCertificateById(third.id)->has_value());
  ExpectSameEndpoint(**store_->GetEndpoint(alice_, e.id), want);
}

TEST_P(StoreConformanceTest, DeleteEndpointRemovesItsPolicyCertificate) {
  Domain d = MakeDomain(alice_, "*.example.com");
  ASSERT_TRUE(store_->InsertDomain(d).ok());
  Endpoint e = MakeEndpoint(d, "app.example.com");
  Certificate cert = MakeCert(alice_);
  e.policy_certificate_id = cert.id;
  ASSERT_TRUE(store_->InsertEndpoint(e, cert).ok());
  Certificate account_cert = Insert(alice_);

  auto bob = store_->DeleteEndpoint(bob_, e.id);
  ASSERT_TRUE(bob.ok());
  EXPECT_FALSE(*bob);
  EXPECT_TRUE(store_->GetCertificateById(cert.id)->has_value());

  auto deleted = store_->DeleteEndpoint(alice_, e.id);
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_TRUE(*deleted);
  EXPECT_FALSE(store_->GetEndpoint(alice_, e.id)->has_value());
  EXPECT_FALSE(store_->GetCertificateById(cert.id)->has_value());
  EXPECT_TRUE(store_->GetCertificateById(account_cert.id)->has_value());
  EXPECT_FALSE(*store_->DeleteEndpoint(alice_, e.id));
  EXPECT_EQ(backend_->IntegrityProblems(), "");
}

TEST_P(StoreConformanceTest, EndpointCertificatesAreHiddenFromAccountCalls) {
  Domain d = MakeDomain(alice_, "*.example.com");
  ASSERT_TRUE(store_->InsertDomain(d).ok());
  Certificate mine = Insert(alice_);
  Endpoint e = MakeEndpoint(d, "app.example.com");
  Certificate owned = MakeCert(alice_);
  e.policy_certificate_id = owned.id;
  ASSERT_TRUE(store_->InsertEndpoint(e, owned).ok());

  EXPECT_FALSE(store_->GetCertificate(alice_, owned.id)->has_value());
  auto list = store_->ListCertificates(alice_, {.limit = 100});
  ASSERT_EQ(list->items.size(), 1u);
  EXPECT_EQ(list->items[0].id, mine.id);
  CertificatePatch patch;
  patch.description = "renamed";
  EXPECT_FALSE(store_->UpdateCertificate(alice_, owned.id, patch)->has_value());
  auto removal = store_->DeleteCertificate(alice_, owned.id);
  ASSERT_TRUE(removal.ok());
  EXPECT_EQ(removal->status, Status::kNotFound);

  // Maintenance sees it: by id, and for key rotation.
  auto by_id = store_->GetCertificateById(owned.id);
  ASSERT_TRUE(by_id->has_value());
  EXPECT_EQ((*by_id)->description, owned.description);
  EXPECT_EQ((*by_id)->owner_endpoint_id, e.id);
  auto keys = store_->ListSealedKeys(std::nullopt, 100);
  ASSERT_TRUE(keys.ok());
  std::set<std::string> key_ids;
  for (const auto& ref : *keys) key_ids.insert(ref.record_id);
  EXPECT_EQ(key_ids, (std::set<std::string>{mine.id, owned.id}));
  SealedKey v9{9, {9, 9}};  // MakeCert uses versions 1 to 3
  EXPECT_EQ(*store_->CountSealedKeysNotAtVersion(mine.private_key.key_version),
            owned.private_key.key_version == mine.private_key.key_version ? 0 : 1);
  EXPECT_EQ(*store_->CountSealedKeysNotAtVersion(9), 2);
  ASSERT_TRUE(*store_->ReplaceSealedKey(owned.id, owned.private_key, v9));
  EXPECT_EQ((*store_->GetCertificateById(owned.id))->private_key, v9);
  EXPECT_EQ((*store_->GetEndpoint(alice_, e.id))->policy_certificate_id, owned.id);
}

}  // namespace
}  // namespace certgate::store::testing
