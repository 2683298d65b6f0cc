// Endpoints in the SQL backends, written once for store/sqlite and
// store/postgres: each function runs a backend's statements S (its
// EndpointSql, in its endpoints.cc) on a Conn with Conn::QueryType; the
// writes run inside the caller's write transaction. Errors name op. As
// thread-safe as a Connection: one thread at a time.
//
// S's statements bind by number (written ?N here; $N in PostgreSQL), the same
// numbers in both backends:
//   kInsertEndpoint: ?1 id, ?2 account_id, the fields BindEndpointFields
//     binds (?3 to ?17), ?18 created_at (unix seconds).
//   kUpdateEndpoint: ?1 id, ?2 account_id, the fields BindEndpointFields binds.
//   kSelectEndpoint (?1 id, ?2 account_id): the columns ReadEndpoint reads.
//   kEndpointPolicyCert (?1 id, ?2 account_id: policy_certificate_id),
//   kDeleteEndpoint (?1 id, ?2 account_id), kDeleteOwnedCertsBut (?1
//   endpoint id, ?2 the certificate id to keep, NULL for none), and
//   kDomainExists as in store/sql/domains.h.
// S::kCheckHostOwnership is the backend's CheckEndpointHostOwnership (its
// name_ownership.h), S::kInsertCertificateRow its InsertCertificateRow (its
// rows.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "core/result.h"
#include "core/time.h"
#include "store/records.h"
#include "store/sql/domains.h"
#include "store/sql/rows.h"

namespace certgate::store::sql {

// Before InsertEndpoint's transaction: a policy_certificate_id needs the
// certificate it names brought along.
inline Result<void> CheckPolicyCertificateBrought(
    const Endpoint& endpoint, const std::optional<Certificate>& policy_certificate,
    std::string_view op) {
  if (!policy_certificate.has_value() && endpoint.policy_certificate_id.has_value()) {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("{}: endpoint {} names policy certificate {} but brings none", op,
                                 endpoint.id, *endpoint.policy_certificate_id));
  }
  return {};
}

// An endpoint may refer only to a reserved domain of its own account.
template <class S, class Conn>
Result<void> CheckEndpointDomain(Conn& conn, const Endpoint& endpoint, std::string_view op) {
  CG_ASSIGN_OR_RETURN(bool row,
                      DomainExists<S>(conn, endpoint.account_id, endpoint.domain_id, op));
  if (row) return {};
  return MakeError(ErrorCode::kStoreConflict,
                   fmt::format("{}: domain_id {} names no reserved domain of account {}", op,
                               endpoint.domain_id, endpoint.account_id));
}

// Inserts an endpoint's policy certificate, owned by the endpoint and in its
// account. REQUIRES: cert.id == endpoint.policy_certificate_id.
template <class S, class Conn>
Result<void> InsertPolicyCertificate(Conn& conn, const Endpoint& endpoint,
                                     const Certificate& cert, std::string_view op) {
  if (endpoint.policy_certificate_id != cert.id) {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("{}: the policy certificate's id {} differs from the endpoint's "
                                 "policy_certificate_id",
                                 op, cert.id));
  }
  return S::kInsertCertificateRow(conn, cert, endpoint.account_id, endpoint.id, op);
}

// bindings: e.bindings as EncodeBindings wrote them.
template <class Q>
void BindEndpointFields(Q& q, const Endpoint& e,
                        const std::optional<std::string>& policy_certificate_id,
                        const std::string& bindings) {
  // ?1 id, ?2 account_id and (for inserts) ?18 created_at are bound by the
  // caller.
  q.Text(3, e.description)
      .Text(4, e.metadata)
      .Text(5, e.url)
      .Text(6, e.scheme)
      .Text(7, e.host)
      .Int(8, e.port)
      .Text(9, e.upstream)
      .Text(10, e.traffic_policy)
      .Text(11, e.domain_id)
      .OptionalText(12, policy_certificate_id)
      .Int(13, ToUnixSeconds(e.updated_at))
      .Text(14, e.traffic_policy_text)
      .Text(15, e.type)
      .Text(16, bindings)
      .Bool(17, e.pooling_enabled);
}

