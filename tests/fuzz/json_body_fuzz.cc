// A JSON request body as the API's resources read it: JsonBody::Parse, the
// field checks and typed getters each resource uses, the normalizers of the
// fields that are parsed further without the store (domain names, endpoint
// urls and upstreams), and the error response every refusal becomes, which
// must itself be valid JSON.
#include <boost/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

#include "api/endpoints_api.h"
#include "api/json_body.h"
#include "api/problem.h"
#include "fuzz_util.h"
#include "names/domain_name.h"

namespace {

using namespace certgate;

// Every refusal reaches the client as ErrorResponse's body.
void CheckRefusal(const Error& e) {
  fuzz::CheckError(e);
  api::Response res = api::ErrorResponse(e, "op_fuzz", 11);
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(res.body(), ec);
  FUZZ_CHECK(!ec && v.is_object(), res.body());
}

template <class T>
bool Refused(const Result<T>& r) {
  if (r.ok()) return false;
  CheckRefusal(r.error());
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Result<api::JsonBody> body = api::JsonBody::Parse(fuzz::AsText(data, size));
  if (Refused(body)) return 0;

  // The fields of every resource's create and update, as one list.
  (void)Refused(body->CheckFields({"certificate_pem", "private_key_pem", "description", "metadata",
                                   "domain", "name", "certificate_id",
                                   "certificate_management_policy", "url", "upstream",
                                   "traffic_policy", "id"},
                                  {"region"}));
  (void)Refused(body->CheckFields({"description", "metadata"}));
  (void)Refused(body->RequiredString("certificate_pem", SIZE_MAX));
  (void)Refused(body->OptionalString("description", api::kMaxDescriptionBytes));
  (void)Refused(body->OptionalString("metadata", api::kMaxMetadataBytes));
  (void)Refused(body->OptionalString("certificate_id", 64));
  (void)Refused(body->OptionalObject("certificate_management_policy"));

  auto domain = body->OptionalString("domain", 1024);
  if (!Refused(domain) && *domain) {
    auto normalized = names::NormalizeDomain(**domain);
    if (!Refused(normalized)) {
      FUZZ_CHECK(names::NormalizeDomain(*normalized).ok(), *normalized);
      FUZZ_CHECK(*names::NormalizeDomain(*normalized) == *normalized, *normalized);
    }
  }
  auto url = body->RequiredString("url", 1024);
  if (!Refused(url)) {
    auto endpoint = api::ParseEndpointUrl(*url);
    if (!Refused(endpoint)) {
      auto again = api::ParseEndpointUrl(endpoint->url);
      FUZZ_CHECK(again.ok() && again->url == endpoint->url, endpoint->url);
      auto upstream = body->RequiredString("upstream", 1024);
      if (!Refused(upstream)) (void)Refused(api::NormalizeUpstream(*upstream, endpoint->scheme));
    }
  }
  return 0;
}
