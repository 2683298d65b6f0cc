// ACME challenge answers, and the DNS zone questions in the SQLite backend.
#include "store/sqlite/sqlite_store_impl.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "store/name_key.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/statements.h"

namespace certgate::store::sqlite {
namespace {

constexpr char kPutHttp01[] =
    "INSERT INTO acme_http01_challenges (token, key_authorization, job_id) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (token) DO UPDATE SET key_authorization = excluded.key_authorization,"
    " job_id = excluded.job_id";
constexpr char kGetHttp01[] =
    "SELECT key_authorization FROM acme_http01_challenges WHERE token = ?1";
constexpr char kPutDnsTxt[] =
    "INSERT INTO acme_dns01_records (name, value, job_id) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (name, value) DO UPDATE SET job_id = excluded.job_id";
constexpr char kDeleteHttp01[] = "DELETE FROM acme_http01_challenges WHERE token = ?1";
constexpr char kListHttp01[] =
    "SELECT token, key_authorization FROM acme_http01_challenges ORDER BY token";
constexpr char kDeleteDnsTxt[] = "DELETE FROM acme_dns01_records WHERE name = ?1 AND value = ?2";
constexpr char kListDnsTxt[] = "SELECT value FROM acme_dns01_records WHERE name = ?1 ORDER BY value";
// Names strictly below a name: the name_key range (?1, ?2) of NameKeyRange.
constexpr char kReservedBelow[] =
    "SELECT 1 FROM reserved_domains WHERE name_key > ?1 AND name_key < ?2 LIMIT 1";
constexpr char kIsEdgeName[] =
    "SELECT 1 FROM reserved_domains WHERE cname_target = ?1 OR domain = ?1 OR domain = ?2 LIMIT 1";

constexpr char kIsCnameTarget[] = "SELECT 1 FROM reserved_domains WHERE cname_target = ?1";
// The zone's first load: the name_key range strictly below the zone, every
// cname_target (from its UNIQUE index, no row read), every TXT record.
constexpr char kReservedInZone[] =
    "SELECT domain FROM reserved_domains WHERE name_key > ?1 AND name_key < ?2";
constexpr char kAllCnameTargets[] =
    "SELECT cname_target FROM reserved_domains WHERE cname_target IS NOT NULL";
constexpr char kAllDnsTxt[] = "SELECT name, value FROM acme_dns01_records";

}  // namespace

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

Result<std::vector<std::pair<std::string, std::string>>> SqliteStore::ListHttp01Challenges() {
  constexpr std::string_view kOp = "listing HTTP-01 challenges";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kListHttp01, kOp);
  std::vector<std::pair<std::string, std::string>> out;
  while (true) {
    CG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    out.emplace_back(q.ColumnText(0), q.ColumnText(1));
  }
}

Result<bool> SqliteStore::DeleteHttp01Challenge(std::string_view token) {
  constexpr std::string_view kOp = "deleting an HTTP-01 challenge";
  return Write(kOp, [&](Connection& conn) -> Result<bool> {
    Query q(conn, kDeleteHttp01, kOp);
    q.Text(1, token);
    CG_RETURN_IF_ERROR(q.Run());
    return q.Changes() > 0;
  });
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

Result<bool> SqliteStore::DeleteDnsTxtRecord(std::string_view name, std::string_view value) {
  constexpr std::string_view kOp = "deleting a DNS-01 TXT record";
  return Write(kOp, [&](Connection& conn) -> Result<bool> {
    Query q(conn, kDeleteDnsTxt, kOp);
    q.Text(1, name).Text(2, value);
    CG_RETURN_IF_ERROR(q.Run());
    return q.Changes() > 0;
  });
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
  // A reserved wildcard "*.x" covers the name one label below x.
  q.Text(1, name).Text(2, WildcardOver(name));
  return q.Step();
}

Result<bool> SqliteStore::IsCnameTarget(std::string_view name) {
  constexpr std::string_view kOp = "looking up a cname_target";
  CG_ASSIGN_OR_RETURN(Lease lease, Acquire(kOp));
  Query q(lease.conn(), kIsCnameTarget, kOp);
  q.Text(1, name);
  return q.Step();
}

Result<int64_t> SqliteStore::LoadZone(std::string_view zone, const ZoneVisitor& visit) {
  constexpr std::string_view kOp = "loading the DNS zone";
  return Read(kOp, [&](Connection& conn) -> Result<int64_t> {
    CG_ASSIGN_OR_RETURN(const int64_t sequence, ReadChangeSequence(conn, kOp));
    auto each = [&](Query& q, ZoneRecord kind) -> Result<void> {
      while (true) {
        CG_ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) return {};
        visit(kind, q.ColumnView(0), kind == ZoneRecord::kTxt ? q.ColumnView(1) : "");
      }
    };
    {
      Query q(conn, kReservedInZone, kOp);
      auto [low, high] = NameKeyRange(zone);
      q.Text(1, low).Text(2, high);
      CG_RETURN_IF_ERROR(each(q, ZoneRecord::kReserved));
    }
    {
      Query q(conn, kAllCnameTargets, kOp);
      CG_RETURN_IF_ERROR(each(q, ZoneRecord::kCnameTarget));
    }
    Query q(conn, kAllDnsTxt, kOp);
    CG_RETURN_IF_ERROR(each(q, ZoneRecord::kTxt));
    return sequence;
  });
}

}  // namespace certgate::store::sqlite
