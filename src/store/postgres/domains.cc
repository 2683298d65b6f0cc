// Reserved domains in the PostgreSQL backend: the statements (the logic is
// store/sql/domains.h).
#include "store/postgres/pg_store_impl.h"

#include <optional>
#include <string_view>
#include <vector>

#include "store/postgres/name_ownership.h"
#include "store/postgres/rows.h"
#include "store/postgres/statements.h"
#include "store/sql/domains.h"

namespace certgate::store::pg {
namespace {

struct DomainSql {
  // Numbered like kUpdateDomain, so that BindDomainFields serves both.
  static constexpr const char* kInsertDomain =
      "INSERT INTO reserved_domains (id, account_id, description, metadata, certificate_id,"
      " policy_authority, policy_key_type, cname_target, acme_challenge_cname_target,"
      " resolves_to, created_at, domain, name_key)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, to_timestamp($11), $12, $13)";
  static constexpr const char* kSelectDomain =
      "SELECT " CG_PG_DOMAIN_COLUMNS " FROM reserved_domains WHERE id = $1 AND account_id = $2";
  static constexpr const char* kSelectDomainByName = pg::kSelectDomainByName;
  // While a policy is set ($6), automatic management owns certificate_id.
  // "$6::text": a parameter's type comes from its first use, and IS NULL
  // alone gives PostgreSQL none.
  static constexpr const char* kUpdateDomain =
      "UPDATE reserved_domains SET description = $3, metadata = $4,"
      " certificate_id = CASE WHEN $6::text IS NULL THEN $5"
      "   WHEN policy_authority IS NULL THEN NULL ELSE certificate_id END,"
      " policy_authority = $6, policy_key_type = $7, cname_target = $8,"
      " acme_challenge_cname_target = $9, resolves_to = $10,"
      " renews_at = CASE WHEN $6::text IS NULL THEN NULL ELSE renews_at END,"
      " issued_key_type = CASE WHEN $6::text IS NULL THEN NULL ELSE issued_key_type END"
      " WHERE id = $1 AND account_id = $2";
  static constexpr const char* kDeleteUnmanagedJob =
      "DELETE FROM provisioning_jobs WHERE domain_id = $1"
      " AND domain_id IN (SELECT id FROM reserved_domains WHERE policy_authority IS NULL)";
  static constexpr const char* kDomainCertificate =
      "SELECT certificate_id FROM reserved_domains WHERE id = $1";
  static constexpr const char* kDeleteDomain =
      "DELETE FROM reserved_domains WHERE id = $1 AND account_id = $2";
  static constexpr const char* kEndpointsUsingDomain =
      "SELECT url FROM endpoints WHERE domain_id = $1 ORDER BY url";
  static constexpr const char* kDomainExists = pg::kDomainExists;
  static constexpr const char* kAccountCertExists = pg::kAccountCertExists;
  static constexpr const char* kDeleteOrphanIssuedCert = pg::kDeleteOrphanIssuedCert;
  // The name ownership rule over this backend's index (name_ownership.h).
  static constexpr auto kCheckNameOwnership = &CheckDomainNameOwnership;
};

#define CG_LIST_DOMAINS \
  "SELECT " CG_PG_DOMAIN_COLUMNS " FROM reserved_domains WHERE account_id = $1"
constexpr char kListDomains[] = CG_LIST_DOMAINS " ORDER BY id DESC LIMIT $2";
constexpr char kListDomainsBefore[] = CG_LIST_DOMAINS " AND id < $2 ORDER BY id DESC LIMIT $3";
// Columns of the fields store/list_filter.cc lists for domains.
constexpr FilterColumn kDomainFilterColumns[] = {
    {"id", "id"},
    {"created_at", CG_PG_EPOCH(created_at)},
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

}  // namespace

Result<void> PgStore::InsertDomain(const Domain& domain) {
  constexpr std::string_view kOp = "inserting a reserved domain";
  return WriteAndAnnounce(
      kOp, [&](Connection& conn) { return sql::InsertDomain<DomainSql>(conn, domain, kOp); });
}

Result<InsertDomainsOutcome> PgStore::InsertDomains(const std::vector<Domain>& domains) {
  constexpr std::string_view kOp = "inserting reserved domains";
  return WriteAndAnnounce(kOp, [&](Connection& conn) -> Result<InsertDomainsOutcome> {
    // Plans for the rows as they are now, not the cached generic ones: made
    // while the table was small (a new store), those scan it whole, and a
    // batch into a young table slowed with the square of its size (5,000
    // names: 7.4 s, against 2.4 s planned each time).
    CG_RETURN_IF_ERROR(conn.Exec("SET LOCAL plan_cache_mode = force_custom_plan", kOp));
    return sql::InsertDomains<DomainSql>(conn, domains, kOp);
  });
}

Result<std::optional<Domain>> PgStore::GetDomain(std::string_view account_id,
                                                 std::string_view id) {
  constexpr std::string_view kOp = "reading a reserved domain";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::GetDomain<DomainSql>(lease.conn(), account_id, id, kOp);
}

Result<std::optional<Domain>> PgStore::FindDomainByName(std::string_view name) {
  constexpr std::string_view kOp = "looking up a reserved domain";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::FindDomainByName<DomainSql>(lease.conn(), name, kOp);
}

Result<Page<Domain>> PgStore::ListDomains(std::string_view account_id, const ListQuery& query) {
  constexpr std::string_view kOp = "listing reserved domains";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return ListPage<Domain>(lease.conn(), kDomainList, account_id, query, kOp, ReadDomain<Query>);
}

Result<bool> PgStore::UpdateDomain(const Domain& domain) {
  constexpr std::string_view kOp = "updating a reserved domain";
  return WriteAndAnnounce(
      kOp, [&](Connection& conn) { return sql::UpdateDomain<DomainSql>(conn, domain, kOp); });
}

Result<DeleteOutcome> PgStore::DeleteDomain(std::string_view account_id, std::string_view id) {
  constexpr std::string_view kOp = "deleting a reserved domain";
  return WriteAndAnnounce(kOp, [&](Connection& conn) {
    return sql::DeleteDomain<DomainSql>(conn, account_id, id, kOp);
  });
}

}  // namespace certgate::store::pg
