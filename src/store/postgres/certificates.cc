// TLS certificates in the PostgreSQL backend.
#include "store/postgres/pg_store_impl.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "store/postgres/rows.h"
#include "store/postgres/statements.h"

namespace certgate::store::pg {
namespace {

// The account-scoped statements see account certificates only, never those an
// endpoint owns. account_id IS NOT DISTINCT FROM $N matches NULL (the
// service's own) as well as a value; by id, the primary key finds the row.
constexpr char kSelectCert[] = "SELECT " CG_PG_CERT_COLUMNS
                               " FROM tls_certificates WHERE id = $1"
                               " AND account_id IS NOT DISTINCT FROM $2"
                               " AND owner_endpoint_id IS NULL";
constexpr char kSelectCertById[] =
    "SELECT " CG_PG_CERT_COLUMNS " FROM tls_certificates WHERE id = $1";
// Lists page through the (account_id, id) index, which IS NOT DISTINCT FROM
// cannot search: an account's list compares with =, and the service's own
// certificates (bound NULL) have a statement of their own.
#define CG_PG_LIST_CERTS(account)                                 \
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
constexpr char kUpdateCert[] =
    "UPDATE tls_certificates SET description = COALESCE($3, description),"
    " metadata = COALESCE($4, metadata) WHERE id = $1 AND account_id IS NOT DISTINCT FROM $2"
    " AND owner_endpoint_id IS NULL RETURNING " CG_PG_CERT_COLUMNS;
constexpr char kDeleteCert[] =
    "DELETE FROM tls_certificates WHERE id = $1 AND account_id IS NOT DISTINCT FROM $2"
    " AND owner_endpoint_id IS NULL";
constexpr char kDomainsUsingCert[] =
    "SELECT domain FROM reserved_domains WHERE certificate_id = $1 ORDER BY domain";
// The summary backfill; serial_number IS NULL is the partial index
// tls_certificates_unsummarized.
constexpr char kListUnsummarized[] =
    "SELECT id, certificate_pem FROM tls_certificates WHERE serial_number IS NULL"
    " ORDER BY id LIMIT $1";
constexpr char kListUnsummarizedAfter[] =
    "SELECT id, certificate_pem FROM tls_certificates WHERE serial_number IS NULL"
    " AND id > $1 ORDER BY id LIMIT $2";
constexpr char kSetSummary[] =
    "UPDATE tls_certificates SET subject_common_name = $2, serial_number = $3,"
    " not_before = to_timestamp($4) WHERE id = $1 AND serial_number IS NULL";

}  // namespace

Result<void> PgStore::InsertCertificate(const Certificate& cert) {
  constexpr std::string_view kOp = "inserting a certificate";
  if (!cert.owner_endpoint_id.empty()) {
    // Its endpoint must refer to it in the same transaction: InsertEndpoint.
    return MakeError(ErrorCode::kInternal,
                     fmt::format("{}: certificate {} belongs to endpoint {}; endpoint "
                                 "certificates are inserted with their endpoint",
                                 kOp, cert.id, cert.owner_endpoint_id));
  }
  return WriteAndAnnounce(kOp, [&](Connection& conn) {
    return InsertCertificateRow(conn, cert, cert.account_id, "", kOp);
  });
}

Result<std::optional<Certificate>> PgStore::GetCertificate(std::string_view account_id,
                                                           std::string_view id) {
  constexpr std::string_view kOp = "reading a certificate";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kSelectCert, kOp);
  q.Text(1, id).AccountId(2, account_id);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<Certificate>();
  CG_ASSIGN_OR_RETURN(Certificate cert, ReadCertificate(q, kOp));
  return std::optional<Certificate>(std::move(cert));
}

Result<std::optional<Certificate>> PgStore::GetCertificateById(std::string_view id) {
  constexpr std::string_view kOp = "reading a certificate";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kSelectCertById, kOp);
  q.Text(1, id);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<Certificate>();
  CG_ASSIGN_OR_RETURN(Certificate cert, ReadCertificate(q, kOp));
  return std::optional<Certificate>(std::move(cert));
}

