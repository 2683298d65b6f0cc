// The name ownership rule of the SQLite backend (see "Name ownership" in
// store/domain_store.h): checks that run inside the write transaction of a
// domain's or an endpoint's insert, so no concurrent insert slips between
// the check and the write. Index lookups only.
#pragma once

#include <string_view>

#include "core/result.h"
#include "store/records.h"
#include "store/sqlite/connection.h"

namespace certgate::store::sqlite {

// Refuses a domain whose names another account owns, or that would own
// names of another account's.
Result<void> CheckDomainNameOwnership(Connection& conn, const Domain& domain, std::string_view op);
// Refuses an endpoint whose host another account's domain owns
// (kEndpointHostReservedElsewhere).
Result<void> CheckEndpointHostOwnership(Connection& conn, const Endpoint& endpoint,
                                       std::string_view op);

}  // namespace certgate::store::sqlite
