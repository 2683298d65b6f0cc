// Reserved domains in the SQLite backend.
#include "store/sqlite/sqlite_store_impl.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "store/name_key.h"
#include "store/name_ownership_rule.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/statements.h"
#include "store/sqlite/name_ownership.h"

namespace certgate::store::sqlite {
namespace {

// Numbered like kUpdateDomain, so that BindDomainFields serves both.
constexpr char kInsertDomain[] =
    "INSERT INTO reserved_domains (id, account_id, description, metadata, certificate_id,"
    " policy_authority, policy_key_type, cname_target, acme_challenge_cname_target,"
    " resolves_to, created_at, domain, name_key)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
constexpr char kSelectDomain[] =
    "SELECT " CG_DOMAIN_COLUMNS " FROM reserved_domains WHERE id = ?1 AND account_id = ?2";
#define CG_LIST_DOMAINS "SELECT " CG_DOMAIN_COLUMNS " FROM reserved_domains WHERE account_id = ?1"
constexpr char kListDomains[] = CG_LIST_DOMAINS " ORDER BY id DESC LIMIT ?2";
constexpr char kListDomainsBefore[] = CG_LIST_DOMAINS " AND id < ?2 ORDER BY id DESC LIMIT ?3";
// Columns of the fields store/list_filter.cc lists for domains.
constexpr FilterColumn kDomainFilterColumns[] = {
    {"id", "id"},
    {"created_at", "created_at"},
    {"description", "description"},
    {"metadata", "metadata"},
    {"domain", "domain"},
    {"region", "''"},
    {"cname_target", "cname_target"},
    {"certificate.id", "certificate_id"},
    {"acme_challenge_cname_target", "acme_challenge_cname_target"},
};
constexpr ListStatements kDomainList{kListDomains, kListDomainsBefore, CG_LIST_DOMAINS,
                                     kDomainFilterColumns};
#undef CG_LIST_DOMAINS
// While a policy is set (?6), automatic management owns certificate_id.
constexpr char kUpdateDomain[] =
    "UPDATE reserved_domains SET description = ?3, metadata = ?4,"
    " certificate_id = CASE WHEN ?6 IS NULL THEN ?5"
    "   WHEN policy_authority IS NULL THEN NULL ELSE certificate_id END,"
    " policy_authority = ?6, policy_key_type = ?7, cname_target = ?8,"
    " acme_challenge_cname_target = ?9, resolves_to = ?10,"
    " renews_at = CASE WHEN ?6 IS NULL THEN NULL ELSE renews_at END,"
    " issued_key_type = CASE WHEN ?6 IS NULL THEN NULL ELSE issued_key_type END"
    " WHERE id = ?1 AND account_id = ?2";
constexpr char kDeleteUnmanagedJob[] =
    "DELETE FROM provisioning_jobs WHERE domain_id = ?1"
    " AND domain_id IN (SELECT id FROM reserved_domains WHERE policy_authority IS NULL)";
constexpr char kDomainCertificate[] =
    "SELECT certificate_id FROM reserved_domains WHERE id = ?1";
constexpr char kDeleteDomain[] = "DELETE FROM reserved_domains WHERE id = ?1 AND account_id = ?2";
constexpr char kEndpointsUsingDomain[] =
    "SELECT url FROM endpoints WHERE domain_id = ?1 ORDER BY url";

// A domain may refer only to a certificate of its own account that no
// endpoint owns. Checked inside the write transaction, so the certificate
// cannot go away before the write commits (DeleteCertificate checks the other
// way round under the same lock).
Result<void> CheckAttachable(Connection& conn, const Domain& domain, std::string_view op) {
  if (!domain.certificate_id.has_value()) return {};
  Query q(conn, kAccountCertExists, op);
  // Text, not AccountId: a domain never refers to the service's own.
  q.Text(1, *domain.certificate_id).Text(2, domain.account_id);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (row) return {};
  return MakeError(ErrorCode::kStoreConflict,
                   fmt::format("{}: certificate_id {} names no certificate of account {} (it "
                               "does not exist, was deleted, or belongs to an endpoint)",
                               op, *domain.certificate_id, domain.account_id));
}

void BindDomainFields(Query& q, const Domain& d) {
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

// Inside a write transaction: the ownership checks and the row.
Result<void> InsertDomainRow(Connection& conn, const Domain& domain, std::string_view op) {
  CG_RETURN_IF_ERROR(CheckDomainNameOwnership(conn, domain, op));
  CG_RETURN_IF_ERROR(CheckAttachable(conn, domain, op));
  Query q(conn, kInsertDomain, op);
  q.Text(1, domain.id).Text(2, domain.account_id);
  BindDomainFields(q, domain);
  q.Int(11, ToUnixSeconds(domain.created_at))
      .Text(12, domain.domain)
      .Text(13, NameKey(domain.domain));
  return q.Run();
}

}  // namespace

Result<void> SqliteStore::InsertDomain(const Domain& domain) {
  constexpr std::string_view kOp = "inserting a reserved domain";
  return WriteAndAnnounce(kOp, [&](Connection& conn) { return InsertDomainRow(conn, domain, kOp); });
}

Result<InsertDomainsOutcome> SqliteStore::InsertDomains(const std::vector<Domain>& domains) {
  constexpr std::string_view kOp = "inserting reserved domains";
  return WriteAndAnnounce(kOp, [&](Connection& conn) -> Result<InsertDomainsOutcome> {
    InsertDomainsOutcome outcome;
    for (const Domain& domain : domains) {
      if (auto r = InsertDomainRow(conn, domain, kOp); !r) {
        if (r.error().code != ErrorCode::kDomainReservedHere) return NamingDomain(r.error(), domain);
        ++outcome.already_reserved;
        continue;
      }
      ++outcome.inserted;
    }
    return outcome;
  });
}

Result<std::optional<Domain>> SqliteStore::GetDomain(std::string_view account_id,
                                                     std::string_view id) {
  constexpr std::string_view kOp = "reading a reserved domain";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kSelectDomain, kOp);
  q.Text(1, id).Text(2, account_id);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<Domain>();
  CG_ASSIGN_OR_RETURN(Domain domain, ReadDomain(q, kOp));
  return std::optional<Domain>(std::move(domain));
}

Result<std::optional<Domain>> SqliteStore::FindDomainByName(std::string_view name) {
  constexpr std::string_view kOp = "looking up a reserved domain";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kSelectDomainByName, kOp);
  q.Text(1, name);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<Domain>();
  CG_ASSIGN_OR_RETURN(Domain domain, ReadDomain(q, kOp));
  return std::optional<Domain>(std::move(domain));
}

