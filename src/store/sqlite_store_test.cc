// What is SQLite's own in the SQLite backend: files and their modes,
// migrations from older schemas, raw SQL around the store (foreign keys, query
// plans, the rows as stored), and durability across SIGKILL. The contract of
// store.h is tested by the conformance suite (sqlite_store_conformance_test.cc).
#include "store/sqlite/sqlite_store.h"

#include <chrono>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/ids.h"
#include "core/testing/temp_dir.h"
#include "store/sqlite/migrations.h"
#include "store/sqlite/sql_functions.h"
#include "store/store.h"
#include "store/testing/store_conformance.h"

namespace certgate::store {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

using certgate::testing::TempDir;
using testing::ExpectSameCert;
using testing::InsertAndClaimJob;
using testing::kNodeA;
using testing::kNodeB;
using testing::MakeAccount;
using testing::MakeCert;
using testing::MakeDomain;
using testing::MakeEndpoint;

mode_t ModeOf(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// Runs one SQL statement on a separate raw connection, returning the first
// column of the first row as text ("" if none).
std::string RawQuery(const fs::path& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* stmt = nullptr;
  std::string out;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr);
  EXPECT_EQ(rc, SQLITE_OK) << sqlite3_errmsg(db);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(stmt);
    EXPECT_TRUE(rc == SQLITE_ROW || rc == SQLITE_DONE) << sqlite3_errmsg(db);
    if (rc == SQLITE_ROW && sqlite3_column_text(stmt, 0) != nullptr) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    }
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return out;
}

using Status = DeleteOutcome::Status;

// What schema_migrations counts once every migration ran.
const std::string kLatest = std::to_string(SqliteSchemaVersion());

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_path_ = dir_.path() / "certgate.db";
    auto store = OpenSqliteStore(db_path_);
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(store).value();
    auto a = MakeAccount("Alice");
    auto b = MakeAccount("Bob", Plan::kPayg);
    ASSERT_TRUE(store_->CreateAccount(a).ok());
    ASSERT_TRUE(store_->CreateAccount(b).ok());
    alice_ = a.id;
    bob_ = b.id;
  }

  // An uploaded certificate (issued ones are deleted with their domain).
  Certificate Insert(const std::string& account_id) {
    Certificate c = MakeCert(account_id);
    c.issued_at.reset();
    auto inserted = store_->InsertCertificate(c);
    EXPECT_TRUE(inserted.ok()) << inserted.error().message;
    return c;
  }

  TempDir dir_;
  fs::path db_path_;
  std::unique_ptr<Store> store_;
  std::string alice_;
  std::string bob_;
};

// ---- Opening and migrations ----

TEST_F(SqliteStoreTest, MigrationsApplyOnceAndReopenIsIdempotent) {
  EXPECT_EQ(SqliteSchemaVersion(), 11);
  EXPECT_EQ(RawQuery(db_path_, "SELECT COUNT(*) FROM schema_migrations"), "11");
  EXPECT_EQ(RawQuery(db_path_, "SELECT MAX(version) FROM schema_migrations"), "11");
  EXPECT_NE(RawQuery(db_path_, "SELECT applied_at FROM schema_migrations"), "");
  store_.reset();
  for (int i = 0; i < 2; ++i) {
    auto again = OpenSqliteStore(db_path_);
    ASSERT_TRUE(again.ok()) << again.error().message;
    auto count = (*again)->CountAccounts();
    ASSERT_TRUE(count.ok());
    EXPECT_EQ(*count, 2) << "reopening keeps the data";
  }
  EXPECT_EQ(RawQuery(db_path_, "SELECT COUNT(*) FROM schema_migrations"), kLatest);
  EXPECT_EQ(RawQuery(db_path_, "PRAGMA journal_mode"), "wal");
}

TEST_F(SqliteStoreTest, RefusesASchemaFromANewerCertgate) {
  store_.reset();
  RawQuery(db_path_, "INSERT INTO schema_migrations (version, applied_at) VALUES (" +
                         std::to_string(SqliteSchemaVersion() + 1) + ", 0)");
  auto store = OpenSqliteStore(db_path_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kStoreSchemaTooNew);
  EXPECT_NE(store.error().message.find(std::to_string(SqliteSchemaVersion() + 1)),
            std::string::npos);
}


// Migration 1 exactly as certgate 0.1 shipped it: a database that version made
// must open and migrate. Frozen here on purpose; never edit it.
constexpr char kShippedMigration1[] = R"sql(
CREATE TABLE schema_migrations (
  version INTEGER PRIMARY KEY NOT NULL, applied_at INTEGER NOT NULL);
