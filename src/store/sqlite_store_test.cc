#include "store/sqlite_store.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
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
#include "store/store.h"

namespace certgate::store {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// A fresh directory under the test temp dir, removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "certgate_store_XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

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
}

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

  Certificate Insert(const std::string& account_id) {
    Certificate c = MakeCert(account_id);
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
  EXPECT_EQ(SqliteSchemaVersion(), 1);
  EXPECT_EQ(RawQuery(db_path_, "SELECT COUNT(*) FROM schema_migrations"), "1");
  EXPECT_EQ(RawQuery(db_path_, "SELECT MAX(version) FROM schema_migrations"), "1");
  EXPECT_NE(RawQuery(db_path_, "SELECT applied_at FROM schema_migrations"), "");
  store_.reset();
  for (int i = 0; i < 2; ++i) {
    auto again = OpenSqliteStore(db_path_);
    ASSERT_TRUE(again.ok()) << again.error().message;
    auto count = (*again)->CountAccounts();
    ASSERT_TRUE(count.ok());
    EXPECT_EQ(*count, 2) << "reopening keeps the data";
  }
  EXPECT_EQ(RawQuery(db_path_, "SELECT COUNT(*) FROM schema_migrations"), "1");
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
  EXPECT_FALSE(*store_->DeleteCertificate(bob_, mine.id));
  EXPECT_TRUE(store_->ListCertificates(bob_, std::nullopt, 100)->items.empty());
  ExpectSameCert(**store_->GetCertificate(alice_, mine.id), mine);

  // The service's own certificates are invisible to accounts...
  EXPECT_FALSE(store_->GetCertificate(alice_, service.id)->has_value());
  EXPECT_FALSE(store_->UpdateCertificate(alice_, service.id, patch)->has_value());
  EXPECT_FALSE(*store_->DeleteCertificate(alice_, service.id));
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
  ASSERT_TRUE(deleted.ok());
  EXPECT_TRUE(*deleted);
  EXPECT_FALSE(store_->GetCertificate(alice_, c.id)->has_value());
  deleted = store_->DeleteCertificate(alice_, c.id);
  ASSERT_TRUE(deleted.ok());
  EXPECT_FALSE(*deleted);
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
    after = page->back().certificate_id;
  }
  ASSERT_EQ(seen.size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(seen[i].certificate_id, all[i].id);
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
    EXPECT_EQ(ref.key, MakeCert("", ref.certificate_id).private_key) << ref.certificate_id;
  }
  std::cout << "[          ] child committed and reported " << committed.size()
            << " certificates; the table holds " << rows << "\n";
}

}  // namespace
}  // namespace certgate::store
