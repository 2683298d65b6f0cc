// The store conformance suite: the contract tests of store.h written once
// against the Store interface, run against every backend. A backend's test
// defines a StoreBackend and instantiates the suite with it:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformanceTest,
//                            ::testing::Values(&MakeSqliteBackend));
//
// Each test makes a fresh backend (so a fresh, empty store) with the factory.
// The suite's sources are an object library (certgate_store_conformance):
// linking it into a test binary brings every test in.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "core/ids.h"
#include "store/store.h"

namespace certgate::store::testing {

// What the suite needs of a backend beyond the Store interface.
class StoreBackend {
 public:
  virtual ~StoreBackend() = default;
  // The backend's store, empty with its schema in place. Called once.
  virtual Result<std::unique_ptr<Store>> Open() = 0;
  // Another store object over the same data, as another process sees it
  // (SQLite: the same file). Only after Open.
  virtual Result<std::unique_ptr<Store>> OpenAnother() = 0;
  // Writes records as a tool writing around the store would (or rows from
  // before a rule existed): no checks, and the domain's name index key as
  // given ("" for a row without one). The change sequence grows; OnChange
  // callbacks are not called.
  virtual void WriteDomainAroundTheStore(const Domain& domain, std::string_view name_key) = 0;
  virtual void WriteEndpointAroundTheStore(const Endpoint& endpoint) = 0;
  // Keep only the newest `entries` entries of the edge's change feed.
  virtual void SetChangeRetention(int64_t entries) = 0;
  // References that do not resolve (SQLite: PRAGMA foreign_key_check), ""
  // when there are none.
  virtual std::string IntegrityProblems() = 0;
};

using StoreBackendFactory = std::unique_ptr<StoreBackend> (*)();

// A fresh store with two accounts, Alice (free) and Bob (payg).
class StoreConformanceTest : public ::testing::TestWithParam<StoreBackendFactory> {
 protected:
  void SetUp() override;

  // An uploaded certificate of the account, inserted (issued ones are
  // deleted with their domain).
  Certificate Insert(const std::string& account_id);

  std::unique_ptr<StoreBackend> backend_;
  std::unique_ptr<Store> store_;
  // The store's optional NameOwnershipAudit, or nullptr: the suite checks
  // the audit only for a backend that has one.
  NameOwnershipAudit* audit_ = nullptr;
  std::string alice_;
  std::string bob_;
};

// ---- Records for tests (also used by backends' own tests) ----

Account MakeAccount(std::string name = "Ada", Plan plan = Plan::kFree);
// Every field derives from the id, so a reader can check a record is whole.
Certificate MakeCert(const std::string& account_id, const std::string& id = NewId("cert"));
// An automatically issued certificate.
Certificate MakeIssued(const std::string& account_id);
Domain MakeDomain(const std::string& account_id, const std::string& name);
Endpoint MakeEndpoint(const Domain& domain, const std::string& host, uint16_t port = 443);
ProvisioningJob MakeJob(const Domain& d, Time now);
// Two runners' lease owners (node ids).
inline constexpr std::string_view kNodeA = "node_a";
inline constexpr std::string_view kNodeB = "node_b";
// A managed domain with one job, claimed by owner at now for five minutes.
ProvisioningJob InsertAndClaimJob(Store& store, const std::string& account_id,
                                  const std::string& name, std::string_view owner, Time now);

void ExpectSameCert(const Certificate& got, const Certificate& want);
void ExpectSameDomain(const Domain& got, const Domain& want);
void ExpectSameEndpoint(const Endpoint& got, const Endpoint& want);

}  // namespace certgate::store::testing
