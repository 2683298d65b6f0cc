// The name ownership rule in the SQLite backend (the rule itself is
// store/name_ownership_rule.h, its SQL logic store/sql/name_ownership.h): its
// lookups over the name_key index, and the checks that run inside the write
// transaction of a domain's or an endpoint's insert, so no concurrent insert
// slips between the check and the write. Index lookups only.
#pragma once

#include <string_view>

#include "core/result.h"
#include "store/records.h"
#include "store/sqlite/connection.h"

namespace certgate::store::sqlite {

// store::CheckDomainNameOwnership over conn's reserved domains; errors of
// the lookups name op.
Result<void> CheckDomainNameOwnership(Connection& conn, const Domain& domain, std::string_view op);
// store::CheckEndpointHostOwnership over conn's reserved domains.
Result<void> CheckEndpointHostOwnership(Connection& conn, const Endpoint& endpoint,
                                       std::string_view op);

}  // namespace certgate::store::sqlite
