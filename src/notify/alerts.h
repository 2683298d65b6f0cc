// Alerts: what certgate tells an operator's webhooks, as events made into
// outbox notifications (store/notification_store.h), one per webhook. Pure
// functions and values; the Notifier (notifier.h) finds the events, stores
// them and delivers them.
//
// Each event has a key that makes it one event however often it is seen
// (an uploaded certificate's 14-day warning is one event): the outbox keeps
// one notification per key and webhook, so a scan that sees it again, on
// this node or another, after a restart or not, adds nothing.
//
// The body, POSTed as application/json and signed as it is:
//   {"id": "evt_…", "type": "certificate.expiring", "created_at": RFC 3339,
//    "account_id": "acct_…", "data": {…}}
// The id is the same for every webhook and every delivery attempt: a
// receiver that was sent an event twice (certgate stopped between the POST
// and recording its success) recognizes it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "core/time.h"
#include "store/records.h"

namespace certgate::notify {

// An uploaded certificate is 30, 14, 7 or 1 days from expiry.
inline constexpr std::string_view kCertificateExpiring = "certificate.expiring";
// A managed certificate's renewal keeps failing, with less than a third of
// its lifetime left.
inline constexpr std::string_view kRenewalFailing = "certificate.renewal_failing";
inline constexpr std::string_view kCertificateIssued = "certificate.issued";
inline constexpr std::string_view kCertificateRenewed = "certificate.renewed";
// A managed domain that had a certificate failed its renewal's check of the
// DNS records the user must keep (its CNAME, or the _acme-challenge CNAME).
inline constexpr std::string_view kCnameMissing = "domain.cname_missing";

struct Event {
  std::string type;  // one of the above
  std::string key;   // unique per event
  std::string account_id;
  std::string subject_id;  // an expiring certificate's id (the outbox keeps it)
  boost::json::object data;
};

// The days before expiry at which an uploaded certificate alerts.
inline constexpr int kExpiryThresholdDays[] = {30, 14, 7, 1};

// The smallest threshold the certificate is inside at `now` (not_after -
// now <= that many days; an expired one is inside 1), or nullopt when it is
// more than 30 days from expiry. A certificate first seen inside 14 days
// alerts once for 14, then for 7 and 1 as it gets there: never for 30.
std::optional<int> ExpiryThreshold(Time not_after, Time now);

// The expiry event of an uploaded certificate (not issued, of an account),
// or nullopt when it is not inside a threshold.
std::optional<Event> ExpiryEvent(const store::CertificateExpiry& cert, Time now);
// A certificate attached by job: issued, or renewed when job.renewal.
Event IssuedEvent(const store::ProvisioningJob& job, const store::Certificate& cert);
// job keeps failing to renew `current`, the domain's certificate; once per
// certificate (its key: RenewalFailingKey).
Event RenewalFailingEvent(const store::ProvisioningJob& job, const store::Certificate& current);
std::string RenewalFailingKey(const store::ProvisioningJob& job, std::string_view certificate_id);
// A renewal (job) found a DNS record the domain needs missing.
Event CnameMissingEvent(const store::ProvisioningJob& job);

// One notification per recipient (a RecipientKey), with the same body, due
// at once.
std::vector<store::Notification> MakeNotifications(const Event& event,
                                                   const std::vector<std::string>& recipients,
                                                   Time now);

// The Certgate-Signature header's value: "sha256=" and the lower-case hex
// HMAC-SHA256 of body under key.
std::string Signature(std::string_view key, std::string_view body);

}  // namespace certgate::notify