CREATE TABLE accounts (
  id          TEXT PRIMARY KEY NOT NULL,
  name        TEXT NOT NULL,
  plan        TEXT NOT NULL CHECK (plan IN ('free', 'payg')),
  created_at  INTEGER NOT NULL
);
CREATE TABLE api_keys (
  id           TEXT PRIMARY KEY NOT NULL,
  account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  description  TEXT NOT NULL,
  token_hash   TEXT UNIQUE NOT NULL,
  created_at   INTEGER NOT NULL
);
CREATE INDEX api_keys_by_account ON api_keys (account_id);
CREATE TABLE tls_certificates (
  id               TEXT PRIMARY KEY NOT NULL,
  account_id       TEXT,
  created_at       INTEGER NOT NULL,
  description      TEXT NOT NULL,
  metadata         TEXT NOT NULL,
  certificate_pem  TEXT NOT NULL,
  issued_at        INTEGER,
  not_after        INTEGER NOT NULL,
  key_version      INTEGER NOT NULL,
  sealed_key       BLOB NOT NULL
);
CREATE INDEX tls_certificates_by_account ON tls_certificates (account_id, id);
CREATE TABLE settings (
  name   TEXT PRIMARY KEY NOT NULL,
  value  TEXT NOT NULL
);
INSERT INTO schema_migrations (version, applied_at) VALUES (1, 1700000000);
)sql";

