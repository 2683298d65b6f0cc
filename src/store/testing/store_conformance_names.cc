// The store conformance suite: name ownership across accounts.
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

// A domain as a row written around the store holds it: no description,
// metadata, certificate or policy.
Domain BareDomain(const std::string& id, const std::string& account_id, const std::string& name) {
  Domain d;
  d.id = id;
  d.account_id = account_id;
  d.created_at = FromUnixSeconds(1'700'000'000);
  d.domain = name;
  return d;
}

struct Claim {
  std::string name;
  ErrorCode code;       // kInternal: allowed
  std::string message;  // a part of the refusal's message
};

TEST_P(StoreConformanceTest, NamesBelongToOneAccount) {
  // Alice may nest her own names as she likes.
  for (const char* name : {"*.wa.example.com", "y.wa.example.com", "wa.example.com",
                           "app.example.org", "*.y.wa.example.com"}) {
    auto r = store_->InsertDomain(MakeDomain(alice_, name));
    ASSERT_TRUE(r.ok()) << name << ": " << r.error().message;
  }
  const std::vector<Claim> claims = {
      // Another account holds the name.
      {"y.wa.example.com", ErrorCode::kDomainReservedElsewhere,
       "y.wa.example.com is already reserved by another account"},
      {"*.wa.example.com", ErrorCode::kDomainReservedElsewhere, "already reserved by another"},
      // Below another account's wildcard, at any depth, or below its exact name.
      {"z.wa.example.com", ErrorCode::kDomainReservedElsewhere,
       "z.wa.example.com lies under the wildcard *.wa.example.com"},
      {"a.b.wa.example.com", ErrorCode::kDomainReservedElsewhere, "a.b.wa.example.com lies under"},
      {"x.app.example.org", ErrorCode::kDomainReservedElsewhere,
       "x.app.example.org lies under app.example.org"},
      {"*.app.example.org", ErrorCode::kDomainReservedElsewhere,
       "*.app.example.org lies under app.example.org"},
      {"*.z.wa.example.com", ErrorCode::kDomainReservedElsewhere, "lies under"},
      // A wildcard over another account's names.
      {"*.example.com", ErrorCode::kDomainWildcardOverOthers,
       "the wildcard *.example.com would cover wa.example.com"},
      {"*.example.org", ErrorCode::kDomainWildcardOverOthers, "would cover app.example.org"},
      // An exact name above another account's names.
      {"example.com", ErrorCode::kDomainOverOthers, "example.com lies above wa.example.com"},
      {"example.org", ErrorCode::kDomainOverOthers, "lies above app.example.org"},
      // Neighbours are free: labels, not characters.
      {"wa-b.example.com", ErrorCode::kInternal, ""},
      {"xwa.example.com", ErrorCode::kInternal, ""},
      {"www.example.org", ErrorCode::kInternal, ""},
      {"*.shop.example.org", ErrorCode::kInternal, ""},
      {"example.net", ErrorCode::kInternal, ""},
  };
  for (const Claim& c : claims) {
    auto r = store_->InsertDomain(MakeDomain(bob_, c.name));
    if (c.code == ErrorCode::kInternal) {
      EXPECT_TRUE(r.ok()) << c.name << ": " << r.error().message;
      continue;
    }
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.error().code, c.code) << c.name << ": " << r.error().message;
    EXPECT_NE(r.error().message.find(c.message), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find(alice_), std::string::npos) << "never the other account";
    auto found = store_->FindDomainByName(c.name);
    EXPECT_TRUE(!found->has_value() || (*found)->account_id == alice_) << c.name;
  }
  // And the other way round: Bob's names are his.
  auto under = store_->InsertDomain(MakeDomain(alice_, "x.shop.example.org"));
  ASSERT_FALSE(under.ok());
  EXPECT_EQ(under.error().code, ErrorCode::kDomainReservedElsewhere);
  EXPECT_EQ(store_->InsertDomain(MakeDomain(alice_, "*.example.net")).error().code,
            ErrorCode::kDomainReservedElsewhere);
  EXPECT_EQ(store_->InsertDomain(MakeDomain(alice_, "wa.example.com")).error().code,
            ErrorCode::kDomainReservedHere);
  EXPECT_TRUE(store_->InsertDomain(MakeDomain(alice_, "q.wa.example.com")).ok());

  if (audit_ == nullptr) return;
  auto check = audit_->CheckNameOwnership();
  ASSERT_TRUE(check.ok()) << check.error().message;
  EXPECT_TRUE(check->overlaps.empty());
  EXPECT_TRUE(check->unindexed.empty());
  EXPECT_EQ(check->domains, 11);
}

