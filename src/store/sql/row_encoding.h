// Row encoding shared by the SQL backends (store/sqlite, store/postgres):
// the certificate row several resources insert, and a job's sealed key. The
// backends' rows.h wrap these for their own Connection and Query; times are
// bound as unix seconds (PostgreSQL's statements convert them).
#pragma once

#include <optional>
#include <string_view>

#include "core/result.h"
#include "core/time.h"
#include "store/records.h"

namespace certgate::store::sql {

// Binds a job's key to parameter version_index and the next (NULLs if none).
template <class Q>
void BindJobKey(Q& q, int version_index, const std::optional<SealedKey>& key) {
  if (key.has_value()) {
    q.Int(version_index, key->key_version).Blob(version_index + 1, key->blob);
  } else {
    q.Null(version_index).Null(version_index + 1);
  }
}

// Inside a write transaction. owner_endpoint_id "" stores NULL: an account
// (or the service's) certificate. S::kInsertCert takes the 14 columns of
// CG_*_CERT_COLUMNS, in that order.
template <class S, class Conn>
Result<void> InsertCertificateRow(Conn& conn, const Certificate& cert,
                                  std::string_view account_id, std::string_view owner_endpoint_id,
                                  std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kInsertCert, op);
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

}  // namespace certgate::store::sql
