// Name ownership in the PostgreSQL backend: the lookups of the rule, the
// checks inside domain and endpoint inserts, and the audit.
#include "store/postgres/name_ownership.h"

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "store/name_key.h"
#include "store/name_ownership_rule.h"
#include "store/postgres/pg_store_impl.h"

namespace certgate::store::pg {
namespace {

// The audit reads every domain and endpoint in pages of this many rows, by
// keyset, all in its one REPEATABLE READ transaction (one snapshot): libpq
// holds a statement's whole result in memory, and a store may hold a
// million names.
#define CG_AUDIT_PAGE_ROWS 10000
#define CG_AUDIT_STRINGIFY(x) #x
#define CG_AUDIT_LIMIT(x) " LIMIT " CG_AUDIT_STRINGIFY(x)
constexpr int kAuditPageRows = CG_AUDIT_PAGE_ROWS;

// name_key and domain are COLLATE "C": ranges and orders compare bytewise,
// as in SQLite, whatever the database's locale.
constexpr char kDomainNamed[] =
    "SELECT id, account_id, domain FROM reserved_domains WHERE domain = $1";
// Another account's domain of one of two names (a name and its wildcard).
constexpr char kOtherOwnerOf[] =
    "SELECT id, account_id, domain FROM reserved_domains"
    " WHERE domain IN ($1, $2) AND account_id <> $3 ORDER BY domain";
// Another account's domain below a name (name_key range ($1, $2)), but $4.
constexpr char kOtherOwnerBelow[] =
    "SELECT name_key FROM reserved_domains WHERE name_key > $1 AND name_key < $2"
    " AND account_id <> $3 AND name_key <> $4 ORDER BY name_key LIMIT 1";
// The first page, then each page after the last row's (name_key, id). The
// plain name_key >= $1 lets the name_key index start the range there.
constexpr char kDomainsByNameKey[] =
    "SELECT name_key, id, account_id, domain FROM reserved_domains"
    " ORDER BY name_key, id" CG_AUDIT_LIMIT(CG_AUDIT_PAGE_ROWS);
constexpr char kDomainsByNameKeyAfter[] =
    "SELECT name_key, id, account_id, domain FROM reserved_domains"
    " WHERE name_key >= $1 AND (name_key, id) > ($1, $2)"
    " ORDER BY name_key, id" CG_AUDIT_LIMIT(CG_AUDIT_PAGE_ROWS);
constexpr char kEndpointHosts[] =
    "SELECT id, account_id, url, host FROM endpoints"
    " ORDER BY id" CG_AUDIT_LIMIT(CG_AUDIT_PAGE_ROWS);
constexpr char kEndpointHostsAfter[] =
    "SELECT id, account_id, url, host FROM endpoints"
    " WHERE id > $1 ORDER BY id" CG_AUDIT_LIMIT(CG_AUDIT_PAGE_ROWS);

#undef CG_AUDIT_LIMIT
#undef CG_AUDIT_STRINGIFY
#undef CG_AUDIT_PAGE_ROWS

// The rule's lookups inside one transaction of conn. Errors name op.
class PgReservedNames final : public ReservedNameIndex {
 public:
  PgReservedNames(Connection& conn, std::string_view op) : conn_(conn), op_(op) {}

  Result<std::optional<NameRecord>> DomainNamed(std::string_view name) override {
    Query q(conn_, kDomainNamed, op_);
    q.Text(1, name);
    return FirstRecord(q);
  }

  Result<std::optional<NameRecord>> OtherOwnerOf(std::string_view name, bool with_wildcard,
                                                 std::string_view account_id) override {
    Query q(conn_, kOtherOwnerOf, op_);
    // The second name is the first again when the wildcard does not count.
    q.Text(1, name).Text(2, with_wildcard ? "*." + std::string(name) : std::string(name));
    q.Text(3, account_id);
    return FirstRecord(q);
  }

  Result<std::optional<std::string>> FirstOtherKeyBelow(std::string_view name,
                                                        std::string_view except_key,
                                                        std::string_view account_id) override {
    auto [low, high] = NameKeyRange(name);
    Query q(conn_, kOtherOwnerBelow, op_);
    q.Text(1, low).Text(2, high).Text(3, account_id).Text(4, except_key);
    CG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return std::optional<std::string>();
    return std::optional<std::string>(q.ColumnText(0));
  }

  Result<void> ForEachDomainByKey(
      const std::function<void(std::string_view key, NameRecord domain)>& fn) override {
    std::optional<std::pair<std::string, std::string>> after;  // (name_key, id)
    while (true) {
      Query q(conn_, after ? kDomainsByNameKeyAfter : kDomainsByNameKey, op_);
      if (after) q.Text(1, after->first).Text(2, after->second);
      int rows = 0;
      while (true) {
        CG_ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        if (++rows == kAuditPageRows) after.emplace(q.ColumnText(0), q.ColumnText(1));
        fn(q.ColumnView(0), NameRecord{q.ColumnText(1), q.ColumnText(2), q.ColumnText(3)});
      }
      if (rows < kAuditPageRows) return {};
    }
  }

  Result<void> ForEachEndpoint(
      const std::function<Result<void>(NameRecord endpoint, std::string_view host)>& fn)
      override {
    std::optional<std::string> after;  // the last id read
    while (true) {
      Query q(conn_, after ? kEndpointHostsAfter : kEndpointHosts, op_);
      if (after) q.Text(1, *after);
      int rows = 0;
      while (true) {
        CG_ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        if (++rows == kAuditPageRows) after = q.ColumnText(0);
        CG_RETURN_IF_ERROR(
            fn(NameRecord{q.ColumnText(0), q.ColumnText(1), q.ColumnText(2)}, q.ColumnView(3)));
      }
      if (rows < kAuditPageRows) return {};
    }
  }

 private:
  // The row q finds (id, account_id, domain), if any.
  static Result<std::optional<NameRecord>> FirstRecord(Query& q) {
    CG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return std::optional<NameRecord>();
    return std::optional<NameRecord>(NameRecord{q.ColumnText(0), q.ColumnText(1), q.ColumnText(2)});
  }

  Connection& conn_;
  const std::string_view op_;
};

}  // namespace

Result<void> CheckDomainNameOwnership(Connection& conn, const Domain& domain, std::string_view op) {
  PgReservedNames names(conn, op);
  return store::CheckDomainNameOwnership(names, domain);
}

Result<void> CheckEndpointHostOwnership(Connection& conn, const Endpoint& endpoint,
                                       std::string_view op) {
  PgReservedNames names(conn, op);
  return store::CheckEndpointHostOwnership(names, endpoint);
}

Result<NameCheck> PgStore::CheckNameOwnership() {
  constexpr std::string_view kOp = "checking name ownership";
  return Read(kOp, [&](Connection& conn) -> Result<NameCheck> {
    PgReservedNames names(conn, kOp);
    return AuditNameOwnership(names);
  });
}

}  // namespace certgate::store::pg
