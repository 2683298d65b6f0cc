#include "store/postgres/filter_sql.h"

#include <fmt/format.h>

#include "store/postgres/connection.h"

namespace certgate::store::pg {
namespace {

// Whether PostgreSQL can take s as text: well-formed UTF-8 (RFC 3629: no
// overlong forms, no surrogates, nothing past U+10FFFF) without a NUL byte.
// The server rejects anything else in a text parameter, and libpq would cut
// a text parameter at its first NUL.
bool IsPgText(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b == 0) return false;
    if (b < 0x80) {
      ++i;
      continue;
    }
    size_t n = 0;
    unsigned char lo = 0x80;  // the allowed range of the second byte
    unsigned char hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      n = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      n = 3;
      if (b == 0xE0) lo = 0xA0;  // overlong
      if (b == 0xED) hi = 0x9F;  // surrogates
    } else if (b >= 0xF0 && b <= 0xF4) {
      n = 4;
      if (b == 0xF0) lo = 0x90;  // overlong
      if (b == 0xF4) hi = 0x8F;  // past U+10FFFF
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    const auto second = static_cast<unsigned char>(s[i + 1]);
    if (second < lo || second > hi) return false;
    for (size_t k = 2; k < n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if (c < 0x80 || c > 0xBF) return false;
    }
    i += n;
  }
  return true;
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out += kDigits[b >> 4];
    out += kDigits[b & 0x0F];
  }
  return out;
}

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
      case Filter::Kind::kConstant: s += f.constant ? "true" : "false"; return {};
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

  // A new parameter holding value, as an operand. Parameters have no declared
  // type, so each names its own: a bare $N beside another parameter or in a
  // function's argument could not be inferred. Strings compare in "C" order
  // (bytewise, as the columns do) whatever the column expression's collation.
  // In byte mode (see Test) a string goes as hex and is compared as bytea.
  std::string Param(const FilterValue& value, bool bytes) {
    const int n = next_++;
    if (const auto* s = std::get_if<std::string>(&value)) {
      if (bytes) {
        out_.params.emplace_back(Hex(*s));
        return fmt::format("decode(${}, 'hex')", n);
      }
      out_.params.push_back(value);
      return fmt::format("(${}::text COLLATE \"C\")", n);
    }
    out_.params.push_back(value);
    return fmt::format("${}::bigint", n);  // a time (unix seconds) or an integer
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
    // A string PostgreSQL cannot take as text (a NUL byte, or bytes that are
    // not UTF-8) puts the whole test in byte mode: both sides compare as
    // bytea (the column's UTF-8 bytes), which orders, matches and finds
    // substrings exactly as the in-memory rules do on bytes. Text mode is the
    // same on every other string, because stored text is valid UTF-8.
    bool bytes = false;
    for (const FilterValue& item : f.values) {
      const auto* s = std::get_if<std::string>(&item);
      if (s != nullptr && !IsPgText(*s)) bytes = true;
    }
    std::string col(column->sql);
    if (f.size) {
      // size(): a list's items; a string's code points (char_length: the
      // database's text is UTF-8).
      col = column->json_list ? fmt::format("json_array_length(({})::json)", col)
                              : fmt::format("char_length(({})::text)", col);
    }
    if (f.op == FilterOp::kHas) {
      if (!column->json_list || !std::holds_alternative<std::string>(v)) {
        return MakeError(ErrorCode::kInternal, "'in' over a field that is not a list");
      }
      out_.condition += fmt::format(
          "EXISTS (SELECT 1 FROM json_array_elements_text(({})::json) AS item(value)"
          " WHERE {} = {})",
          col, bytes ? "convert_to(item.value, 'UTF8')" : "item.value", Param(v, bytes));
      return {};
    }
    const bool null = std::holds_alternative<std::monostate>(v);
    const std::string is_null = fmt::format("({} IS NULL)", col);
    const std::string is_not_null = fmt::format("({} IS NOT NULL)", col);
    if (bytes) col = fmt::format("convert_to({}, 'UTF8')", col);
    std::string& s = out_.condition;
    // IS [NOT] DISTINCT FROM and IS [NOT] NULL compare NULL as a value: never
    // NULL themselves. Every other test is wrapped in COALESCE(..., false) so
    // that a NULL column makes it false, not NULL, and NOT stays two-valued.
    switch (f.op) {
      case FilterOp::kEq:
        s += null ? is_null
                  : fmt::format("({} IS NOT DISTINCT FROM {})", col, Param(v, bytes));
        return {};
      case FilterOp::kNe:
        s += null ? is_not_null
                  : fmt::format("({} IS DISTINCT FROM {})", col, Param(v, bytes));
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
          items += Param(item, bytes);
        }
        std::string in =
            items.empty() ? "false" : fmt::format("COALESCE({} IN ({}), false)", col, items);
        s += has_null ? fmt::format("({} OR {})", is_null, in) : fmt::format("({})", in);
        return {};
      }
      case FilterOp::kLt:
        s += fmt::format("COALESCE({} < {}, false)", col, Param(v, bytes));
        return {};
      case FilterOp::kLe:
        s += fmt::format("COALESCE({} <= {}, false)", col, Param(v, bytes));
        return {};
      case FilterOp::kGt:
        s += fmt::format("COALESCE({} > {}, false)", col, Param(v, bytes));
        return {};
      case FilterOp::kGe:
        s += fmt::format("COALESCE({} >= {}, false)", col, Param(v, bytes));
        return {};
      default: break;
    }
    // The string tests count characters on text and bytes on bytea: the same
    // answer on valid UTF-8 (no character's bytes start inside another's).
    // Unlike LIKE they have no wildcards. An empty argument is a prefix, a
    // suffix and a part of every string, but not of an absent value (NULL).
    if (!std::holds_alternative<std::string>(v)) {
      return MakeError(ErrorCode::kInternal, "a string function's argument is not a string");
    }
    const std::string p = Param(v, bytes);
    switch (f.op) {
      case FilterOp::kStartsWith:
        s += fmt::format("COALESCE(substring({} from 1 for length({})) = {}, false)", col, p, p);
        return {};
      case FilterOp::kEndsWith:
        // A start before the first character takes the whole value, which
        // then is shorter than p and differs from it.
        s += fmt::format("COALESCE(substring({} from length({}) - length({}) + 1) = {}, false)",
                         col, col, p, p);
        return {};
      case FilterOp::kContains:
        s += fmt::format("COALESCE(position({} in {}) > 0, false)", p, col);
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

}  // namespace certgate::store::pg
