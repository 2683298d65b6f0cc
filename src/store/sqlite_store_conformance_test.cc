// The store conformance suite against the SQLite backend: a fresh database
// file per test, and raw SQL for the writes around the store.
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "core/testing/temp_dir.h"
#include "store/sqlite/sqlite_store.h"
#include "store/testing/store_conformance.h"

namespace certgate::store::testing {
namespace {

// Binds text, or NULL for an absent value.
void BindText(sqlite3_stmt* stmt, int i, const std::optional<std::string>& value) {
  if (value.has_value()) {
    sqlite3_bind_text(stmt, i, value->c_str(), -1, SQLITE_TRANSIENT);
  } else {
    sqlite3_bind_null(stmt, i);
  }
}

class SqliteBackend final : public StoreBackend {
 public:
  Result<std::unique_ptr<Store>> Open() override { return OpenSqliteStore(DbPath()); }
  Result<std::unique_ptr<Store>> OpenAnother() override { return OpenSqliteStore(DbPath()); }

  void WriteDomainAroundTheStore(const Domain& d, std::string_view name_key) override {
    RawWrite(
        "INSERT INTO reserved_domains (id, account_id, created_at, description, metadata, domain,"
        " certificate_id, policy_authority, policy_key_type, cname_target,"
        " acme_challenge_cname_target, name_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
        " ?11, ?12) ON CONFLICT (id) DO UPDATE SET account_id = ?2, created_at = ?3,"
        " description = ?4, metadata = ?5, domain = ?6, certificate_id = ?7,"
        " policy_authority = ?8, policy_key_type = ?9, cname_target = ?10,"
        " acme_challenge_cname_target = ?11, name_key = ?12",
        [&](sqlite3_stmt* stmt) {
          BindText(stmt, 1, d.id);
          BindText(stmt, 2, d.account_id);
          sqlite3_bind_int64(stmt, 3, ToUnixSeconds(d.created_at));
          BindText(stmt, 4, d.description);
          BindText(stmt, 5, d.metadata);
          BindText(stmt, 6, d.domain);
          BindText(stmt, 7, d.certificate_id);
          BindText(stmt, 8,
                   d.policy ? std::optional(std::string(AuthorityName(d.policy->authority)))
                            : std::nullopt);
          BindText(stmt, 9,
                   d.policy ? std::optional(std::string(KeyTypeName(d.policy->private_key_type)))
                            : std::nullopt);
          BindText(stmt, 10, d.cname_target);
          BindText(stmt, 11, d.acme_challenge_cname_target);
          BindText(stmt, 12, std::string(name_key));
        });
  }

  void WriteEndpointAroundTheStore(const Endpoint& e) override {
    RawWrite(
        "INSERT INTO endpoints (id, account_id, created_at, description, metadata, url, scheme,"
        " host, port, upstream, traffic_policy, domain_id, policy_certificate_id)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        [&](sqlite3_stmt* stmt) {
          BindText(stmt, 1, e.id);
          BindText(stmt, 2, e.account_id);
          sqlite3_bind_int64(stmt, 3, ToUnixSeconds(e.created_at));
          BindText(stmt, 4, e.description);
          BindText(stmt, 5, e.metadata);
          BindText(stmt, 6, e.url);
          BindText(stmt, 7, e.scheme);
          BindText(stmt, 8, e.host);
          sqlite3_bind_int(stmt, 9, e.port);
          BindText(stmt, 10, e.upstream);
          BindText(stmt, 11, e.traffic_policy);
          BindText(stmt, 12, e.domain_id);
          BindText(stmt, 13, e.policy_certificate_id);
        });
  }

  void SetChangeRetention(int64_t entries) override {
    RawWrite("UPDATE edge_change_log SET retention = ?1 WHERE id = 1",
             [&](sqlite3_stmt* stmt) { sqlite3_bind_int64(stmt, 1, entries); });
  }

  std::string IntegrityProblems() override {
    std::string problems;
    RawRead("PRAGMA foreign_key_check", [&](sqlite3_stmt* stmt) {
      for (int col = 0; col < sqlite3_column_count(stmt); ++col) {
        const unsigned char* text = sqlite3_column_text(stmt, col);
        problems += text != nullptr ? reinterpret_cast<const char*>(text) : "NULL";
        problems += col + 1 < sqlite3_column_count(stmt) ? " " : "\n";
      }
    });
    return problems;
  }

 private:
  std::filesystem::path DbPath() const { return dir_.path() / "certgate.db"; }

  // Runs one statement on a connection of its own, binding with bind.
  template <class Bind>
  void RawWrite(const char* sql, Bind bind) {
    RawStatement(sql, bind, [](sqlite3_stmt*) {});
  }
  // Runs one statement, calling row for each row it returns.
  template <class Row>
  void RawRead(const char* sql, Row row) {
    RawStatement(
        sql, [](sqlite3_stmt*) {}, row);
  }
  template <class Bind, class Row>
  void RawStatement(const char* sql, Bind bind, Row row) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2(DbPath().c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
    EXPECT_EQ(rc, SQLITE_OK) << sqlite3_errmsg(db);
    if (rc == SQLITE_OK) {
      bind(stmt);
      while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) row(stmt);
      EXPECT_EQ(rc, SQLITE_DONE) << sqlite3_errmsg(db);
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
  }

  certgate::testing::TempDir dir_{"store"};
};

std::unique_ptr<StoreBackend> MakeSqliteBackend() { return std::make_unique<SqliteBackend>(); }

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformanceTest, ::testing::Values(&MakeSqliteBackend));

}  // namespace
}  // namespace certgate::store::testing
