#include "api/endpoints_api.h"

#include <boost/url.hpp>
#include <fmt/format.h>

#include "api/certificates_api.h"
#include "api/json_body.h"
#include "core/ids.h"
#include "names/domain_name.h"
#include "pki/certificate.h"
#include "pki/upload.h"
#include "policy/traffic_policy.h"

namespace certgate::api {
namespace {

namespace json = boost::json;

constexpr std::string_view kCollection = "endpoints";
constexpr std::string_view kIdPrefix = "ep";
constexpr std::string_view kPolicyField = "traffic_policy";

Error NotFound(std::string_view id) {
  return MakeError(ErrorCode::kNotFound,
                   fmt::format("no endpoint with id '{}' in this account", id.substr(0, 64)));
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A client's URL as a message quotes it: at most kQuoteBytes (cut at a UTF-8
// character boundary, then "..."), control characters as '?', so that the
// message stays one line of valid UTF-8.
constexpr size_t kQuoteBytes = 200;
std::string QuotedUrl(std::string_view text) {
  bool cut = false;
  if (text.size() > kQuoteBytes) {
    size_t end = kQuoteBytes;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    text = text.substr(0, end);
    cut = true;
  }
  std::string out;
  out.reserve(text.size() + 3);
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7F ? '?' : c);
  }
  if (cut) out += "...";
  return out;
}

}  // namespace

Result<EndpointUrl> ParseEndpointUrl(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return MakeError(ErrorCode::kEndpointUrlInvalid,
                     fmt::format("url '{}' is not valid: {}", QuotedUrl(text), why));
  };
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) return bad("write it as https://host or tls://host:443");
  EndpointUrl out;
  out.scheme = Lower(parsed->scheme());
  if (out.scheme != "https" && out.scheme != "tls") {
    return bad("the scheme must be https or tls");
  }
  if (parsed->has_userinfo() || parsed->has_query() || parsed->has_fragment() ||
      (!parsed->path().empty() && parsed->path() != "/")) {
    return bad("it may hold only a scheme, a host and a port");
  }
  if (parsed->host_type() != boost::urls::host_type::name) return bad("the host must be a name");
  if (parsed->has_port() && parsed->port_number() != 443) {
    return bad("the edge serves endpoints on port 443");
  }
  auto host = names::NormalizeDomain(parsed->host());
  if (!host) return bad(host.error().message);
  if (names::IsWildcard(*host)) return bad("an endpoint's host is one name, not a wildcard");
  out.host = *host;
  out.url = out.scheme == "https" ? "https://" + out.host : "tls://" + out.host + ":443";
  return out;
}

Result<std::string> NormalizeUpstream(std::string_view text, std::string_view endpoint_scheme) {
  const bool https = endpoint_scheme == "https";
  auto bad = [&](std::string_view why) {
    return MakeError(ErrorCode::kEndpointUpstreamInvalid,
                     fmt::format("upstream '{}' is not valid: {}", QuotedUrl(text), why));
  };
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) {
    return bad(https ? "write it as http://host:port or https://host:port"
                     : "write it as tcp://host:port");
  }
  const std::string scheme = Lower(parsed->scheme());
  if (https && scheme != "http" && scheme != "https") {
    return bad("an https endpoint's upstream is http:// or https://");
  }
  if (!https && scheme != "tcp") return bad("a tls endpoint's upstream is tcp://host:port");
  if (parsed->has_userinfo() || parsed->has_query() || parsed->has_fragment() ||
      (!parsed->path().empty() && parsed->path() != "/")) {
    return bad("it may hold only a scheme, a host and a port");
  }
  if (parsed->host().empty()) return bad("the host is missing");
  uint16_t port = parsed->has_port() ? parsed->port_number() : 0;
  if (port == 0 && scheme == "http") port = 80;
  if (port == 0 && scheme == "https") port = 443;
  if (port == 0) return bad("the port is missing");
  std::string host = Lower(parsed->encoded_host());  // IPv6 keeps its brackets
  return fmt::format("{}://{}:{}", scheme, host, port);
}

