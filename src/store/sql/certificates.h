// TLS certificates, shared by the SQL backends (store/sqlite,
// store/postgres). Each function runs on a connection its caller holds,
// inside the transaction the caller chose (Write or WriteAndAnnounce) or on a
// lease from its pool; S holds the backend's statements (struct
// CertificateSql in its certificates.cc). The account-scoped statements see
// account certificates only, never those an endpoint owns, and match the
// service's own (account_id bound NULL) as well as an account's:
//   kSelectCert (id, account_id), kSelectCertById (id): CG_*_CERT_COLUMNS rows
//   kUpdateCert (id, account_id, description, metadata; NULL keeps the
//     column): RETURNING CG_*_CERT_COLUMNS
//   kAccountCertExists (id, account_id): a row if so; kDomainsUsingCert (id):
//     domain names; kDeleteCert (id, account_id)
//   kListUnsummarized (limit), kListUnsummarizedAfter (after_id, limit): id,
//     certificate_pem
//   kSetSummary (id, subject_common_name, serial_number, not_before)
// Times are bound as unix seconds. The list of an account's certificates is
// the backend's own (ListPage over its statements): PostgreSQL lists the
// service's own with a statement of its own.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/result.h"
#include "core/time.h"
#include "store/records.h"
#include "store/sql/rows.h"

namespace certgate::store::sql {

// InsertCertificate's precondition, checked before its transaction.
inline Result<void> CheckInsertableCertificate(const Certificate& cert, std::string_view op) {
  if (!cert.owner_endpoint_id.empty()) {
    // Its endpoint must refer to it in the same transaction: InsertEndpoint.
    return MakeError(ErrorCode::kInternal,
                     fmt::format("{}: certificate {} belongs to endpoint {}; endpoint "
                                 "certificates are inserted with their endpoint",
                                 op, cert.id, cert.owner_endpoint_id));
  }
  return {};
}

// SetCertificateSummary's precondition, checked before its transaction.
inline Result<void> CheckCertificateSummary(std::string_view id,
                                            const CertificateSummary& summary,
                                            std::string_view op) {
  if (summary.serial_number.empty()) {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("{}: certificate {}'s summary has no serial number", op, id));
  }
  return {};
}

// The certificate of a bound kSelectCert* query, if it has a row.
template <class Q>
Result<std::optional<Certificate>> ReadOptionalCertificate(Q& q, std::string_view op) {
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<Certificate>();
  CG_ASSIGN_OR_RETURN(Certificate cert, ReadCertificate(q, op));
  return std::optional<Certificate>(std::move(cert));
}

template <class S, class Conn>
Result<std::optional<Certificate>> GetCertificate(Conn& conn, std::string_view account_id,
                                                  std::string_view id, std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kSelectCert, op);
  q.Text(1, id).AccountId(2, account_id);
  return ReadOptionalCertificate(q, op);
}

template <class S, class Conn>
Result<std::optional<Certificate>> GetCertificateById(Conn& conn, std::string_view id,
                                                      std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kSelectCertById, op);
  q.Text(1, id);
  return ReadOptionalCertificate(q, op);
}

// Inside a write transaction.
template <class S, class Conn>
Result<std::optional<Certificate>> UpdateCertificate(Conn& conn, std::string_view account_id,
                                                     std::string_view id,
                                                     const CertificatePatch& patch,
                                                     std::string_view op) {
  using Q = typename Conn::QueryType;
  using Found = std::optional<Certificate>;
  // COALESCE keeps a column whose patch field is absent (bound NULL).
  Q q(conn, S::kUpdateCert, op);
  q.Text(1, id)
      .AccountId(2, account_id)
      .OptionalText(3, patch.description)
      .OptionalText(4, patch.metadata);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return Found();
  CG_ASSIGN_OR_RETURN(Certificate cert, ReadCertificate(q, op));
  // SQLite: RETURNING statements apply their change in full on the first
  // step, but run to the end so that COMMIT finds no statement in progress.
  // (PostgreSQL ran the statement whole on the first step: Run does nothing.)
  CG_RETURN_IF_ERROR(q.Run());
  return Found(std::move(cert));
}

// Inside a write transaction, so that check and delete happen under one
// write lock: a domain attached concurrently either commits first (and is
// found here) or finds the certificate gone.
template <class S, class Conn>
Result<DeleteOutcome> DeleteCertificate(Conn& conn, std::string_view account_id,
                                        std::string_view id, std::string_view op) {
  using Q = typename Conn::QueryType;
  DeleteOutcome outcome;
  {
    Q exists(conn, S::kAccountCertExists, op);
    exists.Text(1, id).AccountId(2, account_id);
    CG_ASSIGN_OR_RETURN(bool row, exists.Step());
    if (!row) return outcome;  // kNotFound
  }
  {
    Q users(conn, S::kDomainsUsingCert, op);
    users.Text(1, id);
    CG_ASSIGN_OR_RETURN(outcome.used_by, ReadTextColumn(users));
  }
  if (!outcome.used_by.empty()) {
    outcome.status = DeleteOutcome::Status::kInUse;
    return outcome;
  }
  Q q(conn, S::kDeleteCert, op);
  q.Text(1, id).AccountId(2, account_id);
  CG_RETURN_IF_ERROR(q.Run());
  outcome.status =
      q.Changes() > 0 ? DeleteOutcome::Status::kDeleted : DeleteOutcome::Status::kNotFound;
  return outcome;
}

// REQUIRES: limit >= 1 (CheckBatchLimit, store/sql/paging.h).
template <class S, class Conn>
Result<std::vector<UnsummarizedCertificate>> ListUnsummarizedCertificates(
    Conn& conn, const std::optional<std::string>& after_id, int limit, std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, after_id.has_value() ? S::kListUnsummarizedAfter : S::kListUnsummarized, op);
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

// REQUIRES: limit >= 1 (CheckBatchLimit, store/sql/paging.h). S::kListExpiries
// and S::kListExpiriesAfter select id, account_id (or ''), whether issued_at
// is set (1/0), not_after (unix seconds), subject_common_name (or ''),
// owner_endpoint_id (or '').
template <class S, class Conn>
Result<std::vector<CertificateExpiry>> ListCertificateExpiries(
    Conn& conn, const std::optional<std::string>& after_id, int limit, std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, after_id.has_value() ? S::kListExpiriesAfter : S::kListExpiries, op);
  if (after_id.has_value()) {
    q.Text(1, *after_id).Int(2, limit);
  } else {
    q.Int(1, limit);
  }
  std::vector<CertificateExpiry> certs;
  while (true) {
    CG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    certs.push_back(CertificateExpiry{q.ColumnText(0), q.ColumnText(1), q.ColumnInt(2) != 0,
                                      FromUnixSeconds(q.ColumnInt(3)), q.ColumnText(4),
                                      q.ColumnText(5)});
  }
  return certs;
}

// Inside a write transaction; REQUIRES: CheckCertificateSummary passed.
template <class S, class Conn>
Result<bool> SetCertificateSummary(Conn& conn, std::string_view id,
                                   const CertificateSummary& summary, std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kSetSummary, op);
  q.Text(1, id)
      .Text(2, summary.subject_common_name)
      .Text(3, summary.serial_number)
      .Int(4, ToUnixSeconds(summary.not_before));
  CG_RETURN_IF_ERROR(q.Run());
  return q.Changes() > 0;
}

}  // namespace certgate::store::sql