// Writes a version-1 database holding one account and one certificate of it,
// with the columns version 1 had.
void MakeVersion1Database(const fs::path& path, const Account& account, const Certificate& c) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA journal_mode = WAL", nullptr, nullptr, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, kShippedMigration1, nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "INSERT INTO accounts (id, name, plan, created_at)"
                               " VALUES (?1, ?2, 'free', ?3)",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  sqlite3_bind_text(stmt, 1, account.id.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt, 2, account.name.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(stmt, 3, ToUnixSeconds(account.created_at));
  EXPECT_EQ(sqlite3_step(stmt), SQLITE_DONE);
  sqlite3_finalize(stmt);
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "INSERT INTO tls_certificates (id, account_id, created_at,"
                               " description, metadata, certificate_pem, issued_at, not_after,"
                               " key_version, sealed_key)"
                               " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  sqlite3_bind_text(stmt, 1, c.id.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt, 2, c.account_id.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(stmt, 3, ToUnixSeconds(c.created_at));
  sqlite3_bind_text(stmt, 4, c.description.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt, 5, c.metadata.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt, 6, c.certificate_pem.c_str(), -1, SQLITE_TRANSIENT);
  if (c.issued_at.has_value()) {
    sqlite3_bind_int64(stmt, 7, ToUnixSeconds(*c.issued_at));
  } else {
    sqlite3_bind_null(stmt, 7);
  }
  sqlite3_bind_int64(stmt, 8, ToUnixSeconds(c.not_after));
  sqlite3_bind_int64(stmt, 9, c.private_key.key_version);
  sqlite3_bind_blob(stmt, 10, c.private_key.blob.data(),
                    static_cast<int>(c.private_key.blob.size()), SQLITE_TRANSIENT);
  EXPECT_EQ(sqlite3_step(stmt), SQLITE_DONE) << sqlite3_errmsg(db);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST(SqliteStoreMigrationTest, MigratesAVersion1Database) {
  TempDir dir;
  const fs::path db_path = dir.path() / "v1.db";
  Account ada = MakeAccount("Ada");
  Certificate old = MakeCert(ada.id);
  // Version 1 kept no summary: it reads back unknown until the backfill.
  old.subject_common_name.clear();
  old.serial_number.clear();
  old.not_before = Time{};
  ASSERT_NO_FATAL_FAILURE(MakeVersion1Database(db_path, ada, old));
  ASSERT_EQ(RawQuery(db_path, "SELECT MAX(version) FROM schema_migrations"), "1");

  auto opened = OpenSqliteStore(db_path);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  Store& store = **opened;
  EXPECT_EQ(RawQuery(db_path, "SELECT MAX(version) FROM schema_migrations"), kLatest);
  EXPECT_EQ(RawQuery(db_path, "SELECT COUNT(*) FROM schema_migrations"), kLatest);

  // The certificate is whole, and still an account certificate.
  auto got = store.GetCertificate(ada.id, old.id);
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_TRUE(got->has_value());
  ExpectSameCert(**got, old);
  EXPECT_EQ(store.ListCertificates(ada.id, {.limit = 10})->items.size(), 1u);
  ASSERT_EQ(store.ListSealedKeys(std::nullopt, 10)->size(), 1u);
  auto unsummarized = store.ListUnsummarizedCertificates(std::nullopt, 10);
  ASSERT_TRUE(unsummarized.ok()) << unsummarized.error().message;
  ASSERT_EQ(unsummarized->size(), 1u);
  EXPECT_EQ((*unsummarized)[0].id, old.id);
  EXPECT_EQ((*unsummarized)[0].certificate_pem, old.certificate_pem);

  // The new tables work, and refer to the old certificate.
  auto seq = store.ChangeSequence();
  ASSERT_TRUE(seq.ok()) << seq.error().message;
  Domain d = MakeDomain(ada.id, "old.example.com");
  d.certificate_id = old.id;
  ASSERT_TRUE(store.InsertDomain(d).ok());
  Endpoint e = MakeEndpoint(d, "old.example.com");
  ASSERT_TRUE(store.InsertEndpoint(e, std::nullopt).ok());
  EXPECT_GT(*store.ChangeSequence(), *seq);
  auto in_use = store.DeleteCertificate(ada.id, old.id);
  ASSERT_TRUE(in_use.ok());
  EXPECT_EQ(in_use->status, Status::kInUse);
  EXPECT_EQ(in_use->used_by, std::vector<std::string>{"old.example.com"});
  auto state = store.LoadEdgeState();
  ASSERT_TRUE(state.ok()) << state.error().message;
  ASSERT_EQ(state->domains.size(), 1u);
  EXPECT_EQ(state->domains[0].certificate_id, old.id);
  ASSERT_EQ(state->endpoints.size(), 1u);
  EXPECT_EQ(RawQuery(db_path, "PRAGMA foreign_key_check"), "");

  // Reopening does not migrate again.
  opened->reset();
  ASSERT_TRUE(OpenSqliteStore(db_path).ok());
  EXPECT_EQ(RawQuery(db_path, "SELECT COUNT(*) FROM schema_migrations"), kLatest);
}

// Migration 6 gives endpoints from before ngrok's fields: type cloud,
// bindings ["public"], no pooling, updated_at = created_at, and the normalized
// policy as the text the API shows.
TEST(SqliteStoreMigrationTest, MigratesVersion5EndpointsToNgrokFields) {
  TempDir dir;
  const fs::path db_path = dir.path() / "v5.db";
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_create_function_v2(db, "certgate_name_key", 1,
                                         SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                                         sqlite::NameKeySqlFunction, nullptr, nullptr, nullptr),
              SQLITE_OK);
    std::string sql =
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY NOT NULL,"
        " applied_at INTEGER NOT NULL);";
    for (const sqlite::Migration& m : sqlite::Migrations()) {
      if (m.version > 5) break;
      sql += m.sql;
      sql += fmt::format("INSERT INTO schema_migrations VALUES ({}, 1700000000);", m.version);
    }
    sql +=
        "INSERT INTO accounts VALUES ('acct_1', 'Ada', 'free', 1700000000);"
        "INSERT INTO reserved_domains (id, account_id, created_at, description, metadata, domain,"
        " name_key) VALUES ('rd_1', 'acct_1', 1700000000, '', '', 'old.example.com',"
        " certgate_name_key('old.example.com'));"
        "INSERT INTO endpoints (id, account_id, created_at, description, metadata, url, scheme,"
        " host, port, upstream, traffic_policy, domain_id) VALUES ('ep_1', 'acct_1', 1700000123,"
        " 'd', 'm', 'https://old.example.com', 'https', 'old.example.com', 443,"
        " 'http://127.0.0.1:80', '{\"on_tcp_connect\":[]}', 'rd_1');";
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << (err ? err : "");
    sqlite3_close(db);
  }
  auto opened = OpenSqliteStore(db_path);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(RawQuery(db_path, "SELECT MAX(version) FROM schema_migrations"),
            std::to_string(SqliteSchemaVersion()));
  auto got = (*opened)->GetEndpoint("acct_1", "ep_1");
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_TRUE(got->has_value());
  const Endpoint& e = **got;
  EXPECT_EQ(e.type, "cloud");
  EXPECT_EQ(e.bindings, std::vector<std::string>{"public"});
  EXPECT_FALSE(e.pooling_enabled);
  EXPECT_EQ(ToUnixSeconds(e.created_at), 1700000123);
  EXPECT_EQ(e.updated_at, e.created_at);
  EXPECT_EQ(e.traffic_policy, R"({"on_tcp_connect":[]})");
  EXPECT_EQ(e.traffic_policy_text, e.traffic_policy);
  EXPECT_EQ(e.upstream, "http://127.0.0.1:80");
}

TEST(SqliteStoreFilesTest, CreatesDirectoryAndFilesPrivately) {
  TempDir dir;
  const fs::path db_dir = dir.path() / "data" / "nested";
  const fs::path db_path = db_dir / "certgate.db";
  mode_t old_umask = ::umask(0);
  auto store = OpenSqliteStore(db_path);
  ::umask(old_umask);
  ASSERT_TRUE(store.ok()) << store.error().message;
  // Write something so that the WAL and shared-memory files certainly exist.
  ASSERT_TRUE((*store)->SetSetting("k", "v").ok());
  EXPECT_EQ(ModeOf(dir.path() / "data"), 0700u);
  EXPECT_EQ(ModeOf(db_dir), 0700u);
  EXPECT_EQ(ModeOf(db_path), 0600u);
  ASSERT_TRUE(fs::exists(db_path.string() + "-wal"));
  ASSERT_TRUE(fs::exists(db_path.string() + "-shm"));
  EXPECT_EQ(ModeOf(db_path.string() + "-wal"), 0600u);
  EXPECT_EQ(ModeOf(db_path.string() + "-shm"), 0600u);
}