TEST_P(StoreConformanceTest, ConcurrentConflictingCreatesFromTwoAccountsTakeEachNameOnce) {
  // 48 contested groups, each a pair of names of Alice and Bob that own a
  // name in common, in four kinds; and one name of its own per thread. 32
  // threads, 16 per account, each trying its side of three groups and its own
  // name, all released at once.
  constexpr int kThreads = 32;
  constexpr int kGroups = 48;
  auto side = [](int group, bool alice) -> std::string {
    const std::string g = "g" + std::to_string(group) + ".example.com";
    std::pair<std::string, std::string> pair;
    switch (group % 4) {
      case 0: pair = {g, g}; break;                    // the same name
      case 1: pair = {"*." + g, "x." + g}; break;      // a wildcard and a name below it
      case 2: pair = {g, "*." + g}; break;             // a name and the wildcard below it
      default: pair = {"y." + g, g}; break;            // a name and one above it
    }
    if (group % 8 >= 4) std::swap(pair.first, pair.second);  // each side takes each role
    return alice ? pair.first : pair.second;
  };
  std::mutex mu;
  std::map<std::string, std::vector<Result<void>>> outcomes;  // by "<group>:<account>"
  std::vector<std::string> own_names;
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const bool alice = t % 2 == 0;
      const std::string& account = alice ? alice_ : bob_;
      const std::string own = "own" + std::to_string(t) + ".example.net";
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      for (int k = 0; k < 3; ++k) {
        // Alice goes up through her groups, Bob down: every order is met.
        const int group = (t / 2) * 3 + (alice ? k : 2 - k);
        auto r = store_->InsertDomain(MakeDomain(account, side(group, alice)));
        std::lock_guard lock(mu);
        outcomes[std::to_string(group) + (alice ? ":a" : ":b")].push_back(r);
      }
      auto r = store_->InsertDomain(MakeDomain(account, own));
      std::lock_guard lock(mu);
      outcomes["own" + std::to_string(t)].push_back(r);
      own_names.push_back(own);
    });
  }
  for (auto& th : threads) th.join();

  for (int t = 0; t < kThreads; ++t) {
    const auto& r = outcomes["own" + std::to_string(t)];
    ASSERT_EQ(r.size(), 1u);
    EXPECT_TRUE(r[0].ok()) << r[0].error().message;
  }
  int alice_won = 0;
  for (int g = 0; g < kGroups; ++g) {
    const Result<void>& a = outcomes[std::to_string(g) + ":a"].at(0);
    const Result<void>& b = outcomes[std::to_string(g) + ":b"].at(0);
    EXPECT_NE(a.ok(), b.ok()) << "group " << g << ": exactly one side takes it";
    const Result<void>& lost = a.ok() ? b : a;
    if (!lost.ok()) {
      const ErrorCode c = lost.error().code;
      EXPECT_TRUE(c == ErrorCode::kDomainReservedElsewhere ||
                  c == ErrorCode::kDomainWildcardOverOthers || c == ErrorCode::kDomainOverOthers)
          << "group " << g << ": " << lost.error().message;
    }
    auto stored = [&](bool alice) {
      auto found = store_->FindDomainByName(side(g, alice));
      return found.ok() && found->has_value() && (*found)->account_id == (alice ? alice_ : bob_);
    };
    EXPECT_EQ(stored(true), a.ok()) << g;
    EXPECT_EQ(stored(false), b.ok()) << g;
    if (a.ok()) ++alice_won;
  }
  if (audit_ != nullptr) {
    auto check = audit_->CheckNameOwnership();
    ASSERT_TRUE(check.ok()) << check.error().message;
    EXPECT_EQ(check->domains, kThreads + kGroups);
    EXPECT_TRUE(check->overlaps.empty());
  }
  std::cout << "Alice took " << alice_won << " of " << kGroups << " contested groups\n";
}

