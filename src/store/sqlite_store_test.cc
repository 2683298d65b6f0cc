#include "store/sqlite/sqlite_store.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

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
#include "store/store.h"

namespace certgate::store {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

using certgate::testing::TempDir;

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

Account MakeAccount(std::string name = "Ada", Plan plan = Plan::kFree) {
  Account a;
  a.id = NewId("acct");
  a.name = std::move(name);
  a.plan = plan;
  a.created_at = FromUnixSeconds(1'700'000'000);
  return a;
}

// Every field derives from the id, so a reader can check a record is whole.
Certificate MakeCert(const std::string& account_id, const std::string& id = NewId("cert")) {
  Certificate c;
  c.id = id;
  c.account_id = account_id;
  c.created_at = FromUnixSeconds(1'700'000'000 + static_cast<int64_t>(id.back()));
  c.description = "description of " + id;
  c.metadata = "{\"id\":\"" + id + "\"}";
  c.certificate_pem = "-----BEGIN CERTIFICATE-----\n";
  for (int i = 0; i < 60; ++i) c.certificate_pem += id + "\n";
  c.certificate_pem += "-----END CERTIFICATE-----\n";
  c.issued_at =
      id.back() % 2 == 0 ? std::optional<Time>(FromUnixSeconds(1'690'000'000)) : std::nullopt;
  c.not_after = FromUnixSeconds(1'800'000'000);
  c.private_key.key_version = 1 + static_cast<uint32_t>(id[id.size() - 2]) % 3;
  for (int i = 0; i < 8; ++i) {
    for (char ch : id) c.private_key.blob.push_back(static_cast<uint8_t>(ch ^ i));
  }
  c.private_key.blob.push_back(0);  // embedded zero bytes survive
  c.private_key.blob.push_back(0xff);
  return c;
}

void ExpectSameCert(const Certificate& got, const Certificate& want) {
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.account_id, want.account_id);
  EXPECT_EQ(got.created_at, want.created_at);
  EXPECT_EQ(got.description, want.description);
  EXPECT_EQ(got.metadata, want.metadata);
  EXPECT_EQ(got.certificate_pem, want.certificate_pem);
  EXPECT_EQ(got.issued_at, want.issued_at);
  EXPECT_EQ(got.not_after, want.not_after);
  EXPECT_EQ(got.private_key, want.private_key);
  EXPECT_EQ(got.owner_endpoint_id, want.owner_endpoint_id);
}

Domain MakeDomain(const std::string& account_id, const std::string& name) {
  Domain d;
  d.id = NewId("rd");
  d.account_id = account_id;
  d.created_at = FromUnixSeconds(1'700'000'500);
  d.description = "domain " + name;
  d.metadata = "{\"name\":\"" + name + "\"}";
  d.domain = name;
  return d;
}

void ExpectSameDomain(const Domain& got, const Domain& want) {
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.account_id, want.account_id);
  EXPECT_EQ(got.created_at, want.created_at);
  EXPECT_EQ(got.description, want.description);
  EXPECT_EQ(got.metadata, want.metadata);
  EXPECT_EQ(got.domain, want.domain);
  EXPECT_EQ(got.certificate_id, want.certificate_id);
  EXPECT_EQ(got.policy, want.policy);
  EXPECT_EQ(got.cname_target, want.cname_target);
  EXPECT_EQ(got.acme_challenge_cname_target, want.acme_challenge_cname_target);
}

Endpoint MakeEndpoint(const Domain& domain, const std::string& host, uint16_t port = 443) {
  Endpoint e;
  e.id = NewId("ep");
  e.account_id = domain.account_id;
  e.created_at = FromUnixSeconds(1'700'000'900);
  e.description = "endpoint " + host;
  e.metadata = "{}";
  e.scheme = port == 443 ? "https" : "tls";
  e.host = host;
  e.port = port;
  e.url = port == 443 ? "https://" + host : "tls://" + host + ":" + std::to_string(port);
  e.upstream = "http://127.0.0.1:8080";
  e.domain_id = domain.id;
  return e;
}

void ExpectSameEndpoint(const Endpoint& got, const Endpoint& want) {
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.account_id, want.account_id);
  EXPECT_EQ(got.created_at, want.created_at);
  EXPECT_EQ(got.description, want.description);
  EXPECT_EQ(got.metadata, want.metadata);
  EXPECT_EQ(got.url, want.url);
  EXPECT_EQ(got.scheme, want.scheme);
  EXPECT_EQ(got.host, want.host);
  EXPECT_EQ(got.port, want.port);
  EXPECT_EQ(got.upstream, want.upstream);
  EXPECT_EQ(got.traffic_policy, want.traffic_policy);
  EXPECT_EQ(got.domain_id, want.domain_id);
  EXPECT_EQ(got.policy_certificate_id, want.policy_certificate_id);
}

using Status = DeleteOutcome::Status;

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
  EXPECT_EQ(SqliteSchemaVersion(), 5);
  EXPECT_EQ(RawQuery(db_path_, "SELECT COUNT(*) FROM schema_migrations"), "5");
  EXPECT_EQ(RawQuery(db_path_, "SELECT MAX(version) FROM schema_migrations"), "5");
  EXPECT_NE(RawQuery(db_path_, "SELECT applied_at FROM schema_migrations"), "");
  store_.reset();
  for (int i = 0; i < 2; ++i) {
    auto again = OpenSqliteStore(db_path_);
    ASSERT_TRUE(again.ok()) << again.error().message;
    auto count = (*again)->CountAccounts();
    ASSERT_TRUE(count.ok());
    EXPECT_EQ(*count, 2) << "reopening keeps the data";
  }
  EXPECT_EQ(RawQuery(db_path_, "SELECT COUNT(*) FROM schema_migrations"), "5");
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
  ASSERT_NO_FATAL_FAILURE(MakeVersion1Database(db_path, ada, old));
  ASSERT_EQ(RawQuery(db_path, "SELECT MAX(version) FROM schema_migrations"), "1");

  auto opened = OpenSqliteStore(db_path);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  Store& store = **opened;
  EXPECT_EQ(RawQuery(db_path, "SELECT MAX(version) FROM schema_migrations"), "5");
  EXPECT_EQ(RawQuery(db_path, "SELECT COUNT(*) FROM schema_migrations"), "5");

  // The certificate is whole, and still an account certificate.
  auto got = store.GetCertificate(ada.id, old.id);
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_TRUE(got->has_value());
  ExpectSameCert(**got, old);
  EXPECT_EQ(store.ListCertificates(ada.id, std::nullopt, 10)->items.size(), 1u);
  ASSERT_EQ(store.ListSealedKeys(std::nullopt, 10)->size(), 1u);

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
  EXPECT_EQ(RawQuery(db_path, "SELECT COUNT(*) FROM schema_migrations"), "5");
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

// ---- Store URLs and plans ----

TEST(StoreUrlTest, OpensSqliteUrls) {
  TempDir dir;
  auto store = OpenStore("sqlite:" + (dir.path() / "a.db").string());
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_TRUE((*store)->CountAccounts().ok());
  auto uri = OpenStore("sqlite://" + (dir.path() / "b.db").string());
  ASSERT_TRUE(uri.ok()) << uri.error().message;
  EXPECT_TRUE(fs::exists(dir.path() / "b.db"));
}

TEST(StoreUrlTest, RefusesOtherUrls) {
  for (std::string_view url : {"postgres://u:hunter2@db/certgate", "postgresql://db/x"}) {
    auto store = OpenStore(url);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.error().code, ErrorCode::kStoreUrlInvalid);
    EXPECT_NE(store.error().message.find("PostgreSQL"), std::string::npos);
    EXPECT_NE(store.error().message.find("not available yet"), std::string::npos);
    EXPECT_EQ(store.error().message.find("hunter2"), std::string::npos);
  }
  for (std::string_view url : {"", "sqlite:", "sqlite://host/x.db", "/var/lib/certgate.db",
                               "mysql://u:hunter2@h/d", "certgate.db"}) {
    auto store = OpenStore(url);
    ASSERT_FALSE(store.ok()) << url;
    EXPECT_EQ(store.error().code, ErrorCode::kStoreUrlInvalid) << url;
    EXPECT_NE(store.error().message.find("sqlite:/path/to/certgate.db"), std::string::npos)
        << store.error().message;
    EXPECT_EQ(store.error().message.find("hunter2"), std::string::npos);
  }
}

TEST(StoreUrlTest, PlanNamesRoundTrip) {
  EXPECT_EQ(PlanName(Plan::kFree), "free");
  EXPECT_EQ(PlanName(Plan::kPayg), "payg");
  EXPECT_EQ(ParsePlan("free"), Plan::kFree);
  EXPECT_EQ(ParsePlan("payg"), Plan::kPayg);
  EXPECT_EQ(ParsePlan("Free"), std::nullopt);
  EXPECT_EQ(ParsePlan(""), std::nullopt);
}

// ---- Accounts and API keys ----

TEST_F(SqliteStoreTest, AccountsCreateGetCount) {
  auto count = store_->CountAccounts();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 2);
  Account carol = MakeAccount("Carol", Plan::kPayg);
  ASSERT_TRUE(store_->CreateAccount(carol).ok());
  auto got = store_->GetAccount(carol.id);
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->id, carol.id);
  EXPECT_EQ((*got)->name, "Carol");
  EXPECT_EQ((*got)->plan, Plan::kPayg);
  EXPECT_EQ((*got)->created_at, carol.created_at);
  EXPECT_EQ(*store_->CountAccounts(), 3);

  auto missing = store_->GetAccount(NewId("acct"));
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());

  auto duplicate = store_->CreateAccount(carol);
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.error().code, ErrorCode::kStoreConflict);
  EXPECT_EQ(*store_->CountAccounts(), 3);
}

