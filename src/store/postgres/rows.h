// Rows of the PostgreSQL backend: the row encoding, paging and row decoders
// the SQL backends share (store/sql/), under this backend's names, and what
// is its own: the certificate row's INSERT and the change sequence.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/result.h"
#include "store/list_filter.h"
#include "store/records.h"
#include "store/postgres/connection.h"
#include "store/postgres/filter_sql.h"
#include "store/sql/paging.h"
#include "store/sql/row_encoding.h"
#include "store/sql/rows.h"

namespace certgate::store::pg {

using sql::CheckLimit;
using sql::JoinResolvesTo;
using sql::kMaxListLimit;
using sql::ReadAccount;
using sql::ReadCertificate;
using sql::ReadDomain;
using sql::ReadEndpoint;
using sql::ReadJob;
using sql::ReadKeyVersion;
using sql::ReadRows;
using sql::ReadTextColumn;
using sql::SplitResolvesTo;

using sql::BindJobKey;
using sql::ListPage;
using sql::ReadPage;
// The statements of one list (store/sql/paging.h), with $N parameters.
using ListStatements = sql::ListStatements<FilterColumn, '$'>;

// The sequence of the newest change in the feed (edge_change_log.last_seq).
Result<int64_t> ReadChangeSequence(Connection& conn, std::string_view op);
// Inside a write transaction. owner_endpoint_id "" stores NULL: an account
// (or the service's) certificate.
Result<void> InsertCertificateRow(Connection& conn, const Certificate& cert,
                                  std::string_view account_id, std::string_view owner_endpoint_id,
                                  std::string_view op);

}  // namespace certgate::store::pg
