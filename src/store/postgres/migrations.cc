#include "store/postgres/migrations.h"

#include <iterator>

#include <fmt/format.h>

namespace certgate::store::pg {
namespace {

// Append only: a migration that has shipped is never edited; change the
// schema with the next number. Each runs in its own transaction, under the
// migration lock. The first is the SQLite backend's schema after its tenth
// migration, in PostgreSQL's types: every text column compares bytewise
// (COLLATE "C", as SQLite does), so ids page and name keys range the same
// on both backends whatever the database's locale; times are timestamptz.
constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE accounts (
  id          text COLLATE "C" PRIMARY KEY,
  name        text COLLATE "C" NOT NULL,
  plan        text COLLATE "C" NOT NULL CHECK (plan IN ('free', 'payg')),
  created_at  timestamptz NOT NULL
);

CREATE TABLE api_keys (
  id           text COLLATE "C" PRIMARY KEY,
  account_id   text COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  description  text COLLATE "C" NOT NULL,
  token_hash   text COLLATE "C" UNIQUE NOT NULL,  -- SHA-256 of the token; never the token
  created_at   timestamptz NOT NULL
);
CREATE INDEX api_keys_by_account ON api_keys (account_id);

CREATE TABLE settings (
  name   text COLLATE "C" PRIMARY KEY,
  value  text COLLATE "C" NOT NULL
);

CREATE TABLE tls_certificates (
  id                   text COLLATE "C" PRIMARY KEY,
  account_id           text COLLATE "C",  -- NULL: the service's own certificate
  created_at           timestamptz NOT NULL,
  description          text COLLATE "C" NOT NULL,
  metadata             text COLLATE "C" NOT NULL,
  certificate_pem      text COLLATE "C" NOT NULL,
  issued_at            timestamptz,  -- NULL unless issued automatically
  not_after            timestamptz NOT NULL,
  key_version          bigint NOT NULL CHECK (key_version BETWEEN 0 AND 4294967295),
  sealed_key           bytea NOT NULL,
  -- Set for a certificate a terminate-tls action brought (see the SQLite
  -- schema's migration 2 for why this refers to nothing).
  owner_endpoint_id    text COLLATE "C",
  -- The leaf's summary; NULL only for a row a tool wrote without it.
  subject_common_name  text COLLATE "C",
  serial_number        text COLLATE "C" CHECK (serial_number <> ''),
  not_before           timestamptz,
  CHECK ((not_before IS NULL) = (serial_number IS NULL)
         AND (subject_common_name IS NULL) = (serial_number IS NULL))
);
CREATE INDEX tls_certificates_by_account ON tls_certificates (account_id, id);
CREATE INDEX tls_certificates_by_owner ON tls_certificates (owner_endpoint_id)
  WHERE owner_endpoint_id IS NOT NULL;
CREATE INDEX tls_certificates_unsummarized ON tls_certificates (id)
  WHERE serial_number IS NULL;

CREATE TABLE reserved_domains (
  id                           text COLLATE "C" PRIMARY KEY,
  account_id                   text COLLATE "C" NOT NULL,
  created_at                   timestamptz NOT NULL,
  description                  text COLLATE "C" NOT NULL,
  metadata                     text COLLATE "C" NOT NULL,
  domain                       text COLLATE "C" UNIQUE NOT NULL,  -- once across all accounts
  -- No cascade: DeleteCertificate reports kInUse before this would fire.
  certificate_id               text COLLATE "C" REFERENCES tls_certificates (id),
  policy_authority             text COLLATE "C",  -- NULL: no certificate management policy
  policy_key_type              text COLLATE "C",
  cname_target                 text COLLATE "C" UNIQUE,
  acme_challenge_cname_target  text COLLATE "C" UNIQUE,
  renews_at                    timestamptz,
  issued_key_type              text COLLATE "C",
  -- The domain's labels last to first, each ended by '.': every name below
  -- a domain is one range (store/name_key.h). '' for a row a tool wrote.
  name_key                     text COLLATE "C" NOT NULL DEFAULT '',
  resolves_to                  text COLLATE "C" NOT NULL DEFAULT '',  -- one value per line
  -- When a managed domain needs a provisioning job (the scheduler's due
  -- scan is one range of its index); NULL without a policy.
  needs_certificate_at         timestamptz GENERATED ALWAYS AS (
    CASE WHEN policy_authority IS NULL THEN NULL
         WHEN certificate_id IS NULL OR issued_key_type IS NULL OR renews_at IS NULL
              OR issued_key_type <> policy_key_type THEN created_at
         ELSE renews_at END) STORED,
  CHECK ((policy_authority IS NULL) = (policy_key_type IS NULL))
);
CREATE INDEX reserved_domains_by_account ON reserved_domains (account_id, id);
CREATE INDEX reserved_domains_by_certificate ON reserved_domains (certificate_id);
CREATE INDEX reserved_domains_by_name_key ON reserved_domains (name_key, account_id);
CREATE INDEX reserved_domains_needing_certificates
  ON reserved_domains (needs_certificate_at, id) WHERE needs_certificate_at IS NOT NULL;

CREATE TABLE endpoints (
  id                     text COLLATE "C" PRIMARY KEY,
  account_id             text COLLATE "C" NOT NULL,
  created_at             timestamptz NOT NULL,
  updated_at             timestamptz NOT NULL,
  description            text COLLATE "C" NOT NULL,
  metadata               text COLLATE "C" NOT NULL,
  url                    text COLLATE "C" UNIQUE NOT NULL,  -- once across all accounts
  scheme                 text COLLATE "C" NOT NULL,
  host                   text COLLATE "C" NOT NULL,
  port                   integer NOT NULL CHECK (port BETWEEN 0 AND 65535),
  upstream               text COLLATE "C" NOT NULL,
  traffic_policy         text COLLATE "C" NOT NULL,
  traffic_policy_text    text COLLATE "C" NOT NULL DEFAULT '',
  type                   text COLLATE "C" NOT NULL DEFAULT 'cloud',
  bindings               text COLLATE "C" NOT NULL DEFAULT '["public"]',  -- store::EncodeBindings
  pooling_enabled        boolean NOT NULL DEFAULT false,
  -- No cascade: DeleteDomain reports kInUse before this would fire.
  domain_id              text COLLATE "C" NOT NULL REFERENCES reserved_domains (id),
  policy_certificate_id  text COLLATE "C" REFERENCES tls_certificates (id)
);
CREATE INDEX endpoints_by_account ON endpoints (account_id, id);
CREATE INDEX endpoints_by_domain ON endpoints (domain_id);
CREATE INDEX endpoints_by_policy_certificate ON endpoints (policy_certificate_id);
CREATE INDEX endpoints_by_host ON endpoints (host);

CREATE TABLE acme_accounts (
  id             text COLLATE "C" PRIMARY KEY,
  directory_url  text COLLATE "C" UNIQUE NOT NULL,
  account_url    text COLLATE "C" NOT NULL,
  key_version    bigint NOT NULL CHECK (key_version BETWEEN 0 AND 4294967295),
  sealed_key     bytea NOT NULL,
  created_at     timestamptz NOT NULL
);

CREATE TABLE provisioning_jobs (
  id           text COLLATE "C" PRIMARY KEY,
  domain_id    text COLLATE "C" UNIQUE NOT NULL
               REFERENCES reserved_domains (id) ON DELETE CASCADE,
  account_id   text COLLATE "C" NOT NULL,
  domain       text COLLATE "C" NOT NULL,
  key_type     text COLLATE "C" NOT NULL CHECK (key_type IN ('ecdsa', 'rsa')),
  renewal      boolean NOT NULL,
  started_at   timestamptz NOT NULL,
  msg          text COLLATE "C" NOT NULL,
  error_code   text COLLATE "C",
  retries_at   timestamptz,
  next_run_at  timestamptz NOT NULL,
  failures     integer NOT NULL,
  order_url    text COLLATE "C" NOT NULL,
  key_version  bigint CHECK (key_version BETWEEN 0 AND 4294967295),  -- the certificate's key
  sealed_key   bytea,
  lease_until  timestamptz,  -- a runner holds the job until then
  lease_owner  text COLLATE "C" NOT NULL DEFAULT '',
  lease_token  bigint NOT NULL DEFAULT 0,
  CHECK ((key_version IS NULL) = (sealed_key IS NULL))
);
CREATE INDEX provisioning_jobs_due ON provisioning_jobs (next_run_at);

CREATE TABLE acme_http01_challenges (
  token              text COLLATE "C" PRIMARY KEY,
  key_authorization  text COLLATE "C" NOT NULL,
  job_id             text COLLATE "C" NOT NULL
                     REFERENCES provisioning_jobs (id) ON DELETE CASCADE
);
CREATE INDEX acme_http01_challenges_by_job ON acme_http01_challenges (job_id);

CREATE TABLE acme_dns01_records (
  name    text COLLATE "C" NOT NULL,
  value   text COLLATE "C" NOT NULL,
  job_id  text COLLATE "C" NOT NULL REFERENCES provisioning_jobs (id) ON DELETE CASCADE,
  PRIMARY KEY (name, value)
);
CREATE INDEX acme_dns01_records_by_job ON acme_dns01_records (job_id);

-- The edge's change feed (store::EdgeFeed::ChangesSince): every write to
-- what the edge serves appends what it touched, in its own transaction.
-- Each writer first locks the one row of edge_change_log and holds it until
-- commit, then numbers its entry one past the newest: sequences are given
-- out in commit order, without gaps, and a reader polling seq > last skips
-- nothing. (Locking a row this transaction already locked makes no new row
-- version, so a bulk write of a million rows stays linear; updating a
-- counter row per entry would not.) last_seq is where numbering starts on
-- an empty log. Only the newest `retention` entries count (ChangesSince
-- treats older ones as gone, and a reader that fell further behind reloads
-- everything); they are deleted a window at a time every 1024 entries, and
-- whatever that left when the retention changed, when a store opens. Each
-- change NOTIFYs certgate_changes (delivered once per transaction, after
-- commit) so that other nodes catch up.
CREATE TABLE edge_changes (
  seq   bigint PRIMARY KEY,
  kind  text COLLATE "C" NOT NULL
        CHECK (kind IN ('certificate', 'domain', 'endpoint', 'http01', 'txt', 'cname_target')),
  key   text COLLATE "C" NOT NULL
);
CREATE TABLE edge_change_log (
  id         integer PRIMARY KEY CHECK (id = 1),
  last_seq   bigint NOT NULL,
  retention  bigint NOT NULL CHECK (retention >= 1)
);
INSERT INTO edge_change_log (id, last_seq, retention) VALUES (1, 0, 100000);

CREATE FUNCTION certgate_edge_change(p_kind text, p_key text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  s bigint;
  r bigint;
  base bigint;
BEGIN
  SELECT retention, last_seq INTO r, base FROM edge_change_log WHERE id = 1 FOR UPDATE;
  SELECT COALESCE(MAX(seq), base) + 1 INTO s FROM edge_changes;
  INSERT INTO edge_changes (seq, kind, key) VALUES (s, p_kind, p_key);
  IF s % 1024 = 0 THEN
    DELETE FROM edge_changes WHERE seq > s - r - 2048 AND seq <= s - r;
  END IF;
  PERFORM pg_notify('certgate_changes', '');
END $$;

-- Tables whose change is one key that an update leaves as it is: the
-- certificates (id), the HTTP-01 answers (token), the TXT records (name).
-- TG_ARGV: the entry's kind, and the column that holds its key.
CREATE FUNCTION certgate_key_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM certgate_edge_change(TG_ARGV[0], to_jsonb(OLD) ->> TG_ARGV[1]);
  ELSE
    PERFORM certgate_edge_change(TG_ARGV[0], to_jsonb(NEW) ->> TG_ARGV[1]);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER tls_certificates_changed AFTER INSERT OR UPDATE OR DELETE ON tls_certificates
  FOR EACH ROW EXECUTE FUNCTION certgate_key_changed('certificate', 'id');
CREATE TRIGGER acme_http01_challenges_changed
  AFTER INSERT OR UPDATE OR DELETE ON acme_http01_challenges
  FOR EACH ROW EXECUTE FUNCTION certgate_key_changed('http01', 'token');
CREATE TRIGGER acme_dns01_records_changed
  AFTER INSERT OR UPDATE OR DELETE ON acme_dns01_records
  FOR EACH ROW EXECUTE FUNCTION certgate_key_changed('txt', 'name');

-- A domain's cname_target is a name the DNS zone answers: gaining or losing
-- one is a 'cname_target' entry.
CREATE FUNCTION certgate_reserved_domains_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM certgate_edge_change('domain', NEW.domain);
    IF NEW.cname_target IS NOT NULL THEN
      PERFORM certgate_edge_change('cname_target', NEW.cname_target);
    END IF;
  ELSIF TG_OP = 'UPDATE' THEN
    IF OLD.domain <> NEW.domain THEN
      PERFORM certgate_edge_change('domain', OLD.domain);
    END IF;
    PERFORM certgate_edge_change('domain', NEW.domain);
    IF OLD.cname_target IS NOT NULL AND OLD.cname_target IS DISTINCT FROM NEW.cname_target THEN
      PERFORM certgate_edge_change('cname_target', OLD.cname_target);
    END IF;
    IF NEW.cname_target IS NOT NULL AND OLD.cname_target IS DISTINCT FROM NEW.cname_target THEN
      PERFORM certgate_edge_change('cname_target', NEW.cname_target);
    END IF;
  ELSE
    PERFORM certgate_edge_change('domain', OLD.domain);
    IF OLD.cname_target IS NOT NULL THEN
      PERFORM certgate_edge_change('cname_target', OLD.cname_target);
    END IF;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER reserved_domains_changed AFTER INSERT OR UPDATE OR DELETE ON reserved_domains
  FOR EACH ROW EXECUTE FUNCTION certgate_reserved_domains_changed();

CREATE FUNCTION certgate_endpoints_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM certgate_edge_change('endpoint', NEW.host);
  ELSIF TG_OP = 'UPDATE' THEN
    IF OLD.host <> NEW.host THEN
      PERFORM certgate_edge_change('endpoint', OLD.host);
    END IF;
    PERFORM certgate_edge_change('endpoint', NEW.host);
  ELSE
    PERFORM certgate_edge_change('endpoint', OLD.host);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER endpoints_changed AFTER INSERT OR UPDATE OR DELETE ON endpoints
  FOR EACH ROW EXECUTE FUNCTION certgate_endpoints_changed();
)sql"},
    {2, R"sql(
-- The alert outbox (store/notification_store.h): one row per event and
-- webhook, kept after delivery so that an event seen again is not sent again.
CREATE TABLE notifications (
  id               text COLLATE "C" PRIMARY KEY,
  recipient        text COLLATE "C" NOT NULL,
  event_key        text COLLATE "C" NOT NULL,
  event_type       text COLLATE "C" NOT NULL,
  subject_id       text COLLATE "C" NOT NULL DEFAULT '',  -- an expiring certificate's id
  body             text NOT NULL,
  created_at       timestamptz NOT NULL,
  next_attempt_at  timestamptz NOT NULL,
  attempts         integer NOT NULL DEFAULT 0,
  last_error       text NOT NULL DEFAULT '',
  delivered_at     timestamptz,
  abandoned_at     timestamptz,  -- given up on
  lease_until      timestamptz,
  lease_owner      text COLLATE "C" NOT NULL DEFAULT '',
  lease_token      bigint NOT NULL DEFAULT 0,
  UNIQUE (recipient, event_key)
);
CREATE INDEX notifications_undelivered ON notifications (next_attempt_at)
  WHERE delivered_at IS NULL AND abandoned_at IS NULL;
)sql"},
};

constexpr char kCreateMigrations[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY, applied_at timestamptz NOT NULL)";
constexpr char kMaxMigration[] = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";
constexpr char kRecordMigration[] =
    "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())";
constexpr char kTakeMigrationLock[] = "SELECT pg_advisory_xact_lock($1)";

}  // namespace

std::span<const Migration> Migrations() { return kMigrations; }

int SchemaVersion() { return std::end(kMigrations)[-1].version; }

Result<void> Migrate(Connection& conn) {
  constexpr std::string_view kOp = "migrating the schema";
  // One transaction for all: PostgreSQL's DDL is transactional, and the
  // lock makes a node started beside another wait, then find it done.
  CG_RETURN_IF_ERROR(conn.Exec(kBeginWrite, kOp));
  auto body = [&]() -> Result<void> {
    {
      Query lock(conn, kTakeMigrationLock, kOp);
      CG_RETURN_IF_ERROR(lock.Int(1, kMigrationLock).Run());
    }
    CG_RETURN_IF_ERROR(conn.Exec(kCreateMigrations, kOp));
    Query max(conn, kMaxMigration, kOp);
    CG_ASSIGN_OR_RETURN(bool row, max.Step());
    const int64_t current = row ? max.ColumnInt(0) : 0;
    if (current > SchemaVersion()) {
      return MakeError(ErrorCode::kStoreSchemaTooNew,
                       fmt::format("the PostgreSQL database has schema version {}, newer than the "
                                   "{} this certgate knows; run a newer certgate",
                                   current, SchemaVersion()));
    }
    for (const Migration& m : Migrations()) {
      if (m.version <= current) continue;
      if (auto applied = conn.Exec(m.sql, kOp); !applied) {
        Error error = std::move(applied).error();
        error.message = fmt::format("applying schema migration {}: {}", m.version, error.message);
        return error;
      }
      Query record(conn, kRecordMigration, kOp);
      CG_RETURN_IF_ERROR(record.Int(1, m.version).Run());
    }
    return {};
  };
  auto result = body();
  if (result.ok()) result = conn.Exec(kCommit, kOp);
  if (!result.ok()) conn.Rollback();
  return result;
}

}  // namespace certgate::store::pg
