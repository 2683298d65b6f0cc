// The store conformance suite: the edge's change feed (EdgeFeed::ChangesSince)
// and the per-key reads a reader applies it with.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "store/store.h"
#include "store/testing/store_conformance.h"

namespace certgate::store::testing {
namespace {

using Kind = EdgeChangeKind;
using Keyed = std::pair<Kind, std::string>;

// Every change after `after`, read in pages of `page`.
std::vector<EdgeChange> AllChanges(Store& store, int64_t after, int page = 1000) {
  std::vector<EdgeChange> all;
  for (int reads = 0; reads < 10000; ++reads) {
    auto batch = store.ChangesSince(after, page);
    EXPECT_TRUE(batch.ok()) << batch.error().message;
    if (!batch.ok()) break;
    EXPECT_LE(batch->changes.size(), static_cast<size_t>(page));
    for (const EdgeChange& c : batch->changes) {
      EXPECT_GT(c.sequence, all.empty() ? after : all.back().sequence) << "in order";
      all.push_back(c);
    }
    after = batch->sequence;
    if (!batch->more) break;
  }
  return all;
}

// Whether want appears in got, in order (other entries may come between).
bool InOrder(const std::vector<EdgeChange>& got, const std::vector<Keyed>& want) {
  size_t i = 0;
  for (const EdgeChange& c : got) {
    if (i < want.size() && c.kind == want[i].first && c.key == want[i].second) ++i;
  }
  return i == want.size();
}

std::string Describe(const std::vector<EdgeChange>& changes) {
  std::string out;
  for (const EdgeChange& c : changes) {
    out += std::to_string(c.sequence) + ":" + std::to_string(static_cast<int>(c.kind)) + ":" +
           c.key + " ";
  }
  return out;
}

TEST_P(StoreConformanceTest, ChangesSinceNamesEveryKeyEachWriteTouchedInCommitOrder) {
  const int64_t start = *store_->ChangeSequence();
  Certificate cert = Insert(alice_);
  Domain d = MakeDomain(alice_, "*.feed.example.com");
  d.certificate_id = cert.id;
  ASSERT_TRUE(store_->InsertDomain(d).ok());
  Endpoint e = MakeEndpoint(d, "app.feed.example.com");
  ASSERT_TRUE(store_->InsertEndpoint(e, std::nullopt).ok());
  // Moving the endpoint to another host names both hosts.
  Endpoint moved = e;
  moved.host = "api.feed.example.com";
  moved.url = "https://api.feed.example.com";
  ASSERT_TRUE(*store_->UpdateEndpoint(moved, std::nullopt));
  Domain managed = MakeDomain(alice_, "*.acme.example.com");
  managed.policy = ManagementPolicy{};
  ASSERT_TRUE(store_->InsertDomain(managed).ok());
  ProvisioningJob job = MakeJob(managed, FromUnixSeconds(1'750'000'000));
  ASSERT_TRUE(*store_->InsertProvisioningJob(job));
  ASSERT_TRUE(store_->PutHttp01Challenge({"tokF", "tokF.print", job.id}).ok());
  ASSERT_TRUE(store_->PutDnsTxtRecord("_acme-challenge.acme.example.com", "v", job.id).ok());
  ASSERT_TRUE(*store_->DeleteHttp01Challenge("tokF"));
  ASSERT_TRUE(*store_->DeleteEndpoint(alice_, e.id));
  ASSERT_EQ(store_->DeleteDomain(alice_, d.id)->status, DeleteOutcome::Status::kDeleted);

  const std::vector<EdgeChange> all = AllChanges(*store_, start);
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.back().sequence, *store_->ChangeSequence());
  const std::vector<Keyed> want = {
      {Kind::kCertificate, cert.id},
      {Kind::kDomain, "*.feed.example.com"},
      {Kind::kEndpoint, "app.feed.example.com"},
      {Kind::kEndpoint, "api.feed.example.com"},
      {Kind::kDomain, "*.acme.example.com"},
      {Kind::kHttp01, "tokF"},
      {Kind::kDnsTxt, "_acme-challenge.acme.example.com"},
      {Kind::kHttp01, "tokF"},
      {Kind::kEndpoint, "api.feed.example.com"},
      {Kind::kDomain, "*.feed.example.com"},
  };
  EXPECT_TRUE(InOrder(all, want)) << Describe(all);
  // The move names the host it left as well as the one it went to.
  const auto update = std::find_if(all.begin(), all.end(), [](const EdgeChange& c) {
    return c.kind == Kind::kEndpoint && c.key == "api.feed.example.com";
  });
  ASSERT_NE(update, all.end());
  EXPECT_TRUE(std::any_of(all.begin(), update, [](const EdgeChange& c) {
    return c.kind == Kind::kEndpoint && c.key == "app.feed.example.com";
  }));

  // Paging by one gives the same entries; a reader at the end gets none.
  const std::vector<EdgeChange> one_by_one = AllChanges(*store_, start, 1);
  ASSERT_EQ(one_by_one.size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(one_by_one[i].sequence, all[i].sequence);
  auto at_end = store_->ChangesSince(all.back().sequence, 10);
  ASSERT_TRUE(at_end.ok()) << at_end.error().message;
  EXPECT_TRUE(at_end->changes.empty());
  EXPECT_FALSE(at_end->more);
  EXPECT_EQ(at_end->sequence, all.back().sequence);

  // Another store object on the same data (another process) reads the same feed.
  auto other = backend_->OpenAnother();
  ASSERT_TRUE(other.ok()) << other.error().message;
  EXPECT_EQ(AllChanges(**other, start).size(), all.size());
}

TEST_P(StoreConformanceTest, AReaderBehindTheRetentionIsToldToReload) {
  backend_->SetChangeRetention(5);
  const int64_t start = *store_->ChangeSequence();
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(store_->InsertDomain(MakeDomain(alice_, "r" + std::to_string(i) + ".example.com")).ok());
  }
  const int64_t newest = *store_->ChangeSequence();
  ASSERT_GE(newest, start + 12);
  auto behind = store_->ChangesSince(start, 100);
  ASSERT_FALSE(behind.ok());
  EXPECT_EQ(behind.error().code, ErrorCode::kChangesExpired) << behind.error().message;
  // The newest five are kept, so a reader four behind catches up.
  auto near = store_->ChangesSince(newest - 4, 100);
  ASSERT_TRUE(near.ok()) << near.error().message;
  ASSERT_EQ(near->changes.size(), 4u);
  EXPECT_EQ(near->changes.back().key, "r11.example.com");
  // A sequence ahead of the store's is another store's: reload.
  auto ahead = store_->ChangesSince(newest + 3, 100);
  ASSERT_FALSE(ahead.ok());
  EXPECT_EQ(ahead.error().code, ErrorCode::kChangesExpired);
  // A full load then the changes since its sequence is the way back.
  auto state = store_->LoadEdgeState();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->change_sequence, newest);
  EXPECT_EQ(state->domains.size(), 12u);
  ASSERT_TRUE(store_->ChangesSince(state->change_sequence, 100).ok());
}

TEST_P(StoreConformanceTest, PerKeyReadsShowWhatLoadEdgeStateShows) {
  Certificate cert = Insert(alice_);
  Domain d = MakeDomain(alice_, "*.keys.example.com");
  d.certificate_id = cert.id;
  ASSERT_TRUE(store_->InsertDomain(d).ok());
  Domain bare = MakeDomain(bob_, "bare.example.net");
  ASSERT_TRUE(store_->InsertDomain(bare).ok());
  Endpoint https = MakeEndpoint(d, "a.keys.example.com");
  Endpoint tls = MakeEndpoint(d, "a.keys.example.com", 8443);
  tls.scheme = "tls";
  tls.url = "tls://a.keys.example.com:8443";
  ASSERT_TRUE(store_->InsertEndpoint(https, std::nullopt).ok());
  ASSERT_TRUE(store_->InsertEndpoint(tls, std::nullopt).ok());

  auto wild = store_->EdgeDomainByName("*.keys.example.com");
  ASSERT_TRUE(wild.ok() && wild->has_value());
  EXPECT_EQ((*wild)->domain, "*.keys.example.com");
  EXPECT_EQ((*wild)->certificate_id, cert.id);
  auto plain = store_->EdgeDomainByName("bare.example.net");
  ASSERT_TRUE(plain.ok() && plain->has_value()) << "every account's";
  EXPECT_FALSE((*plain)->certificate_id.has_value());
  EXPECT_FALSE(store_->EdgeDomainByName("x.keys.example.com")->has_value()) << "exact names only";

  auto on_host = store_->EndpointsByHost("a.keys.example.com");
  ASSERT_TRUE(on_host.ok()) << on_host.error().message;
  ASSERT_EQ(on_host->size(), 2u);
  std::vector<std::string> urls{(*on_host)[0].url, (*on_host)[1].url};
  std::sort(urls.begin(), urls.end());
  EXPECT_EQ(urls, (std::vector<std::string>{"https://a.keys.example.com",
                                            "tls://a.keys.example.com:8443"}));
  EXPECT_TRUE(store_->EndpointsByHost("b.keys.example.com")->empty());

  ASSERT_EQ(store_->DeleteDomain(bob_, bare.id)->status, DeleteOutcome::Status::kDeleted);
  EXPECT_FALSE(store_->EdgeDomainByName("bare.example.net")->has_value());
}

TEST_P(StoreConformanceTest, TheZoneLoadsAtOnceAndItsCnameTargetsComeAndGoInTheFeed) {
  Domain custom = MakeDomain(alice_, "shop.example.com");
  custom.policy = ManagementPolicy{};
  custom.cname_target = "k1.cname.certgate.test";
  custom.acme_challenge_cname_target = "k1.acme.certgate.test";
  ASSERT_TRUE(store_->InsertDomain(custom).ok());
  ASSERT_TRUE(store_->InsertDomain(MakeDomain(bob_, "app.certgate.test")).ok());
  ASSERT_TRUE(store_->InsertDomain(MakeDomain(bob_, "*.x.bob.certgate.test")).ok());
  ASSERT_TRUE(store_->InsertDomain(MakeDomain(bob_, "certgate.testing.example")).ok())
      << "labels, not characters: outside the zone";
  ProvisioningJob job = MakeJob(custom, FromUnixSeconds(1'750'000'000));
  ASSERT_TRUE(*store_->InsertProvisioningJob(job));
  ASSERT_TRUE(store_->PutDnsTxtRecord("k1.acme.certgate.test", "v1", job.id).ok());

  std::vector<std::string> reserved, targets, txt;
  auto loaded = store_->LoadZone("certgate.test", [&](ZoneNames::ZoneRecord kind,
                                                      std::string_view name,
                                                      std::string_view value) {
    if (kind == ZoneNames::ZoneRecord::kReserved) reserved.emplace_back(name);
    if (kind == ZoneNames::ZoneRecord::kCnameTarget) targets.emplace_back(name);
    if (kind == ZoneNames::ZoneRecord::kTxt) txt.push_back(std::string(name) + "=" + std::string(value));
  });
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(*loaded, *store_->ChangeSequence());
  std::sort(reserved.begin(), reserved.end());
  EXPECT_EQ(reserved, (std::vector<std::string>{"*.x.bob.certgate.test", "app.certgate.test"}));
  EXPECT_EQ(targets, std::vector<std::string>{"k1.cname.certgate.test"});
  EXPECT_EQ(txt, std::vector<std::string>{"k1.acme.certgate.test=v1"});
  EXPECT_TRUE(*store_->IsCnameTarget("k1.cname.certgate.test"));
  EXPECT_FALSE(*store_->IsCnameTarget("app.certgate.test")) << "a reserved name is not a target";

  // A new target names the old one and the new one; a delete, the last.
  const int64_t before = *store_->ChangeSequence();
  Domain moved = custom;
  moved.cname_target = "k2.cname.certgate.test";
  ASSERT_TRUE(*store_->UpdateDomain(moved));
  Domain same = moved;
  same.description = "only the description";
  ASSERT_TRUE(*store_->UpdateDomain(same));
  ASSERT_EQ(store_->DeleteDomain(alice_, custom.id)->status, DeleteOutcome::Status::kDeleted);
  std::vector<std::string> named;
  for (const EdgeChange& c : AllChanges(*store_, before)) {
    if (c.kind == Kind::kCnameTarget) named.push_back(c.key);
  }
  EXPECT_EQ(named, (std::vector<std::string>{"k1.cname.certgate.test", "k2.cname.certgate.test",
                                             "k2.cname.certgate.test"}));
  EXPECT_FALSE(*store_->IsCnameTarget("k2.cname.certgate.test"));
}

}  // namespace
}  // namespace certgate::store::testing
