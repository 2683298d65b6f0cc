// A list filter: a condition over a resource's fields, from the API's `filter`
// query parameter (ngrok's CEL subset, parsed by api/list_filter_parser.h).
// Every backend evaluates it inside its list query, so that a page of a
// filtered list is a page of the matching records: before_id and limit apply
// to the matches. A backend never pastes a value into query text.
//
// Semantics, for every backend alike:
// - A test is always true or false: an absent optional value (a domain
//   without a certificate) equals only null, differs from every value, and is
//   neither less nor greater than anything.
// - Strings compare by their bytes (UTF-8 code point order); times by instant.
// - kStartsWith, kEndsWith, kContains take one string; kIn any number of
//   values and is true when the field equals one of them; kHas one string,
//   true when the list field holds it ("public" in obj.bindings).
// - A test with `size` set compares the field's size instead of the field:
//   a string's length in code points, a list's length (CEL's size()).
// - Booleans are integers 0 and 1.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/time.h"
#include "store/records.h"

namespace certgate::store {

enum class FilterFieldType { kString, kTime, kInteger, kBool, kStringList };

// A field a resource can be filtered on, as the API names it after "obj.".
struct FilterField {
  std::string_view name;  // "domain", "certificate.id", "created_at"
  FilterFieldType type = FilterFieldType::kString;
  bool nullable = false;  // may be compared with null
};

// The filterable fields of each listed resource.
std::span<const FilterField> CertificateFilterFields();
std::span<const FilterField> DomainFilterFields();
std::span<const FilterField> EndpointFilterFields();

// A literal a field is compared with; monostate is null.
using FilterValue = std::variant<std::monostate, std::string, Time, int64_t>;

enum class FilterOp {
  kEq, kNe, kLt, kLe, kGt, kGe, kIn, kStartsWith, kEndsWith, kContains, kHas
};

struct Filter {
  enum class Kind { kAnd, kOr, kNot, kTest, kConstant };
  Kind kind = Kind::kConstant;
  bool constant = true;           // kConstant: `true`, `false`
  std::vector<Filter> operands;   // kAnd, kOr: two; kNot: one
  std::string field;              // kTest: a FilterField's name
  FilterOp op = FilterOp::kEq;    // kTest
  bool size = false;              // kTest: compare size(field), an integer
  std::vector<FilterValue> values;  // kTest: one, or any number for kIn
};

// The value each record holds for a field, for backends that evaluate in
// memory; nullopt for an absent optional value.
using FieldValue =
    std::optional<std::variant<std::string, Time, int64_t, std::vector<std::string>>>;

// One page of a newest-first list: the records older than before_id (all when
// unset) that pass filter (all when unset), at most limit of them.
struct ListQuery {
  std::optional<std::string> before_id;
  int limit = 100;
  std::optional<Filter> filter;
};

// A record's value for one of its resource's filterable fields, for backends
// that filter in memory. nullopt for an absent optional value and for a name
// that is not one of the resource's fields.
FieldValue FieldOf(const Certificate& cert, std::string_view field);
FieldValue FieldOf(const Domain& domain, std::string_view field);
FieldValue FieldOf(const Endpoint& endpoint, std::string_view field);

// True when record passes filter (no filter passes everything).
template <class Record>
bool RecordMatches(const std::optional<Filter>& filter, const Record& record);

// Evaluates filter over a record, given how to read each field by name.
// Shared by in-memory evaluation and the tests that check a backend's query.
template <class Read>
bool Matches(const Filter& filter, const Read& read);

// One test of a field's value, with the semantics above.
bool TestValue(const FieldValue& value, FilterOp op, std::span<const FilterValue> literals);

// size(value): code points of a string, items of a list; nullopt for an
// absent value.
FieldValue SizeOf(const FieldValue& value);

template <class Read>
bool Matches(const Filter& filter, const Read& read) {
  switch (filter.kind) {
    case Filter::Kind::kConstant: return filter.constant;
    case Filter::Kind::kAnd:
      return Matches(filter.operands[0], read) && Matches(filter.operands[1], read);
    case Filter::Kind::kOr:
      return Matches(filter.operands[0], read) || Matches(filter.operands[1], read);
    case Filter::Kind::kNot: return !Matches(filter.operands[0], read);
    case Filter::Kind::kTest: {
      FieldValue value = read(filter.field);
      if (filter.size) value = SizeOf(value);
      return TestValue(value, filter.op, filter.values);
    }
  }
  return false;
}

template <class Record>
bool RecordMatches(const std::optional<Filter>& filter, const Record& record) {
  if (!filter.has_value()) return true;
  return Matches(*filter, [&](std::string_view field) { return FieldOf(record, field); });
}

}  // namespace certgate::store