TEST(SqliteStoreFilesTest, RelativePathAndFailures) {
  TempDir dir;
  const fs::path old_cwd = fs::current_path();
  fs::current_path(dir.path());
  auto store = OpenSqliteStore("rel/certgate.db");
  fs::current_path(old_cwd);
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_TRUE(fs::exists(dir.path() / "rel" / "certgate.db"));

  // A directory where the database file should be.
  fs::create_directory(dir.path() / "adir");
  auto bad = OpenSqliteStore(dir.path() / "adir");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kStoreIo);
  EXPECT_FALSE(OpenSqliteStore("").ok());
}

// ---- Raw SQL around the store ----

TEST_F(SqliteStoreTest, ForeignKeysAreTheLastLineOfDefence) {
  // A write that bypasses the store's checks still cannot leave a dangling
  // reference.
  Certificate cert = Insert(alice_);
  Domain d = MakeDomain(alice_, "fk.example.com");
  d.certificate_id = cert.id;
  ASSERT_TRUE(store_->InsertDomain(d).ok());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path_.c_str(), &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA foreign_keys = ON", nullptr, nullptr, nullptr), SQLITE_OK);
  std::string sql = "DELETE FROM tls_certificates WHERE id = '" + cert.id + "'";
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_CONSTRAINT);
  sql = "DELETE FROM reserved_domains WHERE id = '" + d.id + "'";
  Endpoint e = MakeEndpoint(d, "fk.example.com");
  ASSERT_TRUE(store_->InsertEndpoint(e, std::nullopt).ok());
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_CONSTRAINT);
  sqlite3_close(db);
  EXPECT_TRUE(store_->GetCertificate(alice_, cert.id)->has_value());
  EXPECT_TRUE(store_->GetDomain(alice_, d.id)->has_value());
}

// Runs SQL (several statements allowed) on a separate raw connection, around
// the store and its checks: how rows from before a rule existed look.
void RawExec(const fs::path& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
      << (err != nullptr ? err : "") << "\n" << sql;
  sqlite3_free(err);
  sqlite3_close(db);
}

// Back to schema 10: no alert outbox.
constexpr char kUndoMigration11[] =
    "DROP TABLE notifications; DELETE FROM schema_migrations WHERE version = 11;";

// Back to schema 8: no covering index for the edge's full load.
constexpr char kUndoMigration9[] =
    "DROP INDEX reserved_domains_for_edge; DELETE FROM schema_migrations WHERE version = 9;";

// Back to schema 7: the change_sequence counter and its triggers instead of
// the change feed.
constexpr char kUndoMigration8[] =
    "DROP TRIGGER acme_http01_challenges_inserted; DROP TRIGGER acme_http01_challenges_updated;"
    "DROP TRIGGER acme_http01_challenges_deleted; DROP TRIGGER acme_dns01_records_inserted;"
    "DROP TRIGGER acme_dns01_records_updated; DROP TRIGGER acme_dns01_records_deleted;"
    "DROP TRIGGER tls_certificates_inserted; DROP TRIGGER tls_certificates_updated;"
    "DROP TRIGGER tls_certificates_deleted; DROP TRIGGER reserved_domains_inserted;"
    "DROP TRIGGER reserved_domains_updated; DROP TRIGGER reserved_domains_deleted;"
    "DROP TRIGGER endpoints_inserted; DROP TRIGGER endpoints_updated;"
    "DROP TRIGGER endpoints_deleted;"
    "DROP TABLE edge_changes; DROP TABLE edge_change_log; DROP INDEX endpoints_by_host;"
    "DROP INDEX reserved_domains_needing_certificates;"
    "ALTER TABLE reserved_domains DROP COLUMN needs_certificate_at;"
    "CREATE TABLE change_sequence (id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),"
    " value INTEGER NOT NULL);"
    "INSERT INTO change_sequence (id, value) VALUES (1, 0);"
    "CREATE TRIGGER tls_certificates_inserted AFTER INSERT ON tls_certificates"
    " BEGIN UPDATE change_sequence SET value = value + 1; END;"
    "CREATE TRIGGER tls_certificates_updated AFTER UPDATE ON tls_certificates"
    " BEGIN UPDATE change_sequence SET value = value + 1; END;"
    "CREATE TRIGGER tls_certificates_deleted AFTER DELETE ON tls_certificates"
    " BEGIN UPDATE change_sequence SET value = value + 1; END;"
    "CREATE TRIGGER reserved_domains_inserted AFTER INSERT ON reserved_domains"
    " BEGIN UPDATE change_sequence SET value = value + 1; END;"
    "CREATE TRIGGER reserved_domains_updated AFTER UPDATE ON reserved_domains"
    " BEGIN UPDATE change_sequence SET value = value + 1; END;"
    "CREATE TRIGGER reserved_domains_deleted AFTER DELETE ON reserved_domains"
    " BEGIN UPDATE change_sequence SET value = value + 1; END;"
    "CREATE TRIGGER endpoints_inserted AFTER INSERT ON endpoints"
    " BEGIN UPDATE change_sequence SET value = value + 1; END;"
    "CREATE TRIGGER endpoints_updated AFTER UPDATE ON endpoints"
    " BEGIN UPDATE change_sequence SET value = value + 1; END;"
    "CREATE TRIGGER endpoints_deleted AFTER DELETE ON endpoints"
    " BEGIN UPDATE change_sequence SET value = value + 1; END;"
    "DELETE FROM schema_migrations WHERE version = 8;";

