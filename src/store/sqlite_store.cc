#include "store/sqlite_store.h"

#include <cerrno>
#include <condition_variable>
#include <functional>
#include <iterator>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

namespace certgate::store {
namespace {

namespace fs = std::filesystem;

// SQLite runs one writer at a time whatever we do; more connections only let
// readers proceed beside it. Eight covers the API's and the edge's readers.
constexpr size_t kMaxConnections = 8;
// So that `certgate admin` can write beside a running `certgate serve`.
constexpr int kBusyTimeoutMs = 5000;
constexpr int kMaxListLimit = 1000;

struct Migration {
  int version;
  const char* sql;
};

// Append only: a migration that has shipped is never edited; change the
// schema with the next number. Each runs in its own transaction.
constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE accounts (
  id          TEXT PRIMARY KEY NOT NULL,
  name        TEXT NOT NULL,
  plan        TEXT NOT NULL CHECK (plan IN ('free', 'payg')),
  created_at  INTEGER NOT NULL  -- unix seconds, like every time column
);

CREATE TABLE api_keys (
  id           TEXT PRIMARY KEY NOT NULL,
  account_id   TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  description  TEXT NOT NULL,
  token_hash   TEXT UNIQUE NOT NULL,  -- SHA-256 of the token; never the token
  created_at   INTEGER NOT NULL
);
CREATE INDEX api_keys_by_account ON api_keys (account_id);

CREATE TABLE tls_certificates (
  id               TEXT PRIMARY KEY NOT NULL,
  account_id       TEXT,  -- NULL: the service's own certificate
  created_at       INTEGER NOT NULL,
  description      TEXT NOT NULL,
  metadata         TEXT NOT NULL,
  certificate_pem  TEXT NOT NULL,
  issued_at        INTEGER,  -- NULL unless issued automatically
  not_after        INTEGER NOT NULL,
  key_version      INTEGER NOT NULL,  -- master key version that sealed sealed_key
  sealed_key       BLOB NOT NULL
);
CREATE INDEX tls_certificates_by_account ON tls_certificates (account_id, id);

CREATE TABLE settings (
  name   TEXT PRIMARY KEY NOT NULL,
  value  TEXT NOT NULL
);
)sql"},
    {2, R"sql(
-- Set for a certificate a terminate-tls action brought: it belongs to that
-- endpoint. No REFERENCES endpoints (id): endpoints refer to their
-- certificate, and the cycle would leave no valid order to insert or delete
-- them; DeleteEndpoint and UpdateEndpoint remove owned certificates.
ALTER TABLE tls_certificates ADD COLUMN owner_endpoint_id TEXT;
CREATE INDEX tls_certificates_by_owner ON tls_certificates (owner_endpoint_id)
  WHERE owner_endpoint_id IS NOT NULL;

CREATE TABLE reserved_domains (
  id                           TEXT PRIMARY KEY NOT NULL,
  account_id                   TEXT NOT NULL,
  created_at                   INTEGER NOT NULL,
  description                  TEXT NOT NULL,
  metadata                     TEXT NOT NULL,
  domain                       TEXT UNIQUE NOT NULL,  -- once across all accounts
  -- No cascade: DeleteCertificate reports kInUse before this would fire.
  certificate_id               TEXT REFERENCES tls_certificates (id),
  policy_authority             TEXT,  -- NULL: no certificate management policy
  policy_key_type              TEXT,
  cname_target                 TEXT UNIQUE,
  acme_challenge_cname_target  TEXT UNIQUE,
  CHECK ((policy_authority IS NULL) = (policy_key_type IS NULL))
);
CREATE INDEX reserved_domains_by_account ON reserved_domains (account_id, id);
-- Also what the foreign key searches when a certificate is deleted.
CREATE INDEX reserved_domains_by_certificate ON reserved_domains (certificate_id);

CREATE TABLE endpoints (
  id                     TEXT PRIMARY KEY NOT NULL,
  account_id             TEXT NOT NULL,
  created_at             INTEGER NOT NULL,
  description            TEXT NOT NULL,
  metadata               TEXT NOT NULL,
  url                    TEXT UNIQUE NOT NULL,  -- once across all accounts
  scheme                 TEXT NOT NULL,
  host                   TEXT NOT NULL,
  port                   INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),
  upstream               TEXT NOT NULL,
  traffic_policy         TEXT NOT NULL,
  -- No cascade: DeleteDomain reports kInUse before this would fire.
  domain_id              TEXT NOT NULL REFERENCES reserved_domains (id),
  -- A certificate whose owner_endpoint_id is this endpoint's id.
  policy_certificate_id  TEXT REFERENCES tls_certificates (id)
);
CREATE INDEX endpoints_by_account ON endpoints (account_id, id);
CREATE INDEX endpoints_by_domain ON endpoints (domain_id);
CREATE INDEX endpoints_by_policy_certificate ON endpoints (policy_certificate_id);

-- One row whose value grows with every committed change to what the edge
-- serves, whichever process made it: pollers compare it to the value they
-- last loaded. Triggers keep it, so no writer can forget.
CREATE TABLE change_sequence (
  id     INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
  value  INTEGER NOT NULL
);
INSERT INTO change_sequence (id, value) VALUES (1, 0);
CREATE TRIGGER tls_certificates_inserted AFTER INSERT ON tls_certificates
  BEGIN UPDATE change_sequence SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER tls_certificates_updated AFTER UPDATE ON tls_certificates
  BEGIN UPDATE change_sequence SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER tls_certificates_deleted AFTER DELETE ON tls_certificates
  BEGIN UPDATE change_sequence SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER reserved_domains_inserted AFTER INSERT ON reserved_domains
  BEGIN UPDATE change_sequence SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER reserved_domains_updated AFTER UPDATE ON reserved_domains
  BEGIN UPDATE change_sequence SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER reserved_domains_deleted AFTER DELETE ON reserved_domains
  BEGIN UPDATE change_sequence SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER endpoints_inserted AFTER INSERT ON endpoints
  BEGIN UPDATE change_sequence SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER endpoints_updated AFTER UPDATE ON endpoints
  BEGIN UPDATE change_sequence SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER endpoints_deleted AFTER DELETE ON endpoints
  BEGIN UPDATE change_sequence SET value = value + 1 WHERE id = 1; END;
)sql"},
    {3, R"sql(
-- Automatic certificates. renews_at and issued_key_type belong to automatic
-- management: when the attached issued certificate is due, and which key
-- type it has.
ALTER TABLE reserved_domains ADD COLUMN renews_at INTEGER;
ALTER TABLE reserved_domains ADD COLUMN issued_key_type TEXT;
CREATE INDEX reserved_domains_by_renewal ON reserved_domains (renews_at)
  WHERE policy_authority IS NOT NULL;

CREATE TABLE acme_accounts (
  id             TEXT PRIMARY KEY NOT NULL,
  directory_url  TEXT UNIQUE NOT NULL,
  account_url    TEXT NOT NULL,
  key_version    INTEGER NOT NULL,
  sealed_key     BLOB NOT NULL,
  created_at     INTEGER NOT NULL
);

CREATE TABLE provisioning_jobs (
  id           TEXT PRIMARY KEY NOT NULL,
  domain_id    TEXT UNIQUE NOT NULL REFERENCES reserved_domains (id) ON DELETE CASCADE,
  account_id   TEXT NOT NULL,
  domain       TEXT NOT NULL,
  key_type     TEXT NOT NULL CHECK (key_type IN ('ecdsa', 'rsa')),
  renewal      INTEGER NOT NULL,
  started_at   INTEGER NOT NULL,
  msg          TEXT NOT NULL,
  error_code   TEXT,
  retries_at   INTEGER,
  next_run_at  INTEGER NOT NULL,
  failures     INTEGER NOT NULL,
  order_url    TEXT NOT NULL,
  key_version  INTEGER,  -- the certificate's key, made once per job
  sealed_key   BLOB,
  lease_until  INTEGER,  -- a runner holds the job until then
  CHECK ((key_version IS NULL) = (sealed_key IS NULL))
);
CREATE INDEX provisioning_jobs_due ON provisioning_jobs (next_run_at);

CREATE TABLE acme_http01_challenges (
  token              TEXT PRIMARY KEY NOT NULL,
  key_authorization  TEXT NOT NULL,
  job_id             TEXT NOT NULL REFERENCES provisioning_jobs (id) ON DELETE CASCADE
);
CREATE INDEX acme_http01_challenges_by_job ON acme_http01_challenges (job_id);

CREATE TABLE acme_dns01_records (
  name    TEXT NOT NULL,
  value   TEXT NOT NULL,
  job_id  TEXT NOT NULL REFERENCES provisioning_jobs (id) ON DELETE CASCADE,
  PRIMARY KEY (name, value)
);
CREATE INDEX acme_dns01_records_by_job ON acme_dns01_records (job_id);
)sql"},
    {4, R"sql(
-- Names belong to one account. name_key is the domain's labels last to
-- first, each ended by '.' ("*.wa.example.com" -> "com.example.wa.*."), so
-- every name below a domain is one range of this index, and the index in
-- order visits the tree of names parent first. The store writes it; rows
-- written around the store get '' and `certgate admin check` reports them.
-- account_id makes the range scans of the ownership checks index-only.
ALTER TABLE reserved_domains ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
UPDATE reserved_domains SET name_key = certgate_name_key(domain);
CREATE INDEX reserved_domains_by_name_key ON reserved_domains (name_key, account_id);
)sql"},
    {5, R"sql(
-- Job leases name their runner (a node id) and carry a fencing token that
-- every claim raises, so a runner that lost its lease cannot write, and a
-- node releases only its own leases at start. Holds taken before owners
-- existed belong to no one who could release them: they end here, as the
-- release-everything at start of the versions before would have ended them.
ALTER TABLE provisioning_jobs ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE provisioning_jobs ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;
UPDATE provisioning_jobs SET lease_until = NULL;
)sql"},
};

constexpr int kSchemaVersion = std::end(kMigrations)[-1].version;

// ---- SQL ----

constexpr char kBegin[] = "BEGIN IMMEDIATE";
constexpr char kBeginRead[] = "BEGIN DEFERRED";
constexpr char kCommit[] = "COMMIT";
constexpr char kCreateMigrations[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY NOT NULL, applied_at INTEGER NOT NULL)";
constexpr char kMaxMigration[] = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";
constexpr char kRecordMigration[] =
    "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)";

constexpr char kInsertAccount[] =
    "INSERT INTO accounts (id, name, plan, created_at) VALUES (?1, ?2, ?3, ?4)";
constexpr char kSelectAccount[] = "SELECT id, name, plan, created_at FROM accounts WHERE id = ?1";
constexpr char kCountAccounts[] = "SELECT COUNT(*) FROM accounts";

constexpr char kInsertApiKey[] =
    "INSERT INTO api_keys (id, account_id, description, token_hash, created_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5)";
constexpr char kSelectApiKeyByHash[] =
    "SELECT k.id, k.account_id, k.description, k.created_at,"
    " a.id, a.name, a.plan, a.created_at"
    " FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.token_hash = ?1";

#define CG_CERT_COLUMNS                                                                        \
  "id, account_id, created_at, description, metadata, certificate_pem, issued_at, not_after, " \
  "key_version, sealed_key, owner_endpoint_id"
constexpr char kInsertCert[] = "INSERT INTO tls_certificates (" CG_CERT_COLUMNS
                               ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
// The account-scoped statements see account certificates only, never those an
// endpoint owns. account_id IS ?: matches NULL (the service's own) as well as
// a value, and still searches the (account_id, id) index.
constexpr char kSelectCert[] = "SELECT " CG_CERT_COLUMNS
                               " FROM tls_certificates WHERE id = ?1 AND account_id IS ?2"
                               " AND owner_endpoint_id IS NULL";
