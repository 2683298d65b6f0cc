// PgStore, the PostgreSQL backend of Store (see pg_store.h for what it
// promises). Its methods are defined one resource per file beside this one,
// as in the SQLite backend; the pool, opening and transactions are in
// pg_store.cc. Thread-safe: a small pool of connections, one per concurrent
// caller.
#pragma once

#include <condition_variable>
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
#include "store/postgres/connection.h"
#include "store/store.h"

namespace certgate::store::pg {

// Connections per node: the API's and the edge's readers, and one writer at
// a time (writes take the cluster's write lock, kTakeWriteLock).
inline constexpr size_t kMaxConnections = 8;

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

class PgStore final : public Store, public NameOwnershipAudit {
 public:
  static Result<std::unique_ptr<PgStore>> Open(std::string conninfo);

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

 public:
  const std::string& conninfo() const { return conninfo_; }
  // See store::AnnounceOutsideChange.
  void AnnounceOutsideChange() { AnnounceChange(); }

 private:
  // A connection borrowed from the pool, returned when the lease ends (or
  // closed, if the server went away meanwhile).
  class Lease {
   public:
    Lease(PgStore* store, std::unique_ptr<Connection> conn)
        : store_(store), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn_ != nullptr) store_->Release(std::move(conn_));
    }
    Connection& conn() { return *conn_; }

   private:
    PgStore* store_;
    std::unique_ptr<Connection> conn_;
  };

  explicit PgStore(std::string conninfo) : conninfo_(std::move(conninfo)) {}

  // Waits for an idle connection, or opens one while fewer than
  // kMaxConnections exist.
  Result<Lease> Acquire(std::string_view op);
  void Release(std::unique_ptr<Connection> conn);

  // Runs body(conn) in a write transaction holding the cluster's write lock
  // (kTakeWriteLock) and commits if it succeeds; any failure rolls back.
  template <class F>
  auto Write(std::string_view op, F&& body) -> decltype(body(std::declval<Connection&>()));
  // Write, for writes to certificates, domains or endpoints: once committed
  // and the connection given back, tells the OnChange callbacks if the
  // result says something changed (Changed()).
  template <class F>
  auto WriteAndAnnounce(std::string_view op, F&& body)
      -> decltype(body(std::declval<Connection&>()));
  // Runs body(conn) in one read-only REPEATABLE READ transaction: every
  // statement in it sees the same snapshot.
  template <class F>
  auto Read(std::string_view op, F&& body) -> decltype(body(std::declval<Connection&>()));
  void AnnounceChange();

  const std::string conninfo_;  // may hold a password: never in a message

  std::mutex callbacks_mu_;
  std::vector<std::shared_ptr<const std::function<void()>>>
      callbacks_;  // GUARDED_BY(callbacks_mu_)

  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<Connection>> idle_;  // GUARDED_BY(pool_mu_)
  size_t open_connections_ = 0;                    // GUARDED_BY(pool_mu_)
};

// Runs body(conn) between begin_sql (and, for a write, the write lock) and
// COMMIT on conn; any failure rolls the transaction back and is returned.
template <class F>
auto RunTransaction(Connection& conn, const char* begin_sql, bool write, std::string_view op,
                    F&& body) -> decltype(body(std::declval<Connection&>())) {
  CG_RETURN_IF_ERROR(conn.Exec(begin_sql, op));
  if (write) {
    Query lock(conn, kTakeWriteLock, op);
    if (auto locked = lock.Run(); !locked) {
      conn.Rollback();
      return std::move(locked).error();
    }
  }
  auto result = body(conn);
  if (!result.ok()) {
    conn.Rollback();
    return result;
  }
  if (auto committed = conn.Exec(kCommit, op); !committed) {
    conn.Rollback();
    return std::move(committed).error();
  }
  return result;
}

template <class F>
auto PgStore::Write(std::string_view op, F&& body) -> decltype(body(std::declval<Connection&>())) {
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(op));
  return RunTransaction(lease.conn(), kBeginWrite, true, op, std::forward<F>(body));
}

template <class F>
auto PgStore::WriteAndAnnounce(std::string_view op, F&& body)
    -> decltype(body(std::declval<Connection&>())) {
  auto result = Write(op, std::forward<F>(body));
  if (Changed(result)) AnnounceChange();
  return result;
}

template <class F>
auto PgStore::Read(std::string_view op, F&& body) -> decltype(body(std::declval<Connection&>())) {
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(op));
  return RunTransaction(lease.conn(), kBeginRead, false, op, std::forward<F>(body));
}

}  // namespace certgate::store::pg
