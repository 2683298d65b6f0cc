// Row decoding and encoding of the SQLite backend: records from the columns
// statements.h lists, and the certificate row several resources insert.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/result.h"
#include "store/records.h"
#include "store/sqlite/connection.h"

namespace certgate::store::sqlite {

inline constexpr int kMaxListLimit = 1000;

Result<Account> ReadAccount(const Query& q, int col, std::string_view op);
Result<uint32_t> ReadKeyVersion(const Query& q, int col, std::string_view id, std::string_view op);
// Each reads the columns statements.h's CG_*_COLUMNS lists, in that order.
Result<Certificate> ReadCertificate(const Query& q, std::string_view op);
Result<Domain> ReadDomain(const Query& q, std::string_view op);
Result<Endpoint> ReadEndpoint(const Query& q, std::string_view op);
Result<ProvisioningJob> ReadJob(const Query& q, std::string_view op);
// Binds a job's key to ?version_index and the next parameter (NULLs if none).
void BindJobKey(Query& q, int version_index, const std::optional<SealedKey>& key);
// kInvalidPaging unless 1 <= limit <= kMaxListLimit.
Result<void> CheckLimit(int limit);
// The first column of every row, e.g. the names of what uses a record.
Result<std::vector<std::string>> ReadTextColumn(Query& q);
// Inside a write transaction. owner_endpoint_id "" stores NULL: an account
// (or the service's) certificate.
Result<void> InsertCertificateRow(Connection& conn, const Certificate& cert,
                                  std::string_view account_id, std::string_view owner_endpoint_id,
                                  std::string_view op);

// Binds account_id (?1), before_id and the limit of a kList*/kList*Before
// pair, and reads one page with read(q, op). One row more than asked for
// tells whether a further page exists.
template <class T, class ReadRow>
Result<Page<T>> ReadPage(Query& q, std::string_view account_id,
                         const std::optional<std::string>& before_id, int limit,
                         std::string_view op, ReadRow read) {
  q.AccountId(1, account_id);
  if (before_id.has_value()) {
    q.Text(2, *before_id).Int(3, limit + 1);
  } else {
    q.Int(2, limit + 1);
  }
  Page<T> page;
  while (true) {
    CG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    if (page.items.size() == static_cast<size_t>(limit)) {
      page.has_more = true;
      break;
    }
    CG_ASSIGN_OR_RETURN(T item, read(q, op));
    page.items.push_back(std::move(item));
  }
  return page;
}

}  // namespace certgate::store::sqlite
