// Traffic policies of endpoints (YAML or JSON text, in ngrok's shape):
//
//   on_tcp_connect:
//     - name: optional
//       actions:
//         - type: terminate-tls
//           config:
//             server_certificate: "-----BEGIN CERTIFICATE-----..."   # with the key, or neither
//             server_private_key: "-----BEGIN PRIVATE KEY-----..."
//             min_version: "1.2"          # "1.2" or "1.3"; default 1.2
//             max_version: "1.3"          # default 1.3; not below min_version
//             mutual_tls_certificate_authorities: ["-----BEGIN CERTIFICATE-----..."]
//             mutual_tls_verification_strategy: require-and-verify  # | require-any | request
//             alpn_protocols: ["http/1.1"]   # certgate's own
//
// The only action certgate supports is terminate-tls in on_tcp_connect, at
// most once. Anything else is refused with a message that names its path
// (e.g. "on_tcp_connect[0].actions[1].type 'deny' is not supported").
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace certgate::policy {

inline constexpr size_t kMaxPolicyBytes = 256 * 1024;

enum class TlsVersion { k12, k13 };
enum class VerifyStrategy { kRequireAndVerify, kRequireAny, kRequest };

struct TerminateTls {
  // PEM; the certificate chain is checked by the caller with pki.
  std::optional<std::string> server_certificate;
  // PEM; secret: the caller seals it and wipes it. Never logged.
  std::optional<std::string> server_private_key;
  TlsVersion min_version = TlsVersion::k12;
  TlsVersion max_version = TlsVersion::k13;
  // Each a PEM certificate (one CERTIFICATE block per entry, checked here
  // to parse as X.509).
  std::vector<std::string> mutual_tls_certificate_authorities;
  VerifyStrategy mutual_tls_verification_strategy = VerifyStrategy::kRequireAndVerify;
  // ALPN protocol ids offered to clients, in preference order; empty: the
  // edge's default ("http/1.1" for https endpoints, none for tls).
  std::vector<std::string> alpn_protocols;

  bool mutual_tls() const { return !mutual_tls_certificate_authorities.empty(); }
};

struct TrafficPolicy {
  std::optional<TerminateTls> terminate_tls;
};

// Parses YAML or JSON (JSON is read as YAML). Empty or whitespace-only text
// is an empty policy. Errors: kPolicyInvalid (syntax, types, values, size
// over kMaxPolicyBytes, server_certificate without server_private_key or the
// other way round), kPolicyUnknownAction, kPolicyUnknownField; each message
// names the path of the offending node.
Result<TrafficPolicy> ParseTrafficPolicy(std::string_view text);

// A policy and its text as the API shows it back (ngrok echoes the policy
// text it was given).
struct PolicyWithText {
  TrafficPolicy policy;
  // The text as given, unless it holds a server_private_key: then the same
  // document written again without that field, JSON text (a document that
  // parses as a JSON object) as compact JSON, other text as block-style YAML
  // (comments and formatting are not kept; quoted strings stay quoted). If
  // what would be shown still says "PRIVATE KEY" (the words in a comment or
  // a name), it is the normalized JSON (TrafficPolicyToJson without the key)
  // instead, or "" for an empty policy. So it never holds a private key.
  std::string text;
};

// ParseTrafficPolicy, and the text to show.
Result<PolicyWithText> ParseTrafficPolicyWithText(std::string_view text);

// The policy as normalized JSON in ngrok's shape, with every field written
// out. With include_private_key false (what is stored and returned by the
// API), server_private_key is left out.
std::string TrafficPolicyToJson(const TrafficPolicy& policy, bool include_private_key);

std::string_view TlsVersionName(TlsVersion v);          // "1.2", "1.3"
std::string_view VerifyStrategyName(VerifyStrategy v);  // "require-and-verify", ...

}  // namespace certgate::policy
