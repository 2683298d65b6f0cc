#include "store/postgres/rows.h"

namespace certgate::store::pg {
namespace {

// The statement of store/sql/row_encoding.h's InsertCertificateRow.
struct CertificateRowSql {
  static constexpr const char* kInsertCert =
      "INSERT INTO tls_certificates (id, account_id, created_at, description, metadata,"
      " certificate_pem, issued_at, not_after, key_version, sealed_key, owner_endpoint_id,"
      " subject_common_name, serial_number, not_before) VALUES ($1, $2, to_timestamp($3), $4, $5,"
      " $6, to_timestamp($7), to_timestamp($8), $9, $10, $11, $12, $13, to_timestamp($14))";
};
constexpr char kChangeSequence[] =
    "SELECT COALESCE((SELECT MAX(seq) FROM edge_changes), last_seq) FROM edge_change_log"
    " WHERE id = 1";

}  // namespace

Result<void> InsertCertificateRow(Connection& conn, const Certificate& cert,
                                  std::string_view account_id, std::string_view owner_endpoint_id,
                                  std::string_view op) {
  return sql::InsertCertificateRow<CertificateRowSql>(conn, cert, account_id, owner_endpoint_id,
                                                      op);
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
