// ImportDomains: `certgate admin domains import`, an operator's bulk import
// of reserved domains for one account, written straight to the store in one
// transaction per batch, for moving many names in at once (a million in
// minutes, where the API takes one request per name). Each name gets what
// POST /reserved_domains with only `domain` would give it (api/new_domain.h):
// automatic certificates and a cname_target for a name outside the service's
// domain, the service's certificate for one under it.
#pragma once

#include <cstddef>
#include <functional>
#include <istream>
#include <string>

#include "core/result.h"
#include "core/time.h"
#include "store/account_store.h"
#include "store/domain_store.h"

namespace certgate::app {

struct DomainImportOptions {
  std::string account_id;
  std::string base_domain;  // serve's --base-domain
  size_t batch_size = 1000;
};

struct DomainImportReport {
  size_t names = 0;  // read from the input
  size_t inserted = 0;
  size_t already_reserved = 0;  // held by the account already: skipped
};

// Reads one name per line (blank lines and lines starting with '#' are
// skipped; at most 1,024 bytes a line and 10,000,000 names) and checks every
// one before writing any: a bad line is an error naming its number, and
// nothing is written. Then inserts them in batches, calling progress after
// each. A batch the store refuses (a name another account owns) stops the
// import with an error naming the domain and the line its batch starts at;
// the batches before it stay, and running the import again skips them.
Result<DomainImportReport> ImportDomains(
    store::AccountStore& accounts, store::DomainStore& domains, std::istream& in,
    const DomainImportOptions& options, Time now,
    const std::function<void(const DomainImportReport&)>& progress);

}  // namespace certgate::app
