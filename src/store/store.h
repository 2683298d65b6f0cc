// The store: certgate's durable state, so that SQLite (the embedded default)
// and PostgreSQL (clusters) are interchangeable. Store is the union of the
// role interfaces (account_store.h, certificate_store.h, ...): a backend
// implements them all; a consumer takes only the roles it uses.
// Optional capabilities are not part of the union: a backend that has one
// implements its small interface besides Store, and a caller asks for it
// (AsNameOwnershipAudit) and says what it cannot do when it is absent.
//
// Contracts for every backend:
// - Implementations are thread-safe: any method may be called from any thread
//   concurrently.
// - Every write is one transaction: after a crash at any instant a record is
//   either wholly present or absent, and a call that returned success is
//   durable.
// - "Not found" is a value (std::optional / false), not an error. Records of
//   another account are not found, exactly like ids that never existed.
// - The store sees sealed key blobs only, never plaintext keys.
#pragma once

#include <memory>
#include <string_view>

#include "core/result.h"
#include "store/account_store.h"
#include "store/acme_account_store.h"
#include "store/certificate_store.h"
#include "store/challenge_store.h"
#include "store/domain_store.h"
#include "store/edge_feed.h"
#include "store/endpoint_store.h"
#include "store/job_store.h"
#include "store/name_ownership_audit.h"
#include "store/notification_store.h"
#include "store/records.h"
#include "store/sealed_key_store.h"
#include "store/setting_store.h"
#include "store/zone_names.h"

namespace certgate::store {

class Store : public AccountStore,
              public CertificateStore,
              public DomainStore,
              public EndpointStore,
              public EdgeFeed,
              public SealedKeyStore,
              public AcmeAccountStore,
              public JobStore,
              public ChallengeStore,
              public ZoneNames,
              public SettingStore,
              public NotificationStore {
 public:
  ~Store() override = default;
};

// The store's name ownership audit (name_ownership_audit.h), or nullptr if
// its backend has none. Borrowed: valid while store is. Like a Go interface
// assertion (CertMagic's TryLocker), so a wrapper around a Store hides the
// capability unless it implements it too.
NameOwnershipAudit* AsNameOwnershipAudit(Store& store);

// Opens the store a --store URL names, migrating its schema:
//   "sqlite:/path/to/certgate.db" or "sqlite:relative/path.db" (SQLite);
//   "postgresql://user@host:5432/dbname?sslmode=verify-full", "postgres://..."
//   or libpq's key=value form "host=/run/postgresql dbname=certgate"
//   (PostgreSQL, for a cluster; store/postgres/pg_store.h).
Result<std::unique_ptr<Store>> OpenStore(std::string_view url);

}  // namespace certgate::store
