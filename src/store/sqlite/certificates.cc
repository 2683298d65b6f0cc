// TLS certificates in the SQLite backend.
#include "store/sqlite/sqlite_store_impl.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/sql/certificates.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/statements.h"

namespace certgate::store::sqlite {
namespace {

// The statements of store/sql/certificates.h. The account-scoped ones see
// account certificates only, never those an endpoint owns. account_id IS ?:
// matches NULL (the service's own) as well as a value, and still searches
// the (account_id, id) index.
struct CertificateSql {
  static constexpr const char* kSelectCert =
      "SELECT " CG_CERT_COLUMNS " FROM tls_certificates WHERE id = ?1 AND account_id IS ?2"
      " AND owner_endpoint_id IS NULL";
  static constexpr const char* kSelectCertById =
      "SELECT " CG_CERT_COLUMNS " FROM tls_certificates WHERE id = ?1";
  static constexpr const char* kUpdateCert =
      "UPDATE tls_certificates SET description = COALESCE(?3, description),"
      " metadata = COALESCE(?4, metadata) WHERE id = ?1 AND account_id IS ?2"
      " AND owner_endpoint_id IS NULL RETURNING " CG_CERT_COLUMNS;
  static constexpr const char* kAccountCertExists = sqlite::kAccountCertExists;
  static constexpr const char* kDeleteCert =
      "DELETE FROM tls_certificates WHERE id = ?1 AND account_id IS ?2"
      " AND owner_endpoint_id IS NULL";
  static constexpr const char* kDomainsUsingCert =
      "SELECT domain FROM reserved_domains WHERE certificate_id = ?1 ORDER BY domain";
  // The summary backfill; serial_number IS NULL is the partial index
  // tls_certificates_unsummarized.
  static constexpr const char* kListUnsummarized =
      "SELECT id, certificate_pem FROM tls_certificates WHERE serial_number IS NULL"
      " ORDER BY id LIMIT ?1";
  static constexpr const char* kListUnsummarizedAfter =
      "SELECT id, certificate_pem FROM tls_certificates WHERE serial_number IS NULL"
      " AND id > ?1 ORDER BY id LIMIT ?2";
  static constexpr const char* kListExpiries =
      "SELECT id, COALESCE(account_id, ''), issued_at IS NOT NULL, not_after,"
      " COALESCE(subject_common_name, ''), COALESCE(owner_endpoint_id, '')"
      " FROM tls_certificates ORDER BY id LIMIT ?1";
  static constexpr const char* kListExpiriesAfter =
      "SELECT id, COALESCE(account_id, ''), issued_at IS NOT NULL, not_after,"
      " COALESCE(subject_common_name, ''), COALESCE(owner_endpoint_id, '')"
      " FROM tls_certificates WHERE id > ?1 ORDER BY id LIMIT ?2";
  static constexpr const char* kSetSummary =
      "UPDATE tls_certificates SET subject_common_name = ?2, serial_number = ?3, not_before = ?4"
      " WHERE id = ?1 AND serial_number IS NULL";
};

#define CG_LIST_CERTS                                      \
  "SELECT " CG_CERT_COLUMNS " FROM tls_certificates WHERE" \
  " account_id IS ?1 AND owner_endpoint_id IS NULL"
constexpr char kListCerts[] = CG_LIST_CERTS " ORDER BY id DESC LIMIT ?2";
constexpr char kListCertsBefore[] = CG_LIST_CERTS " AND id < ?2 ORDER BY id DESC LIMIT ?3";
// Columns of the fields store/list_filter.cc lists for certificates.
constexpr FilterColumn kCertFilterColumns[] = {
    {"id", "id"},
    {"created_at", "created_at"},
    {"description", "description"},
    {"metadata", "metadata"},
    {"not_after", "not_after"},
    // NULL in a row not yet backfilled: absent, as FilterToSql treats NULL.
    {"subject_common_name", "subject_common_name"},
    {"not_before", "not_before"},
    {"serial_number", "serial_number"},
};
constexpr ListStatements kCertList{kListCerts, kListCertsBefore, CG_LIST_CERTS,
                                   kCertFilterColumns};
#undef CG_LIST_CERTS

}  // namespace

Result<void> SqliteStore::InsertCertificate(const Certificate& cert) {
  constexpr std::string_view kOp = "inserting a certificate";
  CG_RETURN_IF_ERROR(sql::CheckInsertableCertificate(cert, kOp));
  return WriteAndAnnounce(kOp, [&](Connection& conn) {
    return InsertCertificateRow(conn, cert, cert.account_id, "", kOp);
  });
}

Result<std::optional<Certificate>> SqliteStore::GetCertificate(std::string_view account_id,
                                                               std::string_view id) {
  constexpr std::string_view kOp = "reading a certificate";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::GetCertificate<CertificateSql>(lease.conn(), account_id, id, kOp);
}

Result<std::optional<Certificate>> SqliteStore::GetCertificateById(std::string_view id) {
  constexpr std::string_view kOp = "reading a certificate";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::GetCertificateById<CertificateSql>(lease.conn(), id, kOp);
}

Result<Page<Certificate>> SqliteStore::ListCertificates(std::string_view account_id,
                                                        const ListQuery& query) {
  constexpr std::string_view kOp = "listing certificates";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return ListPage<Certificate>(lease.conn(), kCertList, account_id, query, kOp,
                               ReadCertificate<Query>);
}

Result<std::optional<Certificate>> SqliteStore::UpdateCertificate(std::string_view account_id,
                                                                  std::string_view id,
                                                                  const CertificatePatch& patch) {
  constexpr std::string_view kOp = "updating a certificate";
  return WriteAndAnnounce(kOp, [&](Connection& conn) {
    return sql::UpdateCertificate<CertificateSql>(conn, account_id, id, patch, kOp);
  });
}

Result<DeleteOutcome> SqliteStore::DeleteCertificate(std::string_view account_id,
                                                     std::string_view id) {
  constexpr std::string_view kOp = "deleting a certificate";
  return WriteAndAnnounce(kOp, [&](Connection& conn) {
    return sql::DeleteCertificate<CertificateSql>(conn, account_id, id, kOp);
  });
}

Result<std::vector<CertificateExpiry>> SqliteStore::ListCertificateExpiries(
    std::optional<std::string> after_id, int limit) {
  constexpr std::string_view kOp = "listing certificates' expiry";
  CG_RETURN_IF_ERROR(sql::CheckLimit(limit));
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::ListCertificateExpiries<CertificateSql>(lease.conn(), after_id, limit, kOp);
}

Result<std::vector<UnsummarizedCertificate>> SqliteStore::ListUnsummarizedCertificates(
    std::optional<std::string> after_id, int limit) {
  constexpr std::string_view kOp = "listing certificates without a summary";
  CG_RETURN_IF_ERROR(sql::CheckBatchLimit(limit));
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::ListUnsummarizedCertificates<CertificateSql>(lease.conn(), after_id, limit, kOp);
}

Result<bool> SqliteStore::SetCertificateSummary(std::string_view id,
                                                const CertificateSummary& summary) {
  constexpr std::string_view kOp = "setting a certificate's summary";
  CG_RETURN_IF_ERROR(sql::CheckCertificateSummary(id, summary, kOp));
  // Write, not WriteAndAnnounce: nothing the edge serves changes (the
  // triggers still count the row in the change sequence).
  return Write(kOp, [&](Connection& conn) {
    return sql::SetCertificateSummary<CertificateSql>(conn, id, summary, kOp);
  });
}

}  // namespace certgate::store::sqlite
