#include "store/sqlite/migrations.h"

#include <iterator>

#include <fmt/format.h>

#include "core/time.h"

namespace certgate::store::sqlite {
namespace {

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
    {6, R"sql(
-- Where a domain's name resolves (ngrok's resolves_to): PoP codes or
-- address:port values, one per line; '' is global, the default.
ALTER TABLE reserved_domains ADD COLUMN resolves_to TEXT NOT NULL DEFAULT '';
-- ngrok's endpoint fields. traffic_policy stays the normalized JSON the edge
-- compiles; traffic_policy_text is the policy as the API shows it (the
-- user's text, without a private key), which for rows from before was the
-- normalized JSON. Existing endpoints are cloud endpoints bound publicly,
-- not pooled, last updated when created.
ALTER TABLE endpoints ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
UPDATE endpoints SET updated_at = created_at;
ALTER TABLE endpoints ADD COLUMN traffic_policy_text TEXT NOT NULL DEFAULT '';
UPDATE endpoints SET traffic_policy_text = traffic_policy;
ALTER TABLE endpoints ADD COLUMN type TEXT NOT NULL DEFAULT 'cloud';
-- A JSON array of words (store::EncodeBindings).
ALTER TABLE endpoints ADD COLUMN bindings TEXT NOT NULL DEFAULT '["public"]';
ALTER TABLE endpoints ADD COLUMN pooling_enabled INTEGER NOT NULL DEFAULT 0
  CHECK (pooling_enabled IN (0, 1));
)sql"},
    {7, R"sql(
-- The leaf's summary (store::Certificate), so that lists filter on it in
-- their query; the API derives everything else from certificate_pem. Rows
-- from before have NULLs: the store cannot read certificates, so certgate
-- serve backfills them at start-up (CertificateStore::SetCertificateSummary),
-- and until then a filter sees them as absent. The three are set together.
ALTER TABLE tls_certificates ADD COLUMN subject_common_name TEXT;
ALTER TABLE tls_certificates ADD COLUMN serial_number TEXT CHECK (serial_number <> '');
ALTER TABLE tls_certificates ADD COLUMN not_before INTEGER
  CHECK ((not_before IS NULL) = (serial_number IS NULL)
         AND (subject_common_name IS NULL) = (serial_number IS NULL));
-- What the backfill looks for; empty once it has run.
CREATE INDEX tls_certificates_unsummarized ON tls_certificates (id)
  WHERE serial_number IS NULL;
)sql"},
    {8, R"sql(
-- The edge's change feed (store::EdgeFeed::ChangesSince): every write to what
-- the edge serves appends, in its own transaction, what it touched: a
-- certificate id, a domain name, an endpoint host, an HTTP-01 token or a TXT
-- record name. A reader re-reads those keys instead of everything. Triggers
-- write it, so no writer can forget. seq never goes back (AUTOINCREMENT);
-- the oldest entries are pruned beyond edge_change_log.retention, and a
-- reader that fell further behind reloads everything.
CREATE TABLE edge_changes (
  seq   INTEGER PRIMARY KEY AUTOINCREMENT,
  kind  TEXT NOT NULL
        CHECK (kind IN ('certificate', 'domain', 'endpoint', 'http01', 'txt')),
  key   TEXT NOT NULL
);
CREATE TABLE edge_change_log (
  id         INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
  retention  INTEGER NOT NULL CHECK (retention >= 1)
);
INSERT INTO edge_change_log (id, retention) VALUES (1, 100000);
CREATE TRIGGER edge_changes_pruned AFTER INSERT ON edge_changes
  BEGIN
    DELETE FROM edge_changes
      WHERE seq <= NEW.seq - (SELECT retention FROM edge_change_log WHERE id = 1);
  END;
-- The entry every reader starts after: the sequence as it stood.
INSERT INTO edge_changes (seq, kind, key)
  SELECT value, 'certificate', '' FROM change_sequence WHERE value > 0;

DROP TRIGGER tls_certificates_inserted;
DROP TRIGGER tls_certificates_updated;
DROP TRIGGER tls_certificates_deleted;
DROP TRIGGER reserved_domains_inserted;
DROP TRIGGER reserved_domains_updated;
DROP TRIGGER reserved_domains_deleted;
DROP TRIGGER endpoints_inserted;
DROP TRIGGER endpoints_updated;
DROP TRIGGER endpoints_deleted;
DROP TABLE change_sequence;

CREATE TRIGGER tls_certificates_inserted AFTER INSERT ON tls_certificates
  BEGIN INSERT INTO edge_changes (kind, key) VALUES ('certificate', NEW.id); END;
CREATE TRIGGER tls_certificates_updated AFTER UPDATE ON tls_certificates
  BEGIN INSERT INTO edge_changes (kind, key) VALUES ('certificate', NEW.id); END;
CREATE TRIGGER tls_certificates_deleted AFTER DELETE ON tls_certificates
  BEGIN INSERT INTO edge_changes (kind, key) VALUES ('certificate', OLD.id); END;
CREATE TRIGGER reserved_domains_inserted AFTER INSERT ON reserved_domains
  BEGIN INSERT INTO edge_changes (kind, key) VALUES ('domain', NEW.domain); END;
CREATE TRIGGER reserved_domains_updated AFTER UPDATE ON reserved_domains
  BEGIN
    INSERT INTO edge_changes (kind, key) SELECT 'domain', OLD.domain WHERE OLD.domain <> NEW.domain;
    INSERT INTO edge_changes (kind, key) VALUES ('domain', NEW.domain);
  END;
CREATE TRIGGER reserved_domains_deleted AFTER DELETE ON reserved_domains
  BEGIN INSERT INTO edge_changes (kind, key) VALUES ('domain', OLD.domain); END;
CREATE TRIGGER endpoints_inserted AFTER INSERT ON endpoints
  BEGIN INSERT INTO edge_changes (kind, key) VALUES ('endpoint', NEW.host); END;
CREATE TRIGGER endpoints_updated AFTER UPDATE ON endpoints
  BEGIN
    INSERT INTO edge_changes (kind, key) SELECT 'endpoint', OLD.host WHERE OLD.host <> NEW.host;
    INSERT INTO edge_changes (kind, key) VALUES ('endpoint', NEW.host);
  END;
CREATE TRIGGER endpoints_deleted AFTER DELETE ON endpoints
  BEGIN INSERT INTO edge_changes (kind, key) VALUES ('endpoint', OLD.host); END;
CREATE TRIGGER acme_http01_challenges_inserted AFTER INSERT ON acme_http01_challenges
  BEGIN INSERT INTO edge_changes (kind, key) VALUES ('http01', NEW.token); END;
CREATE TRIGGER acme_http01_challenges_updated AFTER UPDATE ON acme_http01_challenges
  BEGIN INSERT INTO edge_changes (kind, key) VALUES ('http01', NEW.token); END;
CREATE TRIGGER acme_http01_challenges_deleted AFTER DELETE ON acme_http01_challenges
  BEGIN INSERT INTO edge_changes (kind, key) VALUES ('http01', OLD.token); END;
CREATE TRIGGER acme_dns01_records_inserted AFTER INSERT ON acme_dns01_records
  BEGIN INSERT INTO edge_changes (kind, key) VALUES ('txt', NEW.name); END;
CREATE TRIGGER acme_dns01_records_updated AFTER UPDATE ON acme_dns01_records
  BEGIN INSERT INTO edge_changes (kind, key) VALUES ('txt', NEW.name); END;
CREATE TRIGGER acme_dns01_records_deleted AFTER DELETE ON acme_dns01_records
  BEGIN INSERT INTO edge_changes (kind, key) VALUES ('txt', OLD.name); END;
-- The edge re-reads an endpoint host's routes.
CREATE INDEX endpoints_by_host ON endpoints (host);

-- When a managed domain needs a provisioning job: at once (since it was
-- reserved) while it lacks a certificate of its policy's key type, else when
-- it renews; NULL without a policy. The scheduler's due scan is then one
-- range of this index (store::JobStore::ListDomainsNeedingCertificates).
ALTER TABLE reserved_domains ADD COLUMN needs_certificate_at INTEGER GENERATED ALWAYS AS (
  CASE WHEN policy_authority IS NULL THEN NULL
       WHEN certificate_id IS NULL OR issued_key_type IS NULL OR renews_at IS NULL
            OR issued_key_type <> policy_key_type THEN created_at
       ELSE renews_at END) VIRTUAL;
CREATE INDEX reserved_domains_needing_certificates
  ON reserved_domains (needs_certificate_at, id) WHERE needs_certificate_at IS NOT NULL;
)sql"},
    {9, R"sql(
-- The edge's first load reads every domain's name and certificate id: from
-- this index, a tenth of the table's bytes, instead of the whole rows.
CREATE INDEX reserved_domains_for_edge ON reserved_domains (domain, certificate_id);
)sql"},
    {10, R"sql(
-- The DNS zone follows the feed too (provision::ZoneCache): a domain's
-- cname_target is a name it answers, so a write that adds or removes one
-- appends a 'cname_target' entry. SQLite cannot change a CHECK, so the log is
-- rebuilt, and every trigger writing it is dropped first and made again (a
-- trigger naming a table that is briefly gone would stop the rename).
DROP TRIGGER tls_certificates_inserted;
DROP TRIGGER tls_certificates_updated;
DROP TRIGGER tls_certificates_deleted;
DROP TRIGGER reserved_domains_inserted;
DROP TRIGGER reserved_domains_updated;
DROP TRIGGER reserved_domains_deleted;
DROP TRIGGER endpoints_inserted;
DROP TRIGGER endpoints_updated;
DROP TRIGGER endpoints_deleted;
DROP TRIGGER acme_http01_challenges_inserted;
DROP TRIGGER acme_http01_challenges_updated;
DROP TRIGGER acme_http01_challenges_deleted;
DROP TRIGGER acme_dns01_records_inserted;
DROP TRIGGER acme_dns01_records_updated;
DROP TRIGGER acme_dns01_records_deleted;

CREATE TABLE edge_changes_v10 (
  seq   INTEGER PRIMARY KEY AUTOINCREMENT,
  kind  TEXT NOT NULL
        CHECK (kind IN ('certificate', 'domain', 'endpoint', 'http01', 'txt', 'cname_target')),
  key   TEXT NOT NULL
);
INSERT INTO edge_changes_v10 (seq, kind, key) SELECT seq, kind, key FROM edge_changes;
-- The copy carries the sequence on (AUTOINCREMENT starts after the largest
-- seq inserted, and the rename moves it): pruning always keeps the newest.
DROP TABLE edge_changes;
ALTER TABLE edge_changes_v10 RENAME TO edge_changes;
CREATE TRIGGER edge_changes_pruned AFTER INSERT ON edge_changes
  BEGIN
    DELETE FROM edge_changes
      WHERE seq <= NEW.seq - (SELECT retention FROM edge_change_log WHERE id = 1);
  END;

CREATE TRIGGER tls_certificates_inserted AFTER INSERT ON tls_certificates
  BEGIN INSERT INTO edge_changes (kind, key) VALUES ('certificate', NEW.id); END;
CREATE TRIGGER tls_certificates_updated AFTER UPDATE ON tls_certificates
  BEGIN INSERT INTO edge_changes (kind, key) VALUES ('certificate', NEW.id); END;
CREATE TRIGGER tls_certificates_deleted AFTER DELETE ON tls_certificates
  BEGIN INSERT INTO edge_changes (kind, key) VALUES ('certificate', OLD.id); END;
CREATE TRIGGER reserved_domains_inserted AFTER INSERT ON reserved_domains
  BEGIN
    INSERT INTO edge_changes (kind, key) VALUES ('domain', NEW.domain);
    INSERT INTO edge_changes (kind, key)
      SELECT 'cname_target', NEW.cname_target WHERE NEW.cname_target IS NOT NULL;
  END;
CREATE TRIGGER reserved_domains_updated AFTER UPDATE ON reserved_domains
  BEGIN
    INSERT INTO edge_changes (kind, key) SELECT 'domain', OLD.domain WHERE OLD.domain <> NEW.domain;
    INSERT INTO edge_changes (kind, key) VALUES ('domain', NEW.domain);
    INSERT INTO edge_changes (kind, key)
      SELECT 'cname_target', OLD.cname_target
        WHERE OLD.cname_target IS NOT NULL AND OLD.cname_target IS NOT NEW.cname_target;
    INSERT INTO edge_changes (kind, key)
      SELECT 'cname_target', NEW.cname_target
        WHERE NEW.cname_target IS NOT NULL AND OLD.cname_target IS NOT NEW.cname_target;
  END;
CREATE TRIGGER reserved_domains_deleted AFTER DELETE ON reserved_domains
  BEGIN
    INSERT INTO edge_changes (kind, key) VALUES ('domain', OLD.domain);
    INSERT INTO edge_changes (kind, key)
      SELECT 'cname_target', OLD.cname_target WHERE OLD.cname_target IS NOT NULL;
  END;
CREATE TRIGGER endpoints_inserted AFTER INSERT ON endpoints
  BEGIN INSERT INTO edge_changes (kind, key) VALUES ('endpoint', NEW.host); END;
CREATE TRIGGER endpoints_updated AFTER UPDATE ON endpoints
  BEGIN
    INSERT INTO edge_changes (kind, key) SELECT 'endpoint', OLD.host WHERE OLD.host <> NEW.host;
    INSERT INTO edge_changes (kind, key) VALUES ('endpoint', NEW.host);
  END;
CREATE TRIGGER endpoints_deleted AFTER DELETE ON endpoints
  BEGIN INSERT INTO edge_changes (kind, key) VALUES ('endpoint', OLD.host); END;
CREATE TRIGGER acme_http01_challenges_inserted AFTER INSERT ON acme_http01_challenges
  BEGIN INSERT INTO edge_changes (kind, key) VALUES ('http01', NEW.token); END;
CREATE TRIGGER acme_http01_challenges_updated AFTER UPDATE ON acme_http01_challenges
  BEGIN INSERT INTO edge_changes (kind, key) VALUES ('http01', NEW.token); END;
CREATE TRIGGER acme_http01_challenges_deleted AFTER DELETE ON acme_http01_challenges
  BEGIN INSERT INTO edge_changes (kind, key) VALUES ('http01', OLD.token); END;
CREATE TRIGGER acme_dns01_records_inserted AFTER INSERT ON acme_dns01_records
  BEGIN INSERT INTO edge_changes (kind, key) VALUES ('txt', NEW.name); END;
CREATE TRIGGER acme_dns01_records_updated AFTER UPDATE ON acme_dns01_records
  BEGIN INSERT INTO edge_changes (kind, key) VALUES ('txt', NEW.name); END;
CREATE TRIGGER acme_dns01_records_deleted AFTER DELETE ON acme_dns01_records
  BEGIN INSERT INTO edge_changes (kind, key) VALUES ('txt', OLD.name); END;
-- The zone's first load reads every cname_target from its own index
-- (sqlite_autoindex, UNIQUE), and the TXT records by name.
)sql"},
    {11, R"sql(
-- The alert outbox (store/notification_store.h): one row per event and
-- webhook, kept after delivery so that an event seen again is not sent again.
CREATE TABLE notifications (
  id               TEXT PRIMARY KEY NOT NULL,
  recipient        TEXT NOT NULL,
  event_key        TEXT NOT NULL,
  event_type       TEXT NOT NULL,
  subject_id       TEXT NOT NULL DEFAULT '',  -- an expiring certificate's id
  body             TEXT NOT NULL,
  created_at       INTEGER NOT NULL,
  next_attempt_at  INTEGER NOT NULL,
  attempts         INTEGER NOT NULL DEFAULT 0,
  last_error       TEXT NOT NULL DEFAULT '',
  delivered_at     INTEGER,
  abandoned_at     INTEGER,  -- given up on
  lease_until      INTEGER,
  lease_owner      TEXT NOT NULL DEFAULT '',
  lease_token      INTEGER NOT NULL DEFAULT 0,
  UNIQUE (recipient, event_key)
);
CREATE INDEX notifications_undelivered ON notifications (next_attempt_at)
  WHERE delivered_at IS NULL AND abandoned_at IS NULL;
)sql"},
};

constexpr char kCreateMigrations[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY NOT NULL, applied_at INTEGER NOT NULL)";
constexpr char kMaxMigration[] = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";
constexpr char kRecordMigration[] =
    "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)";

}  // namespace

std::span<const Migration> Migrations() { return kMigrations; }

int SchemaVersion() { return std::end(kMigrations)[-1].version; }

Result<void> Migrate(Connection& conn, std::string_view path) {
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
  if (current > SchemaVersion()) {
    return MakeError(ErrorCode::kStoreSchemaTooNew,
                     fmt::format("database {} has schema version {}, newer than the {} this "
                                 "certgate knows; run a newer certgate",
                                 path, current, SchemaVersion()));
  }
  for (const Migration& m : Migrations()) {
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

}  // namespace certgate::store::sqlite
