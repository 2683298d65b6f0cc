// Endpoints in the PostgreSQL backend.
#include "store/postgres/pg_store_impl.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "store/postgres/name_ownership.h"
#include "store/postgres/rows.h"
#include "store/postgres/statements.h"

namespace certgate::store::pg {
namespace {

// Every certificate an endpoint owns but $2 (NULL: all of them).
constexpr char kDeleteOwnedCertsBut[] =
    "DELETE FROM tls_certificates WHERE owner_endpoint_id = $1 AND id IS DISTINCT FROM $2";
// Numbered like kUpdateEndpoint, so that BindEndpointFields serves both.
// created_at, which only the insert writes, comes last: PostgreSQL must find
// a use of every parameter number up to the highest, so the update cannot
// leave a gap where it would be.
constexpr char kInsertEndpoint[] =
    "INSERT INTO endpoints (id, account_id, description, metadata, url, scheme, host, port,"
    " upstream, traffic_policy, domain_id, policy_certificate_id, updated_at,"
    " traffic_policy_text, type, bindings, pooling_enabled, created_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, to_timestamp($13), $14, $15,"
    " $16, $17, to_timestamp($18))";
constexpr char kSelectEndpoint[] =
    "SELECT " CG_PG_ENDPOINT_COLUMNS " FROM endpoints WHERE id = $1 AND account_id = $2";
#define CG_LIST_ENDPOINTS "SELECT " CG_PG_ENDPOINT_COLUMNS " FROM endpoints WHERE account_id = $1"
constexpr char kListEndpoints[] = CG_LIST_ENDPOINTS " ORDER BY id DESC LIMIT $2";
constexpr char kListEndpointsBefore[] = CG_LIST_ENDPOINTS " AND id < $2 ORDER BY id DESC LIMIT $3";
// Columns of the fields store/list_filter.cc lists for endpoints. Times are
// unix seconds and booleans 0 or 1, as the filter's values are bound.
constexpr FilterColumn kEndpointFilterColumns[] = {
    {"id", "id"},
    {"created_at", CG_PG_EPOCH(created_at)},
    {"description", "description"},
    {"metadata", "metadata"},
    {"url", "url"},
    {"scheme", "scheme"},
    {"region", "''"},
    {"type", "type"},
    {"bindings", "bindings", true},
    {"pooling_enabled", "pooling_enabled::int"},
    {"name", "''"},
    {"principal.id", "account_id"},
};
constexpr ListStatements kEndpointList{kListEndpoints, kListEndpointsBefore, CG_LIST_ENDPOINTS,
                                       kEndpointFilterColumns};
#undef CG_LIST_ENDPOINTS
constexpr char kUpdateEndpoint[] =
    "UPDATE endpoints SET description = $3, metadata = $4, url = $5, scheme = $6, host = $7,"
    " port = $8, upstream = $9, traffic_policy = $10, domain_id = $11,"
    " policy_certificate_id = $12, updated_at = to_timestamp($13), traffic_policy_text = $14,"
    " type = $15, bindings = $16, pooling_enabled = $17 WHERE id = $1 AND account_id = $2";
constexpr char kEndpointPolicyCert[] =
    "SELECT policy_certificate_id FROM endpoints WHERE id = $1 AND account_id = $2";
constexpr char kDeleteEndpoint[] = "DELETE FROM endpoints WHERE id = $1 AND account_id = $2";

// An endpoint may refer only to a reserved domain of its own account.
Result<void> CheckEndpointDomain(Connection& conn, const Endpoint& endpoint, std::string_view op) {
  Query q(conn, kDomainExists, op);
  q.Text(1, endpoint.domain_id).Text(2, endpoint.account_id);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (row) return {};
  return MakeError(ErrorCode::kStoreConflict,
                   fmt::format("{}: domain_id {} names no reserved domain of account {}", op,
                               endpoint.domain_id, endpoint.account_id));
}

// Inserts an endpoint's policy certificate, owned by the endpoint and in its
// account. REQUIRES: cert.id == endpoint.policy_certificate_id.
Result<void> InsertPolicyCertificate(Connection& conn, const Endpoint& endpoint,
                                     const Certificate& cert, std::string_view op) {
  if (endpoint.policy_certificate_id != cert.id) {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("{}: the policy certificate's id {} differs from the endpoint's "
                                 "policy_certificate_id",
                                 op, cert.id));
  }
  return InsertCertificateRow(conn, cert, endpoint.account_id, endpoint.id, op);
}

// bindings: e.bindings as EncodeBindings wrote them.
void BindEndpointFields(Query& q, const Endpoint& e,
                        const std::optional<std::string>& policy_certificate_id,
                        const std::string& bindings) {
  // $1 id, $2 account_id and (for inserts) $18 created_at are bound by the
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

}  // namespace

Result<void> PgStore::InsertEndpoint(const Endpoint& endpoint,
                                     const std::optional<Certificate>& policy_certificate) {
  constexpr std::string_view kOp = "inserting an endpoint";
  if (!policy_certificate.has_value() && endpoint.policy_certificate_id.has_value()) {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("{}: endpoint {} names policy certificate {} but brings none", kOp,
                                 endpoint.id, *endpoint.policy_certificate_id));
  }
  CG_ASSIGN_OR_RETURN(const std::string bindings, EncodeBindings(endpoint.bindings));
  return WriteAndAnnounce(kOp, [&](Connection& conn) -> Result<void> {
    CG_RETURN_IF_ERROR(CheckEndpointDomain(conn, endpoint, kOp));
    CG_RETURN_IF_ERROR(CheckEndpointHostOwnership(conn, endpoint, kOp));
    // The certificate first: the endpoint row refers to it.
    if (policy_certificate.has_value()) {
      CG_RETURN_IF_ERROR(InsertPolicyCertificate(conn, endpoint, *policy_certificate, kOp));
    }
    Query q(conn, kInsertEndpoint, kOp);
    q.Text(1, endpoint.id).Text(2, endpoint.account_id);
    BindEndpointFields(q, endpoint, endpoint.policy_certificate_id, bindings);
    q.Int(18, ToUnixSeconds(endpoint.created_at));
    return q.Run();
  });
}

