// Name ownership in the PostgreSQL backend: the statements of the rule's
// lookups (the logic is store/sql/name_ownership.h), the checks inside domain
// and endpoint inserts, and the audit.
#include "store/postgres/name_ownership.h"

#include <string_view>

#include "store/postgres/pg_store_impl.h"
#include "store/sql/name_ownership.h"

namespace certgate::store::pg {
namespace {

// The audit reads every domain and endpoint in pages of this many rows, by
// keyset, all in its one REPEATABLE READ transaction (one snapshot): libpq
// holds a statement's whole result in memory, and a store may hold a
// million names.
#define CG_AUDIT_PAGE_ROWS 10000
#define CG_AUDIT_STRINGIFY(x) #x
#define CG_AUDIT_LIMIT(x) " LIMIT " CG_AUDIT_STRINGIFY(x)

// name_key and domain are COLLATE "C": ranges and orders compare bytewise,
// as in SQLite, whatever the database's locale.
struct NameOwnershipSql {
  static constexpr const char* kDomainNamed =
      "SELECT id, account_id, domain FROM reserved_domains WHERE domain = $1";
  // Another account's domain of one of two names (a name and its wildcard).
  static constexpr const char* kOtherOwnerOf =
      "SELECT id, account_id, domain FROM reserved_domains"
      " WHERE domain IN ($1, $2) AND account_id <> $3 ORDER BY domain";
  // Another account's domain below a name (name_key range ($1, $2)), but $4.
  static constexpr const char* kOtherOwnerBelow =
      "SELECT name_key FROM reserved_domains WHERE name_key > $1 AND name_key < $2"
      " AND account_id <> $3 AND name_key <> $4 ORDER BY name_key LIMIT 1";
  // The first page, then each page after the last row's (name_key, id). The
  // plain name_key >= $1 lets the name_key index start the range there.
  static constexpr const char* kDomainsByNameKey =
      "SELECT name_key, id, account_id, domain FROM reserved_domains"
      " ORDER BY name_key, id" CG_AUDIT_LIMIT(CG_AUDIT_PAGE_ROWS);
  static constexpr const char* kDomainsByNameKeyAfter =
      "SELECT name_key, id, account_id, domain FROM reserved_domains"
      " WHERE name_key >= $1 AND (name_key, id) > ($1, $2)"
      " ORDER BY name_key, id" CG_AUDIT_LIMIT(CG_AUDIT_PAGE_ROWS);
  static constexpr const char* kEndpointHosts =
      "SELECT id, account_id, url, host FROM endpoints"
      " ORDER BY id" CG_AUDIT_LIMIT(CG_AUDIT_PAGE_ROWS);
  static constexpr const char* kEndpointHostsAfter =
      "SELECT id, account_id, url, host FROM endpoints"
      " WHERE id > $1 ORDER BY id" CG_AUDIT_LIMIT(CG_AUDIT_PAGE_ROWS);
  static constexpr int kAuditPageRows = CG_AUDIT_PAGE_ROWS;
};

#undef CG_AUDIT_LIMIT
#undef CG_AUDIT_STRINGIFY
#undef CG_AUDIT_PAGE_ROWS

}  // namespace

Result<void> CheckDomainNameOwnership(Connection& conn, const Domain& domain, std::string_view op) {
  return sql::CheckDomainNameOwnership<NameOwnershipSql>(conn, domain, op);
}

Result<void> CheckEndpointHostOwnership(Connection& conn, const Endpoint& endpoint,
                                       std::string_view op) {
  return sql::CheckEndpointHostOwnership<NameOwnershipSql>(conn, endpoint, op);
}

Result<NameCheck> PgStore::CheckNameOwnership() {
  constexpr std::string_view kOp = "checking name ownership";
  return Read(kOp, [&](Connection& conn) -> Result<NameCheck> {
    return sql::CheckNameOwnership<NameOwnershipSql>(conn, kOp);
  });
}

}  // namespace certgate::store::pg
