#include "scale/store_load.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>
#include <sqlite3.h>

#include "core/ids.h"
#include "core/time.h"
#include "names/domain_name.h"
#include "scale/scale_pki.h"
#include "store/name_key.h"

namespace certgate::bench::scale {
namespace {

struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct FinalizeStmt {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using DbPtr = std::unique_ptr<sqlite3, CloseDb>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, FinalizeStmt>;

[[noreturn]] void Fail(sqlite3* db, std::string_view what) {
  throw std::runtime_error(fmt::format("direct store load: {}: {}", what, sqlite3_errmsg(db)));
}

void Exec(sqlite3* db, const char* sql) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) Fail(db, sql);
}

StmtPtr Prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) Fail(db, sql);
  return StmtPtr(raw);
}

void BindText(sqlite3* db, sqlite3_stmt* s, int index, const std::string& text) {
  if (sqlite3_bind_text(s, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT) !=
      SQLITE_OK) {
    Fail(db, "binding a value");
  }
}

// The account that owns the certificate: the domains are that account's.
std::string AccountOf(sqlite3* db, const std::string& certificate_id) {
  StmtPtr q = Prepare(db, "SELECT account_id FROM tls_certificates WHERE id = ?1");
  BindText(db, q.get(), 1, certificate_id);
  if (sqlite3_step(q.get()) != SQLITE_ROW) {
    throw std::runtime_error(
        fmt::format("direct store load: certificate {} is not in the store", certificate_id));
  }
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(q.get(), 0));
  if (text == nullptr)
    throw std::runtime_error("direct store load: the certificate has no account");
  return text;
}

}  // namespace

StoreLoad DirectStoreLoad(const std::filesystem::path& db_path, int names,
                          const std::string& certificate_id, size_t keep_ids) {
  StoreLoad out;
  const auto t0 = std::chrono::steady_clock::now();
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    DbPtr guard(raw);
    Fail(raw, fmt::format("opening {}", db_path.string()));
  }
  DbPtr db(raw);
  sqlite3_busy_timeout(db.get(), 10000);
  // A bench's setup: nothing needs to survive a power cut mid-load.
  Exec(db.get(), "PRAGMA synchronous = OFF");
  Exec(db.get(), "PRAGMA cache_size = -262144");  // 256 MB: the indexes of a million rows
  const std::string account_id = AccountOf(db.get(), certificate_id);
  const int64_t created_at = ToUnixSeconds(SystemClock::Instance().Now());
  const std::string cname_parent = fmt::format(".cname.{}", kBaseDomain);
  Exec(db.get(), "BEGIN IMMEDIATE");
  StmtPtr insert = Prepare(
      db.get(),
      "INSERT INTO reserved_domains (id, account_id, created_at, description, metadata, domain,"
      " certificate_id, name_key, cname_target) VALUES (?1, ?2, ?3, '', '', ?4, ?5, ?6, ?7)");
  BindText(db.get(), insert.get(), 2, account_id);
  if (sqlite3_bind_int64(insert.get(), 3, created_at) != SQLITE_OK) Fail(db.get(), "binding");
  BindText(db.get(), insert.get(), 5, certificate_id);
  for (int i = 0; i < names; ++i) {
    const std::string name = LoadedName(i);
    const std::string id = NewId("rd");
    if (out.first_ids.size() < keep_ids) out.first_ids.push_back(id);
    BindText(db.get(), insert.get(), 1, id);
    BindText(db.get(), insert.get(), 4, name);
    BindText(db.get(), insert.get(), 6, store::NameKey(name));
    BindText(db.get(), insert.get(), 7, names::RandomLabel() + cname_parent);
    if (sqlite3_step(insert.get()) != SQLITE_DONE) Fail(db.get(), "inserting " + name);
    sqlite3_reset(insert.get());
  }
  insert.reset();
  Exec(db.get(), "COMMIT");
  // The server starts from the database file, not from a long WAL.
  Exec(db.get(), "PRAGMA wal_checkpoint(TRUNCATE)");
  db.reset();
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

}  // namespace certgate::bench::scale
