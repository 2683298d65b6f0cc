// SqliteStore, the SQLite backend of Store (see sqlite_store.h for what it
// promises). Its methods are defined one resource per file beside this one;
// the pool, opening and file creation are in sqlite_store.cc. Thread-safe: a
// small pool of connections, one per concurrent caller.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/result.h"
#include "store/store.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/wal_sync.h"

namespace certgate::store::sqlite {

// SQLite runs one writer at a time whatever we do; more connections only let
// readers proceed beside it. Eight covers the API's and the edge's readers.
inline constexpr size_t kMaxConnections = 8;
// At most this many writes share one transaction (RunWriteJob).
inline constexpr size_t kMaxWriteBatch = 32;

// Whether a finished write changed certificates, domains or endpoints, and so
// must be announced to OnChange's callbacks.
inline bool Changed(const Result<void>& r) { return r.ok(); }
inline bool Changed(const Result<bool>& r) { return r.ok() && *r; }
inline bool Changed(const Result<DeleteOutcome>& r) {
  return r.ok() && r->status == DeleteOutcome::Status::kDeleted;
}
inline bool Changed(const Result<InsertDomainsOutcome>& r) { return r.ok() && r->inserted > 0; }
template <class T>
bool Changed(const Result<std::optional<T>>& r) {
  return r.ok() && r->has_value();
}

// One write waiting for its turn in SqliteStore::RunWriteJob: Write's body,
// type-erased.
struct WriteJob {
  std::string_view op;
  // Runs the body on conn inside the batch's transaction and keeps its
  // result; true if it succeeded.
  std::function<bool(Connection&)> run;
  // Replaces the kept result with error: the transaction never began, or
  // was lost (rolled back, or its COMMIT failed) after the body ran.
  std::function<void(Error)> fail;
  uint64_t commit = 0;  // WalSync's number for it, once committed
  bool done = false;    // GUARDED_BY(batch_mu_)
  // Its writer waits here, woken only when its job is done or it is to
  // lead the next batch: never for other writers' batches.
  std::condition_variable wake;
};

class SqliteStore final : public Store, public NameOwnershipAudit {
 public:
  static Result<std::unique_ptr<SqliteStore>> Open(const std::filesystem::path& path);

