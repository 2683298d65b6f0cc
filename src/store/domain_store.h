// Reserved domains and the rule that every name belongs to one account.
// Thread-safe, and every backend keeps the contracts stated in store.h
// (one transaction per write; "not found" is a value, and records of another
// account are not found).
//
// Name ownership. Every name belongs to at most one account: an account that
// reserves "x" owns x and every name below it; one that reserves "*.x" owns
// every name below x, at any depth (as ngrok's wildcards route). Two domains
// of different accounts may not own a name in common, so InsertDomain
// refuses, in the same write transaction as the insert (race-free):
// - the same name in the same account: kDomainReservedHere;
// - the same name in another account, or a name below another account's
//   domain "a" or wildcard "*.a" (including "*.a" when another holds "a"):
//   kDomainReservedElsewhere;
// - a wildcard "*.x" while another account holds a domain below x:
//   kDomainWildcardOverOthers;
// - an exact "x" while another account holds a domain below x, or "*.x":
//   kDomainOverOthers.
// InsertEndpoint refuses a host that another account's domain owns
// (kEndpointHostReservedElsewhere). Messages name the conflicting domain,
// never its account.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "store/list_filter.h"
#include "store/records.h"

namespace certgate::store {

class DomainStore {
 public:
  virtual ~DomainStore() = default;

  // Reserved domains. The name is unique across all accounts, and names
  // belong to one account (see "Name ownership" above).
  // certificate_id must name a certificate of the same account
  // (kStoreConflict otherwise, also when it is deleted concurrently). The
  // checks are index lookups: one per label of the name, and for a name
  // with something below it, one range of the name index.
  virtual Result<void> InsertDomain(const Domain& domain) = 0;
  // Inserts many at once (an operator's bulk import), in one transaction:
  // each as InsertDomain would, against the store and the ones before it,
  // except that a name its account already holds is skipped and counted.
  // The first other refusal rolls back all of them and is returned, its
  // message naming the domain (and "name" the field).
  virtual Result<InsertDomainsOutcome> InsertDomains(const std::vector<Domain>& domains) = 0;
  virtual Result<std::optional<Domain>> GetDomain(std::string_view account_id,
                                                  std::string_view id) = 0;
  // Any account's domain by its normalized name.
  virtual Result<std::optional<Domain>> FindDomainByName(std::string_view name) = 0;
  virtual Result<Page<Domain>> ListDomains(std::string_view account_id,
                                           const ListQuery& query) = 0;
  // Replaces every field but id, account_id, created_at, domain, renews_at
  // and issued_key_type. While a policy is set, certificate_id is left as it
  // is (automatic management attaches certificates), except that a policy
  // set on a domain that had none lets go of its uploaded certificate (as
  // ngrok does: the policy's certificate replaces it); without one, the
  // domain's provisioning job is deleted and renews_at and issued_key_type
  // are cleared. False if not found in that account.
  virtual Result<bool> UpdateDomain(const Domain& domain) = 0;
  // Deletes unless an endpoint uses it (kInUse, used_by = endpoint URLs).
  virtual Result<DeleteOutcome> DeleteDomain(std::string_view account_id,
                                             std::string_view id) = 0;
};

}  // namespace certgate::store
