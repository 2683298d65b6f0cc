// Snapshot: what the edge serves, frozen. Names map to certificate ids and
// hosts to endpoints; contexts themselves live in the ContextCache. Built
// by the control plane from the store and published to every worker; a
// worker only reads it, so the handshake path takes no lock and touches no
// store. Immutable after Build; share as std::shared_ptr<const Snapshot>.
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "policy/traffic_policy.h"
#include "store/records.h"

namespace certgate::edge {

struct Upstream {
  std::string scheme;  // "http", "https" or "tcp"
  std::string host;
  uint16_t port = 0;
};

// A terminate-tls action made ready for handshakes.
struct TerminatePolicy {
  // Distinguishes this policy's contexts in the cache: "<endpoint id>@<sequence>".
  std::string key;
  // The endpoint's own certificate (from the action), or empty to use the
  // one the domain selection finds.
  std::string certificate_id;
  int min_version = TLS1_2_VERSION;
  int max_version = TLS1_3_VERSION;
  bool mutual_tls = false;
  policy::VerifyStrategy verify = policy::VerifyStrategy::kRequireAndVerify;
  // The CAs client certificates are verified against (owned).
  std::shared_ptr<X509_STORE> client_cas;
  // Their subject names, sent in the CertificateRequest (owned).
  std::shared_ptr<STACK_OF(X509_NAME)> client_ca_names;
  // ALPN protocols in wire format (length-prefixed), empty for the default.
  std::string alpn;
};

struct Route {
  std::string endpoint_id;
  bool https = true;  // false: a tls endpoint
  std::string host;
  Upstream upstream;
  std::optional<TerminatePolicy> terminate;
  // A tls endpoint without terminate-tls: bytes go to the upstream untouched.
  bool passthrough() const { return !https && !terminate; }
};

class Snapshot {
 public:
  // The outcome of selection for one SNI name.
  struct Choice {
    const Route* route = nullptr;          // the endpoint for the name, if any
    const TerminatePolicy* policy = nullptr;  // its terminate-tls, if any
    std::string_view certificate_id;       // "" = the default certificate
  };

  // Builds from the store's state. default_certificate_id is the service's
  // own certificate. Endpoints whose policy no longer parses are skipped
  // (and logged): the edge must keep serving the rest.
  static std::shared_ptr<const Snapshot> Build(const store::EdgeState& state,
                                               std::string default_certificate_id);

  // Selection, in order: the terminate-tls override of the host's endpoint,
  // the exact domain, the wildcard domain one label up, the default. sni is
  // normalized (names::NormalizeSni); empty means no SNI.
  Choice Select(std::string_view sni) const;

  // The route for a host, for pass-through decisions before a handshake.
  const Route* FindRoute(std::string_view host) const;
  bool has_passthrough() const { return has_passthrough_; }
  const std::string& default_certificate_id() const { return default_certificate_id_; }
  int64_t change_sequence() const { return change_sequence_; }
  size_t name_count() const { return exact_.size() + wildcard_.size(); }

 private:
  std::unordered_map<std::string, std::string> exact_;     // name -> certificate id
  std::unordered_map<std::string, std::string> wildcard_;  // base of "*.base" -> id
  std::unordered_map<std::string, Route> routes_;          // host -> route
  std::string default_certificate_id_;
  bool has_passthrough_ = false;
  int64_t change_sequence_ = 0;
};

// Compiles an endpoint's stored (normalized JSON) traffic policy; nullopt
// when it has no terminate-tls action.
Result<std::optional<TerminatePolicy>> CompileTerminatePolicy(const store::Endpoint& endpoint,
                                                              int64_t sequence);

// "http://127.0.0.1:8080" -> {http, 127.0.0.1, 8080}; default ports 80/443.
Result<Upstream> ParseUpstream(std::string_view url);

}  // namespace certgate::edge
