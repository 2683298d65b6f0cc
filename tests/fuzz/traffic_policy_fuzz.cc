// An endpoint's traffic_policy (YAML or JSON text from the API): the YAML
// reader, the shape checks with their path-naming messages, the certificates
// inside; an accepted policy must survive its own normalized JSON unchanged,
// and the text shown back is the text given unless it held a private key.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "policy/traffic_policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace certgate;
  Result<policy::TrafficPolicy> p = policy::ParseTrafficPolicy(fuzz::AsText(data, size));
  fuzz::CheckOpensslQueueEmpty("ParseTrafficPolicy");
  if (!p.ok()) {
    fuzz::CheckError(p.error());
    return 0;
  }
  const std::string json = policy::TrafficPolicyToJson(*p, /*include_private_key=*/true);
  (void)policy::TrafficPolicyToJson(*p, /*include_private_key=*/false);
  Result<policy::TrafficPolicy> again = policy::ParseTrafficPolicy(json);
  FUZZ_CHECK(again.ok(), again.ok() ? json : again.error().message + " in " + json);
  FUZZ_CHECK(policy::TrafficPolicyToJson(*again, true) == json, json);

  // The text the API shows: the same policy, and the text itself unless it
  // held a private key (or said so).
  const std::string_view text = fuzz::AsText(data, size);
  Result<policy::PolicyWithText> shown = policy::ParseTrafficPolicyWithText(text);
  FUZZ_CHECK(shown.ok(), shown.ok() ? "" : shown.error().message);
  FUZZ_CHECK(policy::TrafficPolicyToJson(shown->policy, true) == json, json);
  const bool has_key = p->terminate_tls && p->terminate_tls->server_private_key;
  if (!has_key && text.find("PRIVATE KEY") == std::string_view::npos) {
    FUZZ_CHECK(shown->text == text, shown->text);
  }
  return 0;
}