  Result<void> CreateAccount(const Account& account) override;
  Result<std::optional<Account>> GetAccount(std::string_view id) override;
  Result<int64_t> CountAccounts() override;
  Result<bool> CreateFirstAccount(const Account& account, const ApiKey& key,
                                  std::string_view token_hash) override;
  Result<void> CreateApiKey(const ApiKey& key, std::string_view token_hash) override;
  Result<std::optional<std::pair<ApiKey, Account>>> FindApiKeyByHash(
      std::string_view token_hash) override;
  Result<void> InsertCertificate(const Certificate& cert) override;
  Result<std::optional<Certificate>> GetCertificate(std::string_view account_id,
                                                    std::string_view id) override;
  Result<std::optional<Certificate>> GetCertificateById(std::string_view id) override;
  Result<Page<Certificate>> ListCertificates(std::string_view account_id,
                                             const ListQuery& query) override;
  Result<std::optional<Certificate>> UpdateCertificate(std::string_view account_id,
                                                       std::string_view id,
                                                       const CertificatePatch& patch) override;
  Result<DeleteOutcome> DeleteCertificate(std::string_view account_id,
                                          std::string_view id) override;
  Result<std::vector<UnsummarizedCertificate>> ListUnsummarizedCertificates(
      std::optional<std::string> after_id, int limit) override;
  Result<bool> SetCertificateSummary(std::string_view id,
                                     const CertificateSummary& summary) override;
  Result<void> InsertDomain(const Domain& domain) override;
  Result<InsertDomainsOutcome> InsertDomains(const std::vector<Domain>& domains) override;
  Result<std::optional<Domain>> GetDomain(std::string_view account_id,
                                          std::string_view id) override;
  Result<std::optional<Domain>> FindDomainByName(std::string_view name) override;
  Result<Page<Domain>> ListDomains(std::string_view account_id,
                                   const ListQuery& query) override;
  Result<bool> UpdateDomain(const Domain& domain) override;
  Result<DeleteOutcome> DeleteDomain(std::string_view account_id, std::string_view id) override;
  Result<void> InsertEndpoint(const Endpoint& endpoint,
                              const std::optional<Certificate>& policy_certificate) override;
  Result<std::optional<Endpoint>> GetEndpoint(std::string_view account_id,
                                              std::string_view id) override;
  Result<Page<Endpoint>> ListEndpoints(std::string_view account_id,
                                       const ListQuery& query) override;
  Result<bool> UpdateEndpoint(const Endpoint& endpoint,
                              const std::optional<Certificate>& policy_certificate) override;
  Result<bool> DeleteEndpoint(std::string_view account_id, std::string_view id) override;
  Result<NameCheck> CheckNameOwnership() override;
  using EdgeFeed::LoadEdgeState;
  Result<EdgeState> LoadEdgeState(const EdgeDomainVisitor& visit) override;
  Result<int64_t> ChangeSequence() override;
  Result<EdgeChanges> ChangesSince(int64_t after, int limit) override;
  Result<std::optional<EdgeDomain>> EdgeDomainByName(std::string_view name) override;
  Result<std::vector<Endpoint>> EndpointsByHost(std::string_view host) override;
  void OnChange(std::function<void()> fn) override;
  Result<std::vector<SealedKeyRef>> ListSealedKeys(std::optional<std::string> after_id,
                                                   int limit) override;
  Result<bool> ReplaceSealedKey(std::string_view record_id, const SealedKey& expected,
                                const SealedKey& replacement) override;
  Result<int64_t> CountSealedKeysNotAtVersion(uint32_t version) override;
  Result<std::optional<AcmeAccount>> GetAcmeAccount(std::string_view directory_url) override;
  Result<void> InsertAcmeAccount(const AcmeAccount& account) override;
  Result<bool> DeleteAcmeAccount(std::string_view id) override;
  Result<std::vector<Domain>> ListDomainsNeedingCertificates(Time now, int limit) override;
  Result<bool> InsertProvisioningJob(const ProvisioningJob& job) override;
  Result<std::optional<ProvisioningJob>> GetProvisioningJobForDomain(
      std::string_view domain_id) override;
  Result<std::vector<ProvisioningJob>> ClaimDueJobs(std::string_view owner, Time now,
                                                    Time lease_until, int limit) override;
  Result<void> ReleaseJobLeases(std::string_view owner) override;
  Result<bool> UpdateProvisioningJob(const ProvisioningJob& job,
                                     std::optional<Time> hold_until) override;
  Result<bool> DeleteProvisioningJob(std::string_view id) override;
  Result<bool> CompleteProvisioningJob(const ProvisioningJob& job, const Certificate& cert,
                                       Time renews_at) override;
  Result<void> PutHttp01Challenge(const Http01Challenge& challenge) override;
  Result<std::optional<std::string>> GetHttp01KeyAuthorization(std::string_view token) override;
  Result<bool> DeleteHttp01Challenge(std::string_view token) override;
  Result<std::vector<std::pair<std::string, std::string>>> ListHttp01Challenges() override;
  Result<void> PutDnsTxtRecord(std::string_view name, std::string_view value,
                               std::string_view job_id) override;
  Result<std::vector<std::string>> ListDnsTxtRecords(std::string_view name) override;
  Result<bool> DeleteDnsTxtRecord(std::string_view name, std::string_view value) override;
  Result<bool> HasReservedNamesBelow(std::string_view name) override;
  Result<bool> IsEdgeName(std::string_view name) override;
  Result<int64_t> LoadZone(std::string_view zone, const ZoneVisitor& visit) override;
  Result<bool> IsCnameTarget(std::string_view name) override;
  Result<std::optional<std::string>> GetSetting(std::string_view name) override;
  Result<void> SetSetting(std::string_view name, std::string_view value) override;
  Result<bool> CompareAndSetSetting(std::string_view name,
                                    const std::optional<std::string>& expected,
                                    std::string_view value) override;

 private:
  // A connection borrowed from the pool, returned when the lease ends.
  class Lease {
   public:
    Lease(SqliteStore* store, std::unique_ptr<Connection> conn)
        : store_(store), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn_ != nullptr) store_->Release(std::move(conn_));
    }
    Connection& conn() { return *conn_; }

