// Name ownership in the SQLite backend: the checks inside domain and endpoint
// inserts, and the audit.
#include "store/sqlite/name_ownership.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "store/sqlite/name_keys.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/sqlite_store_impl.h"
#include "store/sqlite/statements.h"

namespace certgate::store::sqlite {
namespace {

constexpr char kDomainOwner[] = "SELECT account_id FROM reserved_domains WHERE domain = ?1";
// Another account's domain of one of two names (an ancestor and its wildcard).
constexpr char kOtherOwnerOf[] =
    "SELECT id, account_id, domain FROM reserved_domains"
    " WHERE domain IN (?1, ?2) AND account_id <> ?3 ORDER BY domain";
// Another account's domain below a name (name_key range (?1, ?2)), but ?4.
constexpr char kOtherOwnerBelow[] =
    "SELECT name_key FROM reserved_domains WHERE name_key > ?1 AND name_key < ?2"
    " AND account_id <> ?3 AND name_key <> ?4 ORDER BY name_key LIMIT 1";
constexpr char kDomainsByNameKey[] =
    "SELECT name_key, id, account_id, domain FROM reserved_domains ORDER BY name_key";
constexpr char kEndpointHosts[] = "SELECT id, account_id, url, host FROM endpoints ORDER BY id";

}  // namespace

// Another account's domain among name and "*." + name, if any.
Result<std::optional<NameRecord>> OtherOwnerOf(Connection& conn, std::string_view name,
                                               bool with_wildcard, std::string_view account_id,
                                               std::string_view op) {
  Query q(conn, kOtherOwnerOf, op);
  // The second name is the first again when the wildcard does not count.
  q.Text(1, name).Text(2, with_wildcard ? "*." + std::string(name) : std::string(name));
  q.Text(3, account_id);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<NameRecord>();
  return std::optional<NameRecord>(NameRecord{q.ColumnText(0), q.ColumnText(1), q.ColumnText(2)});
}

// Another account's domain whose names include host (an endpoint's): the
// host itself or a name above it, or a wildcard above it.
Result<std::optional<NameRecord>> OwnerOfHost(Connection& conn, std::string_view host,
                                              std::string_view account_id, std::string_view op) {
  CG_ASSIGN_OR_RETURN(auto owner, OtherOwnerOf(conn, host, false, account_id, op));
  if (owner) return owner;
  for (std::string_view above : Ancestors(host)) {
    CG_ASSIGN_OR_RETURN(owner, OtherOwnerOf(conn, above, true, account_id, op));
    if (owner) return owner;
  }
  return owner;
}

// Another account's domain that a domain name would own names of: one of the
// domains lies below the other (or "x" and "*.x"). below_only: only those
// below it (for "*.x", not "*.x" itself). The first in key order.
Result<std::optional<std::string>> OtherNameBelow(Connection& conn, std::string_view name,
                                                  std::string_view account_id,
                                                  std::string_view op) {
  auto [low, high] = NameKeyRange(BaseOf(name));
  Query q(conn, kOtherOwnerBelow, op);
  q.Text(1, low).Text(2, high).Text(3, account_id).Text(4, NameKey(name));
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(NameFromKey(q.ColumnText(0)));
}

// Refuses a domain whose names another account owns, or that would own names
// of another account's (see "Name ownership" in store/domain_store.h). Runs inside the
// insert's write transaction, so no concurrent insert can slip between the
// check and the write. Index lookups only: the name, each name above it with
// its wildcard, and one range of name_key below it.
Result<void> CheckDomainNameOwnership(Connection& conn, const Domain& domain, std::string_view op) {
  const std::string& name = domain.domain;
  const bool wildcard = name.starts_with("*.");
  const std::string_view base = BaseOf(name);
  {
    Query q(conn, kDomainOwner, op);
    q.Text(1, name);
    CG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (row && q.ColumnText(0) == domain.account_id) {
      return MakeError(ErrorCode::kDomainReservedHere,
                       fmt::format("{} is already reserved by this account", name));
    }
    if (row) {
      return MakeError(ErrorCode::kDomainReservedElsewhere,
                       fmt::format("{} is already reserved by another account", name));
    }
  }
  auto under = [&](const NameRecord& owner) {
    return MakeError(
        ErrorCode::kDomainReservedElsewhere,
        owner.name.starts_with("*.")
            ? fmt::format("{} lies under the wildcard {}, which another account has reserved: "
                          "a wildcard owns every name below it",
                          name, owner.name)
            : fmt::format("{} lies under {}, which another account has reserved: an account "
                          "owns every name below its domains",
                          name, owner.name));
  };
  if (wildcard) {
    // "*.x" lies under another account's "x" (and "*.x" itself was checked).
    CG_ASSIGN_OR_RETURN(auto owner, OtherOwnerOf(conn, base, false, domain.account_id, op));
    if (owner) return under(*owner);
  }
  for (std::string_view above : Ancestors(base)) {
    CG_ASSIGN_OR_RETURN(auto owner, OtherOwnerOf(conn, above, true, domain.account_id, op));
    if (owner) return under(*owner);
  }
  CG_ASSIGN_OR_RETURN(auto below, OtherNameBelow(conn, name, domain.account_id, op));
  if (!below) return {};
  if (wildcard) {
    return MakeError(ErrorCode::kDomainWildcardOverOthers,
                     fmt::format("the wildcard {} would cover {}, which another account has "
                                 "reserved",
                                 name, *below));
  }
  return MakeError(ErrorCode::kDomainOverOthers,
                   fmt::format("{} lies above {}, which another account has reserved: an "
                               "account owns every name below its domains, so {} cannot be "
                               "reserved by another",
                               name, *below, name));
}

// Refuses an endpoint whose host another account's domain owns (possible only
// for domains that overlapped before InsertDomain refused it).
Result<void> CheckEndpointHostOwnership(Connection& conn, const Endpoint& endpoint,
                                       std::string_view op) {
  CG_ASSIGN_OR_RETURN(auto owner, OwnerOfHost(conn, endpoint.host, endpoint.account_id, op));
  if (!owner) return {};
  return MakeError(ErrorCode::kEndpointHostReservedElsewhere,
                   fmt::format("{} lies under {}, which another account has reserved: an "
                               "endpoint's host must belong to this account alone",
                               endpoint.host, owner->name));
}

Result<NameCheck> SqliteStore::CheckNameOwnership() {
  constexpr std::string_view kOp = "checking name ownership";
  return Read(kOp, [&](Connection& conn) -> Result<NameCheck> {
    NameCheck check;
    // Domains in name_key order visit the tree of names parent first, so the
    // domains above the current one are a stack: pop those it is not below.
    struct Above {
      std::string base_key;  // NameKey of the name without its "*."
      NameRecord record;
    };
    std::vector<Above> stack;
    std::vector<NameRecord> unindexed;
    {
      Query q(conn, kDomainsByNameKey, kOp);
      while (true) {
        CG_ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        ++check.domains;
        NameRecord record{q.ColumnText(1), q.ColumnText(2), q.ColumnText(3)};
        if (q.ColumnText(0) != NameKey(record.name)) {
          unindexed.push_back(std::move(record));
          continue;
        }
        std::string base_key = NameKey(BaseOf(record.name));
        while (!stack.empty() && !base_key.starts_with(stack.back().base_key)) stack.pop_back();
        for (const Above& above : stack) {
          if (above.record.account_id != record.account_id) {
            check.overlaps.push_back(NameOverlap{above.record, record});
          }
        }
        stack.push_back(Above{std::move(base_key), std::move(record)});
      }
    }
    // Rows the order above cannot place: looked up one by one, both ways.
    for (NameRecord& record : unindexed) {
      const std::string_view base = BaseOf(record.name);
      std::vector<std::pair<std::string_view, bool>> lookups;  // name, with its wildcard
      if (record.name.starts_with("*.")) lookups.emplace_back(base, false);
      for (std::string_view above : Ancestors(base)) lookups.emplace_back(above, true);
      for (const auto& [name, with_wildcard] : lookups) {
        CG_ASSIGN_OR_RETURN(auto owner,
                            OtherOwnerOf(conn, name, with_wildcard, record.account_id, kOp));
        if (owner) check.overlaps.push_back(NameOverlap{*owner, record});
      }
      CG_ASSIGN_OR_RETURN(auto below, OtherNameBelow(conn, record.name, record.account_id, kOp));
      if (below) {
        Query q(conn, kSelectDomainByName, kOp);
        q.Text(1, *below);
        CG_ASSIGN_OR_RETURN(bool row, q.Step());
        if (row) {
          CG_ASSIGN_OR_RETURN(Domain d, ReadDomain(q, kOp));
          check.overlaps.push_back(
              NameOverlap{record, NameRecord{d.id, d.account_id, std::move(d.domain)}});
        }
      }
      check.unindexed.push_back(std::move(record));
    }
    Query q(conn, kEndpointHosts, kOp);
    while (true) {
      CG_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      ++check.endpoints;
      NameRecord endpoint{q.ColumnText(0), q.ColumnText(1), q.ColumnText(2)};
      CG_ASSIGN_OR_RETURN(auto owner, OwnerOfHost(conn, q.ColumnText(3), endpoint.account_id, kOp));
      if (owner) check.overlaps.push_back(NameOverlap{*owner, std::move(endpoint)});
    }
    return check;
  });
}

}  // namespace certgate::store::sqlite
