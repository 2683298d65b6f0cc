// TLS certificates in the PostgreSQL backend.
#include "store/postgres/pg_store_impl.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/postgres/rows.h"
#include "store/postgres/statements.h"
#include "store/sql/certificates.h"

namespace certgate::store::pg {
namespace {

// The statements of store/sql/certificates.h. The account-scoped ones see
// account certificates only, never those an endpoint owns. account_id IS NOT
// DISTINCT FROM $N matches NULL (the service's own) as well as a value; by
// id, the primary key finds the row.
struct CertificateSql {
  static constexpr const char* kSelectCert =
      "SELECT " CG_PG_CERT_COLUMNS " FROM tls_certificates WHERE id = $1"
      " AND account_id IS NOT DISTINCT FROM $2 AND owner_endpoint_id IS NULL";
  static constexpr const char* kSelectCertById =
      "SELECT " CG_PG_CERT_COLUMNS " FROM tls_certificates WHERE id = $1";
  static constexpr const char* kUpdateCert =
      "UPDATE tls_certificates SET description = COALESCE($3, description),"
      " metadata = COALESCE($4, metadata) WHERE id = $1 AND account_id IS NOT DISTINCT FROM $2"
      " AND owner_endpoint_id IS NULL RETURNING " CG_PG_CERT_COLUMNS;
  static constexpr const char* kAccountCertExists = pg::kAccountCertExists;
  static constexpr const char* kDeleteCert =
      "DELETE FROM tls_certificates WHERE id = $1 AND account_id IS NOT DISTINCT FROM $2"
      " AND owner_endpoint_id IS NULL";
  static constexpr const char* kDomainsUsingCert =
      "SELECT domain FROM reserved_domains WHERE certificate_id = $1 ORDER BY domain";
  // The summary backfill; serial_number IS NULL is the partial index
  // tls_certificates_unsummarized.
  static constexpr const char* kListUnsummarized =
      "SELECT id, certificate_pem FROM tls_certificates WHERE serial_number IS NULL"
      " ORDER BY id LIMIT $1";
  static constexpr const char* kListUnsummarizedAfter =
      "SELECT id, certificate_pem FROM tls_certificates WHERE serial_number IS NULL"
      " AND id > $1 ORDER BY id LIMIT $2";
  static constexpr const char* kListExpiries =
      "SELECT id, COALESCE(account_id, ''), (issued_at IS NOT NULL)::int, " CG_PG_EPOCH(not_after)
      ", COALESCE(subject_common_name, ''), COALESCE(owner_endpoint_id, '')"
      " FROM tls_certificates ORDER BY id LIMIT $1";
  static constexpr const char* kListExpiriesAfter =
      "SELECT id, COALESCE(account_id, ''), (issued_at IS NOT NULL)::int, " CG_PG_EPOCH(not_after)
      ", COALESCE(subject_common_name, ''), COALESCE(owner_endpoint_id, '')"
      " FROM tls_certificates WHERE id > $1 ORDER BY id LIMIT $2";
  static constexpr const char* kSetSummary =
      "UPDATE tls_certificates SET subject_common_name = $2, serial_number = $3,"
      " not_before = to_timestamp($4) WHERE id = $1 AND serial_number IS NULL";
};

// Lists page through the (account_id, id) index, which IS NOT DISTINCT FROM
// cannot search: an account's list compares with =, and the service's own
// certificates (bound NULL) have a statement of their own.
#define CG_PG_LIST_CERTS(account)                                      \
  "SELECT " CG_PG_CERT_COLUMNS " FROM tls_certificates WHERE " account \
  " AND owner_endpoint_id IS NULL"
#define CG_PG_ACCOUNT_CERTS CG_PG_LIST_CERTS("account_id = $1")
#define CG_PG_SERVICE_CERTS CG_PG_LIST_CERTS("$1::text IS NULL AND account_id IS NULL")
constexpr char kListCerts[] = CG_PG_ACCOUNT_CERTS " ORDER BY id DESC LIMIT $2";
constexpr char kListCertsBefore[] = CG_PG_ACCOUNT_CERTS " AND id < $2 ORDER BY id DESC LIMIT $3";
constexpr char kListServiceCerts[] = CG_PG_SERVICE_CERTS " ORDER BY id DESC LIMIT $2";
constexpr char kListServiceCertsBefore[] =
    CG_PG_SERVICE_CERTS " AND id < $2 ORDER BY id DESC LIMIT $3";
// Columns of the fields store/list_filter.cc lists for certificates.
constexpr FilterColumn kCertFilterColumns[] = {
    {"id", "id"},
    {"created_at", CG_PG_EPOCH(created_at)},
    {"description", "description"},
    {"metadata", "metadata"},
    {"not_after", CG_PG_EPOCH(not_after)},
    // NULL in a row not yet backfilled: absent, as FilterToSql treats NULL.
    {"subject_common_name", "subject_common_name"},
    {"not_before", CG_PG_EPOCH(not_before)},
    {"serial_number", "serial_number"},
};
constexpr ListStatements kCertList{kListCerts, kListCertsBefore, CG_PG_ACCOUNT_CERTS,
                                   kCertFilterColumns};
constexpr ListStatements kServiceCertList{kListServiceCerts, kListServiceCertsBefore,
                                          CG_PG_SERVICE_CERTS, kCertFilterColumns};
#undef CG_PG_SERVICE_CERTS
#undef CG_PG_ACCOUNT_CERTS
#undef CG_PG_LIST_CERTS

}  // namespace

Result<void> PgStore::InsertCertificate(const Certificate& cert) {
  constexpr std::string_view kOp = "inserting a certificate";
  CG_RETURN_IF_ERROR(sql::CheckInsertableCertificate(cert, kOp));
  return WriteAndAnnounce(kOp, [&](Connection& conn) {
    return InsertCertificateRow(conn, cert, cert.account_id, "", kOp);
  });
}

Result<std::optional<Certificate>> PgStore::GetCertificate(std::string_view account_id,
                                                           std::string_view id) {
  constexpr std::string_view kOp = "reading a certificate";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::GetCertificate<CertificateSql>(lease.conn(), account_id, id, kOp);
}

Result<std::optional<Certificate>> PgStore::GetCertificateById(std::string_view id) {
  constexpr std::string_view kOp = "reading a certificate";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::GetCertificateById<CertificateSql>(lease.conn(), id, kOp);
}

Result<Page<Certificate>> PgStore::ListCertificates(std::string_view account_id,
                                                    const ListQuery& query) {
  constexpr std::string_view kOp = "listing certificates";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  // Unlike SQLite's IS, the index cannot search for NULL: the service's own
  // certificates (account_id "") are listed with statements of their own.
  const ListStatements& list = account_id.empty() ? kServiceCertList : kCertList;
  return ListPage<Certificate>(lease.conn(), list, account_id, query, kOp,
                               ReadCertificate<Query>);
}

Result<std::optional<Certificate>> PgStore::UpdateCertificate(std::string_view account_id,
                                                              std::string_view id,
                                                              const CertificatePatch& patch) {
  constexpr std::string_view kOp = "updating a certificate";
  return WriteAndAnnounce(kOp, [&](Connection& conn) {
    return sql::UpdateCertificate<CertificateSql>(conn, account_id, id, patch, kOp);
  });
}

Result<DeleteOutcome> PgStore::DeleteCertificate(std::string_view account_id,
                                                 std::string_view id) {
  constexpr std::string_view kOp = "deleting a certificate";
  return WriteAndAnnounce(kOp, [&](Connection& conn) {
    return sql::DeleteCertificate<CertificateSql>(conn, account_id, id, kOp);
  });
}

Result<std::vector<CertificateExpiry>> PgStore::ListCertificateExpiries(
    std::optional<std::string> after_id, int limit) {
  constexpr std::string_view kOp = "listing certificates' expiry";
  CG_RETURN_IF_ERROR(sql::CheckLimit(limit));
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::ListCertificateExpiries<CertificateSql>(lease.conn(), after_id, limit, kOp);
}

Result<std::vector<UnsummarizedCertificate>> PgStore::ListUnsummarizedCertificates(
    std::optional<std::string> after_id, int limit) {
  constexpr std::string_view kOp = "listing certificates without a summary";
  CG_RETURN_IF_ERROR(sql::CheckBatchLimit(limit));
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::ListUnsummarizedCertificates<CertificateSql>(lease.conn(), after_id, limit, kOp);
}

Result<bool> PgStore::SetCertificateSummary(std::string_view id,
                                            const CertificateSummary& summary) {
  constexpr std::string_view kOp = "setting a certificate's summary";
  CG_RETURN_IF_ERROR(sql::CheckCertificateSummary(id, summary, kOp));
  // Write, not WriteAndAnnounce: nothing the edge serves changes (the
  // triggers still count the row in the change sequence).
  return Write(kOp, [&](Connection& conn) {
    return sql::SetCertificateSummary<CertificateSql>(conn, id, summary, kOp);
  });
}

}  // namespace certgate::store::pg
