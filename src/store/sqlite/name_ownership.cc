// Name ownership in the SQLite backend: the statements of the rule's lookups
// (the logic is store/sql/name_ownership.h), the checks inside domain and
// endpoint inserts, and the audit.
#include "store/sqlite/name_ownership.h"

#include <string_view>

#include "store/sql/name_ownership.h"
#include "store/sqlite/sqlite_store_impl.h"

namespace certgate::store::sqlite {
namespace {

struct NameOwnershipSql {
  static constexpr const char* kDomainNamed =
      "SELECT id, account_id, domain FROM reserved_domains WHERE domain = ?1";
  // Another account's domain of one of two names (a name and its wildcard).
  static constexpr const char* kOtherOwnerOf =
      "SELECT id, account_id, domain FROM reserved_domains"
      " WHERE domain IN (?1, ?2) AND account_id <> ?3 ORDER BY domain";
  // Another account's domain below a name (name_key range (?1, ?2)), but ?4.
  static constexpr const char* kOtherOwnerBelow =
      "SELECT name_key FROM reserved_domains WHERE name_key > ?1 AND name_key < ?2"
      " AND account_id <> ?3 AND name_key <> ?4 ORDER BY name_key LIMIT 1";
  static constexpr const char* kDomainsByNameKey =
      "SELECT name_key, id, account_id, domain FROM reserved_domains ORDER BY name_key, id";
  static constexpr const char* kEndpointHosts =
      "SELECT id, account_id, url, host FROM endpoints ORDER BY id";
  // No pages: SQLite steps through a statement's rows as it finds them,
  // holding none but the current one, so the audit reads each table in one
  // statement (its read transaction is one snapshot either way).
  static constexpr const char* kDomainsByNameKeyAfter = nullptr;
  static constexpr const char* kEndpointHostsAfter = nullptr;
  static constexpr int kAuditPageRows = 0;
};

}  // namespace

Result<void> CheckDomainNameOwnership(Connection& conn, const Domain& domain, std::string_view op) {
  return sql::CheckDomainNameOwnership<NameOwnershipSql>(conn, domain, op);
}

Result<void> CheckEndpointHostOwnership(Connection& conn, const Endpoint& endpoint,
                                       std::string_view op) {
  return sql::CheckEndpointHostOwnership<NameOwnershipSql>(conn, endpoint, op);
}

Result<NameCheck> SqliteStore::CheckNameOwnership() {
  constexpr std::string_view kOp = "checking name ownership";
  return Read(kOp, [&](Connection& conn) -> Result<NameCheck> {
    return sql::CheckNameOwnership<NameOwnershipSql>(conn, kOp);
  });
}

}  // namespace certgate::store::sqlite
