// The `filter` query parameter of list calls: ParseListFilter over the
// domain and the endpoint fields (every refusal a kFilterInvalid with a clean
// message), and the in-memory evaluation of what it accepts, on full and
// bare records.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "api/list_filter_parser.h"
#include "fuzz_util.h"
#include "store/list_filter.h"

using namespace certgate;

namespace {

template <class Record>
void Check(std::string_view text, std::span<const store::FilterField> fields, const Record& full) {
  auto filter = api::ParseListFilter(text, fields, FromUnixSeconds(1767225600));
  if (!filter) {
    fuzz::CheckError(filter.error());
    FUZZ_CHECK(filter.error().code == ErrorCode::kFilterInvalid, filter.error().message);
    return;
  }
  (void)store::RecordMatches(std::optional<store::Filter>(*filter), full);
  (void)store::RecordMatches(std::optional<store::Filter>(*filter), Record{});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  store::Domain d;
  d.id = "rd_1";
  d.domain = "app.example.com";
  d.description = "desc";
  d.certificate_id = "cert_1";
  Check(text, store::DomainFilterFields(), d);
  store::Endpoint e;
  e.id = "ep_1";
  e.url = "https://app.example.com";
  e.bindings = {"public", "internal"};
  e.pooling_enabled = true;
  Check(text, store::EndpointFilterFields(), e);
  return 0;
}