// Takes a database back to before migration 6 (for tests of the ones before),
// undoing 7 first (after kUndoMigration8).
constexpr char kUndoMigration6[] =
    "DROP INDEX tls_certificates_unsummarized;"
    "ALTER TABLE tls_certificates DROP COLUMN not_before;"
    "ALTER TABLE tls_certificates DROP COLUMN serial_number;"
    "ALTER TABLE tls_certificates DROP COLUMN subject_common_name;"
    "DELETE FROM schema_migrations WHERE version = 7;"
    "ALTER TABLE endpoints DROP COLUMN updated_at;"
    "ALTER TABLE endpoints DROP COLUMN traffic_policy_text;"
    "ALTER TABLE endpoints DROP COLUMN type;"
    "ALTER TABLE endpoints DROP COLUMN bindings;"
    "ALTER TABLE endpoints DROP COLUMN pooling_enabled;"
    "ALTER TABLE reserved_domains DROP COLUMN resolves_to;"
    "DELETE FROM schema_migrations WHERE version = 6;";

TEST(SqliteStoreMigrationTest, Migration4FillsTheNameKeyOfExistingDomains) {
  TempDir dir;
  const fs::path db_path = dir.path() / "v3.db";
  Account ada = MakeAccount("Ada");
  Account bea = MakeAccount("Bea");
  {
    auto store = OpenSqliteStore(db_path);
    ASSERT_TRUE(store.ok()) << store.error().message;
    ASSERT_TRUE((*store)->CreateAccount(ada).ok());
    ASSERT_TRUE((*store)->CreateAccount(bea).ok());
  }
  // Back to schema 3 (as certgate before migration 4 left it), with domains
  // that overlap across accounts, as that version allowed.
  ASSERT_NO_FATAL_FAILURE(RawExec(
      db_path,
      std::string(kUndoMigration11) + kUndoMigration9 + kUndoMigration8 + kUndoMigration6 +
      "DROP INDEX reserved_domains_by_name_key;"
      "ALTER TABLE reserved_domains DROP COLUMN name_key;"
      "ALTER TABLE provisioning_jobs DROP COLUMN lease_owner;"
      "ALTER TABLE provisioning_jobs DROP COLUMN lease_token;"
      "DELETE FROM schema_migrations WHERE version >= 4;"
      "INSERT INTO reserved_domains (id, account_id, created_at, description, metadata, domain)"
      " VALUES ('rd_1', '" + ada.id + "', 1700000000, '', '', '*.wa.example.com'),"
      " ('rd_2', '" + bea.id + "', 1700000000, '', '', 'y.wa.example.com'),"
      " ('rd_3', '" + bea.id + "', 1700000000, '', '', 'example.org');"));
  ASSERT_EQ(RawQuery(db_path, "SELECT MAX(version) FROM schema_migrations"), "3");

  auto opened = OpenSqliteStore(db_path);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(RawQuery(db_path, "SELECT MAX(version) FROM schema_migrations"), kLatest);
  EXPECT_EQ(RawQuery(db_path, "SELECT name_key FROM reserved_domains WHERE id = 'rd_1'"),
            "com.example.wa.*.");
  EXPECT_EQ(RawQuery(db_path, "SELECT name_key FROM reserved_domains WHERE id = 'rd_2'"),
            "com.example.wa.y.");
  EXPECT_EQ(RawQuery(db_path, "SELECT name_key FROM reserved_domains WHERE id = 'rd_3'"),
            "org.example.");
  // The old overlap is reported, and the filled keys guard new names.
  NameOwnershipAudit* audit = AsNameOwnershipAudit(**opened);
  ASSERT_NE(audit, nullptr) << "the SQLite backend offers the audit";
  auto check = audit->CheckNameOwnership();
  ASSERT_TRUE(check.ok()) << check.error().message;
  ASSERT_EQ(check->overlaps.size(), 1u);
  EXPECT_EQ(check->overlaps[0].above.id, "rd_1");
  EXPECT_EQ(check->overlaps[0].below.id, "rd_2");
  EXPECT_TRUE(check->unindexed.empty());
  EXPECT_EQ((*opened)->InsertDomain(MakeDomain(ada.id, "*.example.org")).error().code,
            ErrorCode::kDomainReservedElsewhere);
  EXPECT_EQ((*opened)->InsertDomain(MakeDomain(ada.id, "example.com")).error().code,
            ErrorCode::kDomainOverOthers);
  EXPECT_TRUE(*(*opened)->HasReservedNamesBelow("example.com"));
}

