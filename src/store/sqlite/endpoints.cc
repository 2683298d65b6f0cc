// Endpoints in the SQLite backend: the statements (the logic is
// store/sql/endpoints.h).
#include "store/sqlite/sqlite_store_impl.h"

#include <optional>
#include <string>
#include <string_view>

#include "store/sql/endpoints.h"
#include "store/sqlite/name_ownership.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/statements.h"

namespace certgate::store::sqlite {
namespace {

struct EndpointSql {
  // Every certificate an endpoint owns but ?2 (NULL: all of them).
  static constexpr const char* kDeleteOwnedCertsBut =
      "DELETE FROM tls_certificates WHERE owner_endpoint_id = ?1 AND id IS NOT ?2";
  // Numbered like kUpdateEndpoint, so that BindEndpointFields serves both;
  // created_at, which only the insert writes, comes last, as PostgreSQL
  // needs it (store/postgres/endpoints.cc), so that the numbers are the same
  // in both backends.
  static constexpr const char* kInsertEndpoint =
      "INSERT INTO endpoints (id, account_id, description, metadata, url, scheme, host, port,"
      " upstream, traffic_policy, domain_id, policy_certificate_id, updated_at,"
      " traffic_policy_text, type, bindings, pooling_enabled, created_at)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)";
  static constexpr const char* kSelectEndpoint =
      "SELECT " CG_ENDPOINT_COLUMNS " FROM endpoints WHERE id = ?1 AND account_id = ?2";
  static constexpr const char* kUpdateEndpoint =
      "UPDATE endpoints SET description = ?3, metadata = ?4, url = ?5, scheme = ?6, host = ?7,"
      " port = ?8, upstream = ?9, traffic_policy = ?10, domain_id = ?11,"
      " policy_certificate_id = ?12, updated_at = ?13, traffic_policy_text = ?14, type = ?15,"
      " bindings = ?16, pooling_enabled = ?17 WHERE id = ?1 AND account_id = ?2";
  static constexpr const char* kEndpointPolicyCert =
      "SELECT policy_certificate_id FROM endpoints WHERE id = ?1 AND account_id = ?2";
  static constexpr const char* kDeleteEndpoint =
      "DELETE FROM endpoints WHERE id = ?1 AND account_id = ?2";
  static constexpr const char* kDomainExists = sqlite::kDomainExists;
  // The name ownership rule over this backend's index (name_ownership.h), and
  // the certificate row (rows.h).
  static constexpr auto kCheckHostOwnership = &CheckEndpointHostOwnership;
  static constexpr auto kInsertCertificateRow = &InsertCertificateRow;
};

#define CG_LIST_ENDPOINTS "SELECT " CG_ENDPOINT_COLUMNS " FROM endpoints WHERE account_id = ?1"
constexpr char kListEndpoints[] = CG_LIST_ENDPOINTS " ORDER BY id DESC LIMIT ?2";
constexpr char kListEndpointsBefore[] = CG_LIST_ENDPOINTS " AND id < ?2 ORDER BY id DESC LIMIT ?3";
// Columns of the fields store/list_filter.cc lists for endpoints.
constexpr FilterColumn kEndpointFilterColumns[] = {
    {"id", "id"},
    {"created_at", "created_at"},
    {"description", "description"},
    {"metadata", "metadata"},
    {"url", "url"},
    {"scheme", "scheme"},
    {"region", "''"},
    {"type", "type"},
    {"bindings", "bindings", true},
    {"pooling_enabled", "pooling_enabled"},
    {"name", "''"},
    {"principal.id", "account_id"},
};
constexpr ListStatements kEndpointList{kListEndpoints, kListEndpointsBefore, CG_LIST_ENDPOINTS,
                                       kEndpointFilterColumns};
#undef CG_LIST_ENDPOINTS

}  // namespace

Result<void> SqliteStore::InsertEndpoint(const Endpoint& endpoint,
                                         const std::optional<Certificate>& policy_certificate) {
  constexpr std::string_view kOp = "inserting an endpoint";
  CG_RETURN_IF_ERROR(sql::CheckPolicyCertificateBrought(endpoint, policy_certificate, kOp));
  CG_ASSIGN_OR_RETURN(const std::string bindings, EncodeBindings(endpoint.bindings));
  return WriteAndAnnounce(kOp, [&](Connection& conn) {
    return sql::InsertEndpoint<EndpointSql>(conn, endpoint, policy_certificate, bindings, kOp);
  });
}

Result<std::optional<Endpoint>> SqliteStore::GetEndpoint(std::string_view account_id,
                                                         std::string_view id) {
  constexpr std::string_view kOp = "reading an endpoint";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::GetEndpoint<EndpointSql>(lease.conn(), account_id, id, kOp);
}

Result<Page<Endpoint>> SqliteStore::ListEndpoints(std::string_view account_id,
                                                  const ListQuery& query) {
  constexpr std::string_view kOp = "listing endpoints";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return ListPage<Endpoint>(lease.conn(), kEndpointList, account_id, query, kOp,
                            ReadEndpoint<Query>);
}

Result<bool> SqliteStore::UpdateEndpoint(const Endpoint& endpoint,
                                         const std::optional<Certificate>& policy_certificate) {
  constexpr std::string_view kOp = "updating an endpoint";
  CG_ASSIGN_OR_RETURN(const std::string bindings, EncodeBindings(endpoint.bindings));
  return WriteAndAnnounce(kOp, [&](Connection& conn) {
    return sql::UpdateEndpoint<EndpointSql>(conn, endpoint, policy_certificate, bindings, kOp);
  });
}

Result<bool> SqliteStore::DeleteEndpoint(std::string_view account_id, std::string_view id) {
  constexpr std::string_view kOp = "deleting an endpoint";
  return WriteAndAnnounce(kOp, [&](Connection& conn) {
    return sql::DeleteEndpoint<EndpointSql>(conn, account_id, id, kOp);
  });
}

}  // namespace certgate::store::sqlite