TEST_F(SqliteStoreTest, ApiKeyLookupByHash) {
  ApiKey key{NewId("ak"), bob_, "laptop", FromUnixSeconds(1'700'000'100)};
  const std::string hash(64, 'a');
  ASSERT_TRUE(store_->CreateApiKey(key, hash).ok());
  auto found = store_->FindApiKeyByHash(hash);
  ASSERT_TRUE(found.ok()) << found.error().message;
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->first.id, key.id);
  EXPECT_EQ((*found)->first.account_id, bob_);
  EXPECT_EQ((*found)->first.description, "laptop");
  EXPECT_EQ((*found)->first.created_at, key.created_at);
  EXPECT_EQ((*found)->second.id, bob_);
  EXPECT_EQ((*found)->second.name, "Bob");
  EXPECT_EQ((*found)->second.plan, Plan::kPayg);

  auto unknown = store_->FindApiKeyByHash(std::string(64, 'b'));
  ASSERT_TRUE(unknown.ok());
  EXPECT_FALSE(unknown->has_value());

  // The same hash twice is a conflict, as is the same id.
  ApiKey other{NewId("ak"), alice_, "", FromUnixSeconds(0)};
  EXPECT_EQ(store_->CreateApiKey(other, hash).error().code, ErrorCode::kStoreConflict);
  EXPECT_EQ(store_->CreateApiKey(key, std::string(64, 'c')).error().code,
            ErrorCode::kStoreConflict);
  // A key for an account that does not exist is refused.
  ApiKey orphan{NewId("ak"), NewId("acct"), "", FromUnixSeconds(0)};
  EXPECT_FALSE(store_->CreateApiKey(orphan, std::string(64, 'd')).ok());
}

// ---- Certificates ----

TEST_F(SqliteStoreTest, CertificateInsertAndGet) {
  Certificate c = Insert(alice_);
  auto got = store_->GetCertificate(alice_, c.id);
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_TRUE(got->has_value());
  ExpectSameCert(**got, c);

  // Empty strings and an empty blob stay empty, not NULL.
  Certificate bare = MakeCert(alice_);
  bare.description.clear();
  bare.metadata.clear();
  bare.private_key.blob.clear();
  bare.issued_at.reset();
  ASSERT_TRUE(store_->InsertCertificate(bare).ok());
  auto got_bare = store_->GetCertificate(alice_, bare.id);
  ASSERT_TRUE(got_bare.ok() && got_bare->has_value());
  ExpectSameCert(**got_bare, bare);

  auto missing = store_->GetCertificate(alice_, NewId("cert"));
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST_F(SqliteStoreTest, DuplicateIdIsAConflict) {
  Certificate c = Insert(alice_);
  Certificate again = MakeCert(bob_, c.id);
  auto inserted = store_->InsertCertificate(again);
  ASSERT_FALSE(inserted.ok());
  EXPECT_EQ(inserted.error().code, ErrorCode::kStoreConflict);
  EXPECT_NE(inserted.error().message.find("inserting a certificate"), std::string::npos);
  // The original is untouched.
  ExpectSameCert(**store_->GetCertificate(alice_, c.id), c);
}

TEST_F(SqliteStoreTest, ListPagesNewestFirst) {
  std::vector<std::string> ids;
  for (int i = 0; i < 25; ++i) ids.push_back(Insert(alice_).id);
  Insert(bob_);
  std::sort(ids.rbegin(), ids.rend());  // newest first

  std::vector<std::string> seen;
  std::optional<std::string> before;
  std::vector<bool> has_more;
  for (int page_no = 0; page_no < 5; ++page_no) {
    auto page = store_->ListCertificates(alice_, before, 10);
    ASSERT_TRUE(page.ok()) << page.error().message;
    for (const auto& c : page->items) {
      EXPECT_EQ(c.account_id, alice_);
      seen.push_back(c.id);
    }
    has_more.push_back(page->has_more);
    if (!page->has_more) break;
    before = page->items.back().id;
  }
  EXPECT_EQ(seen, ids);
  EXPECT_EQ(has_more, (std::vector<bool>{true, true, false}));

  // Exactly a page's worth left: no further page.
  auto exact = store_->ListCertificates(alice_, ids[14], 10);
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->items.size(), 10u);
  EXPECT_FALSE(exact->has_more);
  // Every field comes back from a list too.
  auto one = store_->ListCertificates(alice_, std::nullopt, 1);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->items.size(), 1u);
  ExpectSameCert(one->items[0], **store_->GetCertificate(alice_, ids[0]));
  EXPECT_TRUE(one->has_more);

  EXPECT_EQ(store_->ListCertificates(alice_, std::nullopt, 0).error().code,
            ErrorCode::kInvalidPaging);
  EXPECT_EQ(store_->ListCertificates(alice_, std::nullopt, 1001).error().code,
            ErrorCode::kInvalidPaging);
  EXPECT_TRUE(store_->ListCertificates(alice_, std::nullopt, 1000).ok());
}

TEST_F(SqliteStoreTest, AccountScoping) {
  Certificate mine = Insert(alice_);
  Certificate service = Insert("");
  // Bob sees none of Alice's, for any operation.
  EXPECT_FALSE(store_->GetCertificate(bob_, mine.id)->has_value());
  CertificatePatch patch;
  patch.description = "stolen";
  EXPECT_FALSE(store_->UpdateCertificate(bob_, mine.id, patch)->has_value());
  EXPECT_EQ(store_->DeleteCertificate(bob_, mine.id)->status, Status::kNotFound);
  EXPECT_TRUE(store_->ListCertificates(bob_, std::nullopt, 100)->items.empty());
  ExpectSameCert(**store_->GetCertificate(alice_, mine.id), mine);

  // The service's own certificates are invisible to accounts...
  EXPECT_FALSE(store_->GetCertificate(alice_, service.id)->has_value());
  EXPECT_FALSE(store_->UpdateCertificate(alice_, service.id, patch)->has_value());
  EXPECT_EQ(store_->DeleteCertificate(alice_, service.id)->status, Status::kNotFound);
  auto alice_list = store_->ListCertificates(alice_, std::nullopt, 100);
  ASSERT_EQ(alice_list->items.size(), 1u);
  EXPECT_EQ(alice_list->items[0].id, mine.id);
  // ...and addressed with account "".
  auto got = store_->GetCertificate("", service.id);
  ASSERT_TRUE(got.ok() && got->has_value());
  ExpectSameCert(**got, service);
  EXPECT_FALSE(store_->GetCertificate("", mine.id)->has_value());
  auto service_list = store_->ListCertificates("", std::nullopt, 100);
  ASSERT_EQ(service_list->items.size(), 1u);
  EXPECT_EQ(service_list->items[0].id, service.id);
  EXPECT_EQ(RawQuery(db_path_, "SELECT COUNT(*) FROM tls_certificates WHERE account_id IS NULL"),
            "1");
}

TEST_F(SqliteStoreTest, GetCertificateByIdSeesEveryAccount) {
  Certificate mine = Insert(alice_);
  Certificate service = Insert("");
  ExpectSameCert(**store_->GetCertificateById(mine.id), mine);
  ExpectSameCert(**store_->GetCertificateById(service.id), service);
  EXPECT_FALSE(store_->GetCertificateById(NewId("cert"))->has_value());
}

TEST_F(SqliteStoreTest, UpdateAppliesOnlyPresentFields) {
  Certificate c = Insert(alice_);
  CertificatePatch description_only;
  description_only.description = "new description";
  auto updated = store_->UpdateCertificate(alice_, c.id, description_only);
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  ASSERT_TRUE(updated->has_value());
  c.description = "new description";
  ExpectSameCert(**updated, c);
  ExpectSameCert(**store_->GetCertificate(alice_, c.id), c);

  CertificatePatch metadata_only;
  metadata_only.metadata = "";  // present but empty: set to empty
  updated = store_->UpdateCertificate(alice_, c.id, metadata_only);
  ASSERT_TRUE(updated.ok() && updated->has_value());
  c.metadata = "";
  ExpectSameCert(**updated, c);

  updated = store_->UpdateCertificate(alice_, c.id, CertificatePatch{});
  ASSERT_TRUE(updated.ok() && updated->has_value());
  ExpectSameCert(**updated, c);

  auto missing = store_->UpdateCertificate(alice_, NewId("cert"), description_only);
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST_F(SqliteStoreTest, DeleteReportsWhetherItDeleted) {
  Certificate c = Insert(alice_);
  auto deleted = store_->DeleteCertificate(alice_, c.id);
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_EQ(deleted->status, Status::kDeleted);
  EXPECT_TRUE(deleted->used_by.empty());
  EXPECT_FALSE(store_->GetCertificate(alice_, c.id)->has_value());
  deleted = store_->DeleteCertificate(alice_, c.id);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->status, Status::kNotFound);
}

// ---- Reserved domains ----