TEST(SqliteStoreMigrationTest, Migration10KeepsTheChangeFeedAndLogsCnameTargets) {
  TempDir dir;
  const fs::path db_path = dir.path() / "certgate.db";
  Account ada = MakeAccount("Ada");
  int64_t sequence = 0;
  {
    auto store = OpenSqliteStore(db_path);
    ASSERT_TRUE(store.ok()) << store.error().message;
    ASSERT_TRUE((*store)->CreateAccount(ada).ok());
    ASSERT_TRUE((*store)->InsertDomain(MakeDomain(ada.id, "a.example.com")).ok());
    ASSERT_TRUE((*store)->InsertDomain(MakeDomain(ada.id, "b.example.com")).ok());
    sequence = *(*store)->ChangeSequence();
  }
  // Back to schema 9 as far as this test looks: inserts log no cname_target.
  ASSERT_NO_FATAL_FAILURE(RawExec(
      db_path,
      std::string("DROP TRIGGER reserved_domains_inserted;") +
      "CREATE TRIGGER reserved_domains_inserted AFTER INSERT ON reserved_domains"
      " BEGIN INSERT INTO edge_changes (kind, key) VALUES ('domain', NEW.domain); END;"
      "DELETE FROM schema_migrations WHERE version = 10;" +
          std::string(kUndoMigration11)));

  auto opened = OpenSqliteStore(db_path);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(RawQuery(db_path, "SELECT MAX(version) FROM schema_migrations"), kLatest);
  EXPECT_EQ(*(*opened)->ChangeSequence(), sequence) << "the sequence goes on where it was";
  auto last = (*opened)->ChangesSince(sequence - 1, 10);
  ASSERT_TRUE(last.ok()) << last.error().message;
  ASSERT_EQ(last->changes.size(), 1u) << "entries kept";
  EXPECT_EQ(last->changes[0].key, "b.example.com");
  Domain c = MakeDomain(ada.id, "c.example.com");
  c.cname_target = "c1.cname.certgate.test";
  ASSERT_TRUE((*opened)->InsertDomain(c).ok());
  auto next = (*opened)->ChangesSince(sequence, 10);
  ASSERT_TRUE(next.ok()) << next.error().message;
  ASSERT_EQ(next->changes.size(), 2u);
  EXPECT_EQ(next->changes[0].sequence, sequence + 1);
  EXPECT_EQ(next->changes[1].kind, EdgeChangeKind::kCnameTarget);
  EXPECT_EQ(next->changes[1].key, "c1.cname.certgate.test");
}

