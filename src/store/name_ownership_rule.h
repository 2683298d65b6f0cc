// The name ownership rule (see "Name ownership" in domain_store.h), written
// once for every backend: the checks before a domain's or an endpoint's
// insert, and the audit behind NameOwnershipAudit. A backend supplies only
// the lookups, a ReservedNameIndex over its reserved domains and endpoints,
// and calls these inside the transaction of the write they guard (or of the
// audit's read), so that every lookup sees one state and no concurrent insert
// slips between the check and the write. As thread-safe as the index given.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "store/records.h"

namespace certgate::store {

// A backend's lookups of reserved names, as of one transaction. Domains are
// found by their name or by their name index key (NameKey of their name, but
// for rows written around the store, whose key may be anything or "").
class ReservedNameIndex {
 public:
  virtual ~ReservedNameIndex() = default;

  // The domain named exactly name, if any.
  virtual Result<std::optional<NameRecord>> DomainNamed(std::string_view name) = 0;
  // A domain of another account than account_id named name or, with_wildcard,
  // "*." + name; the first by name when both exist.
  virtual Result<std::optional<NameRecord>> OtherOwnerOf(std::string_view name,
                                                         bool with_wildcard,
                                                         std::string_view account_id) = 0;
  // The least index key, among domains of another account than account_id,
  // that lies strictly below name's key (inside NameKeyRange(name)) and is
  // not except_key.
  virtual Result<std::optional<std::string>> FirstOtherKeyBelow(std::string_view name,
                                                                std::string_view except_key,
                                                                std::string_view account_id) = 0;
  // For the audit: every domain with its stored index key, in key order (ties
  // by id).
  virtual Result<void> ForEachDomainByKey(
      const std::function<void(std::string_view key, NameRecord domain)>& fn) = 0;
  // For the audit: every endpoint (NameRecord::name is its url) with its
  // host; stops at fn's first error and returns it.
  virtual Result<void> ForEachEndpoint(
      const std::function<Result<void>(NameRecord endpoint, std::string_view host)>& fn) = 0;
};

// Refuses a domain whose names another account owns (kDomainReservedHere,
// kDomainReservedElsewhere), or that would own names of another account's
// (kDomainWildcardOverOthers, kDomainOverOthers). The messages never name the
// other account. Index lookups only: the name, each name above it with its
// wildcard, and one key range below it.
Result<void> CheckDomainNameOwnership(ReservedNameIndex& index, const Domain& domain);
// An error about one domain of many (InsertDomains): the message starts with
// its name unless it names it already.
Error NamingDomain(Error error, const Domain& domain);
// Refuses an endpoint whose host another account's domain owns
// (kEndpointHostReservedElsewhere; possible only for domains that overlapped
// before InsertDomain refused it).
Result<void> CheckEndpointHostOwnership(ReservedNameIndex& index, const Endpoint& endpoint);
// Every overlap of names between accounts, and every domain whose key is not
// its name's: NameOwnershipAudit::CheckNameOwnership. Visits every domain and
// endpoint once.
Result<NameCheck> AuditNameOwnership(ReservedNameIndex& index);

}  // namespace certgate::store
