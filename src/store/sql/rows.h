// Row decoding shared by the SQL backends (store/sqlite, store/postgres):
// records from the columns each backend's statements.h lists, in the same
// order, through any Query type with IsNull, ColumnInt, ColumnText,
// OptionalColumnText, ColumnBlob and Step. Times are read as unix seconds
// (the PostgreSQL backend selects its timestamptz columns as such) and
// booleans as 0 or 1.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/result.h"
#include "core/time.h"
#include "store/records.h"

namespace certgate::store::sql {

inline constexpr int kMaxListLimit = 1000;

// A row that breaks the schema's promises (kStoreIo).
Error CorruptRow(std::string_view op, std::string_view what);
// kInvalidPaging unless 1 <= limit <= kMaxListLimit.
Result<void> CheckLimit(int limit);
// A domain's resolves_to values as stored: one per line (a value never holds
// a line break: the API allows PoP codes and address:port only).
std::string JoinResolvesTo(const std::vector<std::string>& values);
std::vector<std::string> SplitResolvesTo(std::string_view text);

// The key type in column col of a record's row (what names the record and
// column in the error).
template <class Q>
Result<KeyType> ReadKeyType(const Q& q, int col, std::string_view what, std::string_view op) {
  std::string name = q.ColumnText(col);
  auto parsed = ParseKeyType(name);
  if (!parsed.has_value()) {
    return CorruptRow(op, fmt::format("{} has unknown key type \"{}\"", what, name));
  }
  return *parsed;
}

template <class Q>
Result<Account> ReadAccount(const Q& q, int col, std::string_view op) {
  Account account;
  account.id = q.ColumnText(col);
  account.name = q.ColumnText(col + 1);
  std::string plan = q.ColumnText(col + 2);
  auto parsed = ParsePlan(plan);
  if (!parsed.has_value()) {
    return CorruptRow(op, fmt::format("account {} has unknown plan \"{}\"", account.id, plan));
  }
  account.plan = *parsed;
  account.created_at = FromUnixSeconds(q.ColumnInt(col + 3));
  return account;
}

template <class Q>
Result<uint32_t> ReadKeyVersion(const Q& q, int col, std::string_view id, std::string_view op) {
  int64_t v = q.ColumnInt(col);
  if (v < 0 || v > std::numeric_limits<uint32_t>::max()) {
    return CorruptRow(op, fmt::format("certificate {} has key_version {}", id, v));
  }
  return static_cast<uint32_t>(v);
}

// Each of these reads the columns a backend's statements.h lists as
// CG_*_COLUMNS, in that order.
template <class Q>
Result<Certificate> ReadCertificate(const Q& q, std::string_view op) {
  Certificate cert;
  cert.id = q.ColumnText(0);
  if (!q.IsNull(1)) cert.account_id = q.ColumnText(1);
  cert.created_at = FromUnixSeconds(q.ColumnInt(2));
  cert.description = q.ColumnText(3);
  cert.metadata = q.ColumnText(4);
  cert.certificate_pem = q.ColumnText(5);
  if (!q.IsNull(6)) cert.issued_at = FromUnixSeconds(q.ColumnInt(6));
  cert.not_after = FromUnixSeconds(q.ColumnInt(7));
  CG_ASSIGN_OR_RETURN(cert.private_key.key_version, ReadKeyVersion(q, 8, cert.id, op));
  cert.private_key.blob = q.ColumnBlob(9);
  if (!q.IsNull(10)) cert.owner_endpoint_id = q.ColumnText(10);
  // NULL (a row from before the summary, not yet backfilled): unknown, which
  // Certificate spells serial_number "".
  if (!q.IsNull(12)) {
    cert.subject_common_name = q.ColumnText(11);
    cert.serial_number = q.ColumnText(12);
    cert.not_before = FromUnixSeconds(q.ColumnInt(13));
  }
  return cert;
}

template <class Q>
Result<Domain> ReadDomain(const Q& q, std::string_view op) {
  Domain d;
  d.id = q.ColumnText(0);
  d.account_id = q.ColumnText(1);
  d.created_at = FromUnixSeconds(q.ColumnInt(2));
  d.description = q.ColumnText(3);
  d.metadata = q.ColumnText(4);
  d.domain = q.ColumnText(5);
  d.certificate_id = q.OptionalColumnText(6);
  if (!q.IsNull(7)) {
    if (q.IsNull(8)) {
      return CorruptRow(op, fmt::format("domain {} has a policy without a key type", d.id));
    }
    std::string authority = q.ColumnText(7);
    auto parsed = ParseAuthority(authority);
    if (!parsed.has_value()) {
      return CorruptRow(op, fmt::format("domain {} has unknown policy authority \"{}\"", d.id,
                                        authority));
    }
    CG_ASSIGN_OR_RETURN(KeyType key_type,
                        ReadKeyType(q, 8, fmt::format("domain {}'s policy", d.id), op));
    d.policy = ManagementPolicy{*parsed, key_type};
  }
  d.cname_target = q.OptionalColumnText(9);
  d.acme_challenge_cname_target = q.OptionalColumnText(10);
  if (!q.IsNull(11)) d.renews_at = FromUnixSeconds(q.ColumnInt(11));
  if (!q.IsNull(12)) {
    const std::string what = fmt::format("domain {}'s issued certificate", d.id);
    CG_ASSIGN_OR_RETURN(d.issued_key_type, ReadKeyType(q, 12, what, op));
  }
  d.resolves_to = SplitResolvesTo(q.ColumnText(13));
  return d;
}

template <class Q>
Result<Endpoint> ReadEndpoint(const Q& q, std::string_view op) {
  Endpoint e;
  e.id = q.ColumnText(0);
  e.account_id = q.ColumnText(1);
  e.created_at = FromUnixSeconds(q.ColumnInt(2));
  e.description = q.ColumnText(3);
  e.metadata = q.ColumnText(4);
  e.url = q.ColumnText(5);
  e.scheme = q.ColumnText(6);
  e.host = q.ColumnText(7);
  int64_t port = q.ColumnInt(8);
  if (port < 0 || port > std::numeric_limits<uint16_t>::max()) {
    return CorruptRow(op, fmt::format("endpoint {} has port {}", e.id, port));
  }
  e.port = static_cast<uint16_t>(port);
  e.upstream = q.ColumnText(9);
  e.traffic_policy = q.ColumnText(10);
  e.domain_id = q.ColumnText(11);
  e.policy_certificate_id = q.OptionalColumnText(12);
  e.updated_at = FromUnixSeconds(q.ColumnInt(13));
  e.traffic_policy_text = q.ColumnText(14);
  e.type = q.ColumnText(15);
  const std::string bindings = q.ColumnText(16);
  auto decoded = DecodeBindings(bindings);
  if (!decoded.has_value()) {
    return CorruptRow(
        op, fmt::format("endpoint {} has bindings \"{}\"", e.id, bindings.substr(0, 200)));
  }
  e.bindings = std::move(*decoded);
  const int64_t pooling = q.ColumnInt(17);
  if (pooling != 0 && pooling != 1) {
    return CorruptRow(op, fmt::format("endpoint {} has pooling_enabled {}", e.id, pooling));
  }
  e.pooling_enabled = pooling == 1;
  return e;
}

// The first column of every row, e.g. the names of what uses a record.
template <class Q>
Result<std::vector<std::string>> ReadTextColumn(Q& q) {
  std::vector<std::string> out;
  while (true) {
    CG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    out.push_back(q.ColumnText(0));
  }
}

template <class Q>
Result<ProvisioningJob> ReadJob(const Q& q, std::string_view op) {
  ProvisioningJob job;
  job.id = q.ColumnText(0);
  job.domain_id = q.ColumnText(1);
  job.account_id = q.ColumnText(2);
  job.domain = q.ColumnText(3);
  CG_ASSIGN_OR_RETURN(job.key_type, ReadKeyType(q, 4, fmt::format("job {}", job.id), op));
  job.renewal = q.ColumnInt(5) != 0;
  job.started_at = FromUnixSeconds(q.ColumnInt(6));
  job.msg = q.ColumnText(7);
  job.error_code = q.OptionalColumnText(8);
  if (!q.IsNull(9)) job.retries_at = FromUnixSeconds(q.ColumnInt(9));
  job.next_run_at = FromUnixSeconds(q.ColumnInt(10));
  job.failures = static_cast<int>(q.ColumnInt(11));
  job.order_url = q.ColumnText(12);
  if (!q.IsNull(13)) {
    SealedKey key;
    CG_ASSIGN_OR_RETURN(key.key_version, ReadKeyVersion(q, 13, job.id, op));
    key.blob = q.ColumnBlob(14);
    job.private_key = std::move(key);
  }
  job.lease_owner = q.ColumnText(15);
  job.lease_token = q.ColumnInt(16);
  return job;
}

// Every row of a bound statement, each decoded with read(q, op).
template <class T, class Q, class ReadRow>
Result<std::vector<T>> ReadAllRows(Q& q, std::string_view op, ReadRow read) {
  std::vector<T> out;
  while (true) {
    CG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    CG_ASSIGN_OR_RETURN(T item, read(q, op));
    out.push_back(std::move(item));
  }
}

// Reads up to limit rows of a bound list statement asked for limit + 1.
template <class T, class Q, class ReadRow>
Result<Page<T>> ReadRows(Q& q, int limit, std::string_view op, ReadRow read) {
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

// Inside a write transaction: leases each of rows (jobs, notifications:
// records with id, lease_owner and lease_token) to owner until lease_until,
// each under its token raised by one, with lease_sql (id, lease_until,
// owner, token).
template <class Conn, class Row>
Result<void> LeaseRows(Conn& conn, std::vector<Row>& rows, const char* lease_sql,
                       std::string_view owner, Time lease_until, std::string_view op) {
  using Q = typename Conn::QueryType;
  for (Row& row : rows) {
    row.lease_owner = std::string(owner);
    ++row.lease_token;
    Q lease(conn, lease_sql, op);
    lease.Text(1, row.id)
        .Int(2, ToUnixSeconds(lease_until))
        .Text(3, row.lease_owner)
        .Int(4, row.lease_token);
    CG_RETURN_IF_ERROR(lease.Run());
  }
  return {};
}

}  // namespace certgate::store::sql