TEST(SqliteStoreMigrationTest, Migration5EndsHoldsTakenBeforeLeasesHadOwners) {
  TempDir dir;
  const fs::path db_path = dir.path() / "certgate.db";
  const Time now = FromUnixSeconds(1'750'000'000);
  std::string domain_id;
  {
    auto store = OpenSqliteStore(db_path);
    ASSERT_TRUE(store.ok()) << store.error().message;
    Account ada = MakeAccount("Ada");
    ASSERT_TRUE((*store)->CreateAccount(ada).ok());
    domain_id = InsertAndClaimJob(**store, ada.id, "old.example.com", kNodeA, now).domain_id;
  }
  // Back to schema 4, with the job held as that version held it.
  ASSERT_NO_FATAL_FAILURE(RawExec(
      db_path,
      std::string(kUndoMigration11) + kUndoMigration9 + kUndoMigration8 + kUndoMigration6 +
      "ALTER TABLE provisioning_jobs DROP COLUMN lease_owner;"
      "ALTER TABLE provisioning_jobs DROP COLUMN lease_token;"
      "DELETE FROM schema_migrations WHERE version >= 5;"));
  ASSERT_EQ(RawQuery(db_path, "SELECT lease_until IS NOT NULL FROM provisioning_jobs"), "1");

  auto opened = OpenSqliteStore(db_path);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(RawQuery(db_path, "SELECT MAX(version) FROM schema_migrations"), kLatest);
  auto job = (*opened)->GetProvisioningJobForDomain(domain_id);
  ASSERT_TRUE(job.ok() && job->has_value());
  EXPECT_EQ((*job)->lease_owner, "");
  EXPECT_EQ((*job)->lease_token, 0);
  auto claimed = (*opened)->ClaimDueJobs(kNodeB, now, now + std::chrono::minutes(5), 10);
  ASSERT_TRUE(claimed.ok()) << claimed.error().message;
  EXPECT_EQ(claimed->size(), 1u) << "the hold no one could release has ended";
}

TEST_F(SqliteStoreTest, RowsAreStoredAsTheSchemaSays) {
  // The service's own certificates have a NULL account_id.
  Certificate mine = Insert(alice_);
  Certificate service = Insert("");
  EXPECT_EQ(RawQuery(db_path_, "SELECT COUNT(*) FROM tls_certificates WHERE account_id IS NULL"),
            "1");
  EXPECT_EQ(RawQuery(db_path_, "SELECT id FROM tls_certificates WHERE account_id IS NULL"),
            service.id);
  // A setting is one row, however often it is set.
  ASSERT_TRUE(store_->SetSetting("default_certificate_id", "cert_1").ok());
  ASSERT_TRUE(store_->SetSetting("default_certificate_id", "cert_2").ok());
  ASSERT_TRUE(store_->SetSetting("empty", "").ok());
  EXPECT_EQ(RawQuery(db_path_, "SELECT COUNT(*) FROM settings"), "2");
  // A raw UPDATE by a tool is counted in the change sequence by the triggers.
  Domain d = MakeDomain(alice_, "raw.example.com");
  ASSERT_TRUE(store_->InsertDomain(d).ok());
  const int64_t before = *store_->ChangeSequence();
  RawQuery(db_path_, "UPDATE reserved_domains SET description = 'raw' WHERE id = '" + d.id + "'");
  EXPECT_EQ(*store_->ChangeSequence(), before + 1);
  EXPECT_EQ((*store_->GetDomain(alice_, d.id))->description, "raw");
}

// The summary is three columns, all NULL while it is unknown (a row from
// before migration 7, or one a tool wrote); the schema refuses half of one.
TEST_F(SqliteStoreTest, CertificateSummariesAreStoredAsTheSchemaSays) {
  Certificate c = Insert(alice_);
  const std::string where = " FROM tls_certificates WHERE id = '" + c.id + "'";
  EXPECT_EQ(RawQuery(db_path_, "SELECT subject_common_name || '|' || serial_number || '|' ||"
                               " not_before" + where),
            fmt::format("{}|{}|{}", c.subject_common_name, c.serial_number,
                        ToUnixSeconds(c.not_before)));
  EXPECT_EQ(RawQuery(db_path_, "SELECT COUNT(*) FROM tls_certificates WHERE serial_number IS NULL"),
            "0");
  // A tool NULLs the summary, as migration 7 left older rows: unknown, listed
  // for the backfill, and absent to filters until it is set again.
  RawQuery(db_path_, "UPDATE tls_certificates SET subject_common_name = NULL,"
                     " serial_number = NULL, not_before = NULL WHERE id = '" + c.id + "'");
  auto got = store_->GetCertificate(alice_, c.id);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->serial_number, "");
  EXPECT_EQ((*got)->subject_common_name, "");
  EXPECT_EQ((*got)->not_before, Time{});
  EXPECT_EQ(store_->ListUnsummarizedCertificates(std::nullopt, 10)->size(), 1u);
  Filter by_serial;
  by_serial.kind = Filter::Kind::kTest;
  by_serial.field = "serial_number";
  by_serial.op = FilterOp::kNe;
  by_serial.values = {std::string("00")};
  EXPECT_EQ(store_->ListCertificates(alice_, {.filter = by_serial})->items.size(), 1u);
  by_serial.op = FilterOp::kLt;
  by_serial.values = {std::string("zz")};
  EXPECT_TRUE(store_->ListCertificates(alice_, {.filter = by_serial})->items.empty());
  ASSERT_TRUE(*store_->SetCertificateSummary(
      c.id, {c.subject_common_name, c.serial_number, c.not_before}));
  ExpectSameCert(**store_->GetCertificate(alice_, c.id), c);
  EXPECT_EQ(store_->ListCertificates(alice_, {.filter = by_serial})->items.size(), 1u);
  // Half a summary, or an empty serial number, is refused.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path_.c_str(), &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  for (const char* set : {"serial_number = NULL", "not_before = NULL",
                          "subject_common_name = NULL", "serial_number = ''"}) {
    SCOPED_TRACE(set);
    const std::string sql =
        fmt::format("UPDATE tls_certificates SET {} WHERE id = '{}'", set, c.id);
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_CONSTRAINT);
  }
  sqlite3_close(db);
}