// REQUIRES: CheckPolicyCertificateBrought passed; bindings as in
// BindEndpointFields.
template <class S, class Conn>
Result<void> InsertEndpoint(Conn& conn, const Endpoint& endpoint,
                            const std::optional<Certificate>& policy_certificate,
                            const std::string& bindings, std::string_view op) {
  using Q = typename Conn::QueryType;
  CG_RETURN_IF_ERROR(CheckEndpointDomain<S>(conn, endpoint, op));
  CG_RETURN_IF_ERROR(S::kCheckHostOwnership(conn, endpoint, op));
  // The certificate first: the endpoint row refers to it.
  if (policy_certificate.has_value()) {
    CG_RETURN_IF_ERROR(InsertPolicyCertificate<S>(conn, endpoint, *policy_certificate, op));
  }
  Q q(conn, S::kInsertEndpoint, op);
  q.Text(1, endpoint.id).Text(2, endpoint.account_id);
  BindEndpointFields(q, endpoint, endpoint.policy_certificate_id, bindings);
  q.Int(18, ToUnixSeconds(endpoint.created_at));
  return q.Run();
}

template <class S, class Conn>
Result<std::optional<Endpoint>> GetEndpoint(Conn& conn, std::string_view account_id,
                                            std::string_view id, std::string_view op) {
  typename Conn::QueryType q(conn, S::kSelectEndpoint, op);
  q.Text(1, id).Text(2, account_id);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<Endpoint>();
  CG_ASSIGN_OR_RETURN(Endpoint endpoint, ReadEndpoint(q, op));
  return std::optional<Endpoint>(std::move(endpoint));
}

// bindings as in BindEndpointFields.
template <class S, class Conn>
Result<bool> UpdateEndpoint(Conn& conn, const Endpoint& endpoint,
                            const std::optional<Certificate>& policy_certificate,
                            const std::string& bindings, std::string_view op) {
  using Q = typename Conn::QueryType;
  std::optional<std::string> current;  // the stored policy_certificate_id
  {
    Q old(conn, S::kEndpointPolicyCert, op);
    old.Text(1, endpoint.id).Text(2, endpoint.account_id);
    CG_ASSIGN_OR_RETURN(bool row, old.Step());
    if (!row) return false;
    current = old.OptionalColumnText(0);
  }
  CG_RETURN_IF_ERROR(CheckEndpointDomain<S>(conn, endpoint, op));
  std::optional<std::string> keep;  // the policy certificate after the update
  if (policy_certificate.has_value()) {
    // New before old: the endpoint row must always refer to one that exists.
    CG_RETURN_IF_ERROR(InsertPolicyCertificate<S>(conn, endpoint, *policy_certificate, op));
    keep = policy_certificate->id;
  } else if (endpoint.policy_certificate_id.has_value()) {
    // "Keep the old one": only if the caller saw the one stored, so that an
    // update based on a stale read cannot resurrect or swap certificates.
    if (current != endpoint.policy_certificate_id) {
      return MakeError(ErrorCode::kStoreConflict,
                       fmt::format("{}: endpoint {}'s policy certificate is {}, not {}; it was "
                                   "changed concurrently",
                                   op, endpoint.id, current.value_or("none"),
                                   *endpoint.policy_certificate_id));
    }
    keep = current;
  }
  {
    Q q(conn, S::kUpdateEndpoint, op);
    q.Text(1, endpoint.id).Text(2, endpoint.account_id);
    BindEndpointFields(q, endpoint, keep, bindings);
    CG_RETURN_IF_ERROR(q.Run());
  }
  // Every certificate the endpoint owned but the one it keeps.
  Q drop(conn, S::kDeleteOwnedCertsBut, op);
  drop.Text(1, endpoint.id).OptionalText(2, keep);
  CG_RETURN_IF_ERROR(drop.Run());
  return true;
}

template <class S, class Conn>
Result<bool> DeleteEndpoint(Conn& conn, std::string_view account_id, std::string_view id,
                            std::string_view op) {
  using Q = typename Conn::QueryType;
  {
    Q q(conn, S::kDeleteEndpoint, op);
    q.Text(1, id).Text(2, account_id);
    CG_RETURN_IF_ERROR(q.Run());
    if (q.Changes() == 0) return false;
  }
  // After the endpoint row, which refers to its certificate.
  Q drop(conn, S::kDeleteOwnedCertsBut, op);
  drop.Text(1, id).Null(2);
  CG_RETURN_IF_ERROR(drop.Run());
  return true;
}

}  // namespace certgate::store::sql