constexpr char kSelectCertById[] = "SELECT " CG_CERT_COLUMNS " FROM tls_certificates WHERE id = ?1";
constexpr char kListCerts[] = "SELECT " CG_CERT_COLUMNS
                              " FROM tls_certificates WHERE account_id IS ?1"
                              " AND owner_endpoint_id IS NULL ORDER BY id DESC LIMIT ?2";
constexpr char kListCertsBefore[] = "SELECT " CG_CERT_COLUMNS
                                    " FROM tls_certificates WHERE account_id IS ?1 AND id < ?2"
                                    " AND owner_endpoint_id IS NULL ORDER BY id DESC LIMIT ?3";
constexpr char kUpdateCert[] =
    "UPDATE tls_certificates SET description = COALESCE(?3, description),"
    " metadata = COALESCE(?4, metadata) WHERE id = ?1 AND account_id IS ?2"
    " AND owner_endpoint_id IS NULL RETURNING " CG_CERT_COLUMNS;
#undef CG_CERT_COLUMNS
constexpr char kAccountCertExists[] =
    "SELECT 1 FROM tls_certificates WHERE id = ?1 AND account_id IS ?2"
    " AND owner_endpoint_id IS NULL";
constexpr char kDeleteCert[] =
    "DELETE FROM tls_certificates WHERE id = ?1 AND account_id IS ?2"
    " AND owner_endpoint_id IS NULL";
constexpr char kDomainsUsingCert[] =
    "SELECT domain FROM reserved_domains WHERE certificate_id = ?1 ORDER BY domain";
// Every certificate an endpoint owns but ?2 (NULL: all of them).
constexpr char kDeleteOwnedCertsBut[] =
    "DELETE FROM tls_certificates WHERE owner_endpoint_id = ?1 AND id IS NOT ?2";

#define CG_DOMAIN_COLUMNS                                                       \
  "id, account_id, created_at, description, metadata, domain, certificate_id, " \
  "policy_authority, policy_key_type, cname_target, acme_challenge_cname_target, " \
  "renews_at, issued_key_type"
// Numbered like kUpdateDomain, so that BindDomainFields serves both.
constexpr char kInsertDomain[] =
    "INSERT INTO reserved_domains (id, account_id, description, metadata, certificate_id,"
    " policy_authority, policy_key_type, cname_target, acme_challenge_cname_target,"
    " created_at, domain, name_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
constexpr char kSelectDomain[] =
    "SELECT " CG_DOMAIN_COLUMNS " FROM reserved_domains WHERE id = ?1 AND account_id = ?2";
constexpr char kSelectDomainByName[] =
    "SELECT " CG_DOMAIN_COLUMNS " FROM reserved_domains WHERE domain = ?1";
constexpr char kListDomains[] = "SELECT " CG_DOMAIN_COLUMNS
                                " FROM reserved_domains WHERE account_id = ?1"
                                " ORDER BY id DESC LIMIT ?2";
constexpr char kListDomainsBefore[] = "SELECT " CG_DOMAIN_COLUMNS
                                      " FROM reserved_domains WHERE account_id = ?1 AND id < ?2"
                                      " ORDER BY id DESC LIMIT ?3";
// While a policy is set (?6), automatic management owns certificate_id.
constexpr char kUpdateDomain[] =
    "UPDATE reserved_domains SET description = ?3, metadata = ?4,"
    " certificate_id = CASE WHEN ?6 IS NULL THEN ?5 ELSE certificate_id END,"
    " policy_authority = ?6, policy_key_type = ?7, cname_target = ?8,"
    " acme_challenge_cname_target = ?9,"
    " renews_at = CASE WHEN ?6 IS NULL THEN NULL ELSE renews_at END,"
    " issued_key_type = CASE WHEN ?6 IS NULL THEN NULL ELSE issued_key_type END"
    " WHERE id = ?1 AND account_id = ?2";
constexpr char kDeleteUnmanagedJob[] =
    "DELETE FROM provisioning_jobs WHERE domain_id = ?1"
    " AND domain_id IN (SELECT id FROM reserved_domains WHERE policy_authority IS NULL)";
constexpr char kDomainCertificate[] =
    "SELECT certificate_id FROM reserved_domains WHERE id = ?1";
// An issued certificate no domain refers to any more.
constexpr char kDeleteOrphanIssuedCert[] =
    "DELETE FROM tls_certificates WHERE id = ?1 AND issued_at IS NOT NULL"
    " AND NOT EXISTS (SELECT 1 FROM reserved_domains WHERE certificate_id = ?1)";
constexpr char kDomainExists[] = "SELECT 1 FROM reserved_domains WHERE id = ?1 AND account_id = ?2";
constexpr char kDeleteDomain[] = "DELETE FROM reserved_domains WHERE id = ?1 AND account_id = ?2";
constexpr char kEndpointsUsingDomain[] =
    "SELECT url FROM endpoints WHERE domain_id = ?1 ORDER BY url";

#define CG_ENDPOINT_COLUMNS                                                                \
  "id, account_id, created_at, description, metadata, url, scheme, host, port, upstream, " \
  "traffic_policy, domain_id, policy_certificate_id"
// Numbered like kUpdateEndpoint, so that BindEndpointFields serves both.
constexpr char kInsertEndpoint[] =
    "INSERT INTO endpoints (id, account_id, description, metadata, url, scheme, host, port,"
    " upstream, traffic_policy, domain_id, policy_certificate_id, created_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
constexpr char kSelectEndpoint[] =
    "SELECT " CG_ENDPOINT_COLUMNS " FROM endpoints WHERE id = ?1 AND account_id = ?2";
constexpr char kListEndpoints[] = "SELECT " CG_ENDPOINT_COLUMNS
                                  " FROM endpoints WHERE account_id = ?1"
                                  " ORDER BY id DESC LIMIT ?2";
constexpr char kListEndpointsBefore[] = "SELECT " CG_ENDPOINT_COLUMNS
                                        " FROM endpoints WHERE account_id = ?1 AND id < ?2"
                                        " ORDER BY id DESC LIMIT ?3";
constexpr char kAllEndpoints[] = "SELECT " CG_ENDPOINT_COLUMNS " FROM endpoints ORDER BY id";
#undef CG_ENDPOINT_COLUMNS
constexpr char kUpdateEndpoint[] =
    "UPDATE endpoints SET description = ?3, metadata = ?4, url = ?5, scheme = ?6, host = ?7,"
    " port = ?8, upstream = ?9, traffic_policy = ?10, domain_id = ?11,"
    " policy_certificate_id = ?12 WHERE id = ?1 AND account_id = ?2";
constexpr char kEndpointPolicyCert[] =
    "SELECT policy_certificate_id FROM endpoints WHERE id = ?1 AND account_id = ?2";
constexpr char kDeleteEndpoint[] = "DELETE FROM endpoints WHERE id = ?1 AND account_id = ?2";

constexpr char kAllEdgeDomains[] =
    "SELECT domain, certificate_id FROM reserved_domains ORDER BY id";
constexpr char kChangeSequence[] = "SELECT value FROM change_sequence WHERE id = 1";

// Every sealed key: certificates, ACME accounts, and jobs that made one.
#define CG_SEALED_KEYS                                                            \
  "(SELECT id, key_version, sealed_key FROM tls_certificates"                     \
  " UNION ALL SELECT id, key_version, sealed_key FROM acme_accounts"              \
  " UNION ALL SELECT id, key_version, sealed_key FROM provisioning_jobs"          \
  " WHERE sealed_key IS NOT NULL)"
constexpr char kListSealedKeys[] =
    "SELECT id, key_version, sealed_key FROM " CG_SEALED_KEYS " ORDER BY id LIMIT ?1";
constexpr char kListSealedKeysAfter[] = "SELECT id, key_version, sealed_key FROM " CG_SEALED_KEYS
                                        " WHERE id > ?1 ORDER BY id LIMIT ?2";
constexpr char kCountNotAtVersion[] =
    "SELECT COUNT(*) FROM " CG_SEALED_KEYS " WHERE key_version <> ?1";
#undef CG_SEALED_KEYS
// One per table that holds sealed keys; ids never collide across them.
constexpr const char* kReplaceSealedKeyIn[] = {
    "UPDATE tls_certificates SET key_version = ?2, sealed_key = ?3"
    " WHERE id = ?1 AND key_version = ?4 AND sealed_key = ?5",
    "UPDATE acme_accounts SET key_version = ?2, sealed_key = ?3"
    " WHERE id = ?1 AND key_version = ?4 AND sealed_key = ?5",
    "UPDATE provisioning_jobs SET key_version = ?2, sealed_key = ?3"
    " WHERE id = ?1 AND key_version = ?4 AND sealed_key = ?5",
};

// ---- Automatic certificates ----

constexpr char kGetAcmeAccount[] =
    "SELECT id, directory_url, account_url, key_version, sealed_key, created_at"
    " FROM acme_accounts WHERE directory_url = ?1";
constexpr char kInsertAcmeAccount[] =
    "INSERT INTO acme_accounts (id, directory_url, account_url, key_version, sealed_key,"
    " created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
constexpr char kDeleteAcmeAccount[] = "DELETE FROM acme_accounts WHERE id = ?1";
constexpr char kDomainsNeedingCertificates[] =
    "SELECT " CG_DOMAIN_COLUMNS " FROM reserved_domains d"
    " WHERE policy_authority IS NOT NULL"
    " AND NOT EXISTS (SELECT 1 FROM provisioning_jobs j WHERE j.domain_id = d.id)"
    " AND (certificate_id IS NULL OR issued_key_type IS NULL"
    "      OR issued_key_type <> policy_key_type OR renews_at IS NULL OR renews_at <= ?1)"
    " ORDER BY COALESCE(renews_at, created_at), id LIMIT ?2";
// What a new job is written with; a new job is not leased (owner '', token 0).
#define CG_JOB_FIELDS                                                                       \
  "id, domain_id, account_id, domain, key_type, renewal, started_at, msg, error_code,"    \
  " retries_at, next_run_at, failures, order_url, key_version, sealed_key"
#define CG_JOB_COLUMNS CG_JOB_FIELDS ", lease_owner, lease_token"
constexpr char kInsertJob[] =
    "INSERT INTO provisioning_jobs (" CG_JOB_FIELDS ")"
    " SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15"
    " WHERE EXISTS (SELECT 1 FROM reserved_domains WHERE id = ?2 AND policy_authority IS NOT NULL)"
    " ON CONFLICT (domain_id) DO NOTHING";
constexpr char kJobForDomain[] =
    "SELECT " CG_JOB_COLUMNS " FROM provisioning_jobs WHERE domain_id = ?1";
constexpr char kAnyDueJob[] =
    "SELECT 1 FROM provisioning_jobs"
    " WHERE next_run_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?1) LIMIT 1";
constexpr char kDueJobs[] = "SELECT " CG_JOB_COLUMNS " FROM provisioning_jobs"
                            " WHERE next_run_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?1)"
                            " ORDER BY next_run_at, id LIMIT ?2";
// The job, if it is still held under the lease (?2, ?3).
constexpr char kLeasedJob[] =
    "SELECT 1 FROM provisioning_jobs WHERE id = ?1 AND lease_owner = ?2 AND lease_token = ?3";
#undef CG_JOB_COLUMNS
#undef CG_JOB_FIELDS
constexpr char kLeaseJob[] =
    "UPDATE provisioning_jobs SET lease_until = ?2, lease_owner = ?3, lease_token = ?4"
    " WHERE id = ?1";
constexpr char kReleaseJobLeases[] =
    "UPDATE provisioning_jobs SET lease_until = NULL"
    " WHERE lease_owner = ?1 AND lease_until IS NOT NULL";
// The key is set once: rotation may have re-sealed it since the runner read it.
constexpr char kUpdateJob[] =
    "UPDATE provisioning_jobs SET msg = ?2, error_code = ?3, retries_at = ?4, next_run_at = ?5,"
    " failures = ?6, order_url = ?7,"
    " key_version = CASE WHEN sealed_key IS NULL THEN ?8 ELSE key_version END,"
    " sealed_key = COALESCE(sealed_key, ?9), lease_until = ?10"
    " WHERE id = ?1 AND lease_owner = ?11 AND lease_token = ?12";
