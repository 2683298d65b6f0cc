// Reserved domains in the SQL backends, written once for store/sqlite and
// store/postgres: each function runs a backend's statements S (its DomainSql,
// in its domains.cc) on a Conn with Conn::QueryType; the writes run inside
// the caller's write transaction. Errors name op. As thread-safe as a
// Connection: one thread at a time.
//
// S's statements bind by number (written ?N here; $N in PostgreSQL), the same
// numbers in both backends:
//   kInsertDomain: ?1 id, ?2 account_id, the fields BindDomainFields binds
//     (?3 to ?10), ?11 created_at (unix seconds), ?12 domain, ?13 name_key.
//   kUpdateDomain: ?1 id, ?2 account_id, the fields BindDomainFields binds.
//   kSelectDomain (?1 id, ?2 account_id), kSelectDomainByName (?1 domain):
//     the columns ReadDomain reads.
//   kDomainExists (?1 id, ?2 account_id), kAccountCertExists (?1 certificate
//     id, ?2 account_id), kDomainCertificate (?1 id: certificate_id),
//     kEndpointsUsingDomain (?1 domain id: urls), kDeleteDomain (?1 id,
//     ?2 account_id), kDeleteUnmanagedJob (?1 domain id),
//     kDeleteOrphanIssuedCert (?1 certificate id).
// S::kCheckNameOwnership is the backend's CheckDomainNameOwnership (its
// name_ownership.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/result.h"
#include "core/time.h"
#include "store/name_key.h"
#include "store/name_ownership_rule.h"
#include "store/records.h"
#include "store/sql/rows.h"

