#include "notify/alerts.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <array>
#include <chrono>

#include <fmt/format.h>

#include "core/hex.h"
#include "core/ids.h"

namespace certgate::notify {
namespace {

using std::chrono::hours;

// The same id for the same event everywhere: derived from its key.
std::string EventId(std::string_view key) {
  std::array<uint8_t, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const uint8_t*>(key.data()), key.size(), digest.data());
  return "evt_" + HexEncode(std::span<const uint8_t>(digest.data(), 16));
}

boost::json::object CertificateJson(std::string_view id, std::string_view common_name,
                                    Time not_after) {
  return {{"id", id},
          {"subject_common_name", common_name},
          {"not_after", FormatRfc3339(not_after)}};
}

boost::json::object DomainJson(const store::ProvisioningJob& job) {
  return {{"id", job.domain_id}, {"domain", job.domain}};
}

}  // namespace

std::optional<int> ExpiryThreshold(Time not_after, Time now) {
  std::optional<int> inside;
  for (int days : kExpiryThresholdDays) {
    if (not_after - now <= hours(24 * days)) inside = days;
  }
  return inside;
}

std::optional<Event> ExpiryEvent(const store::CertificateExpiry& cert, Time now) {
  if (cert.issued || cert.account_id.empty()) return std::nullopt;
  const std::optional<int> threshold = ExpiryThreshold(cert.not_after, now);
  if (!threshold) return std::nullopt;
  const auto left = std::chrono::duration_cast<std::chrono::seconds>(cert.not_after - now);
  Event e;
  e.type = kCertificateExpiring;
  e.key = fmt::format("{}:{}:{}d", e.type, cert.id, *threshold);
  e.subject_id = cert.id;
  e.account_id = cert.account_id;
  e.data = {{"certificate", CertificateJson(cert.id, cert.subject_common_name, cert.not_after)},
            {"threshold_days", *threshold},
            {"expired", left.count() <= 0},
            {"days_left", left.count() <= 0 ? 0 : left.count() / 86400}};
  if (!cert.owner_endpoint_id.empty()) e.data["endpoint_id"] = cert.owner_endpoint_id;
  return e;
}

Event IssuedEvent(const store::ProvisioningJob& job, const store::Certificate& cert) {
  Event e;
  e.type = job.renewal ? kCertificateRenewed : kCertificateIssued;
  e.key = fmt::format("{}:{}", e.type, cert.id);
  e.account_id = job.account_id;
  e.data = {{"domain", DomainJson(job)},
            {"certificate", CertificateJson(cert.id, cert.subject_common_name, cert.not_after)}};
  return e;
}

std::string RenewalFailingKey(const store::ProvisioningJob& job, std::string_view certificate_id) {
  // Once per certificate: the next one that fails to renew alerts again.
  return fmt::format("{}:{}:{}", kRenewalFailing, job.domain_id, certificate_id);
}

Event RenewalFailingEvent(const store::ProvisioningJob& job, const store::Certificate& current) {
  Event e;
  e.type = kRenewalFailing;
  e.key = RenewalFailingKey(job, current.id);
  e.account_id = job.account_id;
  e.data = {{"domain", DomainJson(job)},
            {"certificate",
             CertificateJson(current.id, current.subject_common_name, current.not_after)},
            {"failures", job.failures},
            {"error_code", job.error_code.value_or("")},
            {"msg", job.msg}};
  if (job.retries_at) e.data["retries_at"] = FormatRfc3339(*job.retries_at);
  return e;
}

Event CnameMissingEvent(const store::ProvisioningJob& job) {
  Event e;
  e.type = kCnameMissing;
  // Once per renewal job: a later renewal that finds it gone again alerts.
  e.key = fmt::format("{}:{}:{}", e.type, job.domain_id, job.id);
  e.account_id = job.account_id;
  e.data = {{"domain", DomainJson(job)}, {"msg", job.msg}};
  return e;
}

std::vector<store::Notification> MakeNotifications(const Event& event,
                                                   const std::vector<std::string>& recipients,
                                                   Time now) {
  const Time at = std::chrono::time_point_cast<std::chrono::seconds>(now);
  const std::string body = boost::json::serialize(boost::json::object{
      {"id", EventId(event.key)},
      {"type", event.type},
      {"created_at", FormatRfc3339(at)},
      {"account_id", event.account_id},
      {"data", event.data},
  });
  std::vector<store::Notification> out;
  out.reserve(recipients.size());
  for (const std::string& recipient : recipients) {
    store::Notification n;
    n.id = NewId("ntf");
    n.recipient = recipient;
    n.event_key = event.key;
    n.event_type = event.type;
    n.subject_id = event.subject_id;
    n.body = body;
    n.created_at = at;
    n.next_attempt_at = at;
    out.push_back(std::move(n));
  }
  return out;
}

std::string Signature(std::string_view key, std::string_view body) {
  std::array<uint8_t, EVP_MAX_MD_SIZE> mac{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const uint8_t*>(body.data()), body.size(), mac.data(), &len);
  return "sha256=" + HexEncode(std::span<const uint8_t>(mac.data(), len));
}

}  // namespace certgate::notify