constexpr char kDeleteJob[] = "DELETE FROM provisioning_jobs WHERE id = ?1";
constexpr char kManagedKeyType[] =
    "SELECT policy_key_type, certificate_id FROM reserved_domains WHERE id = ?1";
constexpr char kAttachIssued[] =
    "UPDATE reserved_domains SET certificate_id = ?2, renews_at = ?3, issued_key_type = ?4"
    " WHERE id = ?1";
constexpr char kPutHttp01[] =
    "INSERT INTO acme_http01_challenges (token, key_authorization, job_id) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (token) DO UPDATE SET key_authorization = excluded.key_authorization,"
    " job_id = excluded.job_id";
constexpr char kGetHttp01[] =
    "SELECT key_authorization FROM acme_http01_challenges WHERE token = ?1";
constexpr char kPutDnsTxt[] =
    "INSERT INTO acme_dns01_records (name, value, job_id) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (name, value) DO UPDATE SET job_id = excluded.job_id";
constexpr char kListDnsTxt[] = "SELECT value FROM acme_dns01_records WHERE name = ?1 ORDER BY value";
// Names strictly below a name: the name_key range (?1, ?2) of NameKeyRange.
constexpr char kReservedBelow[] =
    "SELECT 1 FROM reserved_domains WHERE name_key > ?1 AND name_key < ?2 LIMIT 1";
// ---- Name ownership ----
constexpr char kDomainOwner[] = "SELECT account_id FROM reserved_domains WHERE domain = ?1";
// Another account's domain of one of two names (an ancestor and its wildcard).
constexpr char kOtherOwnerOf[] =
    "SELECT id, account_id, domain FROM reserved_domains"
    " WHERE domain IN (?1, ?2) AND account_id <> ?3 ORDER BY domain";
// Another account's domain below a name (name_key range (?1, ?2)), but ?4.
constexpr char kOtherOwnerBelow[] =
    "SELECT name_key FROM reserved_domains WHERE name_key > ?1 AND name_key < ?2"
    " AND account_id <> ?3 AND name_key <> ?4 ORDER BY name_key LIMIT 1";
constexpr char kDomainsByNameKey[] =
    "SELECT name_key, id, account_id, domain FROM reserved_domains ORDER BY name_key";
constexpr char kEndpointHosts[] = "SELECT id, account_id, url, host FROM endpoints ORDER BY id";
constexpr char kIsEdgeName[] =
    "SELECT 1 FROM reserved_domains WHERE cname_target = ?1 OR domain = ?1 OR domain = ?2 LIMIT 1";

constexpr char kGetSetting[] = "SELECT value FROM settings WHERE name = ?1";
constexpr char kSetSetting[] =
    "INSERT INTO settings (name, value) VALUES (?1, ?2)"
    " ON CONFLICT (name) DO UPDATE SET value = excluded.value";

// ---- Names ----

// The index key of a normalized domain name (see migration 4): its labels last
// to first, each followed by '.'. "*.wa.example.com" -> "com.example.wa.*.".
// A name's key is a prefix of the key of every name below it, and '.' ends
// every label, so in key order a name comes right before all names below it
// ("wa-b" sorts before "wa", not between "wa" and "x.wa").
std::string NameKey(std::string_view name) {
  std::string key;
  key.reserve(name.size() + 1);
  while (!name.empty()) {
    size_t dot = name.rfind('.');
    std::string_view label = dot == std::string_view::npos ? name : name.substr(dot + 1);
    key.append(label).push_back('.');
    name = dot == std::string_view::npos ? std::string_view() : name.substr(0, dot);
  }
  return key;
}

// NameKey's inverse.
std::string NameFromKey(std::string_view key) {
  if (key.ends_with('.')) key.remove_suffix(1);
  return NameKey(key).substr(0, key.size());  // reversing the labels twice
}

// The bounds (exclusive) of the keys of every name strictly below name:
// everything after its key and before its key with the final '.' raised to '/'.
std::pair<std::string, std::string> NameKeyRange(std::string_view name) {
  std::string low = NameKey(name);
  std::string high = low;
  high.back() = '.' + 1;
  return {std::move(low), std::move(high)};
}

// "*.x" -> "x"; a name without a wildcard is returned whole.
std::string_view BaseOf(std::string_view name) {
  return name.starts_with("*.") ? name.substr(2) : name;
}

// The names above a name, nearest first: "a.b.example.com" -> "b.example.com",
// "example.com", "com".
std::vector<std::string_view> Ancestors(std::string_view name) {
  std::vector<std::string_view> out;
  for (size_t dot = name.find('.'); dot != std::string_view::npos; dot = name.find('.')) {
    name.remove_prefix(dot + 1);
    out.push_back(name);
  }
  return out;
}

// certgate_name_key(name), for migrations that fill name_key.
void NameKeySqlFunction(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
  if (argc != 1 || sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
    sqlite3_result_null(ctx);
    return;
  }
  std::string_view name(reinterpret_cast<const char*>(sqlite3_value_text(argv[0])),
                        static_cast<size_t>(sqlite3_value_bytes(argv[0])));
  std::string key = NameKey(name);
  sqlite3_result_text(ctx, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
}

// ---- Errors ----

std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

// SQLite's failure as an Error naming the operation. Primary and unique key
// violations are conflicts (the caller sent an identity that exists), and so
// are foreign key violations (a record referred to is gone, or one still
// refers to it: the store checks first, so these mean a bug or a write that
// bypassed it); anything else is an I/O failure of the store.
Error SqliteError(sqlite3* db, int rc, std::string_view op) {
  const char* detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
    return MakeError(
        ErrorCode::kStoreConflict,
        fmt::format("{}: a record with that identity exists already ({})", op, detail));
  }
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
    return MakeError(ErrorCode::kStoreConflict,
                     fmt::format("{}: a record it refers to does not exist, or another record "
                                 "still refers to it ({})",
                                 op, detail));
  }
  return MakeError(ErrorCode::kStoreIo, fmt::format("{} failed in SQLite: {}", op, detail));
}

Error CorruptRow(std::string_view op, std::string_view what) {
  return MakeError(ErrorCode::kStoreIo, fmt::format("{} read a corrupt row: {}", op, what));
}

// ---- Connections and statements ----

struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// One SQLite connection and its prepared statements. Used by one thread at a
// time (the pool hands it out), so it is opened without SQLite's own mutex.
class Connection {
 public:
  static Result<std::unique_ptr<Connection>> Open(const std::string& path) {
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(
        path.c_str(), &db,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
        nullptr);
    if (rc != SQLITE_OK) {
      Error error = SqliteError(db, rc, fmt::format("opening database {}", path));
      sqlite3_close_v2(db);
      return error;
    }
    std::unique_ptr<Connection> conn(new Connection(db));
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, kBusyTimeoutMs);
    CG_RETURN_IF_ERROR(conn->CheckWal(path));
    // FULL: the WAL is synced at every commit, so a commit that returned
    // survives power loss, as the Store contract promises.
    CG_RETURN_IF_ERROR(conn->Exec("PRAGMA synchronous = FULL", "configuring the connection"));
    CG_RETURN_IF_ERROR(conn->Exec("PRAGMA foreign_keys = ON", "configuring the connection"));
    rc = sqlite3_create_function_v2(db, "certgate_name_key", 1,
                                    SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
                                    nullptr, NameKeySqlFunction, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db, rc, "configuring the connection");
    return conn;
  }

  ~Connection() {
    statements_.clear();  // finalize before closing
    sqlite3_close_v2(db_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* db() const { return db_; }

  // The statement for sql, prepared on first use and kept. sql must be one of
  // the constants above: they are keyed by address.
  Result<sqlite3_stmt*> Prepare(const char* sql, std::string_view op) {
    auto it = statements_.find(sql);
    if (it != statements_.end()) return it->second.get();
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return SqliteError(db_, rc, op);
    }
    statements_.emplace(sql, StmtPtr(stmt));
    return stmt;
  }

  // Runs SQL that returns no rows, possibly several statements.
  Result<void> Exec(const char* sql, std::string_view op) {
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, op);
    return {};
  }

  // Ends a failed transaction; harmless when none is open.
  void Rollback() {
    if (sqlite3_get_autocommit(db_) == 0) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}

  // WAL lets readers run beside the one writer. Some file systems cannot do
  // it (no shared memory); refuse those rather than silently lose concurrency.
  Result<void> CheckWal(const std::string& path) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db_, "PRAGMA journal_mode = WAL", -1, &raw, nullptr);
    StmtPtr stmt(raw);
    if (rc == SQLITE_OK) rc = sqlite3_step(raw);
    if (rc != SQLITE_ROW) return SqliteError(db_, rc, "switching the database to WAL mode");
    const unsigned char* mode = sqlite3_column_text(raw, 0);
    if (mode == nullptr || std::string_view(reinterpret_cast<const char*>(mode)) != "wal") {
      return MakeError(ErrorCode::kStoreIo,
                       fmt::format("database {} cannot use WAL mode on this file system", path));
    }
    return {};
  }

  sqlite3* db_;
  std::unordered_map<const char*, StmtPtr> statements_;
};

