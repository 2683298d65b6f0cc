// ACME challenge answers, and the DNS zone questions in the PostgreSQL
// backend.
#include "store/postgres/pg_store_impl.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/postgres/rows.h"
#include "store/postgres/statements.h"
#include "store/sql/challenges.h"

namespace certgate::store::pg {
namespace {

// The statements of store/sql/challenges.h.
struct ChallengeSql {
  static constexpr const char* kPutHttp01 =
      "INSERT INTO acme_http01_challenges (token, key_authorization, job_id) VALUES ($1, $2, $3)"
      " ON CONFLICT (token) DO UPDATE SET key_authorization = excluded.key_authorization,"
      " job_id = excluded.job_id";
  static constexpr const char* kGetHttp01 =
      "SELECT key_authorization FROM acme_http01_challenges WHERE token = $1";
  static constexpr const char* kPutDnsTxt =
      "INSERT INTO acme_dns01_records (name, value, job_id) VALUES ($1, $2, $3)"
      " ON CONFLICT (name, value) DO UPDATE SET job_id = excluded.job_id";
  static constexpr const char* kDeleteHttp01 =
      "DELETE FROM acme_http01_challenges WHERE token = $1";
  static constexpr const char* kListHttp01 =
      "SELECT token, key_authorization FROM acme_http01_challenges ORDER BY token";
  static constexpr const char* kDeleteDnsTxt =
      "DELETE FROM acme_dns01_records WHERE name = $1 AND value = $2";
  static constexpr const char* kListDnsTxt =
      "SELECT value FROM acme_dns01_records WHERE name = $1 ORDER BY value";
  // Names strictly below a name: the name_key range ($1, $2) of NameKeyRange.
  // name_key is COLLATE "C", so the range holds the same keys as in SQLite.
  static constexpr const char* kReservedBelow =
      "SELECT 1 FROM reserved_domains WHERE name_key > $1 AND name_key < $2 LIMIT 1";
  static constexpr const char* kIsEdgeName =
      "SELECT 1 FROM reserved_domains"
      " WHERE cname_target = $1 OR domain = $1 OR domain = $2 LIMIT 1";
  static constexpr const char* kIsCnameTarget =
      "SELECT 1 FROM reserved_domains WHERE cname_target = $1";
  // The zone's first load: the name_key range strictly below the zone, every
  // cname_target (from its UNIQUE index), every TXT record.
  static constexpr const char* kReservedInZone =
      "SELECT domain FROM reserved_domains WHERE name_key > $1 AND name_key < $2";
  static constexpr const char* kAllCnameTargets =
      "SELECT cname_target FROM reserved_domains WHERE cname_target IS NOT NULL";
  static constexpr const char* kAllDnsTxt = "SELECT name, value FROM acme_dns01_records";
  static constexpr auto kReadChangeSequence = &pg::ReadChangeSequence;
};

}  // namespace

Result<void> PgStore::PutHttp01Challenge(const Http01Challenge& challenge) {
  constexpr std::string_view kOp = "storing an HTTP-01 challenge";
  return Write(kOp, [&](Connection& conn) {
    return sql::PutHttp01Challenge<ChallengeSql>(conn, challenge, kOp);
  });
}

Result<std::optional<std::string>> PgStore::GetHttp01KeyAuthorization(std::string_view token) {
  constexpr std::string_view kOp = "reading an HTTP-01 challenge";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::GetHttp01KeyAuthorization<ChallengeSql>(lease.conn(), token, kOp);
}

Result<std::vector<std::pair<std::string, std::string>>> PgStore::ListHttp01Challenges() {
  constexpr std::string_view kOp = "listing HTTP-01 challenges";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::ListHttp01Challenges<ChallengeSql>(lease.conn(), kOp);
}

Result<bool> PgStore::DeleteHttp01Challenge(std::string_view token) {
  constexpr std::string_view kOp = "deleting an HTTP-01 challenge";
  return Write(kOp, [&](Connection& conn) {
    return sql::DeleteHttp01Challenge<ChallengeSql>(conn, token, kOp);
  });
}

Result<void> PgStore::PutDnsTxtRecord(std::string_view name, std::string_view value,
                                      std::string_view job_id) {
  constexpr std::string_view kOp = "storing a DNS-01 TXT record";
  return Write(kOp, [&](Connection& conn) {
    return sql::PutDnsTxtRecord<ChallengeSql>(conn, name, value, job_id, kOp);
  });
}

Result<std::vector<std::string>> PgStore::ListDnsTxtRecords(std::string_view name) {
  constexpr std::string_view kOp = "reading DNS-01 TXT records";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::ListDnsTxtRecords<ChallengeSql>(lease.conn(), name, kOp);
}

Result<bool> PgStore::DeleteDnsTxtRecord(std::string_view name, std::string_view value) {
  constexpr std::string_view kOp = "deleting a DNS-01 TXT record";
  return Write(kOp, [&](Connection& conn) {
    return sql::DeleteDnsTxtRecord<ChallengeSql>(conn, name, value, kOp);
  });
}

Result<bool> PgStore::HasReservedNamesBelow(std::string_view name) {
  constexpr std::string_view kOp = "looking for reserved names below a name";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::HasReservedNamesBelow<ChallengeSql>(lease.conn(), name, kOp);
}

Result<bool> PgStore::IsEdgeName(std::string_view name) {
  constexpr std::string_view kOp = "looking up an edge name";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::IsEdgeName<ChallengeSql>(lease.conn(), name, kOp);
}

Result<bool> PgStore::IsCnameTarget(std::string_view name) {
  constexpr std::string_view kOp = "looking up a cname_target";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  return sql::IsCnameTarget<ChallengeSql>(lease.conn(), name, kOp);
}

Result<int64_t> PgStore::LoadZone(std::string_view zone, const ZoneVisitor& visit) {
  constexpr std::string_view kOp = "loading the DNS zone";
  return Read(kOp, [&](Connection& conn) {
    return sql::LoadZone<ChallengeSql>(conn, zone, visit, kOp);
  });
}

}  // namespace certgate::store::pg
