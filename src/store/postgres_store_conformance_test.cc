// The store conformance suite against the PostgreSQL backend: a fresh
// database per test, copied from a migrated template on a throw-away server
// (store/testing/pg_test_server.h), and raw SQL through libpq for the writes
// around the store.
#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/testing/fake_clock.h"
#include "store/postgres/pg_store.h"
#include "store/testing/pg_test_server.h"
#include "store/testing/store_conformance.h"

namespace certgate::store::testing {
namespace {

// A statement's parameters as text; nullopt is NULL.
using Params = std::vector<std::optional<std::string>>;

std::string Seconds(Time t) { return std::to_string(ToUnixSeconds(t)); }

class PostgresBackend final : public StoreBackend {
 public:
  // The suite's stores are gone by now (the fixture's store_ dies before its
  // backend_); FORCE ends the connections of any a test leaked.
  ~PostgresBackend() override {
    if (!conninfo_.empty()) DropDatabase(conninfo_);
  }

  Result<std::unique_ptr<Store>> Open() override {
    CG_ASSIGN_OR_RETURN(conninfo_, NewDatabase());
    return OpenPostgresStore(conninfo_);
  }
  Result<std::unique_ptr<Store>> OpenAnother() override { return OpenPostgresStore(conninfo_); }

  void WriteDomainAroundTheStore(const Domain& d, std::string_view name_key) override {
    RawWrite(
        "INSERT INTO reserved_domains (id, account_id, created_at, description, metadata, domain,"
        " certificate_id, policy_authority, policy_key_type, cname_target,"
        " acme_challenge_cname_target, name_key) VALUES ($1, $2, to_timestamp($3), $4, $5, $6,"
        " $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO UPDATE SET account_id = $2,"
        " created_at = to_timestamp($3), description = $4, metadata = $5, domain = $6,"
        " certificate_id = $7, policy_authority = $8, policy_key_type = $9, cname_target = $10,"
        " acme_challenge_cname_target = $11, name_key = $12",
        {d.id, d.account_id, Seconds(d.created_at), d.description, d.metadata, d.domain,
         d.certificate_id,
         d.policy ? std::optional(std::string(AuthorityName(d.policy->authority))) : std::nullopt,
         d.policy ? std::optional(std::string(KeyTypeName(d.policy->private_key_type)))
                  : std::nullopt,
         d.cname_target, d.acme_challenge_cname_target, std::string(name_key)});
  }

  // The SQLite backend's columns, plus updated_at: PostgreSQL's has no
  // default. The rest (type, bindings, ...) take their defaults there too.
  void WriteEndpointAroundTheStore(const Endpoint& e) override {
    RawWrite(
        "INSERT INTO endpoints (id, account_id, created_at, updated_at, description, metadata,"
        " url, scheme, host, port, upstream, traffic_policy, domain_id, policy_certificate_id)"
        " VALUES ($1, $2, to_timestamp($3), to_timestamp($4), $5, $6, $7, $8, $9, $10, $11, $12,"
        " $13, $14)",
        {e.id, e.account_id, Seconds(e.created_at), Seconds(e.updated_at), e.description,
         e.metadata, e.url, e.scheme, e.host, std::to_string(e.port), e.upstream,
         e.traffic_policy, e.domain_id, e.policy_certificate_id});
  }

  void SetChangeRetention(int64_t entries) override {
    RawWrite("UPDATE edge_change_log SET retention = $1 WHERE id = 1",
             {std::to_string(entries)});
  }

  // Nothing to look for: PostgreSQL checks every foreign key as each
  // statement runs (none is deferrable or NOT VALID), writes around the
  // store included, so no committed row refers to a missing one. The schema
  // declares the same references as SQLite's, which PRAGMA
  // foreign_key_check reports on.
  std::string IntegrityProblems() override { return ""; }

 private:
  // Runs one statement on a connection of its own, as a tool beside the
  // store would: no transaction of the store's, none of its locks.
  void RawWrite(const char* sql, const Params& params) {
    PGconn* conn = PQconnectdb(conninfo_.c_str());
    if (PQstatus(conn) != CONNECTION_OK) {
      ADD_FAILURE() << "connecting to " << conninfo_ << ": " << PQerrorMessage(conn);
      PQfinish(conn);
      return;
    }
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    PGresult* res = PQexecParams(conn, sql, static_cast<int>(values.size()), nullptr,
                                 values.data(), nullptr, nullptr, 0);
    EXPECT_EQ(PQresultStatus(res), PGRES_COMMAND_OK) << sql << ": " << PQerrorMessage(conn);
    PQclear(res);
    PQfinish(conn);
  }

  std::string conninfo_;  // "" until Open
};

std::unique_ptr<StoreBackend> MakePostgresBackend() {
  return std::make_unique<PostgresBackend>();
}

INSTANTIATE_TEST_SUITE_P(Postgres, StoreConformanceTest, ::testing::Values(&MakePostgresBackend));

// Seconds from the database's clock now to the end of the job's lease.
int64_t LeaseSecondsLeft(const std::string& conninfo, const std::string& job_id) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  const char* params[] = {job_id.c_str()};
  PGresult* res = PQexecParams(
      conn,
      "SELECT extract(epoch from lease_until - clock_timestamp())::bigint"
      " FROM provisioning_jobs WHERE id = $1",
      1, nullptr, params, nullptr, nullptr, 0);
  int64_t left = -1;
  if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
    left = std::stoll(PQgetvalue(res, 0, 0));
  } else {
    ADD_FAILURE() << "reading the lease: " << PQerrorMessage(conn);
  }
  PQclear(res);
  PQfinish(conn);
  return left;
}

// A node whose clock is days off still takes and renews leases that end
// when the database's clock says: the lease's length from its own now,
// counted from the database's.
TEST(PostgresStoreTest, JobLeasesAreKeptOnTheDatabasesClock) {
  auto conninfo = NewDatabase();
  ASSERT_TRUE(conninfo.ok()) << conninfo.error().message;
  {
    // This node's clock is three days ahead of the database's.
    certgate::testing::FakeClock node_clock(std::chrono::system_clock::now() +
                                            std::chrono::hours(72));
    auto store = OpenPostgresStore(*conninfo, node_clock);
    ASSERT_TRUE(store.ok()) << store.error().message;
    const Account account = MakeAccount();
    ASSERT_TRUE((*store)->CreateAccount(account).ok());
    const Time skewed = node_clock.Now();
    ProvisioningJob job =
        InsertAndClaimJob(**store, account.id, "clock.example.com", kNodeA, skewed);
    ASSERT_FALSE(job.id.empty());
    EXPECT_NEAR(LeaseSecondsLeft(*conninfo, job.id), 5 * 60, 3) << "claimed for five minutes";
    ASSERT_TRUE(*(*store)->UpdateProvisioningJob(job, skewed + std::chrono::minutes(10)));
    EXPECT_NEAR(LeaseSecondsLeft(*conninfo, job.id), 10 * 60, 3) << "renewed for ten";
    // By the skewed clock, four minutes later the lease still holds.
    EXPECT_TRUE(
        (*store)->ClaimDueJobs(kNodeB, skewed + std::chrono::minutes(4), skewed, 10)->empty());
  }
  DropDatabase(*conninfo);
}

}  // namespace
}  // namespace certgate::store::testing