// One use of a cached statement: binds, steps and reads, and resets the
// statement when the scope ends so that no read transaction stays open. The
// first failure is kept and reported by Step or Run.
class Query {
 public:
  Query(Connection& conn, const char* sql, std::string_view op) : conn_(conn), op_(op) {
    auto stmt = conn.Prepare(sql, op);
    if (stmt.ok()) {
      stmt_ = *stmt;
    } else {
      error_ = std::move(stmt).error();
    }
  }
  ~Query() {
    if (stmt_ != nullptr) {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& Text(int i, std::string_view v) {
    // A null pointer would bind SQL NULL; an empty view must bind ''.
    if (stmt_ != nullptr) {
      Check(sqlite3_bind_text(stmt_, i, v.data() != nullptr ? v.data() : "",
                              static_cast<int>(v.size()), SQLITE_TRANSIENT));
    }
    return *this;
  }
  // "" binds NULL: how the service's own certificates are stored.
  Query& AccountId(int i, std::string_view account_id) {
    return account_id.empty() ? Null(i) : Text(i, account_id);
  }
  Query& OptionalText(int i, const std::optional<std::string>& v) {
    return v.has_value() ? Text(i, *v) : Null(i);
  }
  Query& Int(int i, int64_t v) {
    if (stmt_ != nullptr) Check(sqlite3_bind_int64(stmt_, i, v));
    return *this;
  }
  Query& Blob(int i, std::span<const uint8_t> v) {
    if (stmt_ == nullptr) return *this;
    if (v.empty()) {
      Check(sqlite3_bind_zeroblob(stmt_, i, 0));  // a null pointer would bind NULL
    } else {
      Check(sqlite3_bind_blob64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT));
    }
    return *this;
  }
  Query& Null(int i) {
    if (stmt_ != nullptr) Check(sqlite3_bind_null(stmt_, i));
    return *this;
  }

  // True when a row is ready to read, false when the statement is done.
  Result<bool> Step() {
    if (error_.has_value()) return *error_;
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    error_ = SqliteError(conn_.db(), rc, op_);
    return *error_;
  }
  // Steps to the end, for statements without rows.
  Result<void> Run() {
    while (true) {
      CG_ASSIGN_OR_RETURN(bool row, Step());
      if (!row) return {};
    }
  }

  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  int64_t ColumnInt(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string ColumnText(int col) const {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    if (p == nullptr) return {};
    return std::string(reinterpret_cast<const char*>(p),
                       static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  std::optional<std::string> OptionalColumnText(int col) const {
    if (IsNull(col)) return std::nullopt;
    return ColumnText(col);
  }
  std::vector<uint8_t> ColumnBlob(int col) const {
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, col));
    if (p == nullptr) return {};
    return std::vector<uint8_t>(p, p + sqlite3_column_bytes(stmt_, col));
  }
  // Rows changed by the last write on this connection.
  int64_t Changes() const { return sqlite3_changes64(conn_.db()); }

 private:
  void Check(int rc) {
    if (rc != SQLITE_OK && !error_.has_value()) error_ = SqliteError(conn_.db(), rc, op_);
  }

  Connection& conn_;
  std::string_view op_;
  sqlite3_stmt* stmt_ = nullptr;
  std::optional<Error> error_;
};

// ---- Rows ----

Result<Account> ReadAccount(const Query& q, int col, std::string_view op) {
  Account account;
  account.id = q.ColumnText(col);
  account.name = q.ColumnText(col + 1);
  std::string plan = q.ColumnText(col + 2);
  auto parsed = ParsePlan(plan);
  if (!parsed.has_value()) {
    return CorruptRow(op, fmt::format("account {} has unknown plan \"{}\"", account.id, plan));
  }
  account.plan = *parsed;
  account.created_at = FromUnixSeconds(q.ColumnInt(col + 3));
  return account;
}

Result<uint32_t> ReadKeyVersion(const Query& q, int col, std::string_view id, std::string_view op) {
  int64_t v = q.ColumnInt(col);
  if (v < 0 || v > std::numeric_limits<uint32_t>::max()) {
    return CorruptRow(op, fmt::format("certificate {} has key_version {}", id, v));
  }
  return static_cast<uint32_t>(v);
}

// Reads the columns CG_CERT_COLUMNS lists, in that order.
Result<Certificate> ReadCertificate(const Query& q, std::string_view op) {
  Certificate cert;
  cert.id = q.ColumnText(0);
  if (!q.IsNull(1)) cert.account_id = q.ColumnText(1);
  cert.created_at = FromUnixSeconds(q.ColumnInt(2));
  cert.description = q.ColumnText(3);
  cert.metadata = q.ColumnText(4);
  cert.certificate_pem = q.ColumnText(5);
  if (!q.IsNull(6)) cert.issued_at = FromUnixSeconds(q.ColumnInt(6));
  cert.not_after = FromUnixSeconds(q.ColumnInt(7));
  CG_ASSIGN_OR_RETURN(cert.private_key.key_version, ReadKeyVersion(q, 8, cert.id, op));
  cert.private_key.blob = q.ColumnBlob(9);
  if (!q.IsNull(10)) cert.owner_endpoint_id = q.ColumnText(10);
  return cert;
}

// Reads the columns CG_DOMAIN_COLUMNS lists, in that order.
Result<Domain> ReadDomain(const Query& q, std::string_view op) {
  Domain d;
  d.id = q.ColumnText(0);
  d.account_id = q.ColumnText(1);
  d.created_at = FromUnixSeconds(q.ColumnInt(2));
  d.description = q.ColumnText(3);
  d.metadata = q.ColumnText(4);
  d.domain = q.ColumnText(5);
  d.certificate_id = q.OptionalColumnText(6);
  if (!q.IsNull(7)) {
    if (q.IsNull(8)) {
      return CorruptRow(op, fmt::format("domain {} has a policy without a key type", d.id));
    }
    d.policy = ManagementPolicy{q.ColumnText(7), q.ColumnText(8)};
  }
  d.cname_target = q.OptionalColumnText(9);
  d.acme_challenge_cname_target = q.OptionalColumnText(10);
  if (!q.IsNull(11)) d.renews_at = FromUnixSeconds(q.ColumnInt(11));
  d.issued_key_type = q.OptionalColumnText(12);
  return d;
}

// Reads the columns CG_ENDPOINT_COLUMNS lists, in that order.
Result<Endpoint> ReadEndpoint(const Query& q, std::string_view op) {
  Endpoint e;
  e.id = q.ColumnText(0);
  e.account_id = q.ColumnText(1);
  e.created_at = FromUnixSeconds(q.ColumnInt(2));
  e.description = q.ColumnText(3);
  e.metadata = q.ColumnText(4);
  e.url = q.ColumnText(5);
  e.scheme = q.ColumnText(6);
  e.host = q.ColumnText(7);
  int64_t port = q.ColumnInt(8);
  if (port < 0 || port > std::numeric_limits<uint16_t>::max()) {
    return CorruptRow(op, fmt::format("endpoint {} has port {}", e.id, port));
  }
  e.port = static_cast<uint16_t>(port);
  e.upstream = q.ColumnText(9);
  e.traffic_policy = q.ColumnText(10);
  e.domain_id = q.ColumnText(11);
  e.policy_certificate_id = q.OptionalColumnText(12);
  return e;
}

Result<void> CheckLimit(int limit) {
  if (limit < 1 || limit > kMaxListLimit) {
    return MakeError(ErrorCode::kInvalidPaging,
                     fmt::format("limit must be between 1 and {}, not {}", kMaxListLimit, limit));
  }
  return {};
}

// Binds account_id (?1), before_id and the limit of a kList*/kList*Before
// pair, and reads one page with read(q, op). One row more than asked for
// tells whether a further page exists.
template <class T, class ReadRow>
Result<Page<T>> ReadPage(Query& q, std::string_view account_id,
                         const std::optional<std::string>& before_id, int limit,
                         std::string_view op, ReadRow read) {
  q.AccountId(1, account_id);
  if (before_id.has_value()) {
    q.Text(2, *before_id).Int(3, limit + 1);
  } else {
    q.Int(2, limit + 1);
  }
  Page<T> page;
  while (true) {
    CG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    if (page.items.size() == static_cast<size_t>(limit)) {
      page.has_more = true;
      break;
    }
    CG_ASSIGN_OR_RETURN(T item, read(q, op));
    page.items.push_back(std::move(item));
  }
  return page;
}

// The first column of every row, e.g. the names of what uses a record.
Result<std::vector<std::string>> ReadTextColumn(Query& q) {
  std::vector<std::string> out;
  while (true) {
    CG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    out.push_back(q.ColumnText(0));
  }
}

// ---- Statements inside write transactions ----

// owner_endpoint_id "" stores NULL: an account (or the service's) certificate.
Result<void> InsertCertificateRow(Connection& conn, const Certificate& cert,
                                  std::string_view account_id, std::string_view owner_endpoint_id,
                                  std::string_view op) {
  Query q(conn, kInsertCert, op);
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
  return q.Run();
}

// A domain may refer only to a certificate of its own account that no
// endpoint owns. Checked inside the write transaction, so the certificate
// cannot go away before the write commits (DeleteCertificate checks the other
// way round under the same lock).
Result<void> CheckAttachable(Connection& conn, const Domain& domain, std::string_view op) {
  if (!domain.certificate_id.has_value()) return {};
  Query q(conn, kAccountCertExists, op);
  // Text, not AccountId: a domain never refers to the service's own.
  q.Text(1, *domain.certificate_id).Text(2, domain.account_id);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (row) return {};
  return MakeError(ErrorCode::kStoreConflict,
                   fmt::format("{}: certificate_id {} names no certificate of account {} (it "
                               "does not exist, was deleted, or belongs to an endpoint)",
                               op, *domain.certificate_id, domain.account_id));
}

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

// Another account's domain among name and "*." + name, if any.
Result<std::optional<NameRecord>> OtherOwnerOf(Connection& conn, std::string_view name,
                                               bool with_wildcard, std::string_view account_id,
                                               std::string_view op) {
  Query q(conn, kOtherOwnerOf, op);
  // The second name is the first again when the wildcard does not count.
  q.Text(1, name).Text(2, with_wildcard ? "*." + std::string(name) : std::string(name));
  q.Text(3, account_id);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<NameRecord>();
  return std::optional<NameRecord>(NameRecord{q.ColumnText(0), q.ColumnText(1), q.ColumnText(2)});
}

// Another account's domain whose names include host (an endpoint's): the
// host itself or a name above it, or a wildcard above it.
Result<std::optional<NameRecord>> OwnerOfHost(Connection& conn, std::string_view host,
                                              std::string_view account_id, std::string_view op) {
  CG_ASSIGN_OR_RETURN(auto owner, OtherOwnerOf(conn, host, false, account_id, op));
  if (owner) return owner;
  for (std::string_view above : Ancestors(host)) {
    CG_ASSIGN_OR_RETURN(owner, OtherOwnerOf(conn, above, true, account_id, op));
    if (owner) return owner;
  }
  return owner;
}

// Another account's domain that a domain name would own names of: one of the
// domains lies below the other (or "x" and "*.x"). below_only: only those
// below it (for "*.x", not "*.x" itself). The first in key order.
Result<std::optional<std::string>> OtherNameBelow(Connection& conn, std::string_view name,
                                                  std::string_view account_id,
                                                  std::string_view op) {
  auto [low, high] = NameKeyRange(BaseOf(name));
  Query q(conn, kOtherOwnerBelow, op);
  q.Text(1, low).Text(2, high).Text(3, account_id).Text(4, NameKey(name));
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(NameFromKey(q.ColumnText(0)));
}

// Refuses a domain whose names another account owns, or that would own names
// of another account's (see "Name ownership" in store.h). Runs inside the
// insert's write transaction, so no concurrent insert can slip between the
// check and the write. Index lookups only: the name, each name above it with
// its wildcard, and one range of name_key below it.
Result<void> CheckDomainNameOwnership(Connection& conn, const Domain& domain, std::string_view op) {
  const std::string& name = domain.domain;
  const bool wildcard = name.starts_with("*.");
  const std::string_view base = BaseOf(name);
  {
    Query q(conn, kDomainOwner, op);
    q.Text(1, name);
    CG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (row && q.ColumnText(0) == domain.account_id) {
      return MakeError(ErrorCode::kDomainReservedHere,
                       fmt::format("{} is already reserved by this account", name));
    }
    if (row) {
      return MakeError(ErrorCode::kDomainReservedElsewhere,
                       fmt::format("{} is already reserved by another account", name));
    }
  }
  auto under = [&](const NameRecord& owner) {
    return MakeError(
        ErrorCode::kDomainReservedElsewhere,
        owner.name.starts_with("*.")
            ? fmt::format("{} lies under the wildcard {}, which another account has reserved: "
                          "a wildcard owns every name below it",
                          name, owner.name)
            : fmt::format("{} lies under {}, which another account has reserved: an account "
                          "owns every name below its domains",
                          name, owner.name));
  };
  if (wildcard) {
    // "*.x" lies under another account's "x" (and "*.x" itself was checked).
    CG_ASSIGN_OR_RETURN(auto owner, OtherOwnerOf(conn, base, false, domain.account_id, op));
    if (owner) return under(*owner);
  }
  for (std::string_view above : Ancestors(base)) {
    CG_ASSIGN_OR_RETURN(auto owner, OtherOwnerOf(conn, above, true, domain.account_id, op));
    if (owner) return under(*owner);
  }
  CG_ASSIGN_OR_RETURN(auto below, OtherNameBelow(conn, name, domain.account_id, op));
  if (!below) return {};
  if (wildcard) {
    return MakeError(ErrorCode::kDomainWildcardOverOthers,
                     fmt::format("the wildcard {} would cover {}, which another account has "
                                 "reserved",
                                 name, *below));
  }
  return MakeError(ErrorCode::kDomainOverOthers,
                   fmt::format("{} lies above {}, which another account has reserved: an "
                               "account owns every name below its domains, so {} cannot be "
                               "reserved by another",
                               name, *below, name));
}

// Refuses an endpoint whose host another account's domain owns (possible only
// for domains that overlapped before InsertDomain refused it).
Result<void> CheckEndpointHostOwnership(Connection& conn, const Endpoint& endpoint,
                                       std::string_view op) {
  CG_ASSIGN_OR_RETURN(auto owner, OwnerOfHost(conn, endpoint.host, endpoint.account_id, op));
  if (!owner) return {};
  return MakeError(ErrorCode::kEndpointHostReservedElsewhere,
                   fmt::format("{} lies under {}, which another account has reserved: an "
                               "endpoint's host must belong to this account alone",
                               endpoint.host, owner->name));
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

void BindDomainFields(Query& q, const Domain& d) {
  // ?1 id and ?2 account_id are bound by the caller.
  q.Text(3, d.description).Text(4, d.metadata).OptionalText(5, d.certificate_id);
  if (d.policy.has_value()) {
    q.Text(6, d.policy->authority).Text(7, d.policy->private_key_type);
  } else {
    q.Null(6).Null(7);
  }
  q.OptionalText(8, d.cname_target).OptionalText(9, d.acme_challenge_cname_target);
}

void BindEndpointFields(Query& q, const Endpoint& e,
                        const std::optional<std::string>& policy_certificate_id) {
  // ?1 id and ?2 account_id are bound by the caller.
  q.Text(3, e.description)
      .Text(4, e.metadata)
      .Text(5, e.url)
      .Text(6, e.scheme)
      .Text(7, e.host)
      .Int(8, e.port)
      .Text(9, e.upstream)
      .Text(10, e.traffic_policy)
      .Text(11, e.domain_id)
      .OptionalText(12, policy_certificate_id);
}

// Whether a finished write changed certificates, domains or endpoints, and so
// must be announced to OnChange's callbacks.
bool Changed(const Result<void>& r) { return r.ok(); }
bool Changed(const Result<bool>& r) { return r.ok() && *r; }
bool Changed(const Result<DeleteOutcome>& r) {
  return r.ok() && r->status == DeleteOutcome::Status::kDeleted;
}
template <class T>
bool Changed(const Result<std::optional<T>>& r) {
  return r.ok() && r->has_value();
}

// ---- Files ----

// Creates dir and its missing parents with mode 0700: the database inside
// holds sealed keys and API key hashes, which are nobody else's business.
Result<void> MakeDirectories(const fs::path& dir) {
  std::error_code ec;
  if (dir.empty() || fs::is_directory(dir, ec)) return {};
  if (dir.has_parent_path() && dir.parent_path() != dir) {
    CG_RETURN_IF_ERROR(MakeDirectories(dir.parent_path()));
  }
  if (::mkdir(dir.c_str(), 0700) != 0) {
    if (errno == EEXIST && fs::is_directory(dir, ec)) return {};
    return MakeError(ErrorCode::kStoreIo,
                     fmt::format("cannot create directory {}: {}", dir.string(), ErrnoText(errno)));
  }
  ::chmod(dir.c_str(), 0700);  // exactly 0700 whatever the umask
  return {};
}

// Creates the database file 0600 before SQLite opens it. SQLite gives the -wal
// and -shm files the database file's mode, umask or not.
Result<void> CreateDatabaseFile(const fs::path& path) {
  int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return {};
    return MakeError(ErrorCode::kStoreIo, fmt::format("cannot create database file {}: {}",
                                                      path.string(), ErrnoText(errno)));
  }
  int rc = ::fchmod(fd, 0600);
  int err = errno;
  ::close(fd);
  if (rc != 0) {
    return MakeError(ErrorCode::kStoreIo,
                     fmt::format("cannot set the mode of {}: {}", path.string(), ErrnoText(err)));
  }
  return {};
}

// ---- The store ----

class SqliteStore final : public Store {
 public:
  static Result<std::unique_ptr<SqliteStore>> Open(const fs::path& path);

  Result<void> CreateAccount(const Account& account) override;
  Result<std::optional<Account>> GetAccount(std::string_view id) override;
  Result<int64_t> CountAccounts() override;
  Result<void> CreateApiKey(const ApiKey& key, std::string_view token_hash) override;
  Result<std::optional<std::pair<ApiKey, Account>>> FindApiKeyByHash(
      std::string_view token_hash) override;
  Result<void> InsertCertificate(const Certificate& cert) override;
  Result<std::optional<Certificate>> GetCertificate(std::string_view account_id,
                                                    std::string_view id) override;
  Result<std::optional<Certificate>> GetCertificateById(std::string_view id) override;
  Result<Page<Certificate>> ListCertificates(std::string_view account_id,
                                             std::optional<std::string> before_id,
                                             int limit) override;
  Result<std::optional<Certificate>> UpdateCertificate(std::string_view account_id,
                                                       std::string_view id,
                                                       const CertificatePatch& patch) override;
  Result<DeleteOutcome> DeleteCertificate(std::string_view account_id,
                                          std::string_view id) override;
  Result<void> InsertDomain(const Domain& domain) override;
  Result<std::optional<Domain>> GetDomain(std::string_view account_id,
                                          std::string_view id) override;
  Result<std::optional<Domain>> FindDomainByName(std::string_view name) override;
  Result<Page<Domain>> ListDomains(std::string_view account_id,
                                   std::optional<std::string> before_id, int limit) override;
  Result<bool> UpdateDomain(const Domain& domain) override;
  Result<DeleteOutcome> DeleteDomain(std::string_view account_id, std::string_view id) override;
  Result<void> InsertEndpoint(const Endpoint& endpoint,
                              const std::optional<Certificate>& policy_certificate) override;
  Result<std::optional<Endpoint>> GetEndpoint(std::string_view account_id,
                                              std::string_view id) override;
  Result<Page<Endpoint>> ListEndpoints(std::string_view account_id,
                                       std::optional<std::string> before_id, int limit) override;
  Result<bool> UpdateEndpoint(const Endpoint& endpoint,
                              const std::optional<Certificate>& policy_certificate) override;
  Result<bool> DeleteEndpoint(std::string_view account_id, std::string_view id) override;
  Result<NameCheck> CheckNameOwnership() override;
  Result<EdgeState> LoadEdgeState() override;
  Result<int64_t> ChangeSequence() override;
  void OnChange(std::function<void()> fn) override;
  Result<std::vector<SealedKeyRef>> ListSealedKeys(std::optional<std::string> after_id,
                                                   int limit) override;
  Result<bool> ReplaceSealedKey(std::string_view record_id, const SealedKey& expected,
                                const SealedKey& replacement) override;
  Result<int64_t> CountSealedKeysNotAtVersion(uint32_t version) override;
  Result<std::optional<AcmeAccount>> GetAcmeAccount(std::string_view directory_url) override;
  Result<void> InsertAcmeAccount(const AcmeAccount& account) override;
  Result<bool> DeleteAcmeAccount(std::string_view id) override;
  Result<std::vector<Domain>> ListDomainsNeedingCertificates(Time now, int limit) override;
  Result<bool> InsertProvisioningJob(const ProvisioningJob& job) override;
  Result<std::optional<ProvisioningJob>> GetProvisioningJobForDomain(
      std::string_view domain_id) override;
  Result<std::vector<ProvisioningJob>> ClaimDueJobs(std::string_view owner, Time now,
                                                    Time lease_until, int limit) override;
  Result<void> ReleaseJobLeases(std::string_view owner) override;
  Result<bool> UpdateProvisioningJob(const ProvisioningJob& job,
                                     std::optional<Time> hold_until) override;
  Result<bool> DeleteProvisioningJob(std::string_view id) override;
  Result<bool> CompleteProvisioningJob(const ProvisioningJob& job, const Certificate& cert,
                                       Time renews_at) override;
  Result<void> PutHttp01Challenge(const Http01Challenge& challenge) override;
  Result<std::optional<std::string>> GetHttp01KeyAuthorization(std::string_view token) override;
  Result<void> PutDnsTxtRecord(std::string_view name, std::string_view value,
                               std::string_view job_id) override;
  Result<std::vector<std::string>> ListDnsTxtRecords(std::string_view name) override;
  Result<bool> HasReservedNamesBelow(std::string_view name) override;
  Result<bool> IsEdgeName(std::string_view name) override;
  Result<std::optional<std::string>> GetSetting(std::string_view name) override;
  Result<void> SetSetting(std::string_view name, std::string_view value) override;

 private:
  // A connection borrowed from the pool, returned when the lease ends.
  class Lease {
   public:
    Lease(SqliteStore* store, std::unique_ptr<Connection> conn)
        : store_(store), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (conn_ != nullptr) store_->Release(std::move(conn_));
    }
    Connection& conn() { return *conn_; }

   private:
    SqliteStore* store_;
    std::unique_ptr<Connection> conn_;
  };

  explicit SqliteStore(std::string path) : path_(std::move(path)) {}

  // Waits for an idle connection, or opens one while fewer than
  // kMaxConnections exist.
  Result<Lease> Acquire(std::string_view op);
  void Release(std::unique_ptr<Connection> conn);
  Result<void> Migrate(Connection& conn);

  // Runs body(conn) in a BEGIN IMMEDIATE transaction and commits if it
  // succeeds. IMMEDIATE takes the write lock up front, so the busy timeout
  // covers waiting for another writer and a transaction never fails halfway
  // for want of an upgrade to the write lock.
  template <class F>
  auto Write(std::string_view op, F&& body) -> decltype(body(std::declval<Connection&>()));
  // Write, for writes to certificates, domains or endpoints: once the
  // transaction has committed and the lease and write lock are released, tells
  // the OnChange callbacks if the result says something changed (Changed()).
  template <class F>
  auto WriteAndAnnounce(std::string_view op, F&& body)
      -> decltype(body(std::declval<Connection&>()));
  // Runs body(conn) in one read transaction: every SELECT in it sees the same
  // snapshot of the database.
  template <class F>
  auto Read(std::string_view op, F&& body) -> decltype(body(std::declval<Connection&>()));
  void AnnounceChange();

  const std::string path_;

  // Never removed, so a copy of the pointers can be called without the lock
  // (and a callback may call OnChange itself).
  std::mutex callbacks_mu_;
  std::vector<std::shared_ptr<const std::function<void()>>>
      callbacks_;  // GUARDED_BY(callbacks_mu_)

  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<Connection>> idle_;  // GUARDED_BY(pool_mu_)
  size_t open_connections_ = 0;                    // GUARDED_BY(pool_mu_)

  // Serialises this process's write transactions: SQLite would anyway, but it
  // makes waiters poll with sleeps; a mutex hands over at once. Taken after a
  // lease, never before, so the two cannot deadlock.
  std::mutex write_mu_;
};

Result<SqliteStore::Lease> SqliteStore::Acquire(std::string_view op) {
  std::unique_lock lock(pool_mu_);
  pool_cv_.wait(lock, [this] { return !idle_.empty() || open_connections_ < kMaxConnections; });
  if (!idle_.empty()) {
    std::unique_ptr<Connection> conn = std::move(idle_.back());
    idle_.pop_back();
    return Lease(this, std::move(conn));
  }
  ++open_connections_;
  lock.unlock();
  auto conn = Connection::Open(path_);
  if (!conn.ok()) {
    lock.lock();
    --open_connections_;
    pool_cv_.notify_one();
    Error error = std::move(conn).error();
    error.message = fmt::format("{}: {}", op, error.message);
    return error;
  }
  return Lease(this, std::move(conn).value());
}

void SqliteStore::Release(std::unique_ptr<Connection> conn) {
  {
    std::lock_guard lock(pool_mu_);
    idle_.push_back(std::move(conn));
  }
  pool_cv_.notify_one();
}

template <class F>
auto SqliteStore::Write(std::string_view op, F&& body)
    -> decltype(body(std::declval<Connection&>())) {
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(op));
  std::lock_guard write_lock(write_mu_);
  Connection& conn = lease.conn();
  {
    Query begin(conn, kBegin, op);
    CG_RETURN_IF_ERROR(begin.Run());
  }
  auto result = body(conn);
  if (!result.ok()) {
    conn.Rollback();
    return result;
  }
  Result<void> committed;
  {
    Query commit(conn, kCommit, op);
    committed = commit.Run();
  }
  if (!committed.ok()) {
    conn.Rollback();
    return std::move(committed).error();
  }
  return result;
}