Result<std::optional<Endpoint>> PgStore::GetEndpoint(std::string_view account_id,
                                                     std::string_view id) {
  constexpr std::string_view kOp = "reading an endpoint";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kSelectEndpoint, kOp);
  q.Text(1, id).Text(2, account_id);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<Endpoint>();
  CG_ASSIGN_OR_RETURN(Endpoint endpoint, ReadEndpoint(q, kOp));
  return std::optional<Endpoint>(std::move(endpoint));
}

Result<Page<Endpoint>> PgStore::ListEndpoints(std::string_view account_id,
                                              const ListQuery& query) {
  constexpr std::string_view kOp = "listing endpoints";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return ListPage<Endpoint>(lease.conn(), kEndpointList, account_id, query, kOp,
                            ReadEndpoint<Query>);
}

Result<bool> PgStore::UpdateEndpoint(const Endpoint& endpoint,
                                     const std::optional<Certificate>& policy_certificate) {
  constexpr std::string_view kOp = "updating an endpoint";
  CG_ASSIGN_OR_RETURN(const std::string bindings, EncodeBindings(endpoint.bindings));
  return WriteAndAnnounce(kOp, [&](Connection& conn) -> Result<bool> {
    std::optional<std::string> current;  // the stored policy_certificate_id
    {
      Query old(conn, kEndpointPolicyCert, kOp);
      old.Text(1, endpoint.id).Text(2, endpoint.account_id);
      CG_ASSIGN_OR_RETURN(bool row, old.Step());
      if (!row) return false;
      current = old.OptionalColumnText(0);
    }
    CG_RETURN_IF_ERROR(CheckEndpointDomain(conn, endpoint, kOp));
    std::optional<std::string> keep;  // the policy certificate after the update
    if (policy_certificate.has_value()) {
      // New before old: the endpoint row must always refer to one that exists.
      CG_RETURN_IF_ERROR(InsertPolicyCertificate(conn, endpoint, *policy_certificate, kOp));
      keep = policy_certificate->id;
    } else if (endpoint.policy_certificate_id.has_value()) {
      // "Keep the old one": only if the caller saw the one stored, so that an
      // update based on a stale read cannot resurrect or swap certificates.
      if (current != endpoint.policy_certificate_id) {
        return MakeError(ErrorCode::kStoreConflict,
                         fmt::format("{}: endpoint {}'s policy certificate is {}, not {}; it was "
                                     "changed concurrently",
                                     kOp, endpoint.id, current.value_or("none"),
                                     *endpoint.policy_certificate_id));
      }
      keep = current;
    }
    {
      Query q(conn, kUpdateEndpoint, kOp);
      q.Text(1, endpoint.id).Text(2, endpoint.account_id);
      BindEndpointFields(q, endpoint, keep, bindings);
      CG_RETURN_IF_ERROR(q.Run());
    }
    // Every certificate the endpoint owned but the one it keeps.
    Query drop(conn, kDeleteOwnedCertsBut, kOp);
    drop.Text(1, endpoint.id).OptionalText(2, keep);
    CG_RETURN_IF_ERROR(drop.Run());
    return true;
  });
}

Result<bool> PgStore::DeleteEndpoint(std::string_view account_id, std::string_view id) {
  constexpr std::string_view kOp = "deleting an endpoint";
  return WriteAndAnnounce(kOp, [&](Connection& conn) -> Result<bool> {
    {
      Query q(conn, kDeleteEndpoint, kOp);
      q.Text(1, id).Text(2, account_id);
      CG_RETURN_IF_ERROR(q.Run());
      if (q.Changes() == 0) return false;
    }
    // After the endpoint row, which refers to its certificate.
    Query drop(conn, kDeleteOwnedCertsBut, kOp);
    drop.Text(1, id).Null(2);
    CG_RETURN_IF_ERROR(drop.Run());
    return true;
  });
}

}  // namespace certgate::store::pg
