#include "api/domains_api.h"

#include <algorithm>
#include <charconv>

#include <boost/asio/ip/address.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <future>
#include <vector>

#include "api/json_body.h"
#include "api/new_domain.h"
#include "core/ids.h"
#include "dns/required_records.h"
#include "names/domain_name.h"
#include "pki/certificate.h"

namespace certgate::api {
namespace {

namespace json = boost::json;

constexpr std::string_view kCollection = "reserved_domains";
constexpr std::string_view kIdPrefix = "rd";
constexpr std::string_view kPolicyField = "certificate_management_policy";
// Fields of ngrok's schema that certgate accepts and ignores.
const std::initializer_list<std::string_view> kIgnoredFields = {
    "region", "http_endpoint_configuration_id", "https_endpoint_configuration_id",
    "error_redirect_url"};

// ngrok's resolves_to: [{"value": "<PoP code>" | "global" | "<address>[:port]"}].
// Absent or null: nullopt (unchanged on update, global on create).
constexpr std::string_view kResolvesTo = "resolves_to";
constexpr size_t kMaxResolvesTo = 16;
constexpr std::string_view kPopCodes[] = {"global", "us", "us-cal-1", "eu", "ap", "au",
                                          "in",     "jp", "sa"};

bool IsAddressValue(std::string_view v) {
  // "192.0.2.1", "192.0.2.1:443", "[2001:db8::1]:443", "2001:db8::1".
  std::string_view host = v;
  std::string_view port;
  if (v.starts_with('[')) {
    const size_t close = v.find(']');
    if (close == std::string_view::npos) return false;
    host = v.substr(1, close - 1);
    port = v.substr(close + 1);
    if (!port.empty() && !port.starts_with(':')) return false;
    if (!port.empty()) port.remove_prefix(1);
  } else if (std::count(v.begin(), v.end(), ':') == 1) {
    host = v.substr(0, v.find(':'));
    port = v.substr(v.find(':') + 1);
  }
  boost::system::error_code ec;
  boost::asio::ip::make_address(std::string(host), ec);
  if (ec) return false;
  if (v.starts_with('[') && port.empty()) return true;
  if (port.empty()) return true;
  int n = 0;
  auto [end, perr] = std::from_chars(port.data(), port.data() + port.size(), n);
  return perr == std::errc() && end == port.data() + port.size() && n >= 1 && n <= 65535;
}

Result<std::optional<std::vector<std::string>>> ReadResolvesTo(const JsonBody& body) {
  auto it = body.object().find(kResolvesTo);
  using Out = std::optional<std::vector<std::string>>;
  if (it == body.object().end() || it->value().is_null()) return Out();
  const json::value& v = it->value();
  if (!v.is_array()) {
    return MakeFieldError(ErrorCode::kJsonWrongType, kResolvesTo,
                          fmt::format("resolves_to must be an array such as "
                                      "[{{\"value\": \"global\"}}], not {}",
                                      JsonTypeName(v)));
  }
  const json::array& items = v.get_array();
  if (items.size() > kMaxResolvesTo) {
    return MakeFieldError(ErrorCode::kFieldTooLong, kResolvesTo,
                          fmt::format("resolves_to holds {} entries, over the limit of {}",
                                      items.size(), kMaxResolvesTo));
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string field = fmt::format("resolves_to[{}].value", i);
    const json::object* o = items[i].if_object();
    const json::value* value = o != nullptr ? o->if_contains("value") : nullptr;
    if (o == nullptr || o->size() != 1 || value == nullptr || !value->is_string()) {
      return MakeFieldError(ErrorCode::kJsonWrongType, field,
                            fmt::format("resolves_to[{}] must be an object with one string "
                                        "field, value, e.g. {{\"value\": \"eu\"}}",
                                        i));
    }
    const std::string_view text = value->get_string();
    const bool pop = std::find(std::begin(kPopCodes), std::end(kPopCodes), text) !=
                     std::end(kPopCodes);
    if (!pop && !IsAddressValue(text)) {
      return MakeFieldError(ErrorCode::kDomainResolvesToInvalid, field,
                            fmt::format("{} '{}' is neither a point of presence (global, us, "
                                        "us-cal-1, eu, ap, au, in, jp, sa) nor an IP address "
                                        "with an optional port",
                                        field, text.substr(0, 64)));
    }
    out.emplace_back(text);
  }
  return Out(std::move(out));
}

Error NotFound(std::string_view id) {
  return MakeError(ErrorCode::kNotFound,
                   fmt::format("no reserved domain with id '{}' in this account", id.substr(0, 64)));
}

}  // namespace

bool DomainsApi::UnderBaseDomain(std::string_view domain) const {
  return api::UnderBaseDomain(domain, base_domain_);
}

Result<void> DomainsApi::CheckUnderBaseDomain(std::string_view domain, bool certificate_id,
                                              bool policy) const {
  if (policy) {
    return MakeFieldError(ErrorCode::kDomainUnderBaseDomain, kPolicyField,
                          fmt::format("{} is under the service's domain {}, whose own "
                                      "certificate serves it: leave out "
                                      "certificate_management_policy",
                                      domain, base_domain_));
  }
  if (certificate_id) {
    return MakeFieldError(ErrorCode::kDomainCertificateUnderBaseDomain, "certificate_id",
                          fmt::format("{} is under the service's domain {}, whose own "
                                      "certificate serves it: leave out certificate_id (an "
                                      "uploaded certificate cannot serve it)",
                                      domain, base_domain_));
  }
  return {};
}

json::object DomainsApi::ManagementStatus(const store::Domain& d) const {
  json::value job_json = nullptr;
  auto job = jobs_.GetProvisioningJobForDomain(d.id);
  if (!job) {
    // The rest of the resource is still worth answering with.
    spdlog::warn("reading the provisioning job of {} failed: {}", d.id, job.error().message);
  } else if (*job) {
    const store::ProvisioningJob& j = **job;
    json::object o;
    o["error_code"] = j.error_code ? json::value(*j.error_code) : json::value(nullptr);
    o["msg"] = j.msg;
    o["started_at"] = FormatRfc3339(j.started_at);
    o["retries_at"] = j.retries_at ? json::value(FormatRfc3339(*j.retries_at)) : json::value(nullptr);
    job_json = std::move(o);
  }
  json::object status;
  status["renews_at"] =
      d.renews_at ? json::value(FormatRfc3339(*d.renews_at)) : json::value(nullptr);
  status["provisioning_job"] = std::move(job_json);
  return status;
}

json::object DomainsApi::ToJson(const Call& call, const store::Domain& d) const {
  json::object o;
  o["id"] = d.id;
  o["uri"] = fmt::format("{}/{}/{}", call.base_url, kCollection, d.id);
  o["created_at"] = FormatRfc3339(d.created_at);
  o["description"] = d.description;
  o["metadata"] = d.metadata;
  o["domain"] = d.domain;
  // ngrok answers "" (region is deprecated) and lists resolves_to.
  o["region"] = "";
  json::array resolves;
  for (const std::string& v : d.resolves_to) resolves.push_back(json::object{{"value", v}});
  o["resolves_to"] = std::move(resolves);
  if (d.cname_target) {
    o["cname_target"] = *d.cname_target;
  } else {
    o["cname_target"] = nullptr;
  }
  if (d.certificate_id) {
    o["certificate"] = Ref(call, "tls_certificates", *d.certificate_id);
  } else {
    o["certificate"] = nullptr;
  }
  if (d.policy) {
    o["certificate_management_policy"] =
        json::object{{"authority", store::AuthorityName(d.policy->authority)},
                     {"private_key_type", store::KeyTypeName(d.policy->private_key_type)}};
    o["certificate_management_status"] = ManagementStatus(d);
  } else {
    o["certificate_management_policy"] = nullptr;
    o["certificate_management_status"] = nullptr;
  }
  if (d.acme_challenge_cname_target) {
    o["acme_challenge_cname_target"] = *d.acme_challenge_cname_target;
  } else {
    o["acme_challenge_cname_target"] = nullptr;
  }
  return o;
}

Result<void> DomainsApi::CheckCertificate(const Call& call, std::string_view certificate_id,
                                          const std::string& domain) {
  auto unknown = [&] {
    return MakeFieldError(ErrorCode::kDomainCertificateUnknown, "certificate_id",
                          fmt::format("certificate_id '{}' is not a TLS certificate of this "
                                      "account: upload the certificate first, or check the id",
                                      certificate_id.substr(0, 64)));
  };
  if (!IsValidId("cert", certificate_id)) return unknown();
  auto cert = certificates_.GetCertificate(call.account().id, certificate_id);
  if (!cert) return InternalError(call, "reading the certificate", cert.error());
  if (!*cert) return unknown();
  auto leaf = leaves_.Leaf((*cert)->id, (*cert)->certificate_pem);
  if (!leaf) return InternalError(call, "reading the certificate", leaf.error());
  if (!pki::CertificateCoversDomain(leaf->get(), domain)) {
    auto info = pki::DescribeCertificate(leaf->get());
    return MakeFieldError(
        ErrorCode::kDomainNotCovered, "certificate_id",
        fmt::format(
            "certificate '{}' does not cover {}: its names are {}", certificate_id, domain,
            info.dns_names.empty() ? std::string("(none)") : JoinForHumans(info.dns_names)));
  }
  return {};
}

Result<std::optional<store::ManagementPolicy>> DomainsApi::ReadPolicy(
    const json::object* o) const {
  if (o == nullptr) return std::optional<store::ManagementPolicy>();
  store::ManagementPolicy policy;
  for (const auto& [key, value] : *o) {
    const std::string field =
        fmt::format("{}.{}", kPolicyField, std::string_view(key).substr(0, 64));
    if (key != "authority" && key != "private_key_type") {
      return MakeFieldError(ErrorCode::kJsonUnknownField, field,
                            fmt::format("unknown field '{}'; it accepts authority and "
                                        "private_key_type",
                                        field));
    }
    if (value.is_null()) continue;
    if (!value.is_string()) {
      return MakeFieldError(ErrorCode::kJsonWrongType, field,
                            fmt::format("{} must be a string, not {}", field, JsonTypeName(value)));
    }
    std::string v(value.get_string());
    if (key == "authority") {
      auto authority = store::ParseAuthority(v);
      if (!authority) {
        return MakeFieldError(
            ErrorCode::kDomainPolicyAuthority, field,
            fmt::format("{} '{}' is not supported; use letsencrypt", field, v.substr(0, 64)));
      }
      policy.authority = *authority;
    } else {
      auto key_type = store::ParseKeyType(v);
      if (!key_type) {
        return MakeFieldError(
            ErrorCode::kDomainPolicyInvalid, field,
            fmt::format("{} '{}' is not supported; use ecdsa or rsa", field, v.substr(0, 64)));
      }
      policy.private_key_type = *key_type;
    }
  }
  return std::optional<store::ManagementPolicy>(policy);
}

Result<std::optional<store::Domain>> DomainsApi::Load(const Call& call, std::string_view id) {
  if (!IsValidId(kIdPrefix, id)) return std::optional<store::Domain>();
  auto d = domains_.GetDomain(call.account().id, id);
  if (!d) return InternalError(call, "reading the domain", d.error());
  return std::move(*d);
}

Response DomainsApi::Create(Call& call) {
  auto body = JsonBody::Parse(call.req.body());
  if (!body) return Fail(call, body.error());
  if (auto r = body->CheckFields({"domain", "name", "description", "metadata", "certificate_id",
                                  "certificate_management_policy", kResolvesTo},
                                 kIgnoredFields);
      !r) {
    return Fail(call, r.error());
  }
  auto domain_field = body->OptionalString("domain", 1024);
  if (!domain_field) return Fail(call, domain_field.error());
  auto name_field = body->OptionalString("name", 1024);
  if (!name_field) return Fail(call, name_field.error());
  if (*domain_field && *name_field && **domain_field != **name_field) {
    return Fail(call, MakeFieldError(ErrorCode::kBadRequest, "name",
                                     "domain and name are the same field; give one of them"));
  }
  std::optional<std::string_view> given = *domain_field ? *domain_field : *name_field;
  if (!given) {
    return Fail(call, MakeFieldError(ErrorCode::kFieldRequired, "domain", "domain is required"));
  }
  // The field the name came in, for errors about the name.
  const std::string_view name_key = *domain_field ? "domain" : "name";
  auto description = body->OptionalString("description", kMaxDescriptionBytes);
  if (!description) return Fail(call, description.error());
  auto metadata = body->OptionalString("metadata", kMaxMetadataBytes);
  if (!metadata) return Fail(call, metadata.error());
  auto certificate_id = body->OptionalString("certificate_id", 64);
  if (!certificate_id) return Fail(call, certificate_id.error());
  auto policy_object = body->OptionalObject("certificate_management_policy");
  if (!policy_object) return Fail(call, policy_object.error());
  auto policy = ReadPolicy(*policy_object);
  if (!policy) return Fail(call, policy.error());
  auto resolves_to = ReadResolvesTo(*body);
  if (!resolves_to) return Fail(call, resolves_to.error());

  auto name = NewDomainName(*given, name_key, base_domain_);
  if (!name) return Fail(call, name.error());
  if (*certificate_id && *policy) {
    return Fail(call, MakeError(ErrorCode::kDomainCertificateAndPolicy,
                                "give either certificate_id (an uploaded certificate) or "
                                "certificate_management_policy (automatic certificates), not both"));
  }
  const bool under_base = UnderBaseDomain(*name);
  if (under_base) {
    if (auto r = CheckUnderBaseDomain(*name, certificate_id->has_value(), policy->has_value());
        !r) {
      return Fail(call, r.error());
    }
  }
  if (*certificate_id) {
    if (auto r = CheckCertificate(call, **certificate_id, *name); !r) return Fail(call, r.error());
  }
  store::Domain d;
  d.id = NewId(kIdPrefix);
  d.account_id = call.account().id;
  d.created_at = clock_.Now();
  d.description = std::string(description->value_or(""));
  d.metadata = std::string(metadata->value_or(""));
  d.domain = *name;
  if (*certificate_id) d.certificate_id = std::string(**certificate_id);
  d.policy = *policy;
  if (*resolves_to) d.resolves_to = std::move(**resolves_to);
  SetDomainDefaults(d, base_domain_);
  // The store checks who owns the name in the insert's own transaction, so
  // concurrent creates cannot both take overlapping names.
  if (auto r = domains_.InsertDomain(d); !r) {
    switch (r.error().code) {
      case ErrorCode::kDomainReservedHere:
      case ErrorCode::kDomainReservedElsewhere:
      case ErrorCode::kDomainWildcardOverOthers:
      case ErrorCode::kDomainOverOthers:
        // The message names only the conflicting domain.
        return Fail(call, WithField(r.error(), name_key));
      case ErrorCode::kStoreConflict:
        // The certificate was deleted meanwhile.
        return Fail(call,
                    MakeFieldError(ErrorCode::kDomainCertificateUnknown, "certificate_id",
                                   "certificate_id is not a TLS certificate of this account"));
      default:
        return Fail(call, InternalError(call, "storing the domain", r.error()));
    }
  }
  return JsonResponse(call, http::status::created, ToJson(call, d));
}

Response DomainsApi::List(Call& call) {
  auto paging = ParsePaging(call, kIdPrefix, store::DomainFilterFields(), clock_.Now());
  if (!paging) return Fail(call, paging.error());
  auto page = domains_.ListDomains(call.account().id, paging->Query());
  if (!page) return Fail(call, InternalError(call, "listing domains", page.error()));
  json::array items;
  for (const auto& d : page->items) items.emplace_back(ToJson(call, d));
  json::object out;
  out["reserved_domains"] = std::move(items);
  out["uri"] = fmt::format("{}/{}", call.base_url, kCollection);
  out["next_page_uri"] = NextPageUri(call, kCollection, *paging, page->has_more,
                                     page->items.empty() ? "" : page->items.back().id);
  return JsonResponse(call, http::status::ok, out);
}

Response DomainsApi::Get(Call& call, std::string_view id) {
  auto d = Load(call, id);
  if (!d) return Fail(call, d.error());
  if (!*d) return Fail(call, NotFound(id));
  return JsonResponse(call, http::status::ok, ToJson(call, **d));
}

Response DomainsApi::DnsRecords(Call& call, std::string_view id) {
  auto d = Load(call, id);
  if (!d) return Fail(call, d.error());
  if (!*d) return Fail(call, NotFound(id));
  const store::Domain& domain = **d;
  const std::vector<dns::RequiredRecord> required =
      dns::RequiredRecords(domain.domain, domain.cname_target, domain.acme_challenge_cname_target);
  // Every record is asked about at once, so a resolver that does not answer
  // costs one timeout, not one per record.
  std::vector<std::future<Result<dns::RecordCheck>>> checks;
  if (resolver_) {
    for (const dns::RequiredRecord& record : required) {
      checks.push_back(std::async(std::launch::async | std::launch::deferred,
                                  [this, &record] { return dns::CheckRecord(*resolver_, record); }));
    }
  }
  json::array records;
  for (size_t i = 0; i < required.size(); ++i) {
    const dns::RequiredRecord& record = required[i];
    json::object o{{"name", record.name}, {"type", record.type}, {"value", record.value}};
    if (!resolver_) {
      o["status"] = "unknown";
      o["msg"] =
          fmt::format("certgate has no DNS resolver to check this record ({})", resolver_error_);
    } else if (auto check = checks[i].get(); !check) {
      o["status"] = "unknown";
      o["msg"] = fmt::format("could not check this record: {}", check.error().message);
    } else if (check->state == dns::RecordState::kPresent) {
      o["status"] = "present";
      o["msg"] = "certgate sees this record";
    } else {
      o["status"] = check->state == dns::RecordState::kMissing ? "missing" : "wrong_target";
      o["msg"] = dns::DescribeProblem(record, *check);
    }
    records.push_back(std::move(o));
  }
  return JsonResponse(
      call, http::status::ok,
      json::object{{"records", std::move(records)},
                   {"checked_at", FormatRfc3339(clock_.Now())},
                   {"uri", fmt::format("{}/{}/{}/dns_records", call.base_url, kCollection, id)}});
}

Response DomainsApi::Update(Call& call, std::string_view id) {
  auto body = JsonBody::Parse(call.req.body());
  if (!body) return Fail(call, body.error());
  if (auto r = body->CheckFields(
          {"id", "description", "metadata", "certificate_id", "certificate_management_policy",
           kResolvesTo},
          kIgnoredFields);
      !r) {
    if (body->object().contains("domain") || body->object().contains("name")) {
      return Fail(call, MakeFieldError(ErrorCode::kJsonUnknownField,
                                       body->object().contains("domain") ? "domain" : "name",
                                       "a reserved domain's name cannot change: delete it and "
                                       "reserve the new name"));
    }
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
  auto description = body->OptionalString("description", kMaxDescriptionBytes);
  if (!description) return Fail(call, description.error());
  auto metadata = body->OptionalString("metadata", kMaxMetadataBytes);
  if (!metadata) return Fail(call, metadata.error());
  auto certificate_id = body->OptionalString("certificate_id", 64);
  if (!certificate_id) return Fail(call, certificate_id.error());
  auto policy_object = body->OptionalObject("certificate_management_policy");
  if (!policy_object) return Fail(call, policy_object.error());
  auto policy = ReadPolicy(*policy_object);
  if (!policy) return Fail(call, policy.error());
  auto resolves_to = ReadResolvesTo(*body);
  if (!resolves_to) return Fail(call, resolves_to.error());
  if (auto r = body->RequireAnyOf(
          {"description", "metadata", "certificate_id", kPolicyField, kResolvesTo});
      !r) {
    return Fail(call, r.error());
  }
  if (*certificate_id && *policy) {
    return Fail(call, MakeError(ErrorCode::kDomainCertificateAndPolicy,
                                "give either certificate_id or certificate_management_policy, "
                                "not both"));
  }

  auto loaded = Load(call, id);
  if (!loaded) return Fail(call, loaded.error());
  if (!*loaded) return Fail(call, NotFound(id));
  store::Domain d = std::move(**loaded);
  if (UnderBaseDomain(d.domain)) {
    if (auto r = CheckUnderBaseDomain(d.domain, certificate_id->has_value(), policy->has_value());
        !r) {
      return Fail(call, r.error());
    }
  }
  if (*description) d.description = std::string(**description);
  if (*metadata) d.metadata = std::string(**metadata);
  if (*certificate_id) {
    if (auto r = CheckCertificate(call, **certificate_id, d.domain); !r) {
      return Fail(call, r.error());
    }
    d.certificate_id = std::string(**certificate_id);
    d.policy.reset();  // setting one clears the other
  }
  // A policy that takes over from an uploaded certificate detaches it, as
  // ngrok does (its answer shows certificate: null); the policy's
  // certificate arrives once issued.
  if (*policy) {
    if (!d.policy) d.certificate_id.reset();
    d.policy = *policy;
  }
  if (*resolves_to) d.resolves_to = std::move(**resolves_to);
  auto updated = domains_.UpdateDomain(d);
  if (!updated) {
    if (updated.error().code == ErrorCode::kStoreConflict) {
      return Fail(call, MakeFieldError(ErrorCode::kDomainCertificateUnknown, "certificate_id",
                                       "certificate_id is not a TLS certificate of this account"));
    }
    return Fail(call, InternalError(call, "updating the domain", updated.error()));
  }
  if (!*updated) return Fail(call, NotFound(id));
  // Read back: automatic management keeps some fields the update left alone.
  auto stored = Load(call, id);
  if (stored && *stored) d = std::move(**stored);
  return JsonResponse(call, http::status::ok, ToJson(call, d));
}

Response DomainsApi::Delete(Call& call, std::string_view id) {
  if (!IsValidId(kIdPrefix, id)) return Fail(call, NotFound(id));
  auto deleted = domains_.DeleteDomain(call.account().id, id);
  if (!deleted) return Fail(call, InternalError(call, "deleting the domain", deleted.error()));
  switch (deleted->status) {
    case store::DeleteOutcome::Status::kDeleted:
      return EmptyResponse(call, http::status::no_content);
    case store::DeleteOutcome::Status::kNotFound:
      return Fail(call, NotFound(id));
    case store::DeleteOutcome::Status::kInUse:
      break;
  }
  const bool one = deleted->used_by.size() == 1;
  return Fail(call, MakeError(ErrorCode::kDomainInUse,
                              fmt::format("the domain is used by {} {}; delete {} first",
                                          one ? "the endpoint" : "the endpoints",
                                          JoinForHumans(deleted->used_by), one ? "it" : "them")));
}

Response DomainsApi::DetachCertificate(Call& call, std::string_view id) {
  auto loaded = Load(call, id);
  if (!loaded) return Fail(call, loaded.error());
  if (!*loaded) return Fail(call, NotFound(id));
  store::Domain d = std::move(**loaded);
  if (d.policy) {
    return Fail(call, MakeError(ErrorCode::kDomainManaged,
                                fmt::format("{} has a certificate management policy, which "
                                            "manages its certificate: remove the policy first",
                                            d.domain)));
  }
  d.certificate_id.reset();
  auto updated = domains_.UpdateDomain(d);
  if (!updated) return Fail(call, InternalError(call, "updating the domain", updated.error()));
  if (!*updated) return Fail(call, NotFound(id));
  return EmptyResponse(call, http::status::no_content);
}

Response DomainsApi::RemovePolicy(Call& call, std::string_view id) {
  auto loaded = Load(call, id);
  if (!loaded) return Fail(call, loaded.error());
  if (!*loaded) return Fail(call, NotFound(id));
  store::Domain d = std::move(**loaded);
  d.policy.reset();  // the issued certificate stays attached until replaced
  auto updated = domains_.UpdateDomain(d);
  if (!updated) return Fail(call, InternalError(call, "updating the domain", updated.error()));
  if (!*updated) return Fail(call, NotFound(id));
  return EmptyResponse(call, http::status::no_content);
}

}  // namespace certgate::api
