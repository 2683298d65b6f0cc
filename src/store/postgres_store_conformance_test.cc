// The store conformance suite against the PostgreSQL backend: a fresh
// database per test, copied from a migrated template on a throw-away server
// (store/testing/pg_test_server.h), and raw SQL through libpq for the writes
// around the store.
#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace certgate::store::testing