TEST_F(SqliteStoreTest, DomainInsertGetFindUpdateDelete) {
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
  changed.policy = ManagementPolicy{"letsencrypt", "rsa"};
  changed.cname_target = "xyz.cname.certgate.test";
  changed.acme_challenge_cname_target.reset();
  auto updated = store_->UpdateDomain(changed);
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_TRUE(*updated);
  Domain want = changed;
  want.created_at = d.created_at;
  want.domain = d.domain;
  // With a policy set, automatic management owns certificate_id: the
  // attached certificate serves until its replacement is attached.
  want.certificate_id = cert.id;
  ExpectSameDomain(**store_->GetDomain(alice_, d.id), want);
  Domain detach = want;
  detach.certificate_id.reset();
  ASSERT_TRUE(*store_->UpdateDomain(detach));
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

TEST_F(SqliteStoreTest, ListDomainsPagesNewestFirst) {
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
    auto page = store_->ListDomains(alice_, before, 5);
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
  auto exact = store_->ListDomains(alice_, ids[9], 10);
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->items.size(), 2u);
  EXPECT_FALSE(exact->has_more);
  auto first = store_->ListDomains(alice_, std::nullopt, 1);
  ASSERT_EQ(first->items.size(), 1u);
  ExpectSameDomain(first->items[0], **store_->GetDomain(alice_, ids[0]));
  EXPECT_EQ(store_->ListDomains(bob_, std::nullopt, 100)->items.size(), 1u);
  EXPECT_EQ(store_->ListDomains(alice_, std::nullopt, 0).error().code, ErrorCode::kInvalidPaging);
  EXPECT_EQ(store_->ListDomains(alice_, std::nullopt, 1001).error().code,
            ErrorCode::kInvalidPaging);
}

TEST_F(SqliteStoreTest, DomainNamesAndCnameTargetsAreUniqueAcrossAccounts) {
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
  EXPECT_EQ(RawQuery(db_path_, "SELECT COUNT(*) FROM reserved_domains"), "3");
}

