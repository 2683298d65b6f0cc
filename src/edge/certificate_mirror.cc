#include "edge/certificate_mirror.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <unordered_set>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "store/sqlite/connection.h"

namespace certgate::edge {
namespace {

using store::sqlite::Connection;
using store::sqlite::Query;

constexpr int kFeedBatch = 4096;
constexpr int kKeyPage = 500;
// Certificate ids start so (core/ids.h); ListSealedKeys also lists the keys
// of ACME accounts and provisioning jobs.
constexpr std::string_view kCertificatePrefix = "cert_";

constexpr char kSchema[] =
    "CREATE TABLE IF NOT EXISTS certificates ("
    " id TEXT PRIMARY KEY,"
    " certificate_pem TEXT NOT NULL,"
    " key_version INTEGER NOT NULL,"
    " sealed_key BLOB NOT NULL"
    ") WITHOUT ROWID";
constexpr char kGet[] =
    "SELECT certificate_pem, key_version, sealed_key FROM certificates WHERE id = ?1";
constexpr char kKeptKey[] = "SELECT key_version, sealed_key FROM certificates WHERE id = ?1";
constexpr char kPut[] =
    "INSERT INTO certificates (id, certificate_pem, key_version, sealed_key)"
    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO UPDATE SET"
    " certificate_pem = excluded.certificate_pem, key_version = excluded.key_version,"
    " sealed_key = excluded.sealed_key";
constexpr char kDrop[] = "DELETE FROM certificates WHERE id = ?1";
constexpr char kCount[] = "SELECT count(*) FROM certificates";
constexpr char kIdsAfter[] = "SELECT id FROM certificates WHERE id > ?1 ORDER BY id LIMIT 1000";

}  // namespace

Result<std::unique_ptr<CertificateMirror>> CertificateMirror::Open(
    const std::filesystem::path& file, store::EdgeFeed& feed,
    store::CertificateStore& certificates, store::SealedKeyStore& keys,
    std::chrono::milliseconds poll_interval) {
  // Sealed keys, as in the store; still, nobody else's to read. Made (or
  // narrowed) 0600 before SQLite opens it: its -wal and -shm files take
  // the main file's mode.
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || ::fchmod(fd, 0600) != 0) {
    const int err = errno;
    if (fd >= 0) ::close(fd);
    return MakeError(ErrorCode::kStoreIo, fmt::format("opening {}: {}", file.string(),
                                                      std::strerror(err)));
  }
  ::close(fd);
  auto conn = Connection::Open(file.string());
  if (!conn) return std::move(conn).error();
  CG_RETURN_IF_ERROR((*conn)->Exec(kSchema, "creating the edge's certificate copy"));
  return std::unique_ptr<CertificateMirror>(
      new CertificateMirror(std::move(*conn), feed, certificates, keys, poll_interval));
}

CertificateMirror::CertificateMirror(std::unique_ptr<Connection> conn, store::EdgeFeed& feed,
                                     store::CertificateStore& certificates,
                                     store::SealedKeyStore& keys,
                                     std::chrono::milliseconds poll_interval)
    : feed_(feed),
      certificates_(certificates),
      keys_(keys),
      conn_(std::move(conn)),
      follower_(feed, "the edge's certificate copy", poll_interval, [this] { return CatchUp(); }) {}

CertificateMirror::~CertificateMirror() { Stop(); }

void CertificateMirror::Start() { follower_.Start(); }
void CertificateMirror::Stop() { follower_.Stop(); }

Result<std::optional<store::Certificate>> CertificateMirror::Get(std::string_view id) {
  std::lock_guard lock(db_mu_);
  Query q(*conn_, kGet, "reading the edge's certificate copy");
  q.Text(1, id);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<store::Certificate>();
  store::Certificate cert;
  cert.id = std::string(id);
  cert.certificate_pem = q.ColumnText(0);
  cert.private_key.key_version = static_cast<uint32_t>(q.ColumnInt(1));
  cert.private_key.blob = q.ColumnBlob(2);
  return std::optional<store::Certificate>(std::move(cert));
}

Result<std::optional<store::SealedKey>> CertificateMirror::KeptKeyLocked(std::string_view id) {
  Query q(*conn_, kKeptKey, "reading the edge's certificate copy");
  q.Text(1, id);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<store::SealedKey>();
  return std::optional<store::SealedKey>(
      store::SealedKey{static_cast<uint32_t>(q.ColumnInt(0)), q.ColumnBlob(1)});
}

