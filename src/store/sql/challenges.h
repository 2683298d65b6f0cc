// ACME challenge answers and the DNS zone questions, shared by the SQL
// backends (store/sqlite, store/postgres). Each function runs on a
// connection its caller holds, inside the transaction the caller chose
// (Write or Read) or on a lease from its pool; S holds the backend's
// statements (struct ChallengeSql in its challenges.cc):
//   kPutHttp01 (token, key_authorization, job_id), kGetHttp01 (token),
//   kListHttp01: token and key_authorization rows, kDeleteHttp01 (token)
//   kPutDnsTxt (name, value, job_id), kListDnsTxt (name): value rows,
//   kDeleteDnsTxt (name, value)
//   kReservedBelow (low, high of NameKeyRange), kIsEdgeName (name, the
//   wildcard over it), kIsCnameTarget (name): a row if any
//   kReservedInZone (low, high), kAllCnameTargets: one name a row;
//   kAllDnsTxt: name and value rows
// S::kReadChangeSequence is the backend's ReadChangeSequence (its rows.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "store/name_key.h"
#include "store/records.h"
#include "store/sql/rows.h"
#include "store/zone_names.h"

namespace certgate::store::sql {

template <class S, class Conn>
Result<void> PutHttp01Challenge(Conn& conn, const Http01Challenge& challenge,
                                std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kPutHttp01, op);
  q.Text(1, challenge.token).Text(2, challenge.key_authorization).Text(3, challenge.job_id);
  return q.Run();
}

template <class S, class Conn>
Result<std::optional<std::string>> GetHttp01KeyAuthorization(Conn& conn, std::string_view token,
                                                             std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kGetHttp01, op);
  q.Text(1, token);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(q.ColumnText(0));
}

template <class S, class Conn>
Result<std::vector<std::pair<std::string, std::string>>> ListHttp01Challenges(
    Conn& conn, std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kListHttp01, op);
  std::vector<std::pair<std::string, std::string>> out;
  while (true) {
    CG_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return out;
    out.emplace_back(q.ColumnText(0), q.ColumnText(1));
  }
}

template <class S, class Conn>
Result<bool> DeleteHttp01Challenge(Conn& conn, std::string_view token, std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kDeleteHttp01, op);
  q.Text(1, token);
  CG_RETURN_IF_ERROR(q.Run());
  return q.Changes() > 0;
}

template <class S, class Conn>
Result<void> PutDnsTxtRecord(Conn& conn, std::string_view name, std::string_view value,
                             std::string_view job_id, std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kPutDnsTxt, op);
  q.Text(1, name).Text(2, value).Text(3, job_id);
  return q.Run();
}

template <class S, class Conn>
Result<std::vector<std::string>> ListDnsTxtRecords(Conn& conn, std::string_view name,
                                                   std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kListDnsTxt, op);
  q.Text(1, name);
  return ReadTextColumn(q);
}

template <class S, class Conn>
Result<bool> DeleteDnsTxtRecord(Conn& conn, std::string_view name, std::string_view value,
                                std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kDeleteDnsTxt, op);
  q.Text(1, name).Text(2, value);
  CG_RETURN_IF_ERROR(q.Run());
  return q.Changes() > 0;
}

template <class S, class Conn>
Result<bool> HasReservedNamesBelow(Conn& conn, std::string_view name, std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kReservedBelow, op);
  auto [low, high] = NameKeyRange(name);
  q.Text(1, low).Text(2, high);
  return q.Step();
}

template <class S, class Conn>
Result<bool> IsEdgeName(Conn& conn, std::string_view name, std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kIsEdgeName, op);
  // A reserved wildcard "*.x" covers the name one label below x.
  q.Text(1, name).Text(2, WildcardOver(name));
  return q.Step();
}

template <class S, class Conn>
Result<bool> IsCnameTarget(Conn& conn, std::string_view name, std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kIsCnameTarget, op);
  q.Text(1, name);
  return q.Step();
}

// Inside a read transaction, so that the sequence returned is the one the
// records visited are at.
template <class S, class Conn>
Result<int64_t> LoadZone(Conn& conn, std::string_view zone, const ZoneNames::ZoneVisitor& visit,
                         std::string_view op) {
  using Q = typename Conn::QueryType;
  using ZoneRecord = ZoneNames::ZoneRecord;
  CG_ASSIGN_OR_RETURN(const int64_t sequence, S::kReadChangeSequence(conn, op));
  auto each = [&](Q& q, ZoneRecord kind) -> Result<void> {
    while (true) {
      CG_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) return {};
      visit(kind, q.ColumnView(0), kind == ZoneRecord::kTxt ? q.ColumnView(1) : "");
    }
  };
  {
    Q q(conn, S::kReservedInZone, op);
    auto [low, high] = NameKeyRange(zone);
    q.Text(1, low).Text(2, high);
    CG_RETURN_IF_ERROR(each(q, ZoneRecord::kReserved));
  }
  {
    Q q(conn, S::kAllCnameTargets, op);
    CG_RETURN_IF_ERROR(each(q, ZoneRecord::kCnameTarget));
  }
  Q q(conn, S::kAllDnsTxt, op);
  CG_RETURN_IF_ERROR(each(q, ZoneRecord::kTxt));
  return sequence;
}

}  // namespace certgate::store::sql