TEST_F(SqliteStoreTest, DomainCertificateMustBeAnAccountCertificateOfItsAccount) {
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

TEST_F(SqliteStoreTest, DeleteCertificateInUseNamesTheDomainsSorted) {
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
  auto page = store_->ListDomains(alice_, std::nullopt, 10);
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

TEST_F(SqliteStoreTest, AttachAndDeleteRacesNeverLeaveADanglingReference) {
  // Writers in two store objects (as in two processes) race to attach a
  // certificate and to delete it. Each outcome must be whole: either the
  // domain got it and the delete reported kInUse, or the delete won and the
  // attach failed with kStoreConflict.
  auto second = OpenSqliteStore(db_path_);
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
  EXPECT_EQ(RawQuery(db_path_, "PRAGMA foreign_key_check"), "");
  std::cout << "[          ] attach won " << attached << " times, delete " << deleted << "\n";
}

// ---- Endpoints ----

TEST_F(SqliteStoreTest, EndpointInsertGetWithAndWithoutPolicyCertificate) {
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
  EXPECT_NE(taken.error().message.find("endpoints.url"), std::string::npos)
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

TEST_F(SqliteStoreTest, ListEndpointsPagesNewestFirst) {
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
    auto page = store_->ListEndpoints(alice_, before, 3);
    ASSERT_TRUE(page.ok()) << page.error().message;
    for (const auto& e : page->items) seen.push_back(e.id);
    has_more.push_back(page->has_more);
    if (!page->has_more) break;
    before = page->items.back().id;
  }
  EXPECT_EQ(seen, ids);
  EXPECT_EQ(has_more, (std::vector<bool>{true, true, false}));
  auto one = store_->ListEndpoints(alice_, std::nullopt, 1);
  ASSERT_EQ(one->items.size(), 1u);
  ExpectSameEndpoint(one->items[0], **store_->GetEndpoint(alice_, ids[0]));
  EXPECT_EQ(store_->ListEndpoints(bob_, std::nullopt, 100)->items.size(), 1u);
  EXPECT_EQ(store_->ListEndpoints(alice_, std::nullopt, 0).error().code, ErrorCode::kInvalidPaging);
}

TEST_F(SqliteStoreTest, DeleteDomainInUseNamesTheEndpointUrls) {
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

TEST_F(SqliteStoreTest, UpdateEndpointPolicyCertificateCases) {
  Domain d = MakeDomain(alice_, "*.example.com");
  ASSERT_TRUE(store_->InsertDomain(d).ok());
  Domain other = MakeDomain(alice_, "other.example.org");
  ASSERT_TRUE(store_->InsertDomain(other).ok());
  Endpoint e = MakeEndpoint(d, "app.example.com");
  Certificate first = MakeCert(alice_);
  e.policy_certificate_id = first.id;
  ASSERT_TRUE(store_->InsertEndpoint(e, first).ok());
  auto owned_count = [&] {
    return RawQuery(
        db_path_, "SELECT COUNT(*) FROM tls_certificates WHERE owner_endpoint_id = '" + e.id + "'");
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

TEST_F(SqliteStoreTest, DeleteEndpointRemovesItsPolicyCertificate) {
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
  EXPECT_EQ(RawQuery(db_path_, "PRAGMA foreign_key_check"), "");
}

TEST_F(SqliteStoreTest, EndpointCertificatesAreHiddenFromAccountCalls) {
  Domain d = MakeDomain(alice_, "*.example.com");
  ASSERT_TRUE(store_->InsertDomain(d).ok());
  Certificate mine = Insert(alice_);
  Endpoint e = MakeEndpoint(d, "app.example.com");
  Certificate owned = MakeCert(alice_);
  e.policy_certificate_id = owned.id;
  ASSERT_TRUE(store_->InsertEndpoint(e, owned).ok());

  EXPECT_FALSE(store_->GetCertificate(alice_, owned.id)->has_value());
  auto list = store_->ListCertificates(alice_, std::nullopt, 100);
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

// ---- Name ownership ----

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

// A domain row written around the store, with the name_key given.
std::string RawDomainSql(const std::string& id, const std::string& account_id,
                         const std::string& name, const std::string& name_key) {
  return "INSERT INTO reserved_domains (id, account_id, created_at, description, metadata,"
         " domain, name_key) VALUES ('" + id + "', '" + account_id + "', 1700000000, '', '', '" +
         name + "', '" + name_key + "');";
}

struct Claim {
  std::string name;
  ErrorCode code;       // kInternal: allowed
  std::string message;  // a part of the refusal's message
};

TEST_F(SqliteStoreTest, NamesBelongToOneAccount) {
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

  auto check = store_->CheckNameOwnership();
  ASSERT_TRUE(check.ok()) << check.error().message;
  EXPECT_TRUE(check->overlaps.empty());
  EXPECT_TRUE(check->unindexed.empty());
  EXPECT_EQ(check->domains, 11);
}

TEST_F(SqliteStoreTest, TheOwnershipChecksAreIndexLookups) {
  // The statements the checks run, as the query planner sees them: never a
  // scan of the table, so a node can hold a million names.
  auto plan = [&](const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(db_path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
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
  };
  std::string below = plan(
      "SELECT name_key FROM reserved_domains WHERE name_key > ?1 AND name_key < ?2"
      " AND account_id <> ?3 AND name_key <> ?4 ORDER BY name_key LIMIT 1");
  EXPECT_NE(below.find("SEARCH reserved_domains USING COVERING INDEX reserved_domains_by_name_key"
                       " (name_key>? AND name_key<?)"),
            std::string::npos)
      << below;
  std::string owner = plan(
      "SELECT id, account_id, domain FROM reserved_domains"
      " WHERE domain IN (?1, ?2) AND account_id <> ?3 ORDER BY domain");
  EXPECT_NE(owner.find("SEARCH reserved_domains USING INDEX sqlite_autoindex_reserved_domains"),
            std::string::npos)
      << owner;
  std::string reserved_below =
      plan("SELECT 1 FROM reserved_domains WHERE name_key > ?1 AND name_key < ?2 LIMIT 1");
  EXPECT_NE(reserved_below.find("USING COVERING INDEX reserved_domains_by_name_key"),
            std::string::npos)
      << reserved_below;
  for (const std::string& p : {below, owner, reserved_below}) {
    EXPECT_EQ(p.find("SCAN"), std::string::npos) << p;
  }
}

TEST_F(SqliteStoreTest, ConcurrentConflictingCreatesFromTwoAccountsTakeEachNameOnce) {
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
  EXPECT_EQ(RawQuery(db_path_, "SELECT COUNT(*) FROM reserved_domains"),
            std::to_string(kThreads + kGroups));
  auto check = store_->CheckNameOwnership();
  ASSERT_TRUE(check.ok()) << check.error().message;
  EXPECT_TRUE(check->overlaps.empty());
  std::cout << "Alice took " << alice_won << " of " << kGroups << " contested groups\n";
}

TEST_F(SqliteStoreTest, AnEndpointHostMayNotLieUnderAnotherAccountsDomain) {
  Domain wildcard = MakeDomain(alice_, "*.wa.example.com");
  ASSERT_TRUE(store_->InsertDomain(wildcard).ok());
  // Bob's name below it, written before the rule existed.
  const std::string bobs_id = NewId("rd");
  ASSERT_NO_FATAL_FAILURE(
      RawExec(db_path_, RawDomainSql(bobs_id, bob_, "z.wa.example.com", "com.example.wa.z.")));
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

TEST_F(SqliteStoreTest, CheckNameOwnershipReportsOverlapsWrittenAroundTheStore) {
  Domain wildcard = MakeDomain(alice_, "*.wa.example.com");
  Domain app = MakeDomain(alice_, "app.example.org");
  ASSERT_TRUE(store_->InsertDomain(wildcard).ok());
  ASSERT_TRUE(store_->InsertDomain(app).ok());
  ASSERT_TRUE(store_->InsertDomain(MakeDomain(bob_, "bob.example.net")).ok());
  auto clean = store_->CheckNameOwnership();
  ASSERT_TRUE(clean.ok()) << clean.error().message;
  EXPECT_TRUE(clean->overlaps.empty());
  EXPECT_TRUE(clean->unindexed.empty());
  EXPECT_EQ(clean->domains, 3);

  // Bob's name under Alice's wildcard with an endpoint, his wildcard over
  // Alice's names, and a row without its index key.
  const std::string z = NewId("rd"), over = NewId("rd"), stale = NewId("rd");
  const std::string ep = NewId("ep");
  ASSERT_NO_FATAL_FAILURE(RawExec(
      db_path_,
      RawDomainSql(z, bob_, "z.wa.example.com", "com.example.wa.z.") +
          RawDomainSql(over, bob_, "*.example.com", "com.example.*.") +
          RawDomainSql(stale, bob_, "q.app.example.org", "") +
          "INSERT INTO endpoints (id, account_id, created_at, description, metadata, url, scheme,"
          " host, port, upstream, traffic_policy, domain_id) VALUES ('" + ep + "', '" + bob_ +
          "', 1700000000, '', '', 'https://z.wa.example.com', 'https', 'z.wa.example.com', 443,"
          " 'http://127.0.0.1:1', '', '" + z + "');"));
  auto check = store_->CheckNameOwnership();
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
  EXPECT_EQ(RawQuery(db_path, "SELECT MAX(version) FROM schema_migrations"), "5");
  EXPECT_EQ(RawQuery(db_path, "SELECT name_key FROM reserved_domains WHERE id = 'rd_1'"),
            "com.example.wa.*.");
  EXPECT_EQ(RawQuery(db_path, "SELECT name_key FROM reserved_domains WHERE id = 'rd_2'"),
            "com.example.wa.y.");
  EXPECT_EQ(RawQuery(db_path, "SELECT name_key FROM reserved_domains WHERE id = 'rd_3'"),
            "org.example.");
  // The old overlap is reported, and the filled keys guard new names.
  auto check = (*opened)->CheckNameOwnership();
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

// ---- The edge: one consistent load, change sequence, callbacks ----

TEST_F(SqliteStoreTest, LoadEdgeStateHoldsEveryAccount) {
  Certificate cert = Insert(alice_);
  Domain a = MakeDomain(alice_, "*.example.com");
  a.certificate_id = cert.id;
  Domain b = MakeDomain(bob_, "bob.example.net");
  b.policy = ManagementPolicy{};
  ASSERT_TRUE(store_->InsertDomain(a).ok());
  ASSERT_TRUE(store_->InsertDomain(b).ok());
  Endpoint ea = MakeEndpoint(a, "app.example.com");
  Certificate owned = MakeCert(alice_);
  ea.policy_certificate_id = owned.id;
  Endpoint eb = MakeEndpoint(b, "bob.example.net", 8443);
  ASSERT_TRUE(store_->InsertEndpoint(ea, owned).ok());
  ASSERT_TRUE(store_->InsertEndpoint(eb, std::nullopt).ok());

  auto state = store_->LoadEdgeState();
  ASSERT_TRUE(state.ok()) << state.error().message;
  ASSERT_EQ(state->domains.size(), 2u);
  std::map<std::string, std::optional<std::string>> domains;
  for (const auto& d : state->domains) domains[d.domain] = d.certificate_id;
  EXPECT_EQ(domains["*.example.com"], cert.id);
  EXPECT_EQ(domains["bob.example.net"], std::nullopt);
  ASSERT_EQ(state->endpoints.size(), 2u);
  for (const auto& e : state->endpoints) ExpectSameEndpoint(e, e.id == ea.id ? ea : eb);
  EXPECT_EQ(state->change_sequence, *store_->ChangeSequence());

  // The empty state of a fresh database.
  TempDir dir;
  auto empty = OpenSqliteStore(dir.path() / "empty.db");
  ASSERT_TRUE(empty.ok());
  auto none = (*empty)->LoadEdgeState();
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_TRUE(none->domains.empty());
  EXPECT_TRUE(none->endpoints.empty());
  EXPECT_EQ(none->change_sequence, 0);
}

TEST_F(SqliteStoreTest, LoadEdgeStateIsOneSnapshotUnderConcurrentWrites) {
  // A writer adds a domain and an endpoint per transaction; every load must
  // see them in pairs, and a sequence that matches what it saw.
  Domain base = MakeDomain(alice_, "*.example.com");
  ASSERT_TRUE(store_->InsertDomain(base).ok());
  auto first = store_->LoadEdgeState();
  ASSERT_TRUE(first.ok());
  const int64_t start = first->change_sequence;
  std::atomic<bool> done{false};
  auto writer_store = OpenSqliteStore(db_path_);
  ASSERT_TRUE(writer_store.ok());
  std::thread writer([&] {
    for (int i = 0; i < 30; ++i) {
      Domain d = MakeDomain(alice_, "w" + std::to_string(i) + ".example.org");
      Certificate c = MakeCert(alice_);
      Endpoint e = MakeEndpoint(d, d.domain);
      e.policy_certificate_id = c.id;
      // Two transactions: a domain (+1), then an endpoint and its
      // certificate (+2).
      if (!(*writer_store)->InsertDomain(d).ok()) break;
      if (!(*writer_store)->InsertEndpoint(e, c).ok()) break;
    }
    done = true;
  });
  int loads = 0;
  while (!done || loads == 0) {
    auto state = store_->LoadEdgeState();
    EXPECT_TRUE(state.ok()) << state.error().message;
    if (!state.ok()) break;  // not ASSERT: the writer must be joined
    const int64_t domains = static_cast<int64_t>(state->domains.size()) - 1;
    const int64_t endpoints = static_cast<int64_t>(state->endpoints.size());
    EXPECT_TRUE(endpoints == domains || endpoints + 1 == domains)
        << domains << " domains, " << endpoints << " endpoints";
    EXPECT_EQ(state->change_sequence, start + domains + 2 * endpoints);
    ++loads;
  }
  writer.join();
  std::cout << "[          ] " << loads << " loads beside the writer\n";
  auto last = store_->LoadEdgeState();
  EXPECT_EQ(last->endpoints.size(), 30u);
  EXPECT_EQ(last->change_sequence, start + 90);
}

TEST_F(SqliteStoreTest, ChangeSequenceGrowsWithEveryWriteAndOnlyThen) {
  auto seq = [&] {
    auto s = store_->ChangeSequence();
    EXPECT_TRUE(s.ok()) << s.error().message;
    return s.ok() ? *s : -1;
  };
  int64_t last = seq();
  auto grew = [&](const char* what) {
    int64_t now = seq();
    EXPECT_GT(now, last) << what;
    last = now;
  };
  auto same = [&](const char* what) { EXPECT_EQ(seq(), last) << what; };

  Certificate cert = Insert(alice_);
  grew("InsertCertificate");
  CertificatePatch patch;
  patch.description = "x";
  ASSERT_TRUE(store_->UpdateCertificate(alice_, cert.id, patch).ok());
  grew("UpdateCertificate");
  Domain d = MakeDomain(alice_, "*.example.com");
  ASSERT_TRUE(store_->InsertDomain(d).ok());
  grew("InsertDomain");
  d.certificate_id = cert.id;
  ASSERT_TRUE(*store_->UpdateDomain(d));
  grew("UpdateDomain");
  Endpoint e = MakeEndpoint(d, "app.example.com");
  ASSERT_TRUE(store_->InsertEndpoint(e, std::nullopt).ok());
  grew("InsertEndpoint");
  Certificate owned = MakeCert(alice_);
  e.policy_certificate_id = owned.id;
  ASSERT_TRUE(*store_->UpdateEndpoint(e, owned));
  grew("UpdateEndpoint");
  ASSERT_TRUE(*store_->ReplaceSealedKey(owned.id, owned.private_key, SealedKey{5, {5}}));
  grew("ReplaceSealedKey");

  // Reads, refusals and writes to other tables leave it alone.
  ASSERT_TRUE(store_->GetCertificate(alice_, cert.id).ok());
  ASSERT_TRUE(store_->GetCertificateById(cert.id).ok());
  ASSERT_TRUE(store_->ListCertificates(alice_, std::nullopt, 10).ok());
  ASSERT_TRUE(store_->GetDomain(alice_, d.id).ok());
  ASSERT_TRUE(store_->FindDomainByName(d.domain).ok());
  ASSERT_TRUE(store_->ListDomains(alice_, std::nullopt, 10).ok());
  ASSERT_TRUE(store_->GetEndpoint(alice_, e.id).ok());
  ASSERT_TRUE(store_->ListEndpoints(alice_, std::nullopt, 10).ok());
  ASSERT_TRUE(store_->LoadEdgeState().ok());
  ASSERT_TRUE(store_->ListSealedKeys(std::nullopt, 10).ok());
  ASSERT_TRUE(store_->CountSealedKeysNotAtVersion(1).ok());
  EXPECT_EQ(store_->DeleteCertificate(alice_, cert.id)->status, Status::kInUse);
  EXPECT_FALSE(store_->InsertDomain(MakeDomain(bob_, "*.example.com")).ok());
  ASSERT_TRUE(store_->SetSetting("k", "v").ok());
  ASSERT_TRUE(store_->CreateAccount(MakeAccount()).ok());
  same("reads, refusals and other tables");

  // A second store object on the same file, as another process would be.
  {
    auto other = OpenSqliteStore(db_path_);
    ASSERT_TRUE(other.ok()) << other.error().message;
    ASSERT_TRUE((*other)->InsertCertificate(MakeCert(bob_)).ok());
    grew("InsertCertificate through another store object");
    EXPECT_EQ(*(*other)->ChangeSequence(), last);
  }
  // A tool that writes SQL directly is counted too.
  RawQuery(db_path_, "UPDATE reserved_domains SET description = 'raw' WHERE id = '" + d.id + "'");
  grew("a raw UPDATE");

  ASSERT_TRUE(*store_->DeleteEndpoint(alice_, e.id));
  grew("DeleteEndpoint");
  ASSERT_EQ(store_->DeleteDomain(alice_, d.id)->status, Status::kDeleted);
  grew("DeleteDomain");
  ASSERT_EQ(store_->DeleteCertificate(alice_, cert.id)->status, Status::kDeleted);
  grew("DeleteCertificate");
}

TEST_F(SqliteStoreTest, OnChangeFiresOncePerWriteAfterCommit) {
  std::atomic<int> calls{0};
  std::atomic<int> second_calls{0};
  std::mutex mu;
  std::vector<std::string> seen_domains;  // GUARDED_BY(mu)
  std::optional<std::string> watched;     // GUARDED_BY(mu)
  std::thread::id writer = std::this_thread::get_id();
  std::atomic<bool> wrong_thread{false};
  store_->OnChange([&] {
    ++calls;
    if (std::this_thread::get_id() != writer) wrong_thread = true;
    std::string name;
    {
      std::lock_guard lock(mu);
      if (!watched.has_value()) return;
      name = *watched;
    }
    // After the commit, with no lock held: the same store reads the new row
    // (another connection sees only committed rows) and writes to a table
    // that announces nothing, without deadlocking (the write lock is free).
    auto found = store_->FindDomainByName(name);
    ASSERT_TRUE(found.ok()) << found.error().message;
    ASSERT_TRUE(found->has_value()) << "called before the commit";
    {
      std::lock_guard lock(mu);
      seen_domains.push_back((*found)->id);
    }
    ASSERT_TRUE(store_->SetSetting("last_change", name).ok());
  });
  store_->OnChange([&] { ++second_calls; });

  int expected = 0;
  auto fired = [&](const char* what) {
    ++expected;
    EXPECT_EQ(calls.load(), expected) << what;
    EXPECT_EQ(second_calls.load(), expected) << what;
  };
  auto quiet = [&](const char* what) {
    EXPECT_EQ(calls.load(), expected) << what;
    EXPECT_EQ(second_calls.load(), expected) << what;
  };

  Certificate cert = Insert(alice_);
  fired("InsertCertificate");
  Domain d = MakeDomain(alice_, "*.example.com");
  d.certificate_id = cert.id;
  {
    std::lock_guard lock(mu);
    watched = d.domain;
  }
  ASSERT_TRUE(store_->InsertDomain(d).ok());
  fired("InsertDomain");
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(seen_domains, std::vector<std::string>{d.id}) << "the callback saw the new row";
    watched.reset();
  }
  EXPECT_EQ(**store_->GetSetting("last_change"), d.domain);

  Endpoint e = MakeEndpoint(d, "app.example.com");
  Certificate owned = MakeCert(alice_);
  e.policy_certificate_id = owned.id;
  ASSERT_TRUE(store_->InsertEndpoint(e, owned).ok());
  fired("InsertEndpoint with its certificate: one transaction, one call");
  e.description = "changed";
  ASSERT_TRUE(*store_->UpdateEndpoint(e, std::nullopt));
  fired("UpdateEndpoint");
  d.description = "changed";
  ASSERT_TRUE(*store_->UpdateDomain(d));
  fired("UpdateDomain");
  CertificatePatch patch;
  patch.metadata = "{}";
  ASSERT_TRUE(store_->UpdateCertificate(alice_, cert.id, patch)->has_value());
  fired("UpdateCertificate");

  // Reads, refusals and no-ops announce nothing.
  ASSERT_TRUE(store_->GetDomain(alice_, d.id).ok());
  ASSERT_TRUE(store_->ListEndpoints(alice_, std::nullopt, 10).ok());
  ASSERT_TRUE(store_->LoadEdgeState().ok());
  ASSERT_TRUE(store_->ChangeSequence().ok());
  EXPECT_EQ(store_->DeleteCertificate(alice_, cert.id)->status, Status::kInUse);
  EXPECT_EQ(store_->DeleteCertificate(bob_, cert.id)->status, Status::kNotFound);
  EXPECT_FALSE(store_->InsertDomain(MakeDomain(bob_, d.domain)).ok());
  EXPECT_FALSE(store_->UpdateCertificate(bob_, cert.id, patch)->has_value());
  Domain bobs = d;
  bobs.account_id = bob_;
  EXPECT_FALSE(*store_->UpdateDomain(bobs));
  EXPECT_FALSE(*store_->DeleteEndpoint(bob_, e.id));
  EXPECT_FALSE(*store_->ReplaceSealedKey(owned.id, SealedKey{99, {}}, SealedKey{1, {}}));
  ASSERT_TRUE(store_->SetSetting("k", "v").ok());
  quiet("reads, refusals and other tables");

  // Writes through another store object are this object's business only
  // through ChangeSequence.
  {
    auto other = OpenSqliteStore(db_path_);
    ASSERT_TRUE(other.ok());
    ASSERT_TRUE((*other)->InsertCertificate(MakeCert(alice_)).ok());
  }
  quiet("another store object's write");

  ASSERT_TRUE(*store_->ReplaceSealedKey(owned.id, owned.private_key, SealedKey{3, {3}}));
  fired("ReplaceSealedKey");
  ASSERT_TRUE(*store_->DeleteEndpoint(alice_, e.id));
  fired("DeleteEndpoint");
  ASSERT_EQ(store_->DeleteDomain(alice_, d.id)->status, Status::kDeleted);
  fired("DeleteDomain");
  ASSERT_EQ(store_->DeleteCertificate(alice_, cert.id)->status, Status::kDeleted);
  fired("DeleteCertificate");
  EXPECT_FALSE(wrong_thread.load());
}

// ---- Sealed keys ----

TEST_F(SqliteStoreTest, ReplaceSealedKeyIsACompareAndSwap) {
  Certificate c = Insert(alice_);
  SealedKey replacement{7, {1, 2, 3}};
  SealedKey wrong_blob = c.private_key;
  wrong_blob.blob.back() ^= 1;
  SealedKey wrong_version = c.private_key;
  wrong_version.key_version += 1;
  for (const SealedKey& expected : {wrong_blob, wrong_version}) {
    auto swapped = store_->ReplaceSealedKey(c.id, expected, replacement);
    ASSERT_TRUE(swapped.ok()) << swapped.error().message;
    EXPECT_FALSE(*swapped);
    EXPECT_EQ((*store_->GetCertificate(alice_, c.id))->private_key, c.private_key);
  }
  auto swapped = store_->ReplaceSealedKey(c.id, c.private_key, replacement);
  ASSERT_TRUE(swapped.ok());
  EXPECT_TRUE(*swapped);
  EXPECT_EQ((*store_->GetCertificate(alice_, c.id))->private_key, replacement);
  // The old value no longer matches.
  EXPECT_FALSE(*store_->ReplaceSealedKey(c.id, c.private_key, c.private_key));
  EXPECT_FALSE(*store_->ReplaceSealedKey(NewId("cert"), replacement, c.private_key));
}

TEST_F(SqliteStoreTest, ListSealedKeysPagesAcrossAllAccounts) {
  std::vector<Certificate> all;
  for (int i = 0; i < 4; ++i) all.push_back(Insert(alice_));
  for (int i = 0; i < 3; ++i) all.push_back(Insert(bob_));
  for (int i = 0; i < 2; ++i) all.push_back(Insert(""));
  std::sort(all.begin(), all.end(),
            [](const Certificate& a, const Certificate& b) { return a.id < b.id; });

  std::vector<SealedKeyRef> seen;
  std::optional<std::string> after;
  while (true) {
    auto page = store_->ListSealedKeys(after, 4);
    ASSERT_TRUE(page.ok()) << page.error().message;
    ASSERT_LE(page->size(), 4u);
    if (page->empty()) break;
    seen.insert(seen.end(), page->begin(), page->end());
    after = page->back().record_id;
  }
  ASSERT_EQ(seen.size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(seen[i].record_id, all[i].id);
    EXPECT_EQ(seen[i].key, all[i].private_key);
  }
  EXPECT_EQ(store_->ListSealedKeys(std::nullopt, 0).error().code, ErrorCode::kInvalidPaging);
}

TEST_F(SqliteStoreTest, CountSealedKeysNotAtVersion) {
  std::vector<Certificate> certs;
  for (int i = 0; i < 6; ++i) certs.push_back(Insert(i % 2 == 0 ? alice_ : ""));
  auto count_not = [&](uint32_t v) {
    int64_t n = 0;
    for (const auto& c : certs) n += c.private_key.key_version != v ? 1 : 0;
    return n;
  };
  for (uint32_t v : {1u, 2u, 3u, 9u}) {
    auto n = store_->CountSealedKeysNotAtVersion(v);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, count_not(v)) << v;
  }
  // Rotating everything to v9 leaves nothing behind.
  for (auto& c : certs) {
    SealedKey v9{9, {9}};
    ASSERT_TRUE(*store_->ReplaceSealedKey(c.id, c.private_key, v9));
    c.private_key = v9;
  }
  EXPECT_EQ(*store_->CountSealedKeysNotAtVersion(9), 0);
  EXPECT_EQ(*store_->CountSealedKeysNotAtVersion(1), 6);
}

// ---- Settings ----

TEST_F(SqliteStoreTest, SettingsGetSetOverwrite) {
  auto missing = store_->GetSetting("default_certificate_id");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  ASSERT_TRUE(store_->SetSetting("default_certificate_id", "cert_1").ok());
  EXPECT_EQ(**store_->GetSetting("default_certificate_id"), "cert_1");
  ASSERT_TRUE(store_->SetSetting("default_certificate_id", "cert_2").ok());
  EXPECT_EQ(**store_->GetSetting("default_certificate_id"), "cert_2");
  ASSERT_TRUE(store_->SetSetting("empty", "").ok());
  EXPECT_EQ(**store_->GetSetting("empty"), "");
  EXPECT_EQ(RawQuery(db_path_, "SELECT COUNT(*) FROM settings"), "2");
}

// ---- Concurrency and crashes ----

TEST_F(SqliteStoreTest, ConcurrentInsertsFromEightThreads) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20;
  std::vector<std::vector<Certificate>> made(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Certificate c = MakeCert(t % 2 == 0 ? alice_ : bob_);
        if (!store_->InsertCertificate(c).ok()) ++failures;
        // Readers run beside the writers.
        auto got = store_->GetCertificate(c.account_id, c.id);
        if (!got.ok() || !got->has_value()) ++failures;
        if (!store_->ListCertificates(c.account_id, std::nullopt, 5).ok()) ++failures;
        made[static_cast<size_t>(t)].push_back(std::move(c));
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  std::set<std::string> listed;
  for (const std::string& account : {alice_, bob_}) {
    auto page = store_->ListCertificates(account, std::nullopt, 1000);
    ASSERT_TRUE(page.ok());
    for (const auto& c : page->items) listed.insert(c.id);
  }
  EXPECT_EQ(listed.size(), static_cast<size_t>(kThreads * kPerThread));
  for (const auto& per_thread : made) {
    for (const auto& c : per_thread) {
      auto got = store_->GetCertificate(c.account_id, c.id);
      ASSERT_TRUE(got.ok() && got->has_value()) << c.id;
      ExpectSameCert(**got, c);
    }
  }
}

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


// ---- Automatic certificates ----

constexpr std::string_view kNodeA = "node_a";
constexpr std::string_view kNodeB = "node_b";

ProvisioningJob MakeJob(const Domain& d, Time now) {
  ProvisioningJob job;
  job.id = NewId("job");
  job.domain_id = d.id;
  job.account_id = d.account_id;
  job.domain = d.domain;
  job.key_type = d.policy ? d.policy->private_key_type : "ecdsa";
  job.started_at = now;
  job.msg = "waiting to start";
  job.next_run_at = now;
  return job;
}

Certificate MakeIssued(const std::string& account_id) {
  Certificate c = MakeCert(account_id);
  c.issued_at = FromUnixSeconds(1'700'000'000);
  return c;
}

TEST_F(SqliteStoreTest, ManagedDomainsNeedJobsUntilAFreshCertificateOfTheirKeyType) {
  const Time now = FromUnixSeconds(1'750'000'000);
  Domain managed = MakeDomain(alice_, "auto.example.com");
  managed.policy = ManagementPolicy{"letsencrypt", "ecdsa"};
  Domain uploaded = MakeDomain(alice_, "byo.example.com");
  Certificate byo = Insert(alice_);
  uploaded.certificate_id = byo.id;
  ASSERT_TRUE(store_->InsertDomain(managed).ok());
  ASSERT_TRUE(store_->InsertDomain(uploaded).ok());

  auto need = store_->ListDomainsNeedingCertificates(now, 10);
  ASSERT_TRUE(need.ok()) << need.error().message;
  ASSERT_EQ(need->size(), 1u);
  EXPECT_EQ(need->front().id, managed.id);

  // One job per domain; a second is refused, and so is one for an unmanaged domain.
  ProvisioningJob job = MakeJob(managed, now);
  EXPECT_TRUE(*store_->InsertProvisioningJob(job));
  EXPECT_FALSE(*store_->InsertProvisioningJob(MakeJob(managed, now)));
  EXPECT_FALSE(*store_->InsertProvisioningJob(MakeJob(uploaded, now)));
  EXPECT_TRUE(store_->ListDomainsNeedingCertificates(now, 10)->empty()) << "it has a job";

  // Issued: attached with renews_at, the job gone, nothing needed until then.
  Certificate first = MakeIssued(alice_);
  const Time renews_at = now + std::chrono::hours(24 * 60);
  ASSERT_TRUE(*store_->CompleteProvisioningJob(job, first, renews_at));
  auto got = store_->GetDomain(alice_, managed.id);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->certificate_id, first.id);
  EXPECT_EQ((*got)->renews_at, renews_at);
  EXPECT_EQ((*got)->issued_key_type, "ecdsa");
  EXPECT_FALSE(store_->GetProvisioningJobForDomain(managed.id)->has_value());
  EXPECT_TRUE(store_->ListDomainsNeedingCertificates(now, 10)->empty());
  EXPECT_EQ(store_->ListDomainsNeedingCertificates(renews_at, 10)->size(), 1u) << "renewal due";

  // Renewed: the new certificate replaces the old one, which is deleted.
  ProvisioningJob renewal = MakeJob(managed, renews_at);
  renewal.renewal = true;
  ASSERT_TRUE(*store_->InsertProvisioningJob(renewal));
  Certificate second = MakeIssued(alice_);
  ASSERT_TRUE(*store_->CompleteProvisioningJob(renewal, second, renews_at + std::chrono::hours(1)));
  EXPECT_EQ((*store_->GetDomain(alice_, managed.id))->certificate_id, second.id);
  EXPECT_FALSE(store_->GetCertificate(alice_, first.id)->has_value());

  // Another key type asked for: needed again at once, even before renews_at.
  Domain changed = **store_->GetDomain(alice_, managed.id);
  changed.policy->private_key_type = "rsa";
  ASSERT_TRUE(*store_->UpdateDomain(changed));
  EXPECT_EQ((*store_->GetDomain(alice_, managed.id))->certificate_id, second.id)
      << "the old certificate serves until its replacement is attached";
  EXPECT_EQ(store_->ListDomainsNeedingCertificates(now, 10)->size(), 1u);

  // A job for the old key type cannot attach its certificate.
  ProvisioningJob stale = MakeJob(managed, now);
  stale.key_type = "ecdsa";
  ASSERT_TRUE(*store_->InsertProvisioningJob(stale));
  EXPECT_FALSE(*store_->CompleteProvisioningJob(stale, MakeIssued(alice_), renews_at));
  EXPECT_FALSE(store_->GetProvisioningJobForDomain(managed.id)->has_value()) << "dropped";
}

TEST_F(SqliteStoreTest, RemovingThePolicyStopsTheJobAndKeepsTheCertificate) {
  const Time now = FromUnixSeconds(1'750'000'000);
  Domain d = MakeDomain(alice_, "stop.example.com");
  d.policy = ManagementPolicy{"letsencrypt", "ecdsa"};
  ASSERT_TRUE(store_->InsertDomain(d).ok());
  ProvisioningJob job = MakeJob(d, now);
  ASSERT_TRUE(*store_->InsertProvisioningJob(job));
  Certificate issued = MakeIssued(alice_);
  ASSERT_TRUE(*store_->CompleteProvisioningJob(job, issued, now + std::chrono::hours(1)));
  ProvisioningJob renewal = MakeJob(d, now);
  ASSERT_TRUE(*store_->InsertProvisioningJob(renewal));
  ASSERT_TRUE(store_->PutHttp01Challenge({"tok-1", "tok-1.thumb", renewal.id}).ok());

  Domain unmanaged = **store_->GetDomain(alice_, d.id);
  unmanaged.policy.reset();
  ASSERT_TRUE(*store_->UpdateDomain(unmanaged));
  auto got = **store_->GetDomain(alice_, d.id);
  EXPECT_EQ(got.certificate_id, issued.id) << "stays attached";
  EXPECT_EQ(got.renews_at, std::nullopt);
  EXPECT_FALSE(store_->GetProvisioningJobForDomain(d.id)->has_value());
  EXPECT_FALSE(store_->GetHttp01KeyAuthorization("tok-1")->has_value()) << "cascaded";
  EXPECT_FALSE(*store_->UpdateProvisioningJob(renewal, std::nullopt));
  EXPECT_FALSE(*store_->CompleteProvisioningJob(renewal, MakeIssued(alice_), now));
  EXPECT_TRUE(store_->ListDomainsNeedingCertificates(now + std::chrono::hours(2), 10)->empty());

  // Attaching an uploaded certificate lets the issued one go.
  Certificate uploaded = Insert(alice_);
  got.certificate_id = uploaded.id;
  ASSERT_TRUE(*store_->UpdateDomain(got));
  EXPECT_FALSE(store_->GetCertificate(alice_, issued.id)->has_value());
  // Managed again, then issued again: deleting the domain deletes that one.
  got.policy = ManagementPolicy{};
  ASSERT_TRUE(*store_->UpdateDomain(got));
  ProvisioningJob again = MakeJob(got, now);
  ASSERT_TRUE(*store_->InsertProvisioningJob(again));
  issued = MakeIssued(alice_);
  ASSERT_TRUE(*store_->CompleteProvisioningJob(again, issued, now + std::chrono::hours(1)));
  EXPECT_TRUE(store_->GetCertificate(alice_, uploaded.id)->has_value()) << "uploads stay";

  // Deleting the domain deletes the certificate issued for it.
  ASSERT_EQ(store_->DeleteDomain(alice_, d.id)->status, Status::kDeleted);
  EXPECT_FALSE(store_->GetCertificate(alice_, issued.id)->has_value());
}

TEST_F(SqliteStoreTest, JobsAreClaimedOnceUpdatedAndReleased) {
  const Time now = FromUnixSeconds(1'750'000'000);
  std::vector<ProvisioningJob> jobs;
  for (int i = 0; i < 3; ++i) {
    Domain d = MakeDomain(alice_, "job" + std::to_string(i) + ".example.com");
    d.policy = ManagementPolicy{"letsencrypt", i == 0 ? "rsa" : "ecdsa"};
    ASSERT_TRUE(store_->InsertDomain(d).ok());
    ProvisioningJob job = MakeJob(d, now);
    job.next_run_at = now + std::chrono::seconds(i);
    ASSERT_TRUE(*store_->InsertProvisioningJob(job));
    jobs.push_back(job);
  }
  const Time lease = now + std::chrono::minutes(5);
  auto claimed = store_->ClaimDueJobs(kNodeA, now + std::chrono::seconds(1), lease, 10);
  ASSERT_TRUE(claimed.ok()) << claimed.error().message;
  ASSERT_EQ(claimed->size(), 2u) << "the third is not due";
  EXPECT_EQ((*claimed)[0].id, jobs[0].id);
  EXPECT_EQ((*claimed)[0].key_type, "rsa");
  EXPECT_TRUE(store_->ClaimDueJobs(kNodeA, now + std::chrono::seconds(1), lease, 10)->empty())
      << "held until the lease ends";

  // Progress keeps the hold; a failure releases it with its retry time.
  ProvisioningJob job = (*claimed)[0];
  job.msg = "ordering";
  job.order_url = "https://ca.test/order/1";
  job.private_key = SealedKey{2, {1, 2, 0, 3}};
  ASSERT_TRUE(*store_->UpdateProvisioningJob(job, lease));
  EXPECT_TRUE(store_->ClaimDueJobs(kNodeA, now + std::chrono::seconds(2), lease, 10)->size() == 1)
      << "only the third";
  job.msg = "the CA could not be reached";
  job.error_code = "INTERNAL_ERROR";
  job.failures = 1;
  job.retries_at = now + std::chrono::seconds(30);
  job.next_run_at = *job.retries_at;
  ASSERT_TRUE(*store_->UpdateProvisioningJob(job, std::nullopt));
  auto stored = **store_->GetProvisioningJobForDomain(job.domain_id);
  EXPECT_EQ(stored.msg, job.msg);
  EXPECT_EQ(stored.error_code, job.error_code);
  EXPECT_EQ(stored.retries_at, job.retries_at);
  EXPECT_EQ(stored.failures, 1);
  EXPECT_EQ(stored.order_url, job.order_url);
  EXPECT_EQ(stored.private_key, job.private_key);
  EXPECT_TRUE(store_->ClaimDueJobs(kNodeA, now + std::chrono::seconds(29), lease, 10)->empty());
  EXPECT_EQ(store_->ClaimDueJobs(kNodeA, now + std::chrono::seconds(30), lease, 10)->size(), 1u);

  // After a crash, the next process releases what the dead one held.
  ASSERT_TRUE(store_->ReleaseJobLeases(kNodeA).ok());
  auto reclaimed = store_->ClaimDueJobs(kNodeA, now + std::chrono::seconds(30), lease, 10);
  ASSERT_EQ(reclaimed->size(), 3u);
  auto mine = std::find_if(reclaimed->begin(), reclaimed->end(),
                           [&](const ProvisioningJob& j) { return j.id == job.id; });
  ASSERT_NE(mine, reclaimed->end());
  job = *mine;  // the current lease, with the key as it was before rotation

  // The job's sealed key is listed for rotation and can be replaced.
  auto keys = store_->ListSealedKeys(std::nullopt, 100);
  ASSERT_TRUE(keys.ok());
  auto it = std::find_if(keys->begin(), keys->end(),
                         [&](const SealedKeyRef& r) { return r.record_id == job.id; });
  ASSERT_NE(it, keys->end());
  EXPECT_EQ(it->key, *job.private_key);
  SealedKey resealed{3, {9, 9}};
  EXPECT_TRUE(*store_->ReplaceSealedKey(job.id, *job.private_key, resealed));
  EXPECT_FALSE(*store_->ReplaceSealedKey(job.id, *job.private_key, resealed)) << "compare and swap";
  EXPECT_EQ((**store_->GetProvisioningJobForDomain(job.domain_id)).private_key, resealed);
  EXPECT_EQ(*store_->CountSealedKeysNotAtVersion(3), 0);
  // A runner's stale copy of the key never undoes the rotation.
  ASSERT_TRUE(*store_->UpdateProvisioningJob(job, std::nullopt));
  EXPECT_EQ((**store_->GetProvisioningJobForDomain(job.domain_id)).private_key, resealed);
}

TEST_F(SqliteStoreTest, AcmeAccountsOnePerDirectoryAndRotatable) {
  AcmeAccount a;
  a.id = NewId("acmeacct");
  a.directory_url = "https://ca.test/dir";
  a.account_url = "https://ca.test/acct/1";
  a.key = SealedKey{1, {4, 0, 5}};
  a.created_at = FromUnixSeconds(1'750'000'000);
  EXPECT_FALSE(store_->GetAcmeAccount(a.directory_url)->has_value());
  ASSERT_TRUE(store_->InsertAcmeAccount(a).ok());
  AcmeAccount dup = a;
  dup.id = NewId("acmeacct");
  EXPECT_EQ(store_->InsertAcmeAccount(dup).error().code, ErrorCode::kStoreConflict);
  auto got = store_->GetAcmeAccount(a.directory_url);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->account_url, a.account_url);
  EXPECT_EQ((*got)->key, a.key);
  EXPECT_TRUE(*store_->ReplaceSealedKey(a.id, a.key, SealedKey{2, {7}}));
  EXPECT_EQ((*store_->GetAcmeAccount(a.directory_url))->key, (SealedKey{2, {7}}));
  EXPECT_TRUE(*store_->DeleteAcmeAccount(a.id));
  EXPECT_FALSE(*store_->DeleteAcmeAccount(a.id));
  EXPECT_FALSE(store_->GetAcmeAccount(a.directory_url)->has_value());
}

TEST_F(SqliteStoreTest, ChallengeAnswersAndEdgeNames) {
  const Time now = FromUnixSeconds(1'750'000'000);
  Domain d = MakeDomain(alice_, "*.shop.example.com");
  d.policy = ManagementPolicy{};
  d.cname_target = "k1.cname.certgate.test";
  d.acme_challenge_cname_target = "k1.acme.certgate.test";
  Domain sub = MakeDomain(bob_, "*.bob.certgate.test");
  Domain plain = MakeDomain(bob_, "app.certgate.test");
  ASSERT_TRUE(store_->InsertDomain(d).ok());
  ASSERT_TRUE(store_->InsertDomain(sub).ok());
  ASSERT_TRUE(store_->InsertDomain(plain).ok());
  ProvisioningJob job = MakeJob(d, now);
  ASSERT_TRUE(*store_->InsertProvisioningJob(job));

  ASSERT_TRUE(store_->PutHttp01Challenge({"tokA", "tokA.print", job.id}).ok());
  ASSERT_TRUE(store_->PutHttp01Challenge({"tokA", "tokA.print2", job.id}).ok()) << "replaces";
  EXPECT_EQ(store_->GetHttp01KeyAuthorization("tokA")->value_or(""), "tokA.print2");
  EXPECT_FALSE(store_->GetHttp01KeyAuthorization("tokB")->has_value());

  ASSERT_TRUE(store_->PutDnsTxtRecord("k1.acme.certgate.test", "v2", job.id).ok());
  ASSERT_TRUE(store_->PutDnsTxtRecord("k1.acme.certgate.test", "v1", job.id).ok());
  ASSERT_TRUE(store_->PutDnsTxtRecord("k1.acme.certgate.test", "v1", job.id).ok()) << "idempotent";
  EXPECT_EQ(*store_->ListDnsTxtRecords("k1.acme.certgate.test"),
            (std::vector<std::string>{"v1", "v2"}));
  EXPECT_TRUE(store_->ListDnsTxtRecords("k2.acme.certgate.test")->empty());

  EXPECT_TRUE(*store_->IsEdgeName("k1.cname.certgate.test"));
  EXPECT_TRUE(*store_->IsEdgeName("app.certgate.test"));
  EXPECT_TRUE(*store_->IsEdgeName("x.bob.certgate.test")) << "one label under a wildcard";
  EXPECT_FALSE(*store_->IsEdgeName("y.x.bob.certgate.test"));
  EXPECT_FALSE(*store_->IsEdgeName("k1.acme.certgate.test"));
  EXPECT_FALSE(*store_->IsEdgeName("nothing.certgate.test"));
  EXPECT_TRUE(*store_->HasReservedNamesBelow("bob.certgate.test"));
  EXPECT_TRUE(*store_->HasReservedNamesBelow("certgate.test"));
  EXPECT_FALSE(*store_->HasReservedNamesBelow("app.certgate.test"));
  EXPECT_FALSE(*store_->HasReservedNamesBelow("ob.certgate.test")) << "labels, not characters";

  ASSERT_TRUE(*store_->DeleteProvisioningJob(job.id));
  EXPECT_FALSE(store_->GetHttp01KeyAuthorization("tokA")->has_value());
  EXPECT_TRUE(store_->ListDnsTxtRecords("k1.acme.certgate.test")->empty());
}

// ---- Job leases: owners and fencing tokens ----

// A managed domain with one job, claimed by owner at now for five minutes.
ProvisioningJob InsertAndClaimJob(Store& store, const std::string& account_id,
                                  const std::string& name, std::string_view owner, Time now) {
  Domain d = MakeDomain(account_id, name);
  d.policy = ManagementPolicy{};
  EXPECT_TRUE(store.InsertDomain(d).ok());
  EXPECT_TRUE(*store.InsertProvisioningJob(MakeJob(d, now)));
  auto claimed = store.ClaimDueJobs(owner, now, now + std::chrono::minutes(5), 10);
  EXPECT_TRUE(claimed.ok() && claimed->size() == 1u);
  return claimed.ok() && !claimed->empty() ? claimed->front() : ProvisioningJob{};
}

TEST_F(SqliteStoreTest, AClaimNamesItsOwnerAndRaisesTheToken) {
  const Time now = FromUnixSeconds(1'750'000'000);
  ProvisioningJob first = InsertAndClaimJob(*store_, alice_, "lease.example.com", kNodeA, now);
  EXPECT_EQ(first.lease_owner, kNodeA);
  EXPECT_GT(first.lease_token, 0);
  auto stored = **store_->GetProvisioningJobForDomain(first.domain_id);
  EXPECT_EQ(stored.lease_owner, kNodeA);
  EXPECT_EQ(stored.lease_token, first.lease_token);

  // The lease ran out; another node takes the job over with a greater token.
  const Time later = now + std::chrono::minutes(5);
  auto taken = store_->ClaimDueJobs(kNodeB, later, later + std::chrono::minutes(5), 10);
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  ASSERT_EQ(taken->size(), 1u);
  EXPECT_EQ(taken->front().lease_owner, kNodeB);
  EXPECT_GT(taken->front().lease_token, first.lease_token);

  // Released and claimed again by the first owner: still greater, never reused.
  ASSERT_TRUE(store_->ReleaseJobLeases(kNodeB).ok());
  auto again = store_->ClaimDueJobs(kNodeA, later, later + std::chrono::minutes(5), 10);
  ASSERT_EQ(again->size(), 1u);
  EXPECT_GT(again->front().lease_token, taken->front().lease_token);

  EXPECT_FALSE(store_->ClaimDueJobs("", later + std::chrono::hours(1), later, 10).ok())
      << "a lease must name its owner";
}

TEST_F(SqliteStoreTest, ARunnerThatLostItsLeaseWritesNothing) {
  const Time now = FromUnixSeconds(1'750'000'000);
  ProvisioningJob stale = InsertAndClaimJob(*store_, alice_, "fence.example.com", kNodeA, now);
  const Time later = now + std::chrono::minutes(5);
  auto taken = store_->ClaimDueJobs(kNodeB, later, later + std::chrono::minutes(5), 10);
  ASSERT_EQ(taken->size(), 1u);
  ProvisioningJob current = taken->front();

  // The old runner's update and completion are refused and change nothing.
  stale.msg = "the old runner's step";
  stale.order_url = "https://ca.test/order/stale";
  stale.private_key = SealedKey{1, {6, 6}};
  EXPECT_FALSE(*store_->UpdateProvisioningJob(stale, later + std::chrono::minutes(5)));
  EXPECT_FALSE(*store_->UpdateProvisioningJob(stale, std::nullopt));
  Certificate stale_cert = MakeIssued(alice_);
  EXPECT_FALSE(*store_->CompleteProvisioningJob(stale, stale_cert, later));
  EXPECT_FALSE(store_->GetCertificate(alice_, stale_cert.id)->has_value());
  auto stored = **store_->GetProvisioningJobForDomain(current.domain_id);
  EXPECT_EQ(stored.msg, current.msg);
  EXPECT_EQ(stored.order_url, "");
  EXPECT_EQ(stored.private_key, std::nullopt);
  EXPECT_EQ(stored.lease_owner, kNodeB);
  EXPECT_EQ(stored.lease_token, current.lease_token);
  EXPECT_TRUE(store_->ClaimDueJobs(kNodeA, later, later, 10)->empty())
      << "the refused update did not end the new owner's hold";

  // The same owner with an older token (its own earlier claim) is refused too.
  ProvisioningJob older = current;
  older.lease_owner = std::string(kNodeB);
  older.lease_token = stale.lease_token;
  EXPECT_FALSE(*store_->UpdateProvisioningJob(older, std::nullopt));
  // Another owner with the current token is refused.
  ProvisioningJob impostor = current;
  impostor.lease_owner = std::string(kNodeA);
  EXPECT_FALSE(*store_->UpdateProvisioningJob(impostor, std::nullopt));

  // The current holder writes and completes.
  current.msg = "ordering";
  ASSERT_TRUE(*store_->UpdateProvisioningJob(current, later + std::chrono::minutes(5)));
  Certificate issued = MakeIssued(alice_);
  ASSERT_TRUE(*store_->CompleteProvisioningJob(current, issued, later + std::chrono::hours(1)));
  EXPECT_EQ((*store_->GetDomain(alice_, current.domain_id))->certificate_id, issued.id);
  EXPECT_FALSE(*store_->UpdateProvisioningJob(current, std::nullopt)) << "the job is gone";
}

TEST_F(SqliteStoreTest, ReleasingLeasesFreesOnlyTheOwnersJobs) {
  const Time now = FromUnixSeconds(1'750'000'000);
  ProvisioningJob a = InsertAndClaimJob(*store_, alice_, "a.lease.example.com", kNodeA, now);
  ProvisioningJob b = InsertAndClaimJob(*store_, bob_, "b.lease.example.org", kNodeB, now);

  ASSERT_TRUE(store_->ReleaseJobLeases(kNodeA).ok());
  auto reclaimed = store_->ClaimDueJobs(kNodeA, now, now + std::chrono::minutes(5), 10);
  ASSERT_TRUE(reclaimed.ok()) << reclaimed.error().message;
  ASSERT_EQ(reclaimed->size(), 1u) << "node B's live lease is not freed";
  EXPECT_EQ(reclaimed->front().id, a.id);
  EXPECT_EQ((**store_->GetProvisioningJobForDomain(b.domain_id)).lease_owner, kNodeB);
  ProvisioningJob still_b = b;
  still_b.msg = "node B goes on";
  EXPECT_TRUE(*store_->UpdateProvisioningJob(still_b, now + std::chrono::minutes(5)));
  // A release by a node that holds nothing frees nothing.
  ASSERT_TRUE(store_->ReleaseJobLeases("node_c").ok());
  EXPECT_TRUE(store_->ClaimDueJobs(kNodeA, now, now, 10)->empty());
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
      "ALTER TABLE provisioning_jobs DROP COLUMN lease_owner;"
      "ALTER TABLE provisioning_jobs DROP COLUMN lease_token;"
      "DELETE FROM schema_migrations WHERE version = 5;"));
  ASSERT_EQ(RawQuery(db_path, "SELECT lease_until IS NOT NULL FROM provisioning_jobs"), "1");

  auto opened = OpenSqliteStore(db_path);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(RawQuery(db_path, "SELECT MAX(version) FROM schema_migrations"), "5");
  auto job = (*opened)->GetProvisioningJobForDomain(domain_id);
  ASSERT_TRUE(job.ok() && job->has_value());
  EXPECT_EQ((*job)->lease_owner, "");
  EXPECT_EQ((*job)->lease_token, 0);
  auto claimed = (*opened)->ClaimDueJobs(kNodeB, now, now + std::chrono::minutes(5), 10);
  ASSERT_TRUE(claimed.ok()) << claimed.error().message;
  EXPECT_EQ(claimed->size(), 1u) << "the hold no one could release has ended";
}

}  // namespace
}  // namespace certgate::store
