#include "edge/snapshot.h"

#include <boost/url.hpp>
#include <fmt/format.h>
#include <openssl/pem.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cmath>

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

namespace {

// Interns certificate ids into a Tables' list while it is built: keys view
// the caller's strings, which must outlive the interner.
class CertificateInterner {
 public:
  explicit CertificateInterner(std::vector<std::string>& ids) : ids_(ids) {
    ids_.clear();
    ids_.emplace_back();  // 0: no certificate yet
    index_.emplace(std::string_view(), 0);
  }
  uint32_t operator()(std::string_view id) {
    auto [it, added] = index_.try_emplace(id, static_cast<uint32_t>(ids_.size()));
    if (added) ids_.emplace_back(id);
    return it->second;
  }

 private:
  std::vector<std::string>& ids_;
  std::unordered_map<std::string_view, uint32_t> index_;
};

using Entries = std::vector<std::pair<std::string_view, uint32_t>>;

}  // namespace

std::shared_ptr<const Snapshot> Snapshot::Build(const store::EdgeState& state,
                                                std::string default_certificate_id) {
  auto snap = std::make_shared<Snapshot>();
  auto tables = std::make_shared<Tables>();
  snap->default_certificate_id_ = std::move(default_certificate_id);
  snap->change_sequence_ = state.change_sequence;
  CertificateInterner intern(tables->certificates);
  Entries exact;
  Entries wildcard;
  exact.reserve(state.domains.size());
  for (const store::EdgeDomain& d : state.domains) {
    const uint32_t cert = d.certificate_id ? intern(*d.certificate_id) : 0;
    if (names::IsWildcard(d.domain)) {
      wildcard.emplace_back(names::WildcardBase(d.domain), cert);
    } else {
      exact.emplace_back(d.domain, cert);
    }
  }
  tables->exact = NameTable(exact);
  tables->wildcard = NameTable(wildcard);
  tables->certificates.shrink_to_fit();
  for (const store::Endpoint& e : state.endpoints) {
    std::optional<Route> route = MakeRoute(e, state.change_sequence);
    if (!route) continue;
    snap->has_passthrough_ |= route->passthrough();
    tables->routes.emplace(e.host, std::move(*route));  // the first endpoint by id wins
  }
  snap->name_count_ = tables->exact.size() + tables->wildcard.size();
  snap->base_ = std::move(tables);
  return snap;
}

std::shared_ptr<const Snapshot> Snapshot::With(const Delta& delta) const {
  auto next = std::make_shared<Snapshot>(*this);  // shares base_, copies the overlay
  next->change_sequence_ = delta.sequence;
  for (const auto& [name, cert] : delta.domains) {
    const bool wildcard = names::IsWildcard(name);
    const std::string_view key = wildcard ? names::WildcardBase(name) : std::string_view(name);
    const bool had = (wildcard ? next->FindWildcard(key) : next->FindExact(key)).has_value();
    auto& over = wildcard ? next->wildcard_over_ : next->exact_over_;
    over.insert_or_assign(std::string(key), cert);
    if (had && !cert) --next->name_count_;
    if (!had && cert) ++next->name_count_;
  }
  for (const auto& [host, route] : delta.routes) {
    if (route) next->has_passthrough_ |= route->passthrough();
    next->routes_over_.insert_or_assign(host, route);
  }
  // Each change copies the overlay and each fold copies the base: an
  // overlay of about sqrt(n) entries keeps both near O(sqrt(n)) per change.
  const size_t base_size =
      base_->exact.size() + base_->wildcard.size() + base_->routes.size();
  const size_t bound = std::max<size_t>(256, static_cast<size_t>(std::sqrt(base_size)));
  if (next->overlay_size() > bound) {
    next->base_ = next->Folded();
    next->exact_over_.clear();
    next->wildcard_over_.clear();
    next->routes_over_.clear();
  }
  return next;
}

std::shared_ptr<const Snapshot::Tables> Snapshot::Folded() const {
  auto tables = std::make_shared<Tables>();
  CertificateInterner intern(tables->certificates);
  auto fold = [&](const NameTable& base, const Map<std::optional<std::string>>& over) {
    Entries entries;
    entries.reserve(base.size() + over.size());
    base.ForEach([&](std::string_view name, uint32_t cert) {
      if (!over.contains(name)) entries.emplace_back(name, intern(base_->certificates[cert]));
    });
    for (const auto& [name, cert] : over) {
      if (cert) entries.emplace_back(name, intern(*cert));
    }
    return NameTable(entries);
  };
  tables->exact = fold(base_->exact, exact_over_);
  tables->wildcard = fold(base_->wildcard, wildcard_over_);
  tables->certificates.shrink_to_fit();
  tables->routes = base_->routes;
  for (const auto& [host, route] : routes_over_) {
    if (route) {
      tables->routes.insert_or_assign(host, *route);
    } else {
      tables->routes.erase(host);
    }
  }
  return tables;
}

std::optional<std::string_view> Snapshot::FindExact(std::string_view name) const {
  if (auto o = exact_over_.find(name); o != exact_over_.end()) {
    if (!o->second) return std::nullopt;
    return std::string_view(*o->second);
  }
  std::optional<uint32_t> cert = base_->exact.Find(name);
  if (!cert) return std::nullopt;
  return std::string_view(base_->certificates[*cert]);
}

std::optional<std::string_view> Snapshot::FindWildcard(std::string_view base) const {
  if (auto o = wildcard_over_.find(base); o != wildcard_over_.end()) {
    if (!o->second) return std::nullopt;
    return std::string_view(*o->second);
  }
  std::optional<uint32_t> cert = base_->wildcard.Find(base);
  if (!cert) return std::nullopt;
  return std::string_view(base_->certificates[*cert]);
}

const Route* Snapshot::FindRoute(std::string_view host) const {
  if (auto o = routes_over_.find(host); o != routes_over_.end()) {
    return o->second ? &*o->second : nullptr;
  }
  auto it = base_->routes.find(host);
  return it == base_->routes.end() ? nullptr : &it->second;
}

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
  if (std::optional<std::string_view> cert = FindExact(sni); cert && !cert->empty()) {
    choice.certificate_id = *cert;
    return choice;
  }
  if (size_t dot = sni.find('.'); dot != std::string_view::npos && dot > 0) {
    if (std::optional<std::string_view> cert = FindWildcard(sni.substr(dot + 1))) {
      choice.certificate_id = *cert;
    }
  }
  return choice;
}

}  // namespace certgate::edge
