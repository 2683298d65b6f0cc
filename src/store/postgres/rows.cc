#include "store/postgres/rows.h"

namespace certgate::store::pg {
namespace {

constexpr char kInsertCert[] =
    "INSERT INTO tls_certificates (id, account_id, created_at, description, metadata,"
    " certificate_pem, issued_at, not_after, key_version, sealed_key, owner_endpoint_id,"
    " subject_common_name, serial_number, not_before) VALUES ($1, $2, to_timestamp($3), $4, $5,"
    " $6, to_timestamp($7), to_timestamp($8), $9, $10, $11, $12, $13, to_timestamp($14))";
constexpr char kChangeSequence[] =
    "SELECT COALESCE((SELECT MAX(seq) FROM edge_changes), last_seq) FROM edge_change_log"
    " WHERE id = 1";

}  // namespace

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

Result<int64_t> ReadChangeSequence(Connection& conn, std::string_view op) {
  // The newest entry's: pruning always keeps the newest, so it never goes
  // back (last_seq: where numbering starts on an empty log).
  Query q(conn, kChangeSequence, op);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return CorruptRow(op, "edge_change_log has no row");
  return q.ColumnInt(0);
}

}  // namespace certgate::store::pg