Result<std::string> EndpointsApi::OwningDomain(const Call& call, const std::string& host) {
  auto not_reserved = [&] {
    return MakeFieldError(ErrorCode::kEndpointHostNotReserved, "url",
                          fmt::format("{} is not one of this account's reserved domains; "
                                      "reserve it (or a wildcard one label above it) first",
                                      host));
  };
  auto exact = domains_.FindDomainByName(host);
  if (!exact) return InternalError(call, "looking the domain up", exact.error());
  if (*exact) {
    if ((*exact)->account_id != call.account().id) return not_reserved();
    return (*exact)->id;
  }
  auto parent = names::WildcardParent(host);
  if (!parent) return not_reserved();
  auto wildcard = domains_.FindDomainByName(*parent);
  if (!wildcard) return InternalError(call, "looking the domain up", wildcard.error());
  if (!*wildcard || (*wildcard)->account_id != call.account().id) return not_reserved();
  return (*wildcard)->id;
}

Result<EndpointsApi::PolicyInput> EndpointsApi::ReadPolicy(const Call& call, std::string_view text,
                                                           const std::string& host,
                                                           const std::string& endpoint_id) {
  PolicyInput out;
  auto parsed_or = policy::ParseTrafficPolicy(text);
  if (!parsed_or) {
    Error e = std::move(parsed_or).error();
    e.message = "traffic_policy: " + e.message;
    e.field = std::string(kPolicyField);
    return e;
  }
  policy::TrafficPolicy parsed = std::move(*parsed_or);
  if (parsed.terminate_tls && parsed.terminate_tls->server_certificate) {
    auto& t = *parsed.terminate_tls;
    if (call.account().plan == store::Plan::kFree) {
      return MakeFieldError(ErrorCode::kPlanRequired, kPolicyField,
                            "a terminate-tls server_certificate is your own certificate, which "
                            "needs the pay-as-you-go plan; this account is on the free plan");
    }
    auto upload = pki::ValidateUpload(*t.server_certificate, *t.server_private_key, clock_.Now());
    Wipe(t.server_private_key->data(), t.server_private_key->size());
    if (!upload) {
      Error e = std::move(upload).error();
      e.message = "traffic_policy terminate-tls: " + e.message;
      e.field = std::string(kPolicyField);  // not the upload's certificate_pem or private_key_pem
      return e;
    }
    if (!pki::CertificateCoversDomain(upload->chain.leaf(), host)) {
      return MakeFieldError(ErrorCode::kDomainNotCovered, kPolicyField,
                            fmt::format("traffic_policy terminate-tls: server_certificate does "
                                        "not cover {}",
                                        host));
    }
    auto cert = SealUpload(vault_, *upload, call.account().id, clock_.Now());
    if (!cert) return InternalError(call, "sealing the private key", cert.error());
    cert->owner_endpoint_id = endpoint_id;
    cert->description = "terminate-tls certificate of endpoint " + endpoint_id;
    out.certificate = std::move(*cert);
    t.server_certificate.reset();
    t.server_private_key.reset();
  }
  out.stored_json = parsed.terminate_tls ? policy::TrafficPolicyToJson(parsed, false) : "";
  return out;
}

Result<json::object> EndpointsApi::ToJson(const Call& call, const store::Endpoint& e) {
  json::object o;
  o["id"] = e.id;
  o["uri"] = fmt::format("{}/{}/{}", call.base_url, kCollection, e.id);
  o["created_at"] = FormatRfc3339(e.created_at);
  o["description"] = e.description;
  o["metadata"] = e.metadata;
  o["url"] = e.url;
  o["proto"] = e.scheme;
  o["upstream"] = e.upstream;
  o["traffic_policy"] = e.traffic_policy;
  o["reserved_domain"] = Ref(call, "reserved_domains", e.domain_id);
  o["tls_certificate"] = nullptr;
  if (e.policy_certificate_id) {
    CG_ASSIGN_OR_RETURN(auto cert, certificates_.GetCertificateById(*e.policy_certificate_id));
    if (cert) {
      CG_ASSIGN_OR_RETURN(pki::Chain chain, pki::ParseStoredChain(cert->certificate_pem));
      auto info = pki::DescribeCertificate(chain.leaf());
      o["tls_certificate"] = json::object{{"id", cert->id},
                                          {"subject_common_name", info.subject_common_name},
                                          {"dns_names", StringArray(info.dns_names)},
                                          {"not_after", FormatRfc3339(info.not_after)},
                                          {"serial_number", info.serial_number}};
    }
  }
  return o;
}

