#include "store/list_filter.h"

#include <array>
#include <compare>

namespace certgate::store {
namespace {

using Value = FieldValue::value_type;

// a <=> b for a value and a literal of the same type; unordered when the
// literal's type differs (the parser never builds such a test) or is null.
std::partial_ordering Compare(const Value& a, const FilterValue& b) {
  if (const auto* s = std::get_if<std::string>(&a)) {
    const auto* l = std::get_if<std::string>(&b);
    if (l == nullptr) return std::partial_ordering::unordered;
    const int c = s->compare(*l);  // char_traits<char> compares as unsigned char
    return c < 0 ? std::partial_ordering::less
                 : (c > 0 ? std::partial_ordering::greater : std::partial_ordering::equivalent);
  }
  if (const auto* t = std::get_if<Time>(&a)) {
    const auto* l = std::get_if<Time>(&b);
    if (l == nullptr) return std::partial_ordering::unordered;
    return *t <=> *l;
  }
  if (const auto* i = std::get_if<int64_t>(&a)) {
    const auto* l = std::get_if<int64_t>(&b);
    if (l == nullptr) return std::partial_ordering::unordered;
    return *i <=> *l;
  }
  return std::partial_ordering::unordered;  // a list is compared only by kHas
}

bool Equal(const FieldValue& value, const FilterValue& literal) {
  if (!value.has_value()) return std::holds_alternative<std::monostate>(literal);
  return Compare(*value, literal) == std::partial_ordering::equivalent;
}

constexpr FilterField kCertificateFields[] = {
    {"id", FilterFieldType::kString, false},
    {"created_at", FilterFieldType::kTime, false},
    {"description", FilterFieldType::kString, false},
    {"metadata", FilterFieldType::kString, false},
    {"not_after", FilterFieldType::kTime, false},
    // Absent (never null to the API) only for a record whose summary is
    // unknown: one stored before certgate kept it, until the start-up backfill.
    {"subject_common_name", FilterFieldType::kString, false},
    {"not_before", FilterFieldType::kTime, false},
    {"serial_number", FilterFieldType::kString, false},
};

constexpr FilterField kDomainFields[] = {
    {"id", FilterFieldType::kString, false},
    {"created_at", FilterFieldType::kTime, false},
    {"description", FilterFieldType::kString, false},
    {"metadata", FilterFieldType::kString, false},
    {"domain", FilterFieldType::kString, false},
    {"region", FilterFieldType::kString, false},
    {"cname_target", FilterFieldType::kString, true},
    {"certificate.id", FilterFieldType::kString, true},
    {"acme_challenge_cname_target", FilterFieldType::kString, true},
};

constexpr FilterField kEndpointFields[] = {
    {"id", FilterFieldType::kString, false},
    {"created_at", FilterFieldType::kTime, false},
    {"description", FilterFieldType::kString, false},
    {"metadata", FilterFieldType::kString, false},
    {"url", FilterFieldType::kString, false},
    {"scheme", FilterFieldType::kString, false},
    {"region", FilterFieldType::kString, false},
    {"type", FilterFieldType::kString, false},
    {"bindings", FilterFieldType::kStringList, false},
    {"pooling_enabled", FilterFieldType::kBool, false},
    {"name", FilterFieldType::kString, false},
    {"principal.id", FilterFieldType::kString, false},
};

FieldValue Optional(const std::optional<std::string>& v) {
  if (!v.has_value()) return std::nullopt;
  return *v;
}

}  // namespace

std::span<const FilterField> CertificateFilterFields() { return kCertificateFields; }
std::span<const FilterField> DomainFilterFields() { return kDomainFields; }
std::span<const FilterField> EndpointFilterFields() { return kEndpointFields; }

FieldValue FieldOf(const Certificate& c, std::string_view field) {
  if (field == "id") return c.id;
  if (field == "created_at") return c.created_at;
  if (field == "description") return c.description;
  if (field == "metadata") return c.metadata;
  if (field == "not_after") return c.not_after;
  const bool summarized = !c.serial_number.empty();
  if (field == "subject_common_name" && summarized) return c.subject_common_name;
  if (field == "not_before" && summarized) return c.not_before;
  if (field == "serial_number" && summarized) return c.serial_number;
  return std::nullopt;
}

FieldValue FieldOf(const Domain& d, std::string_view field) {
  if (field == "id") return d.id;
  if (field == "created_at") return d.created_at;
  if (field == "description") return d.description;
  if (field == "metadata") return d.metadata;
  if (field == "domain") return d.domain;
  if (field == "region") return std::string();
  if (field == "cname_target") return Optional(d.cname_target);
  if (field == "certificate.id") return Optional(d.certificate_id);
  if (field == "acme_challenge_cname_target") return Optional(d.acme_challenge_cname_target);
  return std::nullopt;
}

FieldValue FieldOf(const Endpoint& e, std::string_view field) {
  if (field == "id") return e.id;
  if (field == "created_at") return e.created_at;
  if (field == "description") return e.description;
  if (field == "metadata") return e.metadata;
  if (field == "url") return e.url;
  if (field == "scheme") return e.scheme;
  if (field == "region") return std::string();
  if (field == "type") return e.type;
  if (field == "bindings") return e.bindings;
  if (field == "pooling_enabled") return int64_t{e.pooling_enabled ? 1 : 0};
  if (field == "name") return std::string();
  if (field == "principal.id") return e.account_id;
  return std::nullopt;
}

FieldValue SizeOf(const FieldValue& value) {
  if (!value.has_value()) return std::nullopt;
  if (const auto* s = std::get_if<std::string>(&*value)) {
    int64_t n = 0;
    for (const char c : *s) {
      if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;  // not a continuation byte
    }
    return n;
  }
  if (const auto* l = std::get_if<std::vector<std::string>>(&*value)) {
    return static_cast<int64_t>(l->size());
  }
  return std::nullopt;  // the parser allows size() on strings and lists only
}

bool TestValue(const FieldValue& value, FilterOp op, std::span<const FilterValue> literals) {
  if (literals.empty()) return false;
  const FilterValue& first = literals.front();
  if (op == FilterOp::kHas) {
    const auto* list = value ? std::get_if<std::vector<std::string>>(&*value) : nullptr;
    const auto* item = std::get_if<std::string>(&first);
    if (list == nullptr || item == nullptr) return false;
    for (const std::string& s : *list) {
      if (s == *item) return true;
    }
    return false;
  }
  switch (op) {
    case FilterOp::kEq: return Equal(value, first);
    case FilterOp::kNe: return !Equal(value, first);
    case FilterOp::kIn:
      for (const FilterValue& l : literals) {
        if (Equal(value, l)) return true;
      }
      return false;
    default: break;
  }
  if (!value.has_value()) return false;
  switch (op) {
    case FilterOp::kLt: return Compare(*value, first) == std::partial_ordering::less;
    case FilterOp::kLe: {
      auto c = Compare(*value, first);
      return c == std::partial_ordering::less || c == std::partial_ordering::equivalent;
    }
    case FilterOp::kGt: return Compare(*value, first) == std::partial_ordering::greater;
    case FilterOp::kGe: {
      auto c = Compare(*value, first);
      return c == std::partial_ordering::greater || c == std::partial_ordering::equivalent;
    }
    default: break;
  }
  const auto* s = std::get_if<std::string>(&*value);
  const auto* l = std::get_if<std::string>(&first);
  if (s == nullptr || l == nullptr) return false;
  switch (op) {
    case FilterOp::kStartsWith: return s->starts_with(*l);
    case FilterOp::kEndsWith: return s->ends_with(*l);
    case FilterOp::kContains: return s->find(*l) != std::string::npos;
    default: return false;
  }
}

}  // namespace certgate::store
