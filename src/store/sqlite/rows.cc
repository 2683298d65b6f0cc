#include "store/sqlite/rows.h"

#include "store/sqlite/statements.h"

namespace certgate::store::sqlite {
namespace {

// The statement of store/sql/row_encoding.h's InsertCertificateRow.
struct CertificateRowSql {
  static constexpr const char* kInsertCert =
      "INSERT INTO tls_certificates (" CG_CERT_COLUMNS
      ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";
};

}  // namespace

Result<void> InsertCertificateRow(Connection& conn, const Certificate& cert,
                                  std::string_view account_id, std::string_view owner_endpoint_id,
                                  std::string_view op) {
  return sql::InsertCertificateRow<CertificateRowSql>(conn, cert, account_id, owner_endpoint_id,
                                                      op);
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
