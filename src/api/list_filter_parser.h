// Parses the `filter` query parameter of a list call: the subset of CEL that
// ngrok's API filtering documents, over `obj.<field>`:
//
//   obj.domain == "app.example.com" && obj.created_at > timestamp("2026-01-01T00:00:00Z")
//   obj.id in ["rd_1", "rd_2"] || !obj.description.startsWith("test")
//
//   obj.not_after <= timestamp(time.now).add("24h") && "public" in obj.bindings
//   size(obj.description) > 0 && !obj.pooling_enabled
//
// Operators ==, !=, <, <=, >, >=, in, &&, ||, !, parentheses; string literals
// in "…" or '…' with CEL's escapes; integers; true, false, null;
// timestamp("RFC 3339" | "YYYY-MM-DD" | time.now) with .add/.subtract("7d");
// the methods startsWith, endsWith, contains on string fields; size() of a
// string or list field; "value" in obj.<list field>; a boolean field alone.
// A comparison has a field on one side and a literal on the other. time.now
// is `now`.
// Bounded: 4 KiB of text, 64 levels of nesting, 256 tests, 100 list items.
// Errors (kFilterInvalid) name the 1-based column at fault.
#pragma once

#include <span>
#include <string_view>

#include "core/result.h"
#include "core/time.h"
#include "store/list_filter.h"

namespace certgate::api {

inline constexpr size_t kMaxFilterBytes = 4096;

Result<store::Filter> ParseListFilter(std::string_view text,
                                      std::span<const store::FilterField> fields, Time now);

}  // namespace certgate::api
