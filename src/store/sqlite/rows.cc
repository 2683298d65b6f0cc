#include "store/sqlite/rows.h"

#include <limits>

#include "store/sqlite/statements.h"

namespace certgate::store::sqlite {
namespace {

constexpr char kInsertCert[] =
    "INSERT INTO tls_certificates (" CG_CERT_COLUMNS
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";

// The key type in column col of a record's row (what names the record and
// column in the error).
Result<KeyType> ReadKeyType(const Query& q, int col, std::string_view what, std::string_view op) {
  std::string name = q.ColumnText(col);
  auto parsed = ParseKeyType(name);
  if (!parsed.has_value()) {
    return CorruptRow(op, fmt::format("{} has unknown key type \"{}\"", what, name));
  }
  return *parsed;
}

}  // namespace

Result<Account> ReadAccount(const Query& q, int col, std::string_view op) {
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

Result<uint32_t> ReadKeyVersion(const Query& q, int col, std::string_view id, std::string_view op) {
  int64_t v = q.ColumnInt(col);
  if (v < 0 || v > std::numeric_limits<uint32_t>::max()) {
    return CorruptRow(op, fmt::format("certificate {} has key_version {}", id, v));
  }
  return static_cast<uint32_t>(v);
}

// Reads the columns statements.h's CG_CERT_COLUMNS lists, in that order.
Result<Certificate> ReadCertificate(const Query& q, std::string_view op) {
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

// Reads the columns statements.h's CG_DOMAIN_COLUMNS lists, in that order.
Result<Domain> ReadDomain(const Query& q, std::string_view op) {
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

// Reads the columns statements.h's CG_ENDPOINT_COLUMNS lists, in that order.
Result<Endpoint> ReadEndpoint(const Query& q, std::string_view op) {
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

Result<void> CheckLimit(int limit) {
  if (limit < 1 || limit > kMaxListLimit) {
    return MakeError(ErrorCode::kInvalidPaging,
                     fmt::format("limit must be between 1 and {}, not {}", kMaxListLimit, limit));
  }
  return {};
}


// The first column of every row, e.g. the names of what uses a record.
Result<std::vector<std::string>> ReadTextColumn(Query& q) {
  std::vector<std::string> out;
  while (true) {
    CG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    out.push_back(q.ColumnText(0));
  }
}

// Reads the columns statements.h's CG_JOB_COLUMNS lists, in that order.
Result<ProvisioningJob> ReadJob(const Query& q, std::string_view op) {
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

void BindJobKey(Query& q, int version_index, const std::optional<SealedKey>& key) {
  if (key.has_value()) {
    q.Int(version_index, key->key_version).Blob(version_index + 1, key->blob);
  } else {
    q.Null(version_index).Null(version_index + 1);
  }
}

// owner_endpoint_id "" stores NULL: an account (or the service's) certificate.
Result<void> InsertCertificateRow(Connection& conn, const Certificate& cert,
                                  std::string_view account_id, std::string_view owner_endpoint_id,
                                  std::string_view op) {
  Query q(conn, kInsertCert, op);
  q.Text(1, cert.id)
      .AccountId(2, account_id)
      .Int(3, ToUnixSeconds(cert.created_at))
      .Text(4, cert.description)
      .Text(5, cert.metadata)
      .Text(6, cert.certificate_pem);
  if (cert.issued_at.has_value()) {
    q.Int(7, ToUnixSeconds(*cert.issued_at));
  } else {
    q.Null(7);
  }
  q.Int(8, ToUnixSeconds(cert.not_after))
      .Int(9, cert.private_key.key_version)
      .Blob(10, cert.private_key.blob);
  if (owner_endpoint_id.empty()) {
    q.Null(11);
  } else {
    q.Text(11, owner_endpoint_id);
  }
  if (cert.serial_number.empty()) {
    q.Null(12).Null(13).Null(14);  // the summary is unknown
  } else {
    q.Text(12, cert.subject_common_name)
        .Text(13, cert.serial_number)
        .Int(14, ToUnixSeconds(cert.not_before));
  }
  return q.Run();
}

std::string JoinResolvesTo(const std::vector<std::string>& values) {
  std::string out;
  for (const std::string& v : values) {
    if (!out.empty()) out += '\n';
    out += v;
  }
  return out;
}

std::vector<std::string> SplitResolvesTo(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    out.emplace_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

Result<int64_t> ReadChangeSequence(Connection& conn, std::string_view op) {
  // AUTOINCREMENT's high-water mark: never goes back, even when pruned.
  Query q(conn, "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'edge_changes'), 0)",
          op);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return CorruptRow(op, "the change sequence query returned no row");
  return q.ColumnInt(0);
}

}  // namespace certgate::store::sqlite
