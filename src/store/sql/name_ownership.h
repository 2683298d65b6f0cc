// The name ownership rule in the SQL backends (the rule itself is
// store/name_ownership_rule.h), written once for store/sqlite and
// store/postgres: its lookups over the name_key index, the checks that run
// inside the write transaction of a domain's or an endpoint's insert, and the
// audit. That transaction holds the write lock (SQLite's own; in PostgreSQL
// the cluster's, kTakeWriteLock), so no concurrent insert, on this node or
// another, slips between the check and the write. Index lookups only, but for
// the audit.
//
// Each function takes S, a backend's statements (its NameOwnershipSql, in its
// name_ownership.cc), and runs them on a Conn with Conn::QueryType. Errors of
// the lookups name op. As thread-safe as a Connection: one thread at a time.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/result.h"
#include "store/name_key.h"
#include "store/name_ownership_rule.h"
#include "store/records.h"

namespace certgate::store::sql {

// The rule's lookups inside one transaction of conn. Errors name op.
//
// S::kDomainNamed ($1 name), S::kOtherOwnerOf ($1, $2 names, $3 account) and
// S::kOtherOwnerBelow ($1, $2 the key range, $3 account, $4 a key to skip)
// are the lookups; the audit reads S::kDomainsByNameKey (name_key, id,
// account_id, domain, ordered by name_key, id) and S::kEndpointHosts (id,
// account_id, url, host, ordered by id). A backend whose driver holds a
// statement's whole result in memory pages these by keyset: its
// kDomainsByNameKeyAfter ($1 name_key, $2 id) and kEndpointHostsAfter ($1 id)
// read on after a full page of S::kAuditPageRows rows. A backend that steps
// through rows as the database yields them sets both to nullptr and reads in
// one pass.
template <class S, class Conn>
class ReservedNames final : public ReservedNameIndex {
  using Q = typename Conn::QueryType;
  static constexpr bool kPaged = S::kDomainsByNameKeyAfter != nullptr;
  static_assert(kPaged == (S::kEndpointHostsAfter != nullptr),
                "the audit pages both its reads or neither");
  static_assert(!kPaged || S::kAuditPageRows > 0);

 public:
  ReservedNames(Conn& conn, std::string_view op) : conn_(conn), op_(op) {}

  Result<std::optional<NameRecord>> DomainNamed(std::string_view name) override {
    Q q(conn_, S::kDomainNamed, op_);
    q.Text(1, name);
    return FirstRecord(q);
  }

  Result<std::optional<NameRecord>> OtherOwnerOf(std::string_view name, bool with_wildcard,
                                                 std::string_view account_id) override {
    Q q(conn_, S::kOtherOwnerOf, op_);
    // The second name is the first again when the wildcard does not count.
    q.Text(1, name).Text(2, with_wildcard ? "*." + std::string(name) : std::string(name));
    q.Text(3, account_id);
    return FirstRecord(q);
  }

  Result<std::optional<std::string>> FirstOtherKeyBelow(std::string_view name,
                                                        std::string_view except_key,
                                                        std::string_view account_id) override {
    auto [low, high] = NameKeyRange(name);
    Q q(conn_, S::kOtherOwnerBelow, op_);
    q.Text(1, low).Text(2, high).Text(3, account_id).Text(4, except_key);
    CG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return std::optional<std::string>();
    return std::optional<std::string>(q.ColumnText(0));
  }

  Result<void> ForEachDomainByKey(
      const std::function<void(std::string_view key, NameRecord domain)>& fn) override {
    std::optional<std::pair<std::string, std::string>> after;  // (name_key, id)
    while (true) {
      Q q(conn_, after ? S::kDomainsByNameKeyAfter : S::kDomainsByNameKey, op_);
      if (after) q.Text(1, after->first).Text(2, after->second);
      int rows = 0;
      while (true) {
        CG_ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        if (kPaged && ++rows == S::kAuditPageRows) {
          after.emplace(q.ColumnText(0), q.ColumnText(1));
        }
        fn(q.ColumnView(0), NameRecord{q.ColumnText(1), q.ColumnText(2), q.ColumnText(3)});
      }
      if (!kPaged || rows < S::kAuditPageRows) return {};
    }
  }

  Result<void> ForEachEndpoint(
      const std::function<Result<void>(NameRecord endpoint, std::string_view host)>& fn)
      override {
    std::optional<std::string> after;  // the last id read
    while (true) {
      Q q(conn_, after ? S::kEndpointHostsAfter : S::kEndpointHosts, op_);
      if (after) q.Text(1, *after);
      int rows = 0;
      while (true) {
        CG_ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        if (kPaged && ++rows == S::kAuditPageRows) after = q.ColumnText(0);
        CG_RETURN_IF_ERROR(
            fn(NameRecord{q.ColumnText(0), q.ColumnText(1), q.ColumnText(2)}, q.ColumnView(3)));
      }
      if (!kPaged || rows < S::kAuditPageRows) return {};
    }
  }

 private:
  // The row q finds (id, account_id, domain), if any.
  static Result<std::optional<NameRecord>> FirstRecord(Q& q) {
    CG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return std::optional<NameRecord>();
    return std::optional<NameRecord>(NameRecord{q.ColumnText(0), q.ColumnText(1), q.ColumnText(2)});
  }

  Conn& conn_;
  const std::string_view op_;
};

// store::CheckDomainNameOwnership over conn's reserved domains.
template <class S, class Conn>
Result<void> CheckDomainNameOwnership(Conn& conn, const Domain& domain, std::string_view op) {
  ReservedNames<S, Conn> names(conn, op);
  return store::CheckDomainNameOwnership(names, domain);
}

// store::CheckEndpointHostOwnership over conn's reserved domains.
template <class S, class Conn>
Result<void> CheckEndpointHostOwnership(Conn& conn, const Endpoint& endpoint,
                                       std::string_view op) {
  ReservedNames<S, Conn> names(conn, op);
  return store::CheckEndpointHostOwnership(names, endpoint);
}

// NameOwnershipAudit::CheckNameOwnership, inside the caller's read
// transaction (one snapshot for every page).
template <class S, class Conn>
Result<NameCheck> CheckNameOwnership(Conn& conn, std::string_view op) {
  ReservedNames<S, Conn> names(conn, op);
  return store::AuditNameOwnership(names);
}

}  // namespace certgate::store::sql
