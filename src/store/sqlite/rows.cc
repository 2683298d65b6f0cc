#include "store/sqlite/rows.h"

#include "store/sqlite/statements.h"

namespace certgate::store::sqlite {
namespace {

constexpr char kInsertCert[] =
    "INSERT INTO tls_certificates (" CG_CERT_COLUMNS
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";

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
  // AUTOINCREMENT's high-water mark: never goes back, even when pruned.
  Query q(conn, "SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'edge_changes'), 0)",
          op);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return CorruptRow(op, "the change sequence query returned no row");
  return q.ColumnInt(0);
}

}  // namespace certgate::store::sqlite
