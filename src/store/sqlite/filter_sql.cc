#include "store/sqlite/filter_sql.h"

#include <fmt/format.h>

#include "store/sqlite/connection.h"

namespace certgate::store::sqlite {
namespace {

class Builder {
 public:
  Builder(std::span<const FilterColumn> columns, int first_param)
      : columns_(columns), next_(first_param) {
    out_.first_param = first_param;
  }

  Result<FilterSql> Build(const Filter& filter) {
    CG_RETURN_IF_ERROR(Append(filter));
    return std::move(out_);
  }

 private:
  Result<void> Append(const Filter& f) {
    std::string& s = out_.condition;
    switch (f.kind) {
      case Filter::Kind::kConstant: s += f.constant ? "1" : "0"; return {};
      case Filter::Kind::kAnd:
      case Filter::Kind::kOr:
        s += '(';
        CG_RETURN_IF_ERROR(Append(f.operands.at(0)));
        s += f.kind == Filter::Kind::kAnd ? " AND " : " OR ";
        CG_RETURN_IF_ERROR(Append(f.operands.at(1)));
        s += ')';
        return {};
      case Filter::Kind::kNot:
        s += "(NOT ";
        CG_RETURN_IF_ERROR(Append(f.operands.at(0)));
        s += ')';
        return {};
      case Filter::Kind::kTest: return Test(f);
    }
    return {};
  }

  // "?N" for a new parameter holding value.
  std::string Param(const FilterValue& value) {
    out_.params.push_back(value);
    return fmt::format("?{}", next_++);
  }

  Result<void> Test(const Filter& f) {
    const FilterColumn* column = nullptr;
    for (const FilterColumn& c : columns_) {
      if (c.field == f.field) column = &c;
    }
    if (column == nullptr) {
      return MakeError(ErrorCode::kInternal,
                       fmt::format("the filter names field {} that this list has no column for",
                                   f.field));
    }
    if (f.values.empty()) return MakeError(ErrorCode::kInternal, "a filter test has no value");
    const FilterValue& v = f.values.front();
    std::string col(column->sql);
    if (f.size) {
      // size(): a list's items; a string's code points (certgate_size, as
      // SQLite's length() stops at a NUL byte).
      col = column->json_list ? fmt::format("json_array_length({})", col)
                              : fmt::format("certgate_size({})", col);
    }
    if (f.op == FilterOp::kHas) {
      if (!column->json_list || !std::holds_alternative<std::string>(v)) {
        return MakeError(ErrorCode::kInternal, "'in' over a field that is not a list");
      }
      out_.condition += fmt::format(
          "EXISTS (SELECT 1 FROM json_each({}) WHERE json_each.value = {})", col, Param(v));
      return {};
    }
    const bool null = std::holds_alternative<std::monostate>(v);
    std::string& s = out_.condition;
    // IS and IS NOT compare NULL as a value: never NULL themselves. Every
    // other test is wrapped in COALESCE(..., 0) so that a NULL column makes
    // it false, not NULL, and NOT stays two-valued.
    switch (f.op) {
      case FilterOp::kEq:
        s += null ? fmt::format("({} IS NULL)", col) : fmt::format("({} IS {})", col, Param(v));
        return {};
      case FilterOp::kNe:
        s += null ? fmt::format("({} IS NOT NULL)", col)
                  : fmt::format("({} IS NOT {})", col, Param(v));
        return {};
      case FilterOp::kIn: {
        std::string items;
        bool has_null = false;
        for (const FilterValue& item : f.values) {
          if (std::holds_alternative<std::monostate>(item)) {
            has_null = true;
            continue;
          }
          if (!items.empty()) items += ", ";
          items += Param(item);
        }
        std::string in = items.empty() ? "0" : fmt::format("COALESCE({} IN ({}), 0)", col, items);
        s += has_null ? fmt::format("({} IS NULL OR {})", col, in) : fmt::format("({})", in);
        return {};
      }
      case FilterOp::kLt: s += fmt::format("COALESCE({} < {}, 0)", col, Param(v)); return {};
      case FilterOp::kLe: s += fmt::format("COALESCE({} <= {}, 0)", col, Param(v)); return {};
      case FilterOp::kGt: s += fmt::format("COALESCE({} > {}, 0)", col, Param(v)); return {};
      case FilterOp::kGe: s += fmt::format("COALESCE({} >= {}, 0)", col, Param(v)); return {};
      default: break;
    }
    // The string functions work on bytes (BLOBs), as the in-memory evaluation
    // does: SQLite's text functions count characters, which differ from bytes
    // when a value is not valid UTF-8. substr of an empty BLOB is NULL, not an
    // empty BLOB, so an empty argument is tested apart: every string starts
    // and ends with "", but an absent value (NULL) does not.
    if (!std::holds_alternative<std::string>(v)) {
      return MakeError(ErrorCode::kInternal, "a string function's argument is not a string");
    }
    const std::string p = Param(v);
    const std::string blob = fmt::format("CAST({} AS BLOB)", col);
    switch (f.op) {
      case FilterOp::kStartsWith:
        s += fmt::format(
            "COALESCE({} IS NOT NULL AND (length(CAST({} AS BLOB)) = 0 OR "
            "substr({}, 1, length(CAST({} AS BLOB))) = CAST({} AS BLOB)), 0)",
            col, p, blob, p, p);
        return {};
      case FilterOp::kEndsWith:
        s += fmt::format(
            "COALESCE({} IS NOT NULL AND (length(CAST({} AS BLOB)) = 0 OR "
            "substr({}, -length(CAST({} AS BLOB))) = CAST({} AS BLOB)), 0)",
            col, p, blob, p, p);
        return {};
      case FilterOp::kContains:
        s += fmt::format("COALESCE(instr({}, CAST({} AS BLOB)) > 0, 0)", blob, p);
        return {};
      default: return MakeError(ErrorCode::kInternal, "unknown filter operator");
    }
  }

  std::span<const FilterColumn> columns_;
  int next_;
  FilterSql out_;
};

}  // namespace

Result<FilterSql> FilterToSql(const Filter& filter, std::span<const FilterColumn> columns,
                              int first_param) {
  return Builder(columns, first_param).Build(filter);
}

void BindFilter(Query& q, const FilterSql& sql) {
  int n = sql.first_param;
  for (const FilterValue& v : sql.params) {
    if (const auto* s = std::get_if<std::string>(&v)) {
      q.Text(n, *s);
    } else if (const auto* t = std::get_if<Time>(&v)) {
      q.Int(n, ToUnixSeconds(*t));
    } else if (const auto* i = std::get_if<int64_t>(&v)) {
      q.Int(n, *i);
    } else {
      q.Null(n);
    }
    ++n;
  }
}

}  // namespace certgate::store::sqlite