Result<Page<Domain>> SqliteStore::ListDomains(std::string_view account_id,
                                              const ListQuery& query) {
  constexpr std::string_view kOp = "listing reserved domains";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return ListPage<Domain>(lease.conn(), kDomainList, account_id, query, kOp, ReadDomain<Query>);
}

Result<bool> SqliteStore::UpdateDomain(const Domain& domain) {
  constexpr std::string_view kOp = "updating a reserved domain";
  return WriteAndAnnounce(kOp, [&](Connection& conn) -> Result<bool> {
    {
      // Not found comes before a bad certificate_id: another account's ids
      // must not learn anything from the error.
      Query exists(conn, kDomainExists, kOp);
      exists.Text(1, domain.id).Text(2, domain.account_id);
      CG_ASSIGN_OR_RETURN(bool row, exists.Step());
      if (!row) return false;
    }
    CG_RETURN_IF_ERROR(CheckAttachable(conn, domain, kOp));
    std::optional<std::string> attached;
    {
      Query cert(conn, kDomainCertificate, kOp);
      cert.Text(1, domain.id);
      CG_ASSIGN_OR_RETURN(bool row, cert.Step());
      if (row) attached = cert.OptionalColumnText(0);
    }
    Query q(conn, kUpdateDomain, kOp);
    q.Text(1, domain.id).Text(2, domain.account_id);
    BindDomainFields(q, domain);
    CG_RETURN_IF_ERROR(q.Run());
    if (q.Changes() == 0) return false;
    Query stop(conn, kDeleteUnmanagedJob, kOp);
    stop.Text(1, domain.id);
    CG_RETURN_IF_ERROR(stop.Run());
    if (attached) {
      // An issued certificate the domain let go of goes (uploaded ones stay).
      Query orphan(conn, kDeleteOrphanIssuedCert, kOp);
      orphan.Text(1, *attached);
      CG_RETURN_IF_ERROR(orphan.Run());
    }
    return true;
  });
}

Result<DeleteOutcome> SqliteStore::DeleteDomain(std::string_view account_id, std::string_view id) {
  constexpr std::string_view kOp = "deleting a reserved domain";
  return WriteAndAnnounce(kOp, [&](Connection& conn) -> Result<DeleteOutcome> {
    DeleteOutcome outcome;
    {
      Query exists(conn, kDomainExists, kOp);
      exists.Text(1, id).Text(2, account_id);
      CG_ASSIGN_OR_RETURN(bool row, exists.Step());
      if (!row) return outcome;  // kNotFound
    }
    {
      Query users(conn, kEndpointsUsingDomain, kOp);
      users.Text(1, id);
      CG_ASSIGN_OR_RETURN(outcome.used_by, ReadTextColumn(users));
    }
    if (!outcome.used_by.empty()) {
      outcome.status = DeleteOutcome::Status::kInUse;
      return outcome;
    }
    std::optional<std::string> attached;
    {
      Query cert(conn, kDomainCertificate, kOp);
      cert.Text(1, id);
      CG_ASSIGN_OR_RETURN(bool row, cert.Step());
      if (row) attached = cert.OptionalColumnText(0);
    }
    Query q(conn, kDeleteDomain, kOp);
    q.Text(1, id).Text(2, account_id);
    CG_RETURN_IF_ERROR(q.Run());
    outcome.status =
        q.Changes() > 0 ? DeleteOutcome::Status::kDeleted : DeleteOutcome::Status::kNotFound;
    if (attached) {
      // A certificate issued for this domain goes with it.
      Query orphan(conn, kDeleteOrphanIssuedCert, kOp);
      orphan.Text(1, *attached);
      CG_RETURN_IF_ERROR(orphan.Run());
    }
    return outcome;
  });
}

}  // namespace certgate::store::sqlite