template <class F>
auto SqliteStore::WriteAndAnnounce(std::string_view op, F&& body)
    -> decltype(body(std::declval<Connection&>())) {
  auto result = Write(op, std::forward<F>(body));
  if (Changed(result)) AnnounceChange();
  return result;
}

template <class F>
auto SqliteStore::Read(std::string_view op, F&& body)
    -> decltype(body(std::declval<Connection&>())) {
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(op));
  Connection& conn = lease.conn();
  {
    Query begin(conn, kBeginRead, op);
    CG_RETURN_IF_ERROR(begin.Run());
  }
  auto result = body(conn);
  if (!result.ok()) {
    conn.Rollback();
    return result;
  }
  Result<void> ended;
  {
    Query commit(conn, kCommit, op);
    ended = commit.Run();
  }
  if (!ended.ok()) {
    conn.Rollback();
    return std::move(ended).error();
  }
  return result;
}

void SqliteStore::AnnounceChange() {
  std::vector<std::shared_ptr<const std::function<void()>>> callbacks;
  {
    std::lock_guard lock(callbacks_mu_);
    callbacks = callbacks_;
  }
  for (const auto& fn : callbacks) (*fn)();
}

void SqliteStore::OnChange(std::function<void()> fn) {
  auto shared = std::make_shared<const std::function<void()>>(std::move(fn));
  std::lock_guard lock(callbacks_mu_);
  callbacks_.push_back(std::move(shared));
}

