#include "store/name_ownership_rule.h"

#include <utility>
#include <vector>

#include <fmt/format.h>

#include "store/name_key.h"

namespace certgate::store {
namespace {

// Another account's domain whose names include host: the host itself, a name
// above it, or a wildcard above it.
Result<std::optional<NameRecord>> OwnerOfHost(ReservedNameIndex& index, std::string_view host,
                                              std::string_view account_id) {
  CG_ASSIGN_OR_RETURN(auto owner, index.OtherOwnerOf(host, false, account_id));
  if (owner) return owner;
  for (std::string_view above : Ancestors(host)) {
    CG_ASSIGN_OR_RETURN(owner, index.OtherOwnerOf(above, true, account_id));
    if (owner) return owner;
  }
  return owner;
}

// The lookups of the domains above a domain name, as (name, with its
// wildcard): for "*.x", "x" alone ("*.x" itself is its own name); then each
// name above its base with that name's wildcard.
std::vector<std::pair<std::string_view, bool>> NamesAbove(std::string_view name) {
  const std::string_view base = BaseOf(name);
  std::vector<std::pair<std::string_view, bool>> lookups;
  if (name.starts_with("*.")) lookups.emplace_back(base, false);
  for (std::string_view above : Ancestors(base)) lookups.emplace_back(above, true);
  return lookups;
}

// Another account's domain below name's base (for "*.x", not "*.x" itself):
// the first in key order, as the name its key spells.
Result<std::optional<std::string>> OtherNameBelow(ReservedNameIndex& index, std::string_view name,
                                                  std::string_view account_id) {
  CG_ASSIGN_OR_RETURN(auto key, index.FirstOtherKeyBelow(BaseOf(name), NameKey(name), account_id));
  if (!key) return std::optional<std::string>();
  return std::optional<std::string>(NameFromKey(*key));
}

}  // namespace

Result<void> CheckDomainNameOwnership(ReservedNameIndex& index, const Domain& domain) {
  const std::string& name = domain.domain;
  CG_ASSIGN_OR_RETURN(auto same, index.DomainNamed(name));
  if (same && same->account_id == domain.account_id) {
    return MakeError(ErrorCode::kDomainReservedHere,
                     fmt::format("{} is already reserved by this account", name));
  }
  if (same) {
    return MakeError(ErrorCode::kDomainReservedElsewhere,
                     fmt::format("{} is already reserved by another account", name));
  }
  for (const auto& [above, with_wildcard] : NamesAbove(name)) {
    CG_ASSIGN_OR_RETURN(auto owner, index.OtherOwnerOf(above, with_wildcard, domain.account_id));
    if (!owner) continue;
    return MakeError(
        ErrorCode::kDomainReservedElsewhere,
        owner->name.starts_with("*.")
            ? fmt::format("{} lies under the wildcard {}, which another account has reserved: "
                          "a wildcard owns every name below it",
                          name, owner->name)
            : fmt::format("{} lies under {}, which another account has reserved: an account "
                          "owns every name below its domains",
                          name, owner->name));
  }
  CG_ASSIGN_OR_RETURN(auto below, OtherNameBelow(index, name, domain.account_id));
  if (!below) return {};
  if (name.starts_with("*.")) {
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

Result<void> CheckEndpointHostOwnership(ReservedNameIndex& index, const Endpoint& endpoint) {
  CG_ASSIGN_OR_RETURN(auto owner, OwnerOfHost(index, endpoint.host, endpoint.account_id));
  if (!owner) return {};
  return MakeError(ErrorCode::kEndpointHostReservedElsewhere,
                   fmt::format("{} lies under {}, which another account has reserved: an "
                               "endpoint's host must belong to this account alone",
                               endpoint.host, owner->name));
}

Result<NameCheck> AuditNameOwnership(ReservedNameIndex& index) {
  NameCheck check;
  // Domains in key order visit the tree of names parent first, so the domains
  // above the current one are a stack: pop those it is not below.
  struct Above {
    std::string base_key;  // NameKey of the name without its "*."
    NameRecord record;
  };
  std::vector<Above> stack;
  std::vector<NameRecord> unindexed;
  CG_RETURN_IF_ERROR(index.ForEachDomainByKey([&](std::string_view key, NameRecord record) {
    ++check.domains;
    if (key != NameKey(record.name)) {
      unindexed.push_back(std::move(record));
      return;
    }
    std::string base_key = NameKey(BaseOf(record.name));
    while (!stack.empty() && !base_key.starts_with(stack.back().base_key)) stack.pop_back();
    for (const Above& above : stack) {
      if (above.record.account_id != record.account_id) {
        check.overlaps.push_back(NameOverlap{above.record, record});
      }
    }
    stack.push_back(Above{std::move(base_key), std::move(record)});
  }));
  // Rows the order above cannot place: looked up one by one, both ways.
  for (NameRecord& record : unindexed) {
    for (const auto& [name, with_wildcard] : NamesAbove(record.name)) {
      CG_ASSIGN_OR_RETURN(auto owner, index.OtherOwnerOf(name, with_wildcard, record.account_id));
      if (owner) check.overlaps.push_back(NameOverlap{*owner, record});
    }
    CG_ASSIGN_OR_RETURN(auto below, OtherNameBelow(index, record.name, record.account_id));
    if (below) {
      CG_ASSIGN_OR_RETURN(auto domain, index.DomainNamed(*below));
      if (domain) check.overlaps.push_back(NameOverlap{record, std::move(*domain)});
    }
    check.unindexed.push_back(std::move(record));
  }
  CG_RETURN_IF_ERROR(
      index.ForEachEndpoint([&](NameRecord endpoint, std::string_view host) -> Result<void> {
        ++check.endpoints;
        CG_ASSIGN_OR_RETURN(auto owner, OwnerOfHost(index, host, endpoint.account_id));
        if (owner) check.overlaps.push_back(NameOverlap{std::move(*owner), std::move(endpoint)});
        return {};
      }));
  return check;
}

Error NamingDomain(Error error, const Domain& domain) {
  if (error.message.find(domain.domain) == std::string::npos) {
    error.message = domain.domain + ": " + error.message;
  }
  return error;
}

}  // namespace certgate::store
