// The `filter` query parameter of list calls: ParseListFilter over the
// domain fields (every refusal a kFilterInvalid with a clean message), and
// the in-memory evaluation of what it accepts, on a full and a bare record.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/list_filter_parser.h"
#include "fuzz_util.h"
#include "store/list_filter.h"

using namespace certgate;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto filter = api::ParseListFilter(text, store::DomainFilterFields());
  if (!filter) {
    fuzz::CheckError(filter.error());
    FUZZ_CHECK(filter.error().code == ErrorCode::kFilterInvalid, filter.error().message);
    return 0;
  }
  store::Domain d;
  d.id = "rd_1";
  d.domain = "app.example.com";
  d.description = "desc";
  d.certificate_id = "cert_1";
  (void)store::RecordMatches(std::optional<store::Filter>(*filter), d);
  store::Domain bare;
  (void)store::RecordMatches(std::optional<store::Filter>(*filter), bare);
  return 0;
}