Response EndpointsApi::Create(Call& call) {
  auto body = JsonBody::Parse(call.req.body());
  if (!body) return Fail(call, body.error());
  if (auto r = body->CheckFields({"url", "upstream", "traffic_policy", "description", "metadata"});
      !r) {
    return Fail(call, r.error());
  }
  auto url_field = body->RequiredString("url", 1024);
  if (!url_field) return Fail(call, url_field.error());
  auto upstream_field = body->RequiredString("upstream", 1024);
  if (!upstream_field) return Fail(call, upstream_field.error());
  auto policy_field = body->OptionalString("traffic_policy", policy::kMaxPolicyBytes);
  if (!policy_field) return Fail(call, policy_field.error());
  auto description = body->OptionalString("description", kMaxDescriptionBytes);
  if (!description) return Fail(call, description.error());
  auto metadata = body->OptionalString("metadata", kMaxMetadataBytes);
  if (!metadata) return Fail(call, metadata.error());

  auto url = ParseEndpointUrl(*url_field);
  if (!url) return Fail(call, WithField(url.error(), "url"));
  auto upstream = NormalizeUpstream(*upstream_field, url->scheme);
  if (!upstream) return Fail(call, WithField(upstream.error(), "upstream"));
  auto domain_id = OwningDomain(call, url->host);
  if (!domain_id) return Fail(call, domain_id.error());

  store::Endpoint e;
  e.id = NewId(kIdPrefix);
  e.account_id = call.account().id;
  e.created_at = clock_.Now();
  e.description = std::string(description->value_or(""));
  e.metadata = std::string(metadata->value_or(""));
  e.url = url->url;
  e.scheme = url->scheme;
  e.host = url->host;
  e.port = url->port;
  e.upstream = *upstream;
  e.domain_id = *domain_id;
  std::optional<store::Certificate> policy_certificate;
  if (*policy_field) {
    auto policy = ReadPolicy(call, **policy_field, e.host, e.id);
    if (!policy) return Fail(call, policy.error());
    e.traffic_policy = policy->stored_json;
    if (policy->certificate) e.policy_certificate_id = policy->certificate->id;
    policy_certificate = std::move(policy->certificate);
  }
  if (auto r = endpoints_.InsertEndpoint(e, policy_certificate); !r) {
    // Another account's domain owns the host (domains that overlapped before
    // certgate refused that): the message names that domain only.
    if (r.error().code == ErrorCode::kEndpointHostReservedElsewhere) {
      return Fail(call, WithField(r.error(), "url"));
    }
    if (r.error().code == ErrorCode::kStoreConflict) {
      return Fail(call, MakeFieldError(ErrorCode::kEndpointTaken, "url",
                                       fmt::format("an endpoint for {} exists already", e.url)));
    }
    return Fail(call, InternalError(call, "storing the endpoint", r.error()));
  }
  auto out = ToJson(call, e);
  if (!out) return Fail(call, InternalError(call, "describing the endpoint", out.error()));
  return JsonResponse(call, http::status::created, *out);
}

Response EndpointsApi::List(Call& call) {
  auto paging = ParsePaging(call, kIdPrefix, store::EndpointFilterFields());
  if (!paging) return Fail(call, paging.error());
  auto page = endpoints_.ListEndpoints(call.account().id, paging->Query());
  if (!page) return Fail(call, InternalError(call, "listing endpoints", page.error()));
  json::array items;
  for (const auto& e : page->items) {
    auto o = ToJson(call, e);
    if (!o) return Fail(call, InternalError(call, "describing endpoint " + e.id, o.error()));
    items.emplace_back(std::move(*o));
  }
  json::object out;
  out["endpoints"] = std::move(items);
  out["uri"] = fmt::format("{}/{}", call.base_url, kCollection);
  out["next_page_uri"] = NextPageUri(call, kCollection, *paging, page->has_more,
                                     page->items.empty() ? "" : page->items.back().id);
  return JsonResponse(call, http::status::ok, out);
}

