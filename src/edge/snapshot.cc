#include "edge/snapshot.h"

#include <boost/url.hpp>
#include <fmt/format.h>
#include <openssl/pem.h>
#include <spdlog/spdlog.h>

#include <charconv>

#include "names/domain_name.h"
#include "pki/ossl_ptr.h"

namespace certgate::edge {

Result<Upstream> ParseUpstream(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed || parsed->host().empty()) {
    return MakeError(ErrorCode::kEndpointUpstreamInvalid,
                     fmt::format("upstream '{}' is not a URL", url));
  }
  Upstream up;
  up.scheme = parsed->scheme();
  up.host = parsed->host_address();
  if (parsed->has_port()) {
    up.port = parsed->port_number();
  } else if (up.scheme == "http") {
    up.port = 80;
  } else if (up.scheme == "https") {
    up.port = 443;
  }
  if ((up.scheme != "http" && up.scheme != "https" && up.scheme != "tcp") || up.port == 0) {
    return MakeError(ErrorCode::kEndpointUpstreamInvalid,
                     fmt::format("upstream '{}' must be http://, https:// or tcp://host:port", url));
  }
  return up;
}

Result<std::optional<TerminatePolicy>> CompileTerminatePolicy(const store::Endpoint& endpoint,
                                                              int64_t sequence) {
  if (endpoint.traffic_policy.empty()) return std::optional<TerminatePolicy>();
  CG_ASSIGN_OR_RETURN(policy::TrafficPolicy parsed, policy::ParseTrafficPolicy(endpoint.traffic_policy));
  if (!parsed.terminate_tls) return std::optional<TerminatePolicy>();
  const policy::TerminateTls& t = *parsed.terminate_tls;
  TerminatePolicy p;
  p.key = fmt::format("{}@{}", endpoint.id, sequence);
  p.certificate_id = endpoint.policy_certificate_id.value_or("");
  p.min_version = t.min_version == policy::TlsVersion::k12 ? TLS1_2_VERSION : TLS1_3_VERSION;
  p.max_version = t.max_version == policy::TlsVersion::k12 ? TLS1_2_VERSION : TLS1_3_VERSION;
  p.verify = t.mutual_tls_verification_strategy;
  p.mutual_tls = t.mutual_tls();
  if (p.mutual_tls) {
    p.client_cas = std::shared_ptr<X509_STORE>(X509_STORE_new(), X509_STORE_free);
    p.client_ca_names = std::shared_ptr<STACK_OF(X509_NAME)>(
        sk_X509_NAME_new_null(), [](STACK_OF(X509_NAME)* s) { sk_X509_NAME_pop_free(s, X509_NAME_free); });
    for (const std::string& pem : t.mutual_tls_certificate_authorities) {
      pki::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
      pki::X509Ptr ca(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
      if (!ca) {
        return MakeError(ErrorCode::kPolicyInvalid,
                         "a mutual_tls_certificate_authorities entry is not a certificate");
      }
      X509_STORE_add_cert(p.client_cas.get(), ca.get());
      sk_X509_NAME_push(p.client_ca_names.get(), X509_NAME_dup(X509_get_subject_name(ca.get())));
    }
  }
  for (const std::string& proto : t.alpn_protocols) {
    p.alpn += static_cast<char>(proto.size());
    p.alpn += proto;
  }
  return std::optional<TerminatePolicy>(std::move(p));
}

std::shared_ptr<const Snapshot> Snapshot::Build(const store::EdgeState& state,
                                                std::string default_certificate_id) {
  auto snap = std::make_shared<Snapshot>();
  snap->default_certificate_id_ = std::move(default_certificate_id);
  snap->change_sequence_ = state.change_sequence;
  snap->exact_.reserve(state.domains.size());
  for (const store::EdgeDomain& d : state.domains) {
    std::string cert = d.certificate_id.value_or("");
    if (names::IsWildcard(d.domain)) {
      snap->wildcard_.emplace(std::string(names::WildcardBase(d.domain)), std::move(cert));
    } else {
      snap->exact_.emplace(d.domain, std::move(cert));
    }
  }
  for (const store::Endpoint& e : state.endpoints) {
    auto upstream = ParseUpstream(e.upstream);
    auto terminate = CompileTerminatePolicy(e, state.change_sequence);
    if (!upstream || !terminate) {
      spdlog::error("edge: skipping endpoint {} ({}): {}", e.id, e.url,
                    !upstream ? upstream.error().message : terminate.error().message);
      continue;
    }
    Route route;
    route.endpoint_id = e.id;
    route.https = e.scheme == "https";
    route.host = e.host;
    route.upstream = std::move(*upstream);
    route.terminate = std::move(*terminate);
    snap->has_passthrough_ |= route.passthrough();
    snap->routes_.emplace(e.host, std::move(route));
  }
  return snap;
}

const Route* Snapshot::FindRoute(std::string_view host) const {
  auto it = routes_.find(std::string(host));
  return it == routes_.end() ? nullptr : &it->second;
}

Snapshot::Choice Snapshot::Select(std::string_view sni) const {
  Choice choice;
  if (sni.empty()) return choice;
  const std::string host(sni);
  if (auto r = routes_.find(host); r != routes_.end()) {
    choice.route = &r->second;
    if (r->second.terminate) {
      choice.policy = &*r->second.terminate;
      if (!choice.policy->certificate_id.empty()) {
        choice.certificate_id = choice.policy->certificate_id;
        return choice;
      }
    }
  }
  // An exact domain without a certificate yet (say, awaiting ACME) falls
  // through to a wildcard certificate that covers it.
  if (auto it = exact_.find(host); it != exact_.end() && !it->second.empty()) {
    choice.certificate_id = it->second;
    return choice;
  }
  if (size_t dot = host.find('.'); dot != std::string::npos && dot > 0) {
    if (auto it = wildcard_.find(host.substr(dot + 1)); it != wildcard_.end()) {
      choice.certificate_id = it->second;
    }
  }
  return choice;
}

}  // namespace certgate::edge
