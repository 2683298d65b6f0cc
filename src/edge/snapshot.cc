#include "edge/snapshot.h"

#include <boost/url.hpp>
#include <fmt/format.h>
#include <openssl/pem.h>
#include <spdlog/spdlog.h>

#include <algorithm>
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

std::optional<Route> MakeRoute(const store::Endpoint& e, int64_t sequence) {
  auto upstream = ParseUpstream(e.upstream);
  auto terminate = CompileTerminatePolicy(e, sequence);
  if (!upstream || !terminate) {
    spdlog::error("edge: skipping endpoint {} ({}): {}", e.id, e.url,
                  !upstream ? upstream.error().message : terminate.error().message);
    return std::nullopt;
  }
  Route route;
  route.endpoint_id = e.id;
  route.https = e.scheme == "https";
  route.host = e.host;
  route.upstream = std::move(*upstream);
  route.terminate = std::move(*terminate);
  return route;
}

RouteShard::RouteShard(std::span<const std::pair<std::string_view, Value>> entries) {
  routes_.reserve(entries.size());
  for (const auto& [host, route] : entries) routes_.emplace_back(host, route);
  std::stable_sort(routes_.begin(), routes_.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  routes_.erase(std::unique(routes_.begin(), routes_.end(),
                            [](const auto& a, const auto& b) { return a.first == b.first; }),
                routes_.end());
}

const Route* RouteShard::Find(std::string_view host) const {
  auto it = std::lower_bound(routes_.begin(), routes_.end(), host,
                             [](const auto& entry, std::string_view h) { return entry.first < h; });
  return it != routes_.end() && it->first == host ? it->second.get() : nullptr;
}

std::string_view Snapshot::Builder::Keep(std::string_view bytes) {
  constexpr size_t kBlock = 1 << 20;
  if (blocks_.empty() || block_used_ + bytes.size() > block_size_) {
    block_size_ = std::max(kBlock, bytes.size());
    blocks_.push_back(std::make_unique<char[]>(block_size_));
    block_used_ = 0;
  }
  char* at = blocks_.back().get() + block_used_;
  std::copy(bytes.begin(), bytes.end(), at);
  block_used_ += bytes.size();
  return std::string_view(at, bytes.size());
}

void Snapshot::Builder::AddDomain(std::string_view name,
                                  std::optional<std::string_view> certificate_id) {
  std::string_view cert;
  if (certificate_id && !certificate_id->empty()) {
    // Most names share their certificate with the name before (a wildcard's,
    // or rows written together): no lookup, no string made.
    if (*certificate_id != last_certificate_) {
      auto it = certificates_.find(*certificate_id);
      if (it == certificates_.end()) it = certificates_.emplace(*certificate_id).first;
      last_certificate_ = *it;  // a node's string: the view stays valid
    }
    cert = last_certificate_;
  }
  if (names::IsWildcard(name)) {
    wildcard_.emplace_back(Keep(names::WildcardBase(name)), cert);
  } else {
    exact_.emplace_back(Keep(name), cert);
  }
}

std::shared_ptr<const Snapshot> Snapshot::Builder::Finish(const store::EdgeState& rest,
                                                          std::string default_certificate_id) {
  auto snap = std::make_shared<Snapshot>();
  snap->default_certificate_id_ = std::move(default_certificate_id);
  snap->change_sequence_ = rest.change_sequence;
  snap->exact_ = NameIndex(exact_);
  snap->wildcard_ = NameIndex(wildcard_);
  ShardedMap<RouteShard>::Entries routes;
  for (const store::Endpoint& e : rest.endpoints) {
    std::optional<Route> route = MakeRoute(e, rest.change_sequence);
    if (!route) continue;
    snap->has_passthrough_ |= route->passthrough();
    routes.emplace_back(e.host, std::make_shared<const Route>(std::move(*route)));
  }
  snap->routes_ = ShardedMap<RouteShard>(routes);  // the first endpoint by id wins
  return snap;
}

std::shared_ptr<const Snapshot> Snapshot::Build(const store::EdgeState& state,
                                                std::string default_certificate_id) {
  Builder builder;
  for (const store::EdgeDomain& d : state.domains) {
    std::optional<std::string_view> cert;
    if (d.certificate_id) cert = *d.certificate_id;
    builder.AddDomain(d.domain, cert);
  }
  return builder.Finish(state, std::move(default_certificate_id));
}

std::shared_ptr<const Snapshot> Snapshot::With(const Delta& delta) const {
  auto next = std::make_shared<Snapshot>(*this);  // shares every shard
  next->change_sequence_ = delta.sequence;
  std::vector<NameIndex::Change> exact;
  std::vector<NameIndex::Change> wildcard;
  for (const auto& [name, cert] : delta.domains) {
    std::optional<std::string_view> value;
    if (cert) value = *cert;
    if (names::IsWildcard(name)) {
      wildcard.emplace_back(names::WildcardBase(name), value);
    } else {
      exact.emplace_back(name, value);
    }
  }
  std::vector<ShardedMap<RouteShard>::Change> routes;
  for (const auto& [host, route] : delta.routes) {
    std::optional<RouteShard::Value> value;
    if (route) {
      next->has_passthrough_ |= route->passthrough();
      value = std::make_shared<const Route>(*route);
    }
    routes.emplace_back(host, std::move(value));
  }
  next->exact_ = exact_.With(exact);
  next->wildcard_ = wildcard_.With(wildcard);
  next->routes_ = routes_.With(routes);
  return next;
}

const Route* Snapshot::FindRoute(std::string_view host) const { return routes_.Find(host); }

Snapshot::Choice Snapshot::Select(std::string_view sni) const {
  Choice choice;
  if (sni.empty()) return choice;
  if (const Route* r = FindRoute(sni); r != nullptr) {
    choice.route = r;
    if (r->terminate) {
      choice.policy = &*r->terminate;
      if (!choice.policy->certificate_id.empty()) {
        choice.certificate_id = choice.policy->certificate_id;
        return choice;
      }
    }
  }
  // An exact domain without a certificate yet (say, awaiting ACME) falls
  // through to a wildcard certificate that covers it.
  if (std::optional<std::string_view> cert = exact_.Find(sni); cert && !cert->empty()) {
    choice.certificate_id = *cert;
    return choice;
  }
  if (size_t dot = sni.find('.'); dot != std::string_view::npos && dot > 0) {
    if (std::optional<std::string_view> cert = wildcard_.Find(sni.substr(dot + 1))) {
      choice.certificate_id = *cert;
    }
  }
  return choice;
}

}  // namespace certgate::edge
