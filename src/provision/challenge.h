// An ACME challenge as the certificate manager answers it: which type, for
// which name, and what must be published where for the CA to find. A plain
// value; safe to copy between threads.
#pragma once

#include <string>
#include <string_view>

namespace certgate::provision {

// The challenge types certgate answers (RFC 8555 §8.3, §8.4).
enum class ChallengeType { kHttp01, kDns01 };

// The type as ACME spells it: "http-01", "dns-01".
constexpr std::string_view ChallengeTypeName(ChallengeType type) {
  return type == ChallengeType::kHttp01 ? "http-01" : "dns-01";
}

struct Challenge {
  ChallengeType type = ChallengeType::kHttp01;
  std::string job_id;      // the provisioning job it belongs to
  std::string identifier;  // the DNS name being validated, without "*."
  std::string token;
  // HTTP-01: served at /.well-known/acme-challenge/<token>.
  std::string key_authorization;
  // DNS-01: the TXT value, base64url(SHA-256(key_authorization)), and the
  // name it goes to: the domain's acme_challenge_cname_target, which the
  // user's _acme-challenge CNAME delegates to certgate's zone ("" if the
  // domain has none).
  std::string dns01_txt_value;
  std::string dns01_record_name;
};

}  // namespace certgate::provision