Result<void> SqliteStore::Migrate(Connection& conn) {
  constexpr std::string_view kOp = "migrating the schema";
  auto in_transaction = [&](auto&& body) -> Result<void> {
    CG_RETURN_IF_ERROR(conn.Exec(kBegin, kOp));
    auto result = body();
    if (result.ok()) result = conn.Exec(kCommit, kOp);
    if (!result.ok()) conn.Rollback();
    return result;
  };
  auto max_version = [&]() -> Result<int64_t> {
    Query q(conn, kMaxMigration, kOp);
    CG_ASSIGN_OR_RETURN(bool row, q.Step());
    return row ? q.ColumnInt(0) : 0;
  };
  CG_RETURN_IF_ERROR(in_transaction([&] { return conn.Exec(kCreateMigrations, kOp); }));
  CG_ASSIGN_OR_RETURN(int64_t current, max_version());
  if (current > kSchemaVersion) {
    return MakeError(ErrorCode::kStoreSchemaTooNew,
                     fmt::format("database {} has schema version {}, newer than the {} this "
                                 "certgate knows; run a newer certgate",
                                 path_, current, kSchemaVersion));
  }
  for (const Migration& m : kMigrations) {
    CG_RETURN_IF_ERROR(in_transaction([&]() -> Result<void> {
      // Read again inside the write lock: another process may have migrated.
      CG_ASSIGN_OR_RETURN(int64_t now_at, max_version());
      if (now_at >= m.version) return {};
      if (int rc = sqlite3_exec(conn.db(), m.sql, nullptr, nullptr, nullptr); rc != SQLITE_OK) {
        return SqliteError(conn.db(), rc, fmt::format("applying schema migration {}", m.version));
      }
      Query record(conn, kRecordMigration, kOp);
      record.Int(1, m.version).Int(2, ToUnixSeconds(SystemClock::Instance().Now()));
      return record.Run();
    }));
  }
  return {};
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const fs::path& path) {
  if (path.empty()) {
    return MakeError(ErrorCode::kStoreUrlInvalid, "no SQLite database path was given");
  }
  std::error_code ec;
  fs::path absolute = fs::absolute(path, ec).lexically_normal();
  if (ec) {
    return MakeError(ErrorCode::kStoreIo, fmt::format("cannot resolve database path {}: {}",
                                                      path.string(), ec.message()));
  }
  CG_RETURN_IF_ERROR(MakeDirectories(absolute.parent_path()));
  CG_RETURN_IF_ERROR(CreateDatabaseFile(absolute));
  std::unique_ptr<SqliteStore> store(new SqliteStore(absolute.string()));
  {
    CG_ASSIGN_OR_RETURN(Lease lease, store->Acquire("opening the database"));
    CG_RETURN_IF_ERROR(store->Migrate(lease.conn()));
  }
  return store;
}

// ---- Accounts and API keys ----

Result<void> SqliteStore::CreateAccount(const Account& account) {
  constexpr std::string_view kOp = "creating an account";
  return Write(kOp, [&](Connection& conn) {
    Query q(conn, kInsertAccount, kOp);
    q.Text(1, account.id)
        .Text(2, account.name)
        .Text(3, PlanName(account.plan))
        .Int(4, ToUnixSeconds(account.created_at));
    return q.Run();
  });
}

Result<std::optional<Account>> SqliteStore::GetAccount(std::string_view id) {
  constexpr std::string_view kOp = "reading an account";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kSelectAccount, kOp);
  q.Text(1, id);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<Account>();
  CG_ASSIGN_OR_RETURN(Account account, ReadAccount(q, 0, kOp));
  return std::optional<Account>(std::move(account));
}

Result<int64_t> SqliteStore::CountAccounts() {
  constexpr std::string_view kOp = "counting accounts";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kCountAccounts, kOp);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.ColumnInt(0) : int64_t{0};
}

Result<void> SqliteStore::CreateApiKey(const ApiKey& key, std::string_view token_hash) {
  constexpr std::string_view kOp = "creating an API key";
  return Write(kOp, [&](Connection& conn) {
    Query q(conn, kInsertApiKey, kOp);
    q.Text(1, key.id)
        .Text(2, key.account_id)
        .Text(3, key.description)
        .Text(4, token_hash)
        .Int(5, ToUnixSeconds(key.created_at));
    return q.Run();
  });
}

Result<std::optional<std::pair<ApiKey, Account>>> SqliteStore::FindApiKeyByHash(
    std::string_view token_hash) {
  constexpr std::string_view kOp = "looking up an API key";
  using Found = std::optional<std::pair<ApiKey, Account>>;
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kSelectApiKeyByHash, kOp);
  q.Text(1, token_hash);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return Found();
  ApiKey key;
  key.id = q.ColumnText(0);
  key.account_id = q.ColumnText(1);
  key.description = q.ColumnText(2);
  key.created_at = FromUnixSeconds(q.ColumnInt(3));
  CG_ASSIGN_OR_RETURN(Account account, ReadAccount(q, 4, kOp));
  return Found(std::in_place, std::move(key), std::move(account));
}

// ---- Certificates ----

Result<void> SqliteStore::InsertCertificate(const Certificate& cert) {
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

Result<std::optional<Certificate>> SqliteStore::GetCertificate(std::string_view account_id,
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

Result<std::optional<Certificate>> SqliteStore::GetCertificateById(std::string_view id) {
  constexpr std::string_view kOp = "reading a certificate";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kSelectCertById, kOp);
  q.Text(1, id);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<Certificate>();
  CG_ASSIGN_OR_RETURN(Certificate cert, ReadCertificate(q, kOp));
  return std::optional<Certificate>(std::move(cert));
}

Result<Page<Certificate>> SqliteStore::ListCertificates(std::string_view account_id,
                                                        std::optional<std::string> before_id,
                                                        int limit) {
  constexpr std::string_view kOp = "listing certificates";
  CG_RETURN_IF_ERROR(CheckLimit(limit));
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), before_id.has_value() ? kListCertsBefore : kListCerts, kOp);
  return ReadPage<Certificate>(q, account_id, before_id, limit, kOp, ReadCertificate);
}

Result<std::optional<Certificate>> SqliteStore::UpdateCertificate(std::string_view account_id,
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
    // RETURNING statements apply their change in full on the first step, but
    // run to the end so that COMMIT finds no statement in progress.
    CG_RETURN_IF_ERROR(q.Run());
    return Found(std::move(cert));
  });
}

Result<DeleteOutcome> SqliteStore::DeleteCertificate(std::string_view account_id,
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

// ---- Reserved domains ----

Result<void> SqliteStore::InsertDomain(const Domain& domain) {
  constexpr std::string_view kOp = "inserting a reserved domain";
  return WriteAndAnnounce(kOp, [&](Connection& conn) -> Result<void> {
    CG_RETURN_IF_ERROR(CheckDomainNameOwnership(conn, domain, kOp));
    CG_RETURN_IF_ERROR(CheckAttachable(conn, domain, kOp));
    Query q(conn, kInsertDomain, kOp);
    q.Text(1, domain.id).Text(2, domain.account_id);
    BindDomainFields(q, domain);
    q.Int(10, ToUnixSeconds(domain.created_at))
        .Text(11, domain.domain)
        .Text(12, NameKey(domain.domain));
    return q.Run();
  });
}

Result<std::optional<Domain>> SqliteStore::GetDomain(std::string_view account_id,
                                                     std::string_view id) {
  constexpr std::string_view kOp = "reading a reserved domain";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kSelectDomain, kOp);
  q.Text(1, id).Text(2, account_id);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<Domain>();
  CG_ASSIGN_OR_RETURN(Domain domain, ReadDomain(q, kOp));
  return std::optional<Domain>(std::move(domain));
}

Result<std::optional<Domain>> SqliteStore::FindDomainByName(std::string_view name) {
  constexpr std::string_view kOp = "looking up a reserved domain";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kSelectDomainByName, kOp);
  q.Text(1, name);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<Domain>();
  CG_ASSIGN_OR_RETURN(Domain domain, ReadDomain(q, kOp));
  return std::optional<Domain>(std::move(domain));
}

Result<Page<Domain>> SqliteStore::ListDomains(std::string_view account_id,
                                              std::optional<std::string> before_id, int limit) {
  constexpr std::string_view kOp = "listing reserved domains";
  CG_RETURN_IF_ERROR(CheckLimit(limit));
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), before_id.has_value() ? kListDomainsBefore : kListDomains, kOp);
  return ReadPage<Domain>(q, account_id, before_id, limit, kOp, ReadDomain);
}

Result<bool> SqliteStore::UpdateDomain(const Domain& domain) {
  constexpr std::string_view kOp = "updating a reserved domain";
  return WriteAndAnnounce(kOp, [&](Connection& conn) -> Result<bool> {
    {
      // Not found comes before a bad certificate_id: another account's ids
      // must not learn anything from the error.
      Query exists(conn, kDomainExists, kOp);
      exists.Text(1, domain.id).Text(2, domain.account_id);
      CG_ASSIGN_OR_RETURN(bool row, exists.Step());
      if (!row) return false;
    }
    CG_RETURN_IF_ERROR(CheckAttachable(conn, domain, kOp));
    std::optional<std::string> attached;
    {
      Query cert(conn, kDomainCertificate, kOp);
      cert.Text(1, domain.id);
      CG_ASSIGN_OR_RETURN(bool row, cert.Step());
      if (row) attached = cert.OptionalColumnText(0);
    }
    Query q(conn, kUpdateDomain, kOp);
    q.Text(1, domain.id).Text(2, domain.account_id);
    BindDomainFields(q, domain);
    CG_RETURN_IF_ERROR(q.Run());
    if (q.Changes() == 0) return false;
    Query stop(conn, kDeleteUnmanagedJob, kOp);
    stop.Text(1, domain.id);
    CG_RETURN_IF_ERROR(stop.Run());
    if (attached) {
      // An issued certificate the domain let go of goes (uploaded ones stay).
      Query orphan(conn, kDeleteOrphanIssuedCert, kOp);
      orphan.Text(1, *attached);
      CG_RETURN_IF_ERROR(orphan.Run());
    }
    return true;
  });
}

