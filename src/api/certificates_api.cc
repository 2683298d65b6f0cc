#include "api/certificates_api.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api/json_body.h"
#include "core/ids.h"
#include "pki/certificate.h"
#include "pki/upload.h"

namespace certgate::api {
namespace {

namespace json = boost::json;

constexpr std::string_view kCollection = "tls_certificates";
constexpr std::string_view kIdPrefix = "cert";

Error Internal(const Call& call, std::string_view what, const Error& cause) {
  return InternalError(call, what, cause);
}

}  // namespace

Result<store::Certificate> SealUpload(seal::KeyVault& vault, const pki::ValidatedUpload& upload,
                                      std::string account_id, Time now) {
  store::Certificate cert;
  cert.id = NewId(kIdPrefix);
  cert.account_id = std::move(account_id);
  cert.created_at = now;
  cert.certificate_pem = upload.chain_pem;
  cert.not_after = upload.info.not_after;
  cert.subject_common_name = upload.info.subject_common_name;
  cert.serial_number = upload.info.serial_number;
  cert.not_before = upload.info.not_before;
  CG_ASSIGN_OR_RETURN(auto sealed, vault.Seal(upload.key_der.span(), cert.id));
  CG_ASSIGN_OR_RETURN(uint32_t version, seal::KeyVault::BlobKeyVersion(sealed));
  cert.private_key = store::SealedKey{version, std::move(sealed)};
  return cert;
}

Error CertificatesApi::NotFound(std::string_view id) const {
  return MakeError(ErrorCode::kNotFound,
                   fmt::format("no TLS certificate with id '{}' in this account", id.substr(0, 64)));
}

Result<json::object> CertificatesApi::ToJson(const Call& call, const store::Certificate& cert) {
  CG_ASSIGN_OR_RETURN(pki::Chain chain, pki::ParseStoredChain(cert.certificate_pem));
  pki::CertificateInfo info = pki::DescribeCertificate(chain.leaf());
  json::object o;
  o["id"] = cert.id;
  o["uri"] = fmt::format("{}/{}/{}", call.base_url, kCollection, cert.id);
  o["created_at"] = FormatRfc3339(cert.created_at);
  o["description"] = cert.description;
  o["metadata"] = cert.metadata;
  o["certificate_pem"] = cert.certificate_pem;
  o["subject_common_name"] = info.subject_common_name;
  o["subject_alternative_names"] =
      json::object{{"dns_names", StringArray(info.dns_names)}, {"ips", StringArray(info.ips)}};
  if (cert.issued_at) {
    o["issued_at"] = FormatRfc3339(*cert.issued_at);
  } else {
    o["issued_at"] = nullptr;
  }
  o["not_before"] = FormatRfc3339(info.not_before);
  o["not_after"] = FormatRfc3339(info.not_after);
  o["key_usages"] = StringArray(info.key_usages);
  o["extended_key_usages"] = StringArray(info.extended_key_usages);
  o["private_key_type"] = info.private_key_type;
  o["issuer_common_name"] = info.issuer_common_name;
  o["serial_number"] = info.serial_number;
  o["subject_organization"] = info.subject_organization;
  o["subject_organizational_unit"] = info.subject_organizational_unit;
  o["subject_locality"] = info.subject_locality;
  o["subject_province"] = info.subject_province;
  o["subject_country"] = info.subject_country;
  return o;
}

Response CertificatesApi::Create(Call& call) {
  if (call.account().plan == store::Plan::kFree) {
    return Fail(call, MakeError(ErrorCode::kPlanRequired,
                                "bringing your own certificate needs the pay-as-you-go plan; "
                                "this account is on the free plan"));
  }
  auto body = JsonBody::Parse(call.req.body());
  if (!body) return Fail(call, body.error());
  if (auto r = body->CheckFields(
          {"certificate_pem", "private_key_pem", "description", "metadata"});
      !r) {
    return Fail(call, r.error());
  }
  auto cert_pem = body->RequiredString("certificate_pem", SIZE_MAX);
  if (!cert_pem) return Fail(call, cert_pem.error());
  auto key_pem = body->RequiredString("private_key_pem", SIZE_MAX);
  if (!key_pem) return Fail(call, key_pem.error());
  auto description = body->OptionalString("description", kMaxDescriptionBytes);
  if (!description) return Fail(call, description.error());
  auto metadata = body->OptionalString("metadata", kMaxMetadataBytes);
  if (!metadata) return Fail(call, metadata.error());

  const Time now = clock_.Now();
  auto upload = pki::ValidateUpload(*cert_pem, *key_pem, now);
  if (!upload) return Fail(call, upload.error());

  auto cert = SealUpload(vault_, *upload, call.account().id, now);
  if (!cert) return Fail(call, Internal(call, "sealing the private key", cert.error()));
  cert->description = std::string(description->value_or(""));
  cert->metadata = std::string(metadata->value_or(""));

  if (auto r = certificates_.InsertCertificate(*cert); !r) {
    return Fail(call, Internal(call, "storing the certificate", r.error()));
  }
  auto out = ToJson(call, *cert);
  if (!out) return Fail(call, Internal(call, "describing the certificate", out.error()));
  return JsonResponse(call, http::status::created, *out);
}

Response CertificatesApi::List(Call& call) {
  auto paging = ParsePaging(call, kIdPrefix, store::CertificateFilterFields(), clock_.Now());
  if (!paging) return Fail(call, paging.error());
  auto page = certificates_.ListCertificates(call.account().id, paging->Query());
  if (!page) return Fail(call, Internal(call, "listing certificates", page.error()));
  json::array items;
  for (const auto& cert : page->items) {
    auto o = ToJson(call, cert);
    if (!o) return Fail(call, Internal(call, "describing certificate " + cert.id, o.error()));
    items.emplace_back(std::move(*o));
  }
  json::object out;
  out["tls_certificates"] = std::move(items);
  out["uri"] = fmt::format("{}/{}", call.base_url, kCollection);
  out["next_page_uri"] = NextPageUri(call, kCollection, *paging, page->has_more,
                                     page->items.empty() ? "" : page->items.back().id);
  return JsonResponse(call, http::status::ok, out);
}

Response CertificatesApi::Get(Call& call, std::string_view id) {
  if (!IsValidId(kIdPrefix, id)) return Fail(call, NotFound(id));
  auto cert = certificates_.GetCertificate(call.account().id, id);
  if (!cert) return Fail(call, Internal(call, "reading the certificate", cert.error()));
  if (!*cert) return Fail(call, NotFound(id));
  auto out = ToJson(call, **cert);
  if (!out) return Fail(call, Internal(call, "describing the certificate", out.error()));
  return JsonResponse(call, http::status::ok, *out);
}

Response CertificatesApi::Chain(Call& call, std::string_view id) {
  if (!IsValidId(kIdPrefix, id)) return Fail(call, NotFound(id));
  auto cert = certificates_.GetCertificate(call.account().id, id);
  if (!cert) return Fail(call, Internal(call, "reading the certificate", cert.error()));
  if (!*cert) return Fail(call, NotFound(id));
  auto chain = pki::ParseStoredChain((*cert)->certificate_pem);
  if (!chain) return Fail(call, Internal(call, "reading the stored chain", chain.error()));
  json::array entries;
  for (const pki::ChainEntry& e : pki::DescribeChain(*chain)) {
    entries.push_back(json::object{{"subject", e.subject},
                                   {"issuer", e.issuer},
                                   {"not_before", FormatRfc3339(e.not_before)},
                                   {"not_after", FormatRfc3339(e.not_after)},
                                   {"sha256_fingerprint", e.sha256_fingerprint}});
  }
  return JsonResponse(
      call, http::status::ok,
      json::object{{"certificates", std::move(entries)},
                   {"uri", fmt::format("{}/{}/{}/chain", call.base_url, kCollection, id)}});
}

Response CertificatesApi::Update(Call& call, std::string_view id) {
  if (!IsValidId(kIdPrefix, id)) return Fail(call, NotFound(id));
  auto body = JsonBody::Parse(call.req.body());
  if (!body) return Fail(call, body.error());
  if (auto r = body->CheckFields({"id", "description", "metadata"}); !r) {
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
  if (auto r = body->RequireAnyOf({"description", "metadata"}); !r) return Fail(call, r.error());

  store::CertificatePatch patch;
  if (*description) patch.description = std::string(**description);
  if (*metadata) patch.metadata = std::string(**metadata);
  auto updated = certificates_.UpdateCertificate(call.account().id, id, patch);
  if (!updated) return Fail(call, Internal(call, "updating the certificate", updated.error()));
  if (!*updated) return Fail(call, NotFound(id));
  auto out = ToJson(call, **updated);
  if (!out) return Fail(call, Internal(call, "describing the certificate", out.error()));
  return JsonResponse(call, http::status::ok, *out);
}

Response CertificatesApi::Delete(Call& call, std::string_view id) {
  if (!IsValidId(kIdPrefix, id)) return Fail(call, NotFound(id));
  auto cert = certificates_.GetCertificate(call.account().id, id);
  if (!cert) return Fail(call, Internal(call, "reading the certificate", cert.error()));
  if (!*cert) return Fail(call, NotFound(id));
  auto deleted = certificates_.DeleteCertificate(call.account().id, id);
  if (!deleted) return Fail(call, Internal(call, "deleting the certificate", deleted.error()));
  switch (deleted->status) {
    case store::DeleteOutcome::Status::kDeleted:
      return EmptyResponse(call, http::status::no_content);
    case store::DeleteOutcome::Status::kNotFound:
      return Fail(call, NotFound(id));
    case store::DeleteOutcome::Status::kInUse:
      break;
  }
  const bool one = deleted->used_by.size() == 1;
  if ((*cert)->issued_at) {
    // Issued certificates belong to their domain's management; one that no
    // domain uses any more may go.
    return Fail(call, MakeError(ErrorCode::kCertificateManaged,
                                fmt::format("certificate '{}' was issued automatically for {}; "
                                            "remove the certificate management policy of {} "
                                            "instead of deleting it",
                                            id, JoinForHumans(deleted->used_by),
                                            one ? "that domain" : "those domains")));
  }
  return Fail(call, MakeError(ErrorCode::kCertificateInUse,
                              fmt::format("certificate '{}' is attached to {} {}; attach another "
                                          "certificate to {} first, or delete {}",
                                          id, one ? "the domain" : "the domains",
                                          JoinForHumans(deleted->used_by), one ? "it" : "them",
                                          one ? "it" : "them")));
}

}  // namespace certgate::api
