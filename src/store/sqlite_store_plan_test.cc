// The SQLite backend's query plans for what runs per name check and per event:
// index lookups, never a scan of every name.
#include <filesystem>
#include <string>
#include <utility>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "core/testing/temp_dir.h"
#include "store/sqlite/sqlite_store.h"

namespace certgate::store {
namespace {

using certgate::testing::TempDir;

// The query planner's account of sql on the database at path, one line per step.
std::string QueryPlan(const std::filesystem::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &stmt, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  std::string out;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    out += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3));
    out += "\n";
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

class SqliteQueryPlanTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(OpenSqliteStore(db_path_).ok()); }  // migrated, closed
  std::string Plan(const std::string& sql) { return QueryPlan(db_path_, sql); }

  TempDir dir_{"plan"};
  const std::filesystem::path db_path_ = dir_.path() / "certgate.db";
};

// The statements the ownership checks run: never a scan of the table, so a
// node can hold a million names.
TEST_F(SqliteQueryPlanTest, TheOwnershipChecksAreIndexLookups) {
  std::string below = Plan(
      "SELECT name_key FROM reserved_domains WHERE name_key > ?1 AND name_key < ?2"
      " AND account_id <> ?3 AND name_key <> ?4 ORDER BY name_key LIMIT 1");
  EXPECT_NE(below.find("SEARCH reserved_domains USING COVERING INDEX reserved_domains_by_name_key"
                       " (name_key>? AND name_key<?)"),
            std::string::npos)
      << below;
  std::string owner = Plan(
      "SELECT id, account_id, domain FROM reserved_domains"
      " WHERE domain IN (?1, ?2) AND account_id <> ?3 ORDER BY domain");
  EXPECT_NE(owner.find("SEARCH reserved_domains USING INDEX sqlite_autoindex_reserved_domains"),
            std::string::npos)
      << owner;
  for (const std::string& p : {below, owner}) EXPECT_EQ(p.find("SCAN"), std::string::npos) << p;
}

// Issue 17: what the edge, the DNS responder and the scheduler ask per event
// is answered from an index, never a scan of every name. The statements are
// the store's (edge_feed.cc, challenges.cc, jobs.cc), restated.
TEST_F(SqliteQueryPlanTest, PerEventQueriesAreIndexLookups) {
  const std::pair<std::string, std::string> cases[] = {
      {"SELECT d.id FROM reserved_domains d WHERE needs_certificate_at <= ?1"
       " AND NOT EXISTS (SELECT 1 FROM provisioning_jobs j WHERE j.domain_id = d.id)"
       " ORDER BY needs_certificate_at, id LIMIT ?2",
       "SEARCH d USING INDEX reserved_domains_needing_certificates (needs_certificate_at<?)"},
      {"SELECT seq, kind, key FROM edge_changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
       "SEARCH edge_changes USING INTEGER PRIMARY KEY (rowid>?)"},
      {"SELECT domain, certificate_id FROM reserved_domains WHERE domain = ?1",
       "SEARCH reserved_domains USING INDEX sqlite_autoindex_reserved_domains"},
      {"SELECT id FROM endpoints WHERE host = ?1 ORDER BY id",
       "SEARCH endpoints USING INDEX endpoints_by_host (host=?)"},
      {"SELECT 1 FROM reserved_domains WHERE cname_target = ?1 OR domain = ?1 OR domain = ?2"
       " LIMIT 1",
       "MULTI-INDEX OR"},
      {"SELECT 1 FROM reserved_domains WHERE name_key > ?1 AND name_key < ?2 LIMIT 1",
       "USING COVERING INDEX reserved_domains_by_name_key"},
  };
  for (const auto& [sql, want] : cases) {
    const std::string got = Plan(sql);
    EXPECT_NE(got.find(want), std::string::npos) << sql << "\n" << got;
    EXPECT_EQ(got.find("SCAN reserved_domains"), std::string::npos) << sql << "\n" << got;
    EXPECT_EQ(got.find("SCAN endpoints"), std::string::npos) << sql << "\n" << got;
  }
}

// The edge's full load reads names and certificate ids from a covering
// index, not every column of every row (edge_feed.cc's kAllEdgeDomains).
TEST_F(SqliteQueryPlanTest, TheEdgesFullLoadReadsACoveringIndex) {
  const std::string got = Plan("SELECT domain, certificate_id FROM reserved_domains");
  EXPECT_NE(got.find("USING COVERING INDEX reserved_domains_for_edge"), std::string::npos) << got;
}

}  // namespace
}  // namespace certgate::store