Result<Page<Certificate>> PgStore::ListCertificates(std::string_view account_id,
                                                    const ListQuery& query) {
  constexpr std::string_view kOp = "listing certificates";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  const ListStatements& list = account_id.empty() ? kServiceCertList : kCertList;
  return ListPage<Certificate>(lease.conn(), list, account_id, query, kOp,
                               ReadCertificate<Query>);
}

Result<std::optional<Certificate>> PgStore::UpdateCertificate(std::string_view account_id,
                                                              std::string_view id,
                                                              const CertificatePatch& patch) {
  constexpr std::string_view kOp = "updating a certificate";
  using Found = std::optional<Certificate>;
  return WriteAndAnnounce(kOp, [&](Connection& conn) -> Result<Found> {
    // COALESCE keeps a column whose patch field is absent (bound NULL).
    Query q(conn, kUpdateCert, kOp);
    q.Text(1, id)
        .AccountId(2, account_id)
        .OptionalText(3, patch.description)
        .OptionalText(4, patch.metadata);
    CG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Found();
    CG_ASSIGN_OR_RETURN(Certificate cert, ReadCertificate(q, kOp));
    return Found(std::move(cert));
  });
}

Result<DeleteOutcome> PgStore::DeleteCertificate(std::string_view account_id,
                                                 std::string_view id) {
  constexpr std::string_view kOp = "deleting a certificate";
  // Check and delete under one write lock: a domain attached concurrently
  // either commits first (and is found here) or finds the certificate gone.
  return WriteAndAnnounce(kOp, [&](Connection& conn) -> Result<DeleteOutcome> {
    DeleteOutcome outcome;
    {
      Query exists(conn, kAccountCertExists, kOp);
      exists.Text(1, id).AccountId(2, account_id);
      CG_ASSIGN_OR_RETURN(bool row, exists.Step());
      if (!row) return outcome;  // kNotFound
    }
    {
      Query users(conn, kDomainsUsingCert, kOp);
      users.Text(1, id);
      CG_ASSIGN_OR_RETURN(outcome.used_by, ReadTextColumn(users));
    }
    if (!outcome.used_by.empty()) {
      outcome.status = DeleteOutcome::Status::kInUse;
      return outcome;
    }
    Query q(conn, kDeleteCert, kOp);
    q.Text(1, id).AccountId(2, account_id);
    CG_RETURN_IF_ERROR(q.Run());
    outcome.status =
        q.Changes() > 0 ? DeleteOutcome::Status::kDeleted : DeleteOutcome::Status::kNotFound;
    return outcome;
  });
}

Result<std::vector<UnsummarizedCertificate>> PgStore::ListUnsummarizedCertificates(
    std::optional<std::string> after_id, int limit) {
  constexpr std::string_view kOp = "listing certificates without a summary";
  if (limit < 1) {
    return MakeError(ErrorCode::kInvalidPaging,
                     fmt::format("limit must be at least 1, not {}", limit));
  }
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), after_id.has_value() ? kListUnsummarizedAfter : kListUnsummarized, kOp);
  if (after_id.has_value()) {
    q.Text(1, *after_id).Int(2, limit);
  } else {
    q.Int(1, limit);
  }
  std::vector<UnsummarizedCertificate> certs;
  while (true) {
    CG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    certs.push_back(UnsummarizedCertificate{q.ColumnText(0), q.ColumnText(1)});
  }
  return certs;
}

Result<bool> PgStore::SetCertificateSummary(std::string_view id,
                                            const CertificateSummary& summary) {
  constexpr std::string_view kOp = "setting a certificate's summary";
  if (summary.serial_number.empty()) {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("{}: certificate {}'s summary has no serial number", kOp, id));
  }
  // Write, not WriteAndAnnounce: nothing the edge serves changes (the
  // triggers still count the row in the change sequence).
  return Write(kOp, [&](Connection& conn) -> Result<bool> {
    Query q(conn, kSetSummary, kOp);
    q.Text(1, id)
        .Text(2, summary.subject_common_name)
        .Text(3, summary.serial_number)
        .Int(4, ToUnixSeconds(summary.not_before));
    CG_RETURN_IF_ERROR(q.Run());
    return q.Changes() > 0;
  });
}

}  // namespace certgate::store::pg