Result<DeleteOutcome> SqliteStore::DeleteDomain(std::string_view account_id, std::string_view id) {
  constexpr std::string_view kOp = "deleting a reserved domain";
  return WriteAndAnnounce(kOp, [&](Connection& conn) -> Result<DeleteOutcome> {
    DeleteOutcome outcome;
    {
      Query exists(conn, kDomainExists, kOp);
      exists.Text(1, id).Text(2, account_id);
      CG_ASSIGN_OR_RETURN(bool row, exists.Step());
      if (!row) return outcome;  // kNotFound
    }
    {
      Query users(conn, kEndpointsUsingDomain, kOp);
      users.Text(1, id);
      CG_ASSIGN_OR_RETURN(outcome.used_by, ReadTextColumn(users));
    }
    if (!outcome.used_by.empty()) {
      outcome.status = DeleteOutcome::Status::kInUse;
      return outcome;
    }
    std::optional<std::string> attached;
    {
      Query cert(conn, kDomainCertificate, kOp);
      cert.Text(1, id);
      CG_ASSIGN_OR_RETURN(bool row, cert.Step());
      if (row) attached = cert.OptionalColumnText(0);
    }
    Query q(conn, kDeleteDomain, kOp);
    q.Text(1, id).Text(2, account_id);
    CG_RETURN_IF_ERROR(q.Run());
    outcome.status =
        q.Changes() > 0 ? DeleteOutcome::Status::kDeleted : DeleteOutcome::Status::kNotFound;
    if (attached) {
      // A certificate issued for this domain goes with it.
      Query orphan(conn, kDeleteOrphanIssuedCert, kOp);
      orphan.Text(1, *attached);
      CG_RETURN_IF_ERROR(orphan.Run());
    }
    return outcome;
  });
}

// ---- Endpoints ----

Result<void> SqliteStore::InsertEndpoint(const Endpoint& endpoint,
                                         const std::optional<Certificate>& policy_certificate) {
  constexpr std::string_view kOp = "inserting an endpoint";
  if (!policy_certificate.has_value() && endpoint.policy_certificate_id.has_value()) {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("{}: endpoint {} names policy certificate {} but brings none", kOp,
                                 endpoint.id, *endpoint.policy_certificate_id));
  }
  return WriteAndAnnounce(kOp, [&](Connection& conn) -> Result<void> {
    CG_RETURN_IF_ERROR(CheckEndpointDomain(conn, endpoint, kOp));
    CG_RETURN_IF_ERROR(CheckEndpointHostOwnership(conn, endpoint, kOp));
    // The certificate first: the endpoint row refers to it.
    if (policy_certificate.has_value()) {
      CG_RETURN_IF_ERROR(InsertPolicyCertificate(conn, endpoint, *policy_certificate, kOp));
    }
    Query q(conn, kInsertEndpoint, kOp);
    q.Text(1, endpoint.id).Text(2, endpoint.account_id);
    BindEndpointFields(q, endpoint, endpoint.policy_certificate_id);
    q.Int(13, ToUnixSeconds(endpoint.created_at));
    return q.Run();
  });
}

Result<std::optional<Endpoint>> SqliteStore::GetEndpoint(std::string_view account_id,
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

Result<Page<Endpoint>> SqliteStore::ListEndpoints(std::string_view account_id,
                                                  std::optional<std::string> before_id, int limit) {
  constexpr std::string_view kOp = "listing endpoints";
  CG_RETURN_IF_ERROR(CheckLimit(limit));
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), before_id.has_value() ? kListEndpointsBefore : kListEndpoints, kOp);
  return ReadPage<Endpoint>(q, account_id, before_id, limit, kOp, ReadEndpoint);
}

Result<bool> SqliteStore::UpdateEndpoint(const Endpoint& endpoint,
                                         const std::optional<Certificate>& policy_certificate) {
  constexpr std::string_view kOp = "updating an endpoint";
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
      BindEndpointFields(q, endpoint, keep);
      CG_RETURN_IF_ERROR(q.Run());
    }
    // Every certificate the endpoint owned but the one it keeps.
    Query drop(conn, kDeleteOwnedCertsBut, kOp);
    drop.Text(1, endpoint.id).OptionalText(2, keep);
    CG_RETURN_IF_ERROR(drop.Run());
    return true;
  });
}

Result<bool> SqliteStore::DeleteEndpoint(std::string_view account_id, std::string_view id) {
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

// ---- Name ownership ----

Result<NameCheck> SqliteStore::CheckNameOwnership() {
  constexpr std::string_view kOp = "checking name ownership";
  return Read(kOp, [&](Connection& conn) -> Result<NameCheck> {
    NameCheck check;
    // Domains in name_key order visit the tree of names parent first, so the
    // domains above the current one are a stack: pop those it is not below.
    struct Above {
      std::string base_key;  // NameKey of the name without its "*."
      NameRecord record;
    };
    std::vector<Above> stack;
    std::vector<NameRecord> unindexed;
    {
      Query q(conn, kDomainsByNameKey, kOp);
      while (true) {
        CG_ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        ++check.domains;
        NameRecord record{q.ColumnText(1), q.ColumnText(2), q.ColumnText(3)};
        if (q.ColumnText(0) != NameKey(record.name)) {
          unindexed.push_back(std::move(record));
          continue;
        }
        std::string base_key = NameKey(BaseOf(record.name));
        while (!stack.empty() && !base_key.starts_with(stack.back().base_key)) stack.pop_back();
        for (const Above& above : stack) {
          if (above.record.account_id != record.account_id) {
            check.overlaps.push_back(NameOverlap{above.record, record});
          }
        }
        stack.push_back(Above{std::move(base_key), std::move(record)});
      }
    }
    // Rows the order above cannot place: looked up one by one, both ways.
    for (NameRecord& record : unindexed) {
      const std::string_view base = BaseOf(record.name);
      std::vector<std::pair<std::string_view, bool>> lookups;  // name, with its wildcard
      if (record.name.starts_with("*.")) lookups.emplace_back(base, false);
      for (std::string_view above : Ancestors(base)) lookups.emplace_back(above, true);
      for (const auto& [name, with_wildcard] : lookups) {
        CG_ASSIGN_OR_RETURN(auto owner,
                            OtherOwnerOf(conn, name, with_wildcard, record.account_id, kOp));
        if (owner) check.overlaps.push_back(NameOverlap{*owner, record});
      }
      CG_ASSIGN_OR_RETURN(auto below, OtherNameBelow(conn, record.name, record.account_id, kOp));
      if (below) {
        Query q(conn, kSelectDomainByName, kOp);
        q.Text(1, *below);
        CG_ASSIGN_OR_RETURN(bool row, q.Step());
        if (row) {
          CG_ASSIGN_OR_RETURN(Domain d, ReadDomain(q, kOp));
          check.overlaps.push_back(
              NameOverlap{record, NameRecord{d.id, d.account_id, std::move(d.domain)}});
        }
      }
      check.unindexed.push_back(std::move(record));
    }
    Query q(conn, kEndpointHosts, kOp);
    while (true) {
      CG_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      ++check.endpoints;
      NameRecord endpoint{q.ColumnText(0), q.ColumnText(1), q.ColumnText(2)};
      CG_ASSIGN_OR_RETURN(auto owner, OwnerOfHost(conn, q.ColumnText(3), endpoint.account_id, kOp));
      if (owner) check.overlaps.push_back(NameOverlap{*owner, std::move(endpoint)});
    }
    return check;
  });
}

// ---- The edge ----

Result<EdgeState> SqliteStore::LoadEdgeState() {
  constexpr std::string_view kOp = "loading the edge state";
  return Read(kOp, [&](Connection& conn) -> Result<EdgeState> {
    EdgeState state;
    {
      Query q(conn, kChangeSequence, kOp);
      CG_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) return CorruptRow(kOp, "the change_sequence row is missing");
      state.change_sequence = q.ColumnInt(0);
    }
    {
      Query q(conn, kAllEdgeDomains, kOp);
      while (true) {
        CG_ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        state.domains.push_back(EdgeDomain{q.ColumnText(0), q.OptionalColumnText(1)});
      }
    }
    Query q(conn, kAllEndpoints, kOp);
    while (true) {
      CG_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      CG_ASSIGN_OR_RETURN(Endpoint endpoint, ReadEndpoint(q, kOp));
      state.endpoints.push_back(std::move(endpoint));
    }
    return state;
  });
}

Result<int64_t> SqliteStore::ChangeSequence() {
  constexpr std::string_view kOp = "reading the change sequence";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kChangeSequence, kOp);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return CorruptRow(kOp, "the change_sequence row is missing");
  return q.ColumnInt(0);
}

// ---- Sealed keys ----

Result<std::vector<SealedKeyRef>> SqliteStore::ListSealedKeys(std::optional<std::string> after_id,
                                                              int limit) {
  constexpr std::string_view kOp = "listing sealed keys";
  if (limit < 1) {
    return MakeError(ErrorCode::kInvalidPaging,
                     fmt::format("limit must be at least 1, not {}", limit));
  }
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), after_id.has_value() ? kListSealedKeysAfter : kListSealedKeys, kOp);
  if (after_id.has_value()) {
    q.Text(1, *after_id).Int(2, limit);
  } else {
    q.Int(1, limit);
  }
  std::vector<SealedKeyRef> refs;
  while (true) {
    CG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    SealedKeyRef ref;
    ref.record_id = q.ColumnText(0);
    CG_ASSIGN_OR_RETURN(ref.key.key_version, ReadKeyVersion(q, 1, ref.record_id, kOp));
    ref.key.blob = q.ColumnBlob(2);
    refs.push_back(std::move(ref));
  }
  return refs;
}

Result<bool> SqliteStore::ReplaceSealedKey(std::string_view record_id,
                                           const SealedKey& expected,
                                           const SealedKey& replacement) {
  constexpr std::string_view kOp = "replacing a sealed key";
  // A re-seal changes no served bytes, but the edge may keep sealed blobs, so
  // it is announced (and counted by the triggers) like any other change.
  return WriteAndAnnounce(kOp, [&](Connection& conn) -> Result<bool> {
    for (const char* sql : kReplaceSealedKeyIn) {
      Query q(conn, sql, kOp);
      q.Text(1, record_id)
          .Int(2, replacement.key_version)
          .Blob(3, replacement.blob)
          .Int(4, expected.key_version)
          .Blob(5, expected.blob);
      CG_RETURN_IF_ERROR(q.Run());
      if (q.Changes() > 0) return true;
    }
    return false;
  });
}

Result<int64_t> SqliteStore::CountSealedKeysNotAtVersion(uint32_t version) {
  constexpr std::string_view kOp = "counting sealed keys";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kCountNotAtVersion, kOp);
  q.Int(1, version);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.ColumnInt(0) : int64_t{0};
}

// ---- Automatic certificates ----

// Reads the columns CG_JOB_COLUMNS lists, in that order.
Result<ProvisioningJob> ReadJob(const Query& q, std::string_view op) {
  ProvisioningJob job;
  job.id = q.ColumnText(0);
  job.domain_id = q.ColumnText(1);
  job.account_id = q.ColumnText(2);
  job.domain = q.ColumnText(3);
  job.key_type = q.ColumnText(4);
  job.renewal = q.ColumnInt(5) != 0;
  job.started_at = FromUnixSeconds(q.ColumnInt(6));
  job.msg = q.ColumnText(7);
  job.error_code = q.OptionalColumnText(8);
  if (!q.IsNull(9)) job.retries_at = FromUnixSeconds(q.ColumnInt(9));
  job.next_run_at = FromUnixSeconds(q.ColumnInt(10));
  job.failures = static_cast<int>(q.ColumnInt(11));
  job.order_url = q.ColumnText(12);
  if (!q.IsNull(13)) {
    SealedKey key;
    CG_ASSIGN_OR_RETURN(key.key_version, ReadKeyVersion(q, 13, job.id, op));
    key.blob = q.ColumnBlob(14);
    job.private_key = std::move(key);
  }
  job.lease_owner = q.ColumnText(15);
  job.lease_token = q.ColumnInt(16);
  return job;
}

void BindJobKey(Query& q, int version_index, const std::optional<SealedKey>& key) {
  if (key.has_value()) {
    q.Int(version_index, key->key_version).Blob(version_index + 1, key->blob);
  } else {
    q.Null(version_index).Null(version_index + 1);
  }
}

Result<std::optional<AcmeAccount>> SqliteStore::GetAcmeAccount(std::string_view directory_url) {
  constexpr std::string_view kOp = "reading an ACME account";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kGetAcmeAccount, kOp);
  q.Text(1, directory_url);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<AcmeAccount>();
  AcmeAccount account;
  account.id = q.ColumnText(0);
  account.directory_url = q.ColumnText(1);
  account.account_url = q.ColumnText(2);
  CG_ASSIGN_OR_RETURN(account.key.key_version, ReadKeyVersion(q, 3, account.id, kOp));
  account.key.blob = q.ColumnBlob(4);
  account.created_at = FromUnixSeconds(q.ColumnInt(5));
  return std::optional<AcmeAccount>(std::move(account));
}

