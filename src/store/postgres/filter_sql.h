// A list filter (store/list_filter.h) as a PostgreSQL condition: text with
// numbered parameters ($N), and the values to bind to them. The text is built
// only from this backend's column expressions and fixed operators; every
// value the user wrote is a bound parameter. Evaluates as the SQLite
// backend's filter_sql and the in-memory filter do (tests: the conformance
// suite's filter tests).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "store/list_filter.h"

namespace certgate::store::pg {

class Query;

// Where a filterable field lives: an SQL expression over the listed table's
// columns. Times are given as unix seconds (CG_PG_EPOCH(created_at)), as the
// filter's Time values are bound.
struct FilterColumn {
  std::string_view field;
  std::string_view sql;
  bool json_list = false;  // the column holds a JSON array of strings
};

struct FilterSql {
  std::string condition;  // always true or false, never NULL
  std::vector<FilterValue> params;
  int first_param = 1;    // the number of params[0]: "$<first_param>"
};

// kInternal when the filter names a field that columns does not map (the API
// checks fields against the same list, so that is a bug, not user input).
Result<FilterSql> FilterToSql(const Filter& filter, std::span<const FilterColumn> columns,
                              int first_param);

// Binds sql.params to their numbers.
void BindFilter(Query& q, const FilterSql& sql);

}  // namespace certgate::store::pg