Response EndpointsApi::Get(Call& call, std::string_view id) {
  if (!IsValidId(kIdPrefix, id)) return Fail(call, NotFound(id));
  auto e = endpoints_.GetEndpoint(call.account().id, id);
  if (!e) return Fail(call, InternalError(call, "reading the endpoint", e.error()));
  if (!*e) return Fail(call, NotFound(id));
  auto out = ToJson(call, **e);
  if (!out) return Fail(call, InternalError(call, "describing the endpoint", out.error()));
  return JsonResponse(call, http::status::ok, *out);
}

Response EndpointsApi::Update(Call& call, std::string_view id) {
  if (!IsValidId(kIdPrefix, id)) return Fail(call, NotFound(id));
  auto body = JsonBody::Parse(call.req.body());
  if (!body) return Fail(call, body.error());
  if (auto r = body->CheckFields(
          {"id", "url", "upstream", "traffic_policy", "description", "metadata"});
      !r) {
    return Fail(call, r.error());
  }
  auto body_id = body->OptionalString("id", 64);
  if (!body_id) return Fail(call, body_id.error());
  if (*body_id && **body_id != id) {
    return Fail(call, MakeFieldError(ErrorCode::kIdMismatch, "id",
                                     fmt::format("the body's id '{}' differs from the id in the "
                                                 "path '{}'",
                                                 **body_id, id)));
  }
  auto url_field = body->OptionalString("url", 1024);
  if (!url_field) return Fail(call, url_field.error());
  auto upstream_field = body->OptionalString("upstream", 1024);
  if (!upstream_field) return Fail(call, upstream_field.error());
  auto policy_field = body->OptionalString("traffic_policy", policy::kMaxPolicyBytes);
  if (!policy_field) return Fail(call, policy_field.error());
  auto description = body->OptionalString("description", kMaxDescriptionBytes);
  if (!description) return Fail(call, description.error());
  auto metadata = body->OptionalString("metadata", kMaxMetadataBytes);
  if (!metadata) return Fail(call, metadata.error());
  if (auto r = body->RequireAnyOf({"url", "upstream", "traffic_policy", "description", "metadata"});
      !r) {
    return Fail(call, r.error());
  }

  auto loaded = endpoints_.GetEndpoint(call.account().id, id);
  if (!loaded) return Fail(call, InternalError(call, "reading the endpoint", loaded.error()));
  if (!*loaded) return Fail(call, NotFound(id));
  store::Endpoint e = std::move(**loaded);
  if (*url_field) {
    auto url = ParseEndpointUrl(**url_field);
    if (!url) return Fail(call, WithField(url.error(), "url"));
    if (url->url != e.url) {
      return Fail(call, MakeFieldError(ErrorCode::kEndpointUrlInvalid, "url",
                                       "an endpoint's url cannot change: create a new endpoint"));
    }
  }
  if (*upstream_field) {
    auto upstream = NormalizeUpstream(**upstream_field, e.scheme);
    if (!upstream) return Fail(call, WithField(upstream.error(), "upstream"));
    e.upstream = *upstream;
  }
  if (*description) e.description = std::string(**description);
  if (*metadata) e.metadata = std::string(**metadata);
  std::optional<store::Certificate> policy_certificate;
  if (*policy_field) {
    auto policy = ReadPolicy(call, **policy_field, e.host, e.id);
    if (!policy) return Fail(call, policy.error());
    e.traffic_policy = policy->stored_json;
    e.policy_certificate_id.reset();
    if (policy->certificate) e.policy_certificate_id = policy->certificate->id;
    policy_certificate = std::move(policy->certificate);
  }
  auto updated = endpoints_.UpdateEndpoint(e, policy_certificate);
  if (!updated) return Fail(call, InternalError(call, "updating the endpoint", updated.error()));
  if (!*updated) return Fail(call, NotFound(id));
  auto out = ToJson(call, e);
  if (!out) return Fail(call, InternalError(call, "describing the endpoint", out.error()));
  return JsonResponse(call, http::status::ok, *out);
}

Response EndpointsApi::Delete(Call& call, std::string_view id) {
  if (!IsValidId(kIdPrefix, id)) return Fail(call, NotFound(id));
  auto deleted = endpoints_.DeleteEndpoint(call.account().id, id);
  if (!deleted) return Fail(call, InternalError(call, "deleting the endpoint", deleted.error()));
  if (!*deleted) return Fail(call, NotFound(id));
  return EmptyResponse(call, http::status::no_content);
}

}  // namespace certgate::api
