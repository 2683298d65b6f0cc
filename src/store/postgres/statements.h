// SQL of the PostgreSQL backend that more than one resource runs, and the
// column lists that store/sql/rows.h's readers decode (in that order, the
// same as the SQLite backend's): times as unix seconds (CG_PG_EPOCH),
// booleans as 0 or 1.
#pragma once

#include "store/postgres/connection.h"

#define CG_PG_CERT_COLUMNS                                                                   \
  "id, account_id, " CG_PG_EPOCH(created_at) ", description, metadata, certificate_pem, "    \
  CG_PG_EPOCH(issued_at) ", " CG_PG_EPOCH(not_after) ", key_version, sealed_key, "           \
  "owner_endpoint_id, subject_common_name, serial_number, " CG_PG_EPOCH(not_before)
#define CG_PG_DOMAIN_COLUMNS                                                                \
  "id, account_id, " CG_PG_EPOCH(created_at) ", description, metadata, domain, "            \
  "certificate_id, policy_authority, policy_key_type, cname_target, "                       \
  "acme_challenge_cname_target, " CG_PG_EPOCH(renews_at) ", issued_key_type, resolves_to"
#define CG_PG_ENDPOINT_COLUMNS                                                                \
  "id, account_id, " CG_PG_EPOCH(created_at) ", description, metadata, url, scheme, host, "   \
  "port, upstream, traffic_policy, domain_id, policy_certificate_id, "                        \
  CG_PG_EPOCH(updated_at) ", traffic_policy_text, type, bindings, pooling_enabled::int"
#define CG_PG_JOB_COLUMNS                                                                     \
  "id, domain_id, account_id, domain, key_type, renewal::int, " CG_PG_EPOCH(started_at)      \
  ", msg, error_code, " CG_PG_EPOCH(retries_at) ", " CG_PG_EPOCH(next_run_at)                \
  ", failures, order_url, key_version, sealed_key, lease_owner, lease_token"

namespace certgate::store::pg {

inline constexpr char kAccountCertExists[] =
    "SELECT 1 FROM tls_certificates WHERE id = $1 AND account_id IS NOT DISTINCT FROM $2"
    " AND owner_endpoint_id IS NULL";
inline constexpr char kSelectDomainByName[] =
    "SELECT " CG_PG_DOMAIN_COLUMNS " FROM reserved_domains WHERE domain = $1";
// An issued certificate no domain refers to any more.
inline constexpr char kDeleteOrphanIssuedCert[] =
    "DELETE FROM tls_certificates WHERE id = $1 AND issued_at IS NOT NULL"
    " AND NOT EXISTS (SELECT 1 FROM reserved_domains WHERE certificate_id = $1)";
inline constexpr char kDomainExists[] =
    "SELECT 1 FROM reserved_domains WHERE id = $1 AND account_id = $2";
// An alert for the outbox, unless it holds this event for this recipient.
inline constexpr char kInsertNotification[] =
    "INSERT INTO notifications (id, recipient, event_key, event_type, body, created_at,"
    " next_attempt_at, subject_id)"
    " VALUES ($1, $2, $3, $4, $5, to_timestamp($6), to_timestamp($7), $8)"
    " ON CONFLICT (recipient, event_key) DO NOTHING";

}  // namespace certgate::store::pg