Result<void> SqliteStore::InsertAcmeAccount(const AcmeAccount& account) {
  constexpr std::string_view kOp = "inserting an ACME account";
  return Write(kOp, [&](Connection& conn) {
    Query q(conn, kInsertAcmeAccount, kOp);
    q.Text(1, account.id)
        .Text(2, account.directory_url)
        .Text(3, account.account_url)
        .Int(4, account.key.key_version)
        .Blob(5, account.key.blob)
        .Int(6, ToUnixSeconds(account.created_at));
    return q.Run();
  });
}

Result<bool> SqliteStore::DeleteAcmeAccount(std::string_view id) {
  constexpr std::string_view kOp = "deleting an ACME account";
  return Write(kOp, [&](Connection& conn) -> Result<bool> {
    Query q(conn, kDeleteAcmeAccount, kOp);
    q.Text(1, id);
    CG_RETURN_IF_ERROR(q.Run());
    return q.Changes() > 0;
  });
}

Result<std::vector<Domain>> SqliteStore::ListDomainsNeedingCertificates(Time now, int limit) {
  constexpr std::string_view kOp = "listing domains that need certificates";
  CG_RETURN_IF_ERROR(CheckLimit(limit));
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kDomainsNeedingCertificates, kOp);
  q.Int(1, ToUnixSeconds(now)).Int(2, limit);
  std::vector<Domain> domains;
  while (true) {
    CG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    CG_ASSIGN_OR_RETURN(Domain d, ReadDomain(q, kOp));
    domains.push_back(std::move(d));
  }
  return domains;
}

Result<bool> SqliteStore::InsertProvisioningJob(const ProvisioningJob& job) {
  constexpr std::string_view kOp = "inserting a provisioning job";
  return Write(kOp, [&](Connection& conn) -> Result<bool> {
    Query q(conn, kInsertJob, kOp);
    q.Text(1, job.id)
        .Text(2, job.domain_id)
        .Text(3, job.account_id)
        .Text(4, job.domain)
        .Text(5, job.key_type)
        .Int(6, job.renewal ? 1 : 0)
        .Int(7, ToUnixSeconds(job.started_at))
        .Text(8, job.msg)
        .OptionalText(9, job.error_code);
    if (job.retries_at) {
      q.Int(10, ToUnixSeconds(*job.retries_at));
    } else {
      q.Null(10);
    }
    q.Int(11, ToUnixSeconds(job.next_run_at)).Int(12, job.failures).Text(13, job.order_url);
    BindJobKey(q, 14, job.private_key);
    CG_RETURN_IF_ERROR(q.Run());
    return q.Changes() > 0;
  });
}

Result<std::optional<ProvisioningJob>> SqliteStore::GetProvisioningJobForDomain(
    std::string_view domain_id) {
  constexpr std::string_view kOp = "reading a provisioning job";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kJobForDomain, kOp);
  q.Text(1, domain_id);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<ProvisioningJob>();
  CG_ASSIGN_OR_RETURN(ProvisioningJob job, ReadJob(q, kOp));
  return std::optional<ProvisioningJob>(std::move(job));
}

Result<std::vector<ProvisioningJob>> SqliteStore::ClaimDueJobs(std::string_view owner, Time now,
                                                               Time lease_until, int limit) {
  constexpr std::string_view kOp = "claiming provisioning jobs";
  CG_RETURN_IF_ERROR(CheckLimit(limit));
  if (owner.empty()) {
    // "" is the owner of jobs never claimed: a lease must name its runner.
    return MakeError(ErrorCode::kInternal, fmt::format("{}: no lease owner given", kOp));
  }
  {
    // Mostly nothing is due: find that out without taking the write lock.
    CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
    Query any(lease.conn(), kAnyDueJob, kOp);
    any.Int(1, ToUnixSeconds(now));
    CG_ASSIGN_OR_RETURN(bool due, any.Step());
    if (!due) return std::vector<ProvisioningJob>();
  }
  return Write(kOp, [&](Connection& conn) -> Result<std::vector<ProvisioningJob>> {
    std::vector<ProvisioningJob> jobs;
    {
      Query q(conn, kDueJobs, kOp);
      q.Int(1, ToUnixSeconds(now)).Int(2, limit);
      while (true) {
        CG_ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        CG_ASSIGN_OR_RETURN(ProvisioningJob job, ReadJob(q, kOp));
        jobs.push_back(std::move(job));
      }
    }
    // The token is read and raised in this one write transaction, so no
    // claim comes between: the new one is greater than every token before.
    for (auto& job : jobs) {
      job.lease_owner = std::string(owner);
      ++job.lease_token;
      Query lease(conn, kLeaseJob, kOp);
      lease.Text(1, job.id)
          .Int(2, ToUnixSeconds(lease_until))
          .Text(3, job.lease_owner)
          .Int(4, job.lease_token);
      CG_RETURN_IF_ERROR(lease.Run());
    }
    return jobs;
  });
}

Result<void> SqliteStore::ReleaseJobLeases(std::string_view owner) {
  constexpr std::string_view kOp = "releasing provisioning job leases";
  return Write(kOp, [&](Connection& conn) {
    Query q(conn, kReleaseJobLeases, kOp);
    q.Text(1, owner);
    return q.Run();
  });
}

Result<bool> SqliteStore::UpdateProvisioningJob(const ProvisioningJob& job,
                                                std::optional<Time> hold_until) {
  constexpr std::string_view kOp = "updating a provisioning job";
  return Write(kOp, [&](Connection& conn) -> Result<bool> {
    Query q(conn, kUpdateJob, kOp);
    q.Text(1, job.id).Text(2, job.msg).OptionalText(3, job.error_code);
    if (job.retries_at) {
      q.Int(4, ToUnixSeconds(*job.retries_at));
    } else {
      q.Null(4);
    }
    q.Int(5, ToUnixSeconds(job.next_run_at)).Int(6, job.failures).Text(7, job.order_url);
    BindJobKey(q, 8, job.private_key);
    if (hold_until) {
      q.Int(10, ToUnixSeconds(*hold_until));
    } else {
      q.Null(10);
    }
    q.Text(11, job.lease_owner).Int(12, job.lease_token);
    CG_RETURN_IF_ERROR(q.Run());
    return q.Changes() > 0;
  });
}

Result<bool> SqliteStore::DeleteProvisioningJob(std::string_view id) {
  constexpr std::string_view kOp = "deleting a provisioning job";
  return Write(kOp, [&](Connection& conn) -> Result<bool> {
    Query q(conn, kDeleteJob, kOp);
    q.Text(1, id);
    CG_RETURN_IF_ERROR(q.Run());
    return q.Changes() > 0;
  });
}

Result<bool> SqliteStore::CompleteProvisioningJob(const ProvisioningJob& job,
                                                  const Certificate& cert, Time renews_at) {
  constexpr std::string_view kOp = "attaching an issued certificate";
  if (cert.account_id != job.account_id || !cert.owner_endpoint_id.empty()) {
    return MakeError(ErrorCode::kInternal,
                     fmt::format("{}: certificate {} does not belong to the job's account", kOp,
                                 cert.id));
  }
  return WriteAndAnnounce(kOp, [&](Connection& conn) -> Result<bool> {
    {
      Query still(conn, kLeasedJob, kOp);
      still.Text(1, job.id).Text(2, job.lease_owner).Int(3, job.lease_token);
      CG_ASSIGN_OR_RETURN(bool row, still.Step());
      // Gone (the domain stopped being managed meanwhile), or another runner
      // took the job over.
      if (!row) return false;
    }
    std::optional<std::string> previous;
    {
      Query managed(conn, kManagedKeyType, kOp);
      managed.Text(1, job.domain_id);
      CG_ASSIGN_OR_RETURN(bool row, managed.Step());
      if (!row || managed.IsNull(0) || managed.ColumnText(0) != job.key_type) {
        Query drop(conn, kDeleteJob, kOp);
        drop.Text(1, job.id);
        CG_RETURN_IF_ERROR(drop.Run());
        return false;
      }
      previous = managed.OptionalColumnText(1);
    }
    CG_RETURN_IF_ERROR(InsertCertificateRow(conn, cert, cert.account_id, "", kOp));
    {
      Query attach(conn, kAttachIssued, kOp);
      attach.Text(1, job.domain_id)
          .Text(2, cert.id)
          .Int(3, ToUnixSeconds(renews_at))
          .Text(4, job.key_type);
      CG_RETURN_IF_ERROR(attach.Run());
    }
    if (previous && *previous != cert.id) {
      Query orphan(conn, kDeleteOrphanIssuedCert, kOp);
      orphan.Text(1, *previous);
      CG_RETURN_IF_ERROR(orphan.Run());
    }
    Query done(conn, kDeleteJob, kOp);
    done.Text(1, job.id);
    CG_RETURN_IF_ERROR(done.Run());
    return true;
  });
}

Result<void> SqliteStore::PutHttp01Challenge(const Http01Challenge& challenge) {
  constexpr std::string_view kOp = "storing an HTTP-01 challenge";
  return Write(kOp, [&](Connection& conn) {
    Query q(conn, kPutHttp01, kOp);
    q.Text(1, challenge.token).Text(2, challenge.key_authorization).Text(3, challenge.job_id);
    return q.Run();
  });
}

Result<std::optional<std::string>> SqliteStore::GetHttp01KeyAuthorization(
    std::string_view token) {
  constexpr std::string_view kOp = "reading an HTTP-01 challenge";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kGetHttp01, kOp);
  q.Text(1, token);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(q.ColumnText(0));
}

Result<void> SqliteStore::PutDnsTxtRecord(std::string_view name, std::string_view value,
                                          std::string_view job_id) {
  constexpr std::string_view kOp = "storing a DNS-01 TXT record";
  return Write(kOp, [&](Connection& conn) {
    Query q(conn, kPutDnsTxt, kOp);
    q.Text(1, name).Text(2, value).Text(3, job_id);
    return q.Run();
  });
}

Result<std::vector<std::string>> SqliteStore::ListDnsTxtRecords(std::string_view name) {
  constexpr std::string_view kOp = "reading DNS-01 TXT records";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kListDnsTxt, kOp);
  q.Text(1, name);
  return ReadTextColumn(q);
}

Result<bool> SqliteStore::HasReservedNamesBelow(std::string_view name) {
  constexpr std::string_view kOp = "looking for reserved names below a name";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kReservedBelow, kOp);
  auto [low, high] = NameKeyRange(name);
  q.Text(1, low).Text(2, high);
  return q.Step();
}

Result<bool> SqliteStore::IsEdgeName(std::string_view name) {
  constexpr std::string_view kOp = "looking up an edge name";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kIsEdgeName, kOp);
  const size_t dot = name.find('.');
  const std::string wildcard =
      dot == std::string_view::npos ? std::string() : "*" + std::string(name.substr(dot));
  q.Text(1, name).Text(2, wildcard);
  return q.Step();
}

// ---- Settings ----

Result<std::optional<std::string>> SqliteStore::GetSetting(std::string_view name) {
  constexpr std::string_view kOp = "reading a setting";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kGetSetting, kOp);
  q.Text(1, name);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(q.ColumnText(0));
}

Result<void> SqliteStore::SetSetting(std::string_view name, std::string_view value) {
  constexpr std::string_view kOp = "writing a setting";
  return Write(kOp, [&](Connection& conn) {
    Query q(conn, kSetSetting, kOp);
    q.Text(1, name).Text(2, value);
    return q.Run();
  });
}

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::filesystem::path& path) {
  CG_ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> store, SqliteStore::Open(path));
  return std::unique_ptr<Store>(std::move(store));
}

int SqliteSchemaVersion() { return kSchemaVersion; }

}  // namespace certgate::store