TEST_F(SqliteStoreTest, KeyTypesAndAuthoritiesAreStoredAsTheirNames) {
  Domain d = MakeDomain(alice_, "managed.example.com");
  d.policy = ManagementPolicy{Authority::kLetsEncrypt, KeyType::kRsa};
  ASSERT_TRUE(store_->InsertDomain(d).ok());
  const std::string where = " FROM reserved_domains WHERE id = '" + d.id + "'";
  EXPECT_EQ(RawQuery(db_path_, "SELECT policy_authority" + where), "letsencrypt");
  EXPECT_EQ(RawQuery(db_path_, "SELECT policy_key_type" + where), "rsa");
  ProvisioningJob job = testing::MakeJob(d, FromUnixSeconds(1'700'000'000));
  ASSERT_TRUE(*store_->InsertProvisioningJob(job));
  EXPECT_EQ(
      RawQuery(db_path_, "SELECT key_type FROM provisioning_jobs WHERE id = '" + job.id + "'"),
      "rsa");
  // A name certgate does not know, written around it, is a corrupt row.
  RawQuery(db_path_,
           "UPDATE reserved_domains SET policy_key_type = 'dsa' WHERE id = '" + d.id + "'");
  auto got = store_->GetDomain(alice_, d.id);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.error().message.find("unknown key type \"dsa\""), std::string::npos)
      << got.error().message;
}

// ---- Crashes ----

// The child inserts certificates as fast as it can and reports each id on a
// pipe only after InsertCertificate returned. The parent kills it mid-stream
// with SIGKILL: every reported id must then be present and whole.
[[noreturn]] void CrashChild(const fs::path& db_path, const std::string& account, int out_fd) {
  auto store = OpenSqliteStore(db_path);
  if (!store.ok()) _exit(2);
  for (int i = 0; i < 1'000'000; ++i) {
    Certificate c = MakeCert(i % 3 == 0 ? "" : account);
    if (!(*store)->InsertCertificate(c).ok()) _exit(3);
    // Alternate with other writes so that the kill can land anywhere.
    if (i % 5 == 0 && !(*store)->SetSetting("last", c.id).ok()) _exit(4);
    std::string line = c.account_id + " " + c.id + "\n";  // < PIPE_BUF: written whole
    if (::write(out_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(5);
  }
  _exit(0);
}

TEST_F(SqliteStoreTest, CommittedRecordsSurviveSigkill) {
  store_.reset();  // the child must open its own connections: none cross fork()
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    CrashChild(db_path_, alice_, fds[1]);
  }
  ::close(fds[1]);

  // Let it run ~200 ms after its first commit, then kill it mid-write.
  std::string reported;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::optional<std::chrono::steady_clock::time_point> kill_at;
  char buf[4096];
  while (true) {
    auto now = std::chrono::steady_clock::now();
    auto until = kill_at.value_or(give_up);
    if (now >= until) break;
    pollfd p{fds[0], POLLIN, 0};
    int wait_ms =
        static_cast<int>(std::chrono::duration_cast<milliseconds>(until - now).count()) + 1;
    if (::poll(&p, 1, wait_ms) <= 0) continue;
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;  // the child died on its own: reported below
    reported.append(buf, static_cast<size_t>(n));
    if (!kill_at.has_value() && reported.find('\n') != std::string::npos) {
      kill_at = std::chrono::steady_clock::now() + milliseconds(200);
    }
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the child exited by itself with status " << status;
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) reported.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);

  std::vector<std::pair<std::string, std::string>> committed;  // (account, id)
  size_t start = 0;
  for (size_t nl; (nl = reported.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string line = reported.substr(start, nl - start);
    size_t space = line.find(' ');
    ASSERT_NE(space, std::string::npos) << line;
    committed.emplace_back(line.substr(0, space), line.substr(space + 1));
  }
  EXPECT_EQ(start, reported.size()) << "a partial line on the pipe";
  ASSERT_FALSE(committed.empty());

  auto store = OpenSqliteStore(db_path_);
  ASSERT_TRUE(store.ok()) << store.error().message;
  for (const auto& [account, id] : committed) {
    auto got = (*store)->GetCertificate(account, id);
    ASSERT_TRUE(got.ok()) << got.error().message;
    ASSERT_TRUE(got->has_value()) << "committed " << id << " is missing";
    ExpectSameCert(**got, MakeCert(account, id));
  }
  EXPECT_EQ(RawQuery(db_path_, "PRAGMA integrity_check"), "ok");
  EXPECT_EQ(RawQuery(db_path_, "PRAGMA foreign_key_check"), "");
  // Every row in the table, reported or not, is whole.
  int64_t rows = std::stoll(RawQuery(db_path_, "SELECT COUNT(*) FROM tls_certificates"));
  EXPECT_GE(rows, static_cast<int64_t>(committed.size()));
  auto keys = (*store)->ListSealedKeys(std::nullopt, 1'000'000);
  ASSERT_TRUE(keys.ok());
  for (const auto& ref : *keys) {
    EXPECT_EQ(ref.key, MakeCert("", ref.record_id).private_key) << ref.record_id;
  }
  std::cout << "[          ] child committed and reported " << committed.size()
            << " certificates; the table holds " << rows << "\n";
}

}  // namespace
}  // namespace certgate::store
