// Service settings, shared by the SQL backends (store/sqlite,
// store/postgres). Each function runs on a connection its caller holds,
// inside the transaction the caller chose (Write) or on a lease from its
// pool; S holds the backend's statements (struct SettingSql in its
// settings.cc):
//   kGetSetting (name): value
//   kSetSetting (name, value): inserts or overwrites
//   kCreateSettingIfAbsent (name, value): inserts unless the name exists
//   kReplaceSetting (name, value, expected): overwrites if it holds expected
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace certgate::store::sql {

template <class S, class Conn>
Result<std::optional<std::string>> GetSetting(Conn& conn, std::string_view name,
                                              std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kGetSetting, op);
  q.Text(1, name);
  CG_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(q.ColumnText(0));
}

// Inside a write transaction.
template <class S, class Conn>
Result<void> SetSetting(Conn& conn, std::string_view name, std::string_view value,
                        std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, S::kSetSetting, op);
  q.Text(1, name).Text(2, value);
  return q.Run();
}

// Inside a write transaction.
template <class S, class Conn>
Result<bool> CompareAndSetSetting(Conn& conn, std::string_view name,
                                  const std::optional<std::string>& expected,
                                  std::string_view value, std::string_view op) {
  using Q = typename Conn::QueryType;
  Q q(conn, expected.has_value() ? S::kReplaceSetting : S::kCreateSettingIfAbsent, op);
  q.Text(1, name).Text(2, value);
  if (expected.has_value()) q.Text(3, *expected);
  CG_RETURN_IF_ERROR(q.Run());
  return q.Changes() == 1;
}

}  // namespace certgate::store::sql