   private:
    SqliteStore* store_;
    std::unique_ptr<Connection> conn_;
  };

  explicit SqliteStore(std::string path) : path_(std::move(path)), wal_sync_(path_) {}

  // Waits for an idle connection, or opens one while fewer than
  // kMaxConnections exist.
  Result<Lease> Acquire(std::string_view op);
  void Release(std::unique_ptr<Connection> conn);

  // Runs body(conn) in a BEGIN IMMEDIATE transaction and commits if it
  // succeeds. IMMEDIATE takes the write lock up front, so the busy timeout
  // covers waiting for another writer and a transaction never fails halfway
  // for want of an upgrade to the write lock. Writes that arrive while
  // another runs share the next transaction (RunWriteJob); each still
  // succeeds or fails alone and returns once it is on disk.
  template <class F>
  auto Write(std::string_view op, F&& body) -> decltype(body(std::declval<Connection&>()));
  // Queues job and returns once it has run and its transaction committed or
  // failed. The first writer to find no batch running leads: it runs up to
  // kMaxWriteBatch queued jobs, its own among them, in one transaction, each
  // inside a SAVEPOINT so that a failed body rolls back only its own
  // changes. A lone job runs without a savepoint. Under concurrent API
  // writes this writes each B-tree page once per batch rather than once per
  // write, and the WAL is synced once for all of them.
  void RunWriteJob(WriteJob& job);
  // The leader's part: runs batch in one transaction (never empty).
  void RunWriteBatch(const std::vector<WriteJob*>& batch);

 public:
  // Write transactions begun so far (SqliteWriteTransactions, for tests).
  uint64_t write_transactions() const { return write_transactions_.load(); }

 private:
  // Write, for writes to certificates, domains or endpoints: once the
  // transaction has committed and its batch is over, the lease given back, tells
  // the OnChange callbacks if the result says something changed (Changed()).
  template <class F>
  auto WriteAndAnnounce(std::string_view op, F&& body)
      -> decltype(body(std::declval<Connection&>()));
  // Runs body(conn) in one read transaction: every SELECT in it sees the same
  // snapshot of the database.
  template <class F>
  auto Read(std::string_view op, F&& body) -> decltype(body(std::declval<Connection&>()));
  void AnnounceChange();

  const std::string path_;
  // Makes each write durable before it returns, a group of writes per sync.
  WalSync wal_sync_;

  // Never removed, so a copy of the pointers can be called without the lock
  // (and a callback may call OnChange itself).
  std::mutex callbacks_mu_;
  std::vector<std::shared_ptr<const std::function<void()>>>
      callbacks_;  // GUARDED_BY(callbacks_mu_)

  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<Connection>> idle_;  // GUARDED_BY(pool_mu_)
  size_t open_connections_ = 0;                    // GUARDED_BY(pool_mu_)

  // Serialises this process's write transactions: SQLite would anyway, but it
  // makes waiters poll with sleeps; here a waiter is woken at once, and joins
  // the next batch. Held only around the queue, never during a transaction.
  std::mutex batch_mu_;
  std::deque<WriteJob*> queued_;  // GUARDED_BY(batch_mu_)
  bool leading_ = false;          // GUARDED_BY(batch_mu_): a batch is running
  std::atomic<uint64_t> write_transactions_{0};
};

// Runs body(conn) between begin_sql and COMMIT on conn; any failure rolls
// the transaction back and is returned.
template <class F>
auto RunTransaction(Connection& conn, const char* begin_sql, std::string_view op, F&& body)
    -> decltype(body(std::declval<Connection&>())) {
  {
    Query begin(conn, begin_sql, op);
    CG_RETURN_IF_ERROR(begin.Run());
  }
  auto result = body(conn);
  if (!result.ok()) {
    conn.Rollback();
    return result;
  }
  Result<void> committed;
  {
    Query commit(conn, kCommit, op);
    committed = commit.Run();
  }
  if (!committed.ok()) {
    conn.Rollback();
    return std::move(committed).error();
  }
  return result;
}

template <class F>
auto SqliteStore::Write(std::string_view op, F&& body)
    -> decltype(body(std::declval<Connection&>())) {
  using R = decltype(body(std::declval<Connection&>()));
  std::optional<R> result;
  WriteJob job;
  job.op = op;
  job.run = [&](Connection& conn) {
    result.emplace(body(conn));
    return result->ok();
  };
  job.fail = [&](Error error) { result.emplace(std::move(error)); };
  RunWriteJob(job);
  // With the batch over and the connection given back, so that the next
  // writers can commit meanwhile and share the sync.
  if (result->ok()) CG_RETURN_IF_ERROR(wal_sync_.WaitDurable(job.commit));
  return std::move(*result);
}

template <class F>
auto SqliteStore::WriteAndAnnounce(std::string_view op, F&& body)
    -> decltype(body(std::declval<Connection&>())) {
  auto result = Write(op, std::forward<F>(body));
  if (Changed(result)) AnnounceChange();
  return result;
}

template <class F>
auto SqliteStore::Read(std::string_view op, F&& body)
    -> decltype(body(std::declval<Connection&>())) {
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(op));
  return RunTransaction(lease.conn(), kBeginRead, op, std::forward<F>(body));
}

}  // namespace certgate::store::sqlite