Result<void> CertificateMirror::PutLocked(const store::Certificate& cert) {
  Query q(*conn_, kPut, "writing the edge's certificate copy");
  q.Text(1, cert.id)
      .Text(2, cert.certificate_pem)
      .Int(3, cert.private_key.key_version)
      .Blob(4, cert.private_key.blob);
  CG_RETURN_IF_ERROR(q.Run());
  ++copied_;
  return {};
}

Result<bool> CertificateMirror::DropLocked(std::string_view id) {
  Query q(*conn_, kDrop, "writing the edge's certificate copy");
  q.Text(1, id);
  CG_RETURN_IF_ERROR(q.Run());
  if (q.Changes() == 0) return false;
  ++dropped_;
  return true;
}

Result<int64_t> CertificateMirror::CountLocked() {
  Query q(*conn_, kCount, "reading the edge's certificate copy");
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.ColumnInt(0) : 0;
}

Result<void> CertificateMirror::RefreshLocked(const std::string& id) {
  CG_ASSIGN_OR_RETURN(auto cert, certificates_.GetCertificateById(id));
  std::lock_guard lock(db_mu_);
  if (cert) return PutLocked(*cert);
  auto dropped = DropLocked(id);
  if (!dropped) return std::move(dropped).error();
  return {};
}

Result<void> CertificateMirror::FillLocked() {
  ++fills_;
  // The sequence first: a change between it and the pass is applied again
  // afterwards, which re-reads its certificate and so changes nothing.
  CG_ASSIGN_OR_RETURN(int64_t sequence, feed_.ChangeSequence());
  std::unordered_set<std::string> in_store;
  std::optional<std::string> after;
  for (;;) {
    CG_ASSIGN_OR_RETURN(auto page, keys_.ListSealedKeys(after, kKeyPage));
    for (store::SealedKeyRef& ref : page) {
      if (!ref.record_id.starts_with(kCertificatePrefix)) continue;
      std::optional<store::SealedKey> kept;
      {
        std::lock_guard lock(db_mu_);
        CG_ASSIGN_OR_RETURN(kept, KeptKeyLocked(ref.record_id));
      }
      // A certificate's chain never changes; its key is re-sealed by a
      // master key rotation. Copied when missing or sealed otherwise.
      if (!kept || *kept != ref.key) CG_RETURN_IF_ERROR(RefreshLocked(ref.record_id));
      in_store.insert(std::move(ref.record_id));
    }
    if (page.size() < static_cast<size_t>(kKeyPage)) break;
    after = page.back().record_id;
  }
  // What the store no longer holds.
  std::vector<std::string> gone;
  {
    std::lock_guard lock(db_mu_);
    std::string last;
    for (;;) {
      Query q(*conn_, kIdsAfter, "reading the edge's certificate copy");
      q.Text(1, last);
      size_t rows = 0;
      for (;;) {
        CG_ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        ++rows;
        last = q.ColumnText(0);
        if (!in_store.contains(last)) gone.push_back(last);
      }
      if (rows < 1000) break;
    }
    for (const std::string& id : gone) CG_RETURN_IF_ERROR(DropLocked(id));
    CG_ASSIGN_OR_RETURN(int64_t held, CountLocked());
    held_ = held;
  }
  sequence_ = sequence;
  return {};
}

Result<void> CertificateMirror::CatchUp() {
  std::lock_guard apply(apply_mu_);
  if (!sequence_) return FillLocked();
  for (;;) {
    auto batch = feed_.ChangesSince(*sequence_, kFeedBatch);
    if (!batch && batch.error().code == ErrorCode::kChangesExpired) {
      spdlog::warn("edge: fell behind the store's change feed ({}); copying the certificates "
                   "again",
                   batch.error().message);
      return FillLocked();
    }
    if (!batch) return batch.error();
    std::set<std::string> ids;
    for (const store::EdgeChange& c : batch->changes) {
      if (c.kind == store::EdgeChangeKind::kCertificate && !c.key.empty()) ids.insert(c.key);
    }
    for (const std::string& id : ids) CG_RETURN_IF_ERROR(RefreshLocked(id));
    if (!ids.empty()) {
      std::lock_guard lock(db_mu_);
      CG_ASSIGN_OR_RETURN(int64_t held, CountLocked());
      held_ = held;
    }
    sequence_ = batch->sequence;
    if (!batch->more) return {};
  }
}

CertificateMirror::Stats CertificateMirror::stats() const {
  return Stats{fills_.load(), copied_.load(), dropped_.load(), held_.load()};
}

}  // namespace certgate::edge