TEST_P(StoreConformanceTest, AnEndpointHostMayNotLieUnderAnotherAccountsDomain) {
  Domain wildcard = MakeDomain(alice_, "*.wa.example.com");
  ASSERT_TRUE(store_->InsertDomain(wildcard).ok());
  // Bob's name below it, written before the rule existed.
  const std::string bobs_id = NewId("rd");
  backend_->WriteDomainAroundTheStore(BareDomain(bobs_id, bob_, "z.wa.example.com"),
                                      "com.example.wa.z.");
  Domain bobs = **store_->GetDomain(bob_, bobs_id);
  Endpoint e = MakeEndpoint(bobs, "z.wa.example.com");
  auto refused = store_->InsertEndpoint(e, std::nullopt);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kEndpointHostReservedElsewhere);
  EXPECT_NE(refused.error().message.find("z.wa.example.com lies under *.wa.example.com"),
            std::string::npos)
      << refused.error().message;
  EXPECT_EQ(refused.error().message.find(alice_), std::string::npos);
  EXPECT_FALSE(store_->GetEndpoint(bob_, e.id)->has_value());
  // Alice's own hosts under her wildcard are hers.
  EXPECT_TRUE(
      store_->InsertEndpoint(MakeEndpoint(wildcard, "y.wa.example.com"), std::nullopt).ok());
}

TEST_P(StoreConformanceTest, CheckNameOwnershipReportsOverlapsWrittenAroundTheStore) {
  if (audit_ == nullptr) GTEST_SKIP() << "the backend has no NameOwnershipAudit";
  Domain wildcard = MakeDomain(alice_, "*.wa.example.com");
  Domain app = MakeDomain(alice_, "app.example.org");
  ASSERT_TRUE(store_->InsertDomain(wildcard).ok());
  ASSERT_TRUE(store_->InsertDomain(app).ok());
  ASSERT_TRUE(store_->InsertDomain(MakeDomain(bob_, "bob.example.net")).ok());
  auto clean = audit_->CheckNameOwnership();
  ASSERT_TRUE(clean.ok()) << clean.error().message;
  EXPECT_TRUE(clean->overlaps.empty());
  EXPECT_TRUE(clean->unindexed.empty());
  EXPECT_EQ(clean->domains, 3);

  // Bob's name under Alice's wildcard with an endpoint, his wildcard over
  // Alice's names, and a row without its index key.
  const std::string z = NewId("rd"), over = NewId("rd"), stale = NewId("rd");
  const std::string ep = NewId("ep");
  backend_->WriteDomainAroundTheStore(BareDomain(z, bob_, "z.wa.example.com"),
                                      "com.example.wa.z.");
  backend_->WriteDomainAroundTheStore(BareDomain(over, bob_, "*.example.com"), "com.example.*.");
  backend_->WriteDomainAroundTheStore(BareDomain(stale, bob_, "q.app.example.org"), "");
  Endpoint endpoint;
  endpoint.id = ep;
  endpoint.account_id = bob_;
  endpoint.created_at = FromUnixSeconds(1'700'000'000);
  endpoint.url = "https://z.wa.example.com";
  endpoint.scheme = "https";
  endpoint.host = "z.wa.example.com";
  endpoint.upstream = "http://127.0.0.1:1";
  endpoint.domain_id = z;
  backend_->WriteEndpointAroundTheStore(endpoint);
  auto check = audit_->CheckNameOwnership();
  ASSERT_TRUE(check.ok()) << check.error().message;
  std::set<std::string> got;
  for (const NameOverlap& o : check->overlaps) {
    got.insert(o.above.name + " (" + (o.above.account_id == alice_ ? "alice" : "bob") + ") > " +
               o.below.name + " (" + (o.below.account_id == alice_ ? "alice" : "bob") + ")");
  }
  EXPECT_EQ(got, (std::set<std::string>{
                     "*.example.com (bob) > *.wa.example.com (alice)",
                     "*.wa.example.com (alice) > z.wa.example.com (bob)",
                     "*.wa.example.com (alice) > https://z.wa.example.com (bob)",
                     "app.example.org (alice) > q.app.example.org (bob)",
                 }));
  ASSERT_EQ(check->unindexed.size(), 1u);
  EXPECT_EQ(check->unindexed[0].id, stale);
  EXPECT_EQ(check->domains, 6);
  EXPECT_EQ(check->endpoints, 1);
}

}  // namespace
}  // namespace certgate::store::testing