namespace certgate::store::sql {

// A domain may refer only to a certificate of its own account that no
// endpoint owns. Checked inside the write transaction, which holds the write
// lock (SQLite's own; in PostgreSQL the cluster's), so the certificate cannot
// go away before the write commits (DeleteCertificate checks the other way
// round under the same lock).
template <class S, class Conn>
Result<void> CheckAttachable(Conn& conn, const Domain& domain, std::string_view op) {
  using Q = typename Conn::QueryType;
  if (!domain.certificate_id.has_value()) return {};
  Q q(conn, S::kAccountCertExists, op);
  // Text, not AccountId: a domain never refers to the service's own.
  q.Text(1, *domain.certificate_id).Text(2, domain.account_id);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (row) return {};
  return MakeError(ErrorCode::kStoreConflict,
                   fmt::format("{}: certificate_id {} names no certificate of account {} (it "
                               "does not exist, was deleted, or belongs to an endpoint)",
                               op, *domain.certificate_id, domain.account_id));
}

// The fields kInsertDomain and kUpdateDomain share, numbered alike in both.
template <class Q>
void BindDomainFields(Q& q, const Domain& d) {
  // ?1 id and ?2 account_id are bound by the caller.
  q.Text(3, d.description).Text(4, d.metadata).OptionalText(5, d.certificate_id);
  if (d.policy.has_value()) {
    q.Text(6, AuthorityName(d.policy->authority)).Text(7, KeyTypeName(d.policy->private_key_type));
  } else {
    q.Null(6).Null(7);
  }
  q.OptionalText(8, d.cname_target).OptionalText(9, d.acme_challenge_cname_target);
  q.Text(10, JoinResolvesTo(d.resolves_to));
}

// Inside a write transaction: the ownership checks and the row. Every
// refusal comes from a check before the INSERT, never from a failed
// statement, so InsertDomains can skip a name and go on: PostgreSQL aborts
// the whole transaction at a failed statement.
template <class S, class Conn>
Result<void> InsertDomain(Conn& conn, const Domain& domain, std::string_view op) {
  using Q = typename Conn::QueryType;
  CG_RETURN_IF_ERROR(S::kCheckNameOwnership(conn, domain, op));
  CG_RETURN_IF_ERROR(CheckAttachable<S>(conn, domain, op));
  Q q(conn, S::kInsertDomain, op);
  q.Text(1, domain.id).Text(2, domain.account_id);
  BindDomainFields(q, domain);
  q.Int(11, ToUnixSeconds(domain.created_at))
      .Text(12, domain.domain)
      .Text(13, NameKey(domain.domain));
  return q.Run();
}

template <class S, class Conn>
Result<InsertDomainsOutcome> InsertDomains(Conn& conn, const std::vector<Domain>& domains,
                                           std::string_view op) {
  InsertDomainsOutcome outcome;
  for (const Domain& domain : domains) {
    if (auto r = InsertDomain<S>(conn, domain, op); !r) {
      if (r.error().code != ErrorCode::kDomainReservedHere) return NamingDomain(r.error(), domain);
      ++outcome.already_reserved;
      continue;
    }
    ++outcome.inserted;
  }
  return outcome;
}

// The domain a bound select finds, if any.
template <class Q>
Result<std::optional<Domain>> ReadOptionalDomain(Q& q, std::string_view op) {
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<Domain>();
  CG_ASSIGN_OR_RETURN(Domain domain, ReadDomain(q, op));
  return std::optional<Domain>(std::move(domain));
}

template <class S, class Conn>
Result<std::optional<Domain>> GetDomain(Conn& conn, std::string_view account_id,
                                        std::string_view id, std::string_view op) {
  typename Conn::QueryType q(conn, S::kSelectDomain, op);
  q.Text(1, id).Text(2, account_id);
  return ReadOptionalDomain(q, op);
}

template <class S, class Conn>
Result<std::optional<Domain>> FindDomainByName(Conn& conn, std::string_view name,
                                               std::string_view op) {
  typename Conn::QueryType q(conn, S::kSelectDomainByName, op);
  q.Text(1, name);
  return ReadOptionalDomain(q, op);
}

// The certificate_id stored for domain id, if the row and the id exist.
template <class S, class Conn>
Result<std::optional<std::string>> DomainCertificate(Conn& conn, std::string_view id,
                                                      std::string_view op) {
  typename Conn::QueryType cert(conn, S::kDomainCertificate, op);
  cert.Text(1, id);
  CG_ASSIGN_OR_RETURN(bool row, cert.Step());
  if (!row) return std::optional<std::string>();
  return cert.OptionalColumnText(0);
}

// Whether domain id of account_id exists.
template <class S, class Conn>
Result<bool> DomainExists(Conn& conn, std::string_view account_id, std::string_view id,
                          std::string_view op) {
  typename Conn::QueryType exists(conn, S::kDomainExists, op);
  exists.Text(1, id).Text(2, account_id);
  return exists.Step();
}

template <class S, class Conn>
Result<bool> UpdateDomain(Conn& conn, const Domain& domain, std::string_view op) {
  using Q = typename Conn::QueryType;
  // Not found comes before a bad certificate_id: another account's ids
  // must not learn anything from the error.
  CG_ASSIGN_OR_RETURN(bool exists, DomainExists<S>(conn, domain.account_id, domain.id, op));
  if (!exists) return false;
  CG_RETURN_IF_ERROR(CheckAttachable<S>(conn, domain, op));
  CG_ASSIGN_OR_RETURN(std::optional<std::string> attached,
                      DomainCertificate<S>(conn, domain.id, op));
  Q q(conn, S::kUpdateDomain, op);
  q.Text(1, domain.id).Text(2, domain.account_id);
  BindDomainFields(q, domain);
  CG_RETURN_IF_ERROR(q.Run());
  if (q.Changes() == 0) return false;
  Q stop(conn, S::kDeleteUnmanagedJob, op);
  stop.Text(1, domain.id);
  CG_RETURN_IF_ERROR(stop.Run());
  if (attached) {
    // An issued certificate the domain let go of goes (uploaded ones stay).
    Q orphan(conn, S::kDeleteOrphanIssuedCert, op);
    orphan.Text(1, *attached);
    CG_RETURN_IF_ERROR(orphan.Run());
  }
  return true;
}

template <class S, class Conn>
Result<DeleteOutcome> DeleteDomain(Conn& conn, std::string_view account_id, std::string_view id,
                                   std::string_view op) {
  using Q = typename Conn::QueryType;
  DeleteOutcome outcome;
  CG_ASSIGN_OR_RETURN(bool exists, DomainExists<S>(conn, account_id, id, op));
  if (!exists) return outcome;  // kNotFound
  {
    Q users(conn, S::kEndpointsUsingDomain, op);
    users.Text(1, id);
    CG_ASSIGN_OR_RETURN(outcome.used_by, ReadTextColumn(users));
  }
  if (!outcome.used_by.empty()) {
    outcome.status = DeleteOutcome::Status::kInUse;
    return outcome;
  }
  CG_ASSIGN_OR_RETURN(std::optional<std::string> attached, DomainCertificate<S>(conn, id, op));
  Q q(conn, S::kDeleteDomain, op);
  q.Text(1, id).Text(2, account_id);
  CG_RETURN_IF_ERROR(q.Run());
  outcome.status =
      q.Changes() > 0 ? DeleteOutcome::Status::kDeleted : DeleteOutcome::Status::kNotFound;
  if (attached) {
    // A certificate issued for this domain goes with it.
    Q orphan(conn, S::kDeleteOrphanIssuedCert, op);
    orphan.Text(1, *attached);
    CG_RETURN_IF_ERROR(orphan.Run());
  }
  return outcome;
}

}  // namespace certgate::store::sql
