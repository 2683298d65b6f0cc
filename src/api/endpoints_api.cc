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

Result<std::string> NormalizeUpstream(std::string_view text, std::string_view endpoint_scheme,
                                      std::string_view field) {
  const bool https = endpoint_scheme == "https";
  auto bad = [&](std::string_view why) {
    return MakeFieldError(ErrorCode::kEndpointUpstreamInvalid, field,
                          fmt::format("{} '{}' is not valid: {}", field, QuotedUrl(text), why));
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

namespace {

constexpr std::string_view kCloud = "cloud";
constexpr std::string_view kPublic = "public";

// The fields create and update share, read and checked; nullopt: not given
// (absent or null).
struct EndpointInput {
  std::optional<std::string_view> url;
  std::optional<std::string_view> upstream_url;
  std::optional<std::string_view> upstream;  // the alias of upstream_url
  std::optional<std::string_view> traffic_policy;
  std::optional<std::string_view> description;
  std::optional<std::string_view> metadata;
  std::optional<std::string> type;
  std::optional<std::vector<std::string>> bindings;
  std::optional<bool> pooling_enabled;
};

Error WrongType(std::string_view name, std::string_view want, const json::value& v) {
  return MakeFieldError(ErrorCode::kJsonWrongType, name,
                        fmt::format("{} must be {}, not {}", name, want, JsonTypeName(v)));
}

// type: only "cloud", ngrok's type of endpoints made through the API.
Result<std::optional<std::string>> ReadType(const JsonBody& body) {
  CG_ASSIGN_OR_RETURN(auto type, body.OptionalString("type", 64));
  if (!type) return std::optional<std::string>();
  if (*type != kCloud) {
    return MakeFieldError(ErrorCode::kEndpointTypeUnsupported, "type",
                     fmt::format("type '{}' is not supported: certgate makes only cloud "
                                 "endpoints; send type \"cloud\" or leave it out",
                                 QuotedUrl(*type)));
  }
  return std::optional<std::string>(std::string(kCloud));
}

// bindings: ngrok allows one of public, internal and kubernetes; certgate
// serves public endpoints only. [] is the default, ["public"].
Result<std::optional<std::vector<std::string>>> ReadBindings(const JsonBody& body) {
  using Out = std::optional<std::vector<std::string>>;
  const json::value* v = body.object().if_contains("bindings");
  if (v == nullptr || v->is_null()) return Out();
  if (!v->is_array()) return WrongType("bindings", "an array of strings", *v);
  const json::array& list = v->get_array();
  for (size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_string()) {
      return WrongType(fmt::format("bindings[{}]", i), "a string", list[i]);
    }
  }
  if (list.size() > 1) {
    return MakeFieldError(ErrorCode::kEndpointBindingUnsupported, "bindings",
                     fmt::format("bindings has {} entries; an endpoint has one binding, and "
                                 "certgate serves public endpoints only: send [\"public\"]",
                                 list.size()));
  }
  if (!list.empty() && list[0].get_string() != kPublic) {
    const std::string_view binding = list[0].get_string();
    const bool ngrok = binding == "internal" || binding == "kubernetes";
    return MakeFieldError(ErrorCode::kEndpointBindingUnsupported, "bindings",
                     fmt::format("bindings [\"{}\"] {}: certgate serves public endpoints only; "
                                 "send [\"public\"] (the default) or leave bindings out",
                                 QuotedUrl(binding),
                                 ngrok ? "is not supported"
                                       : "is not a binding (ngrok's are public, internal and "
                                         "kubernetes)"));
  }
  return Out(std::vector<std::string>{std::string(kPublic)});
}

// pooling_enabled: certgate serves one endpoint per url, so false only.
Result<std::optional<bool>> ReadPooling(const JsonBody& body) {
  const json::value* v = body.object().if_contains("pooling_enabled");
  if (v == nullptr || v->is_null()) return std::optional<bool>();
  if (!v->is_bool()) return WrongType("pooling_enabled", "a boolean", *v);
  if (v->get_bool()) {
    return MakeFieldError(ErrorCode::kEndpointPoolingUnsupported, "pooling_enabled",
                     "pooling_enabled true is not supported: certgate serves one endpoint per "
                     "url and does not pool endpoints; send false or leave it out");
  }
  return std::optional<bool>(false);
}

// Reads every shared field; with_id adds the update's `id` to the fields
// known (its value is checked by the caller).
Result<EndpointInput> ReadInput(const JsonBody& body, bool with_id) {
  if (with_id) {
    CG_RETURN_IF_ERROR(
        body.CheckFields({"id", "url", "type", "traffic_policy", "description", "metadata",
                          "bindings", "pooling_enabled", "upstream_url", "upstream"}));
  } else {
    CG_RETURN_IF_ERROR(
        body.CheckFields({"url", "type", "traffic_policy", "description", "metadata", "bindings",
                          "pooling_enabled", "upstream_url", "upstream"}));
  }
  EndpointInput in;
  CG_ASSIGN_OR_RETURN(in.url, body.OptionalString("url", 1024));
  CG_ASSIGN_OR_RETURN(in.upstream_url, body.OptionalString("upstream_url", 1024));
  CG_ASSIGN_OR_RETURN(in.upstream, body.OptionalString("upstream", 1024));
  CG_ASSIGN_OR_RETURN(in.type, ReadType(body));
  CG_ASSIGN_OR_RETURN(in.traffic_policy,
                      body.OptionalString("traffic_policy", policy::kMaxPolicyBytes));
  CG_ASSIGN_OR_RETURN(in.description, body.OptionalString("description", kMaxDescriptionBytes));
  CG_ASSIGN_OR_RETURN(in.metadata, body.OptionalString("metadata", kMaxMetadataBytes));
  CG_ASSIGN_OR_RETURN(in.bindings, ReadBindings(body));
  CG_ASSIGN_OR_RETURN(in.pooling_enabled, ReadPooling(body));
  return in;
}

// The upstream given as upstream_url or its alias upstream (both given, they
// must name the same upstream), normalized for an endpoint of the scheme;
// nullopt if neither was given.
Result<std::optional<std::string>> ReadUpstream(const EndpointInput& in,
                                                std::string_view endpoint_scheme) {
  std::optional<std::string> url, alias;
  if (in.upstream_url) {
    CG_ASSIGN_OR_RETURN(url, NormalizeUpstream(*in.upstream_url, endpoint_scheme, "upstream_url"));
  }
  if (in.upstream) {
    CG_ASSIGN_OR_RETURN(alias, NormalizeUpstream(*in.upstream, endpoint_scheme, "upstream"));
  }
  if (url && alias && *url != *alias) {
    return MakeFieldError(ErrorCode::kEndpointUpstreamInvalid, "upstream",
                     fmt::format("upstream_url '{}' and upstream '{}' differ: upstream is another "
                                 "name for upstream_url, so give one of them",
                                 QuotedUrl(*in.upstream_url), QuotedUrl(*in.upstream)));
  }
  return url ? url : alias;
}

}  // namespace

Result<EndpointsApi::PolicyInput> EndpointsApi::ReadPolicy(const Call& call, std::string_view text,
                                                           const std::string& host,
                                                           const std::string& endpoint_id) {
  PolicyInput out;
  auto parsed_or = policy::ParseTrafficPolicyWithText(text);
  if (!parsed_or) {
    Error e = std::move(parsed_or).error();
    e.message = "traffic_policy: " + e.message;
    e.field = std::string(kPolicyField);
    return e;
  }
  out.shown_text = std::move(parsed_or->text);
  policy::TrafficPolicy parsed = std::move(parsed_or->policy);
  if (parsed.terminate_tls && parsed.terminate_tls->server_certificate) {
    auto& t = *parsed.terminate_tls;
    if (call.account().plan == store::Plan::kFree) {
      Wipe(t.server_private_key->data(), t.server_private_key->size());
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
  o["updated_at"] = FormatRfc3339(e.updated_at);
  o["description"] = e.description;
  o["metadata"] = e.metadata;
  o["type"] = e.type;
  // ngrok's url leaves out https's default port; hostport always has it.
  o["url"] = e.url;
  o["public_url"] = e.url;
  o["proto"] = e.scheme;
  o["scheme"] = e.scheme;
  o["host"] = e.host;
  o["port"] = e.port;
  o["hostport"] = fmt::format("{}:{}", e.host, e.port);
  o["region"] = "";
  o["upstream_url"] = e.upstream;
  o["upstream"] = e.upstream;  // certgate's first name for upstream_url
  o["domain"] = Ref(call, "reserved_domains", e.domain_id);
  o["traffic_policy"] = e.traffic_policy_text;
  o["bindings"] = StringArray(e.bindings);
  o["pooling_enabled"] = e.pooling_enabled;
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
  auto in = ReadInput(*body, /*with_id=*/false);
  if (!in) return Fail(call, in.error());
  if (!in->url) return Fail(call, MakeFieldError(ErrorCode::kFieldRequired, "url", "url is required"));
  auto url = ParseEndpointUrl(*in->url);
  if (!url) return Fail(call, WithField(url.error(), "url"));
  auto upstream = ReadUpstream(*in, url->scheme);
  if (!upstream) return Fail(call, upstream.error());
  if (!*upstream) {
    return Fail(call, MakeFieldError(ErrorCode::kFieldRequired, "upstream_url",
                                url->scheme == "https"
                                    ? "upstream_url is required: where certgate sends the "
                                      "endpoint's traffic, http://host:port or https://host:port"
                                    : "upstream_url is required: where certgate sends the "
                                      "endpoint's traffic, tcp://host:port"));
  }
  auto domain_id = OwningDomain(call, url->host);
  if (!domain_id) return Fail(call, domain_id.error());

  store::Endpoint e;
  e.id = NewId(kIdPrefix);
  e.account_id = call.account().id;
  e.created_at = clock_.Now();
  e.updated_at = e.created_at;
  e.description = std::string(in->description.value_or(""));
  e.metadata = std::string(in->metadata.value_or(""));
  e.type = in->type.value_or(std::string(kCloud));
  e.bindings = in->bindings.value_or(std::vector<std::string>{std::string(kPublic)});
  e.pooling_enabled = in->pooling_enabled.value_or(false);
  e.url = url->url;
  e.scheme = url->scheme;
  e.host = url->host;
  e.port = url->port;
  e.upstream = **upstream;
  e.domain_id = *domain_id;
  std::optional<store::Certificate> policy_certificate;
  if (in->traffic_policy) {
    auto policy = ReadPolicy(call, *in->traffic_policy, e.host, e.id);
    if (!policy) return Fail(call, policy.error());
    e.traffic_policy = policy->stored_json;
    e.traffic_policy_text = std::move(policy->shown_text);
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
  auto paging = ParsePaging(call, kIdPrefix, store::EndpointFilterFields(), clock_.Now());
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
  auto in = ReadInput(*body, /*with_id=*/true);
  if (!in) return Fail(call, in.error());
  auto body_id = body->OptionalString("id", 64);
  if (!body_id) return Fail(call, body_id.error());
  if (*body_id && **body_id != id) {
    return Fail(call, MakeFieldError(ErrorCode::kIdMismatch, "id",
                                     fmt::format("the body's id '{}' differs from the id in the "
                                                 "path '{}'",
                                                 **body_id, id)));
  }
  if (auto r = body->RequireAnyOf({"url", "type", "traffic_policy", "description", "metadata",
                                   "bindings", "pooling_enabled", "upstream_url", "upstream"});
      !r) {
    return Fail(call, r.error());
  }

  auto loaded = endpoints_.GetEndpoint(call.account().id, id);
  if (!loaded) return Fail(call, InternalError(call, "reading the endpoint", loaded.error()));
  if (!*loaded) return Fail(call, NotFound(id));
  store::Endpoint e = std::move(**loaded);
  if (in->url) {
    auto url = ParseEndpointUrl(*in->url);
    if (!url) return Fail(call, WithField(url.error(), "url"));
    if (url->url != e.url) {
      return Fail(call, MakeFieldError(ErrorCode::kEndpointUrlInvalid, "url",
                                       "an endpoint's url cannot change: create a new endpoint"));
    }
  }
  auto upstream = ReadUpstream(*in, e.scheme);
  if (!upstream) return Fail(call, upstream.error());
  if (*upstream) e.upstream = **upstream;
  if (in->description) e.description = std::string(*in->description);
  if (in->metadata) e.metadata = std::string(*in->metadata);
  if (in->type) e.type = *in->type;
  if (in->bindings) e.bindings = *in->bindings;
  if (in->pooling_enabled) e.pooling_enabled = *in->pooling_enabled;
  std::optional<store::Certificate> policy_certificate;
  if (in->traffic_policy) {
    auto policy = ReadPolicy(call, *in->traffic_policy, e.host, e.id);
    if (!policy) return Fail(call, policy.error());
    e.traffic_policy = policy->stored_json;
    e.traffic_policy_text = std::move(policy->shown_text);
    e.policy_certificate_id.reset();
    if (policy->certificate) e.policy_certificate_id = policy->certificate->id;
    policy_certificate = std::move(policy->certificate);
  }
  e.updated_at = clock_.Now();
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
